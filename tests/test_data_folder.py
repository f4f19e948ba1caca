"""Image-folder / zip datasets, and the safe image opener they (and uploads) share."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from dlviz.data import folder
from dlviz.data.image_files import MAX_PIXELS, open_image
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

# -- fixtures built at test time ---------------------------------------------------

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _encode(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _write(path, im: Image.Image, fmt: str = "PNG") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(_encode(im, fmt))


def _pets(root, n_cats=4, n_dogs=4, mode="RGB"):
    """cats/: PNGs, dogs/: JPEGs of another aspect ratio."""
    for i in range(n_cats):
        c = RED if mode == "RGB" else 200
        _write(root / "cats" / f"c{i}.png", Image.new(mode, (40, 30), c))
    for i in range(n_dogs):
        c = BLUE if mode == "RGB" else 40
        _write(root / "dogs" / f"d{i}.jpg", Image.new(mode, (50, 70), c), "JPEG")
    return root


def _zip_of(src_root, zip_path, prefix="", extra: dict[str, bytes] | None = None):
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, _, files in os.walk(src_root):
            for f in files:
                full = os.path.join(dirpath, f)
                zf.write(full, prefix + os.path.relpath(full, src_root).replace(os.sep, "/"))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return zip_path


def _load(path, **kw):
    return folder.load(str(path), DatasetParams(**kw))


def _denorm(ds, x):   # back to 0..1
    m = torch.tensor(ds.norm_mean).view(1, -1, 1, 1)
    s = torch.tensor(ds.norm_std).view(1, -1, 1, 1)
    return x * s + m


# -- folder loading --------------------------------------------------------------------

def test_rgb_folder(tmp_path):
    _pets(tmp_path)
    ds = _load(tmp_path, test_fraction=0.25)
    assert ds.key == f"folder:{tmp_path}"
    assert ds.classes == ("cats", "dogs")
    assert ds.input_shape == (3, 32, 32)
    assert ds.x_train.shape == (6, 3, 32, 32) and ds.x_test.shape == (2, 3, 32, 32)
    assert ds.y_train.dtype == torch.int64
    assert sorted(ds.y_test.tolist()) == [0, 1]
    assert ds.skipped_files == 0
    # cats are red, dogs blue: the labels go with the right pixels
    x = _denorm(ds, torch.cat([ds.x_train, ds.x_test]))
    y = torch.cat([ds.y_train, ds.y_test])
    assert (x[y == 0, 0] > 0.9).all() and (x[y == 0, 2] < 0.1).all()
    assert (x[y == 1, 2] > 0.9).all() and (x[y == 1, 0] < 0.1).all()


def test_normalised_per_channel_with_train_stats(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        for i in range(6):
            noise = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            _write(tmp_path / c / f"{i}.png", Image.fromarray(noise))
    ds = _load(tmp_path)
    assert len(ds.norm_mean) == len(ds.norm_std) == 3
    per_channel_mean = ds.x_train.mean(dim=(0, 2, 3))
    per_channel_std = ds.x_train.std(dim=(0, 2, 3))
    assert torch.allclose(per_channel_mean, torch.zeros(3), atol=1e-4)
    assert torch.allclose(per_channel_std, torch.ones(3), atol=1e-3)


def test_constant_channel_is_not_blown_up(tmp_path):
    _pets(tmp_path)   # red and blue only: the green channel is 0 everywhere
    ds = _load(tmp_path)
    assert ds.norm_std[1] == 1.0 and torch.isfinite(ds.x_train).all()


def test_all_grayscale_gives_one_channel(tmp_path):
    _pets(tmp_path, mode="L")
    ds = _load(tmp_path)
    assert ds.input_shape == (1, 32, 32) and len(ds.norm_mean) == 1


def test_one_colour_image_makes_it_rgb(tmp_path):
    _pets(tmp_path, mode="L")
    _write(tmp_path / "cats" / "colour.png", Image.new("RGB", (32, 32), GREEN))
    ds = _load(tmp_path)
    assert ds.input_shape == (3, 32, 32)
    assert len(ds.x_train) + len(ds.x_test) == 9


def test_image_size(tmp_path):
    _pets(tmp_path)
    assert _load(tmp_path, image_size=16).input_shape == (3, 16, 16)
    with pytest.raises(UserError, match="image size must be between"):
        _load(tmp_path, image_size=2)


def test_resize_keeps_aspect_and_centre_crops(tmp_path):
    # 192x64: white in the middle half, black at both ends. Shorter side to 32
    # then a centre crop keeps only white; squashing to 32x32 would keep black.
    a = np.zeros((64, 192), np.uint8)
    a[:, 48:144] = 255
    for i in range(3):
        _write(tmp_path / "wide" / f"{i}.png", Image.fromarray(a, "L"))
        _write(tmp_path / "dark" / f"{i}.png", Image.new("L", (20, 20), 0))
    ds = _load(tmp_path)
    x = _denorm(ds, torch.cat([ds.x_train, ds.x_test]))
    y = torch.cat([ds.y_train, ds.y_test])
    assert ds.classes == ("dark", "wide")
    assert x[y == 1].min() > 0.95


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    _pets(tmp_path)
    (tmp_path / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "dogs" / "notes.txt").write_text("not a picture")
    # hidden and macOS clutter is not data, and not counted as skipped
    (tmp_path / "cats" / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "dogs" / "._d0.jpg").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "__MACOSX" / "cats").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "cats" / "._c0.png").write_bytes(b"junk")
    ds = _load(tmp_path)
    assert ds.skipped_files == 2
    assert ds.classes == ("cats", "dogs")
    assert len(ds.x_train) + len(ds.x_test) == 8
    assert any("broken.png" in s for s in ds.extra["skipped_examples"])


def test_nested_files_inside_a_class_count(tmp_path):
    _pets(tmp_path)
    _write(tmp_path / "cats" / "2019" / "x.png", Image.new("RGB", (8, 8), RED))
    ds = _load(tmp_path)
    assert ds.classes == ("cats", "dogs")
    assert len(ds.x_train) + len(ds.x_test) == 9


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    for i in range(10):
        _write(tmp_path / "a" / f"{i}.png", Image.new("L", (8, 8), i * 20))
        _write(tmp_path / "b" / f"{i}.png", Image.new("L", (8, 8), 255 - i * 20))
    a1, a2, b = _load(tmp_path, seed=5), _load(tmp_path, seed=5), _load(tmp_path, seed=6)
    assert torch.equal(a1.x_test, a2.x_test)
    assert not torch.equal(a1.x_test, b.x_test)


# -- zips --------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "pets/"])
def test_zip_like_folder(tmp_path, prefix):
    src = _pets(tmp_path / "src")
    z = _zip_of(src, tmp_path / "pets.zip", prefix, extra={
        "__MACOSX/pets/cats/._c0.png": b"junk", f"{prefix}.DS_Store": b"junk",
        f"{prefix}cats/bad.png": b"not an image"})
    ds = _load(z, test_fraction=0.25)
    assert ds.key == f"folder:{z}"
    assert ds.classes == ("cats", "dogs")
    assert ds.input_shape == (3, 32, 32)
    assert len(ds.x_train) + len(ds.x_test) == 8
    assert ds.skipped_files == 1


def test_zip_is_read_in_memory_never_extracted(tmp_path, monkeypatch):
    z = _zip_of(_pets(tmp_path / "src"), tmp_path / "p.zip")

    def refuse(*a, **k):
        raise AssertionError("extracted to disk")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    before = set(os.listdir(tmp_path))
    assert _load(z).num_classes == 2
    assert set(os.listdir(tmp_path)) == before


def test_zip_bomb_refused_from_its_directory(tmp_path, monkeypatch):
    src = _pets(tmp_path / "src")
    # 20 MB of zeros compresses to ~20 kB: the directory says 20 MB
    z = _zip_of(src, tmp_path / "bomb.zip", extra={"cats/zeros.png": bytes(20_000_000)})
    assert os.path.getsize(z) < 200_000
    monkeypatch.setattr(folder, "MAX_TOTAL_BYTES", 10_000_000)

    def refuse(*a, **k):
        raise AssertionError("a member was read before the size check")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)
    with pytest.raises(UserError, match=r"bomb\.zip: the zip unpacks to 20 MB; the limit on a shared server is 10 MB"):
        _load(z)


def test_not_a_folder_or_zip(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(UserError, match="not a folder or a .zip"):
        _load(p)


# -- errors ---------------------------------------------------------------------------

def test_no_class_subfolders(tmp_path):
    for i in range(3):
        _write(tmp_path / f"{i}.png", Image.new("RGB", (8, 8), RED))
    with pytest.raises(UserError, match="no class sub-folders"):
        _load(tmp_path)


def test_only_one_class(tmp_path):
    _pets(tmp_path, n_dogs=0)
    with pytest.raises(UserError, match="need at least 2 classes, found 1: cats"):
        _load(tmp_path)


def test_class_without_readable_images(tmp_path):
    _pets(tmp_path, n_dogs=0)
    for i in range(3):
        (tmp_path / "dogs" / f"{i}.jpg").parent.mkdir(exist_ok=True)
        (tmp_path / "dogs" / f"{i}.jpg").write_bytes(b"nope")
    with pytest.raises(UserError, match=r"class 'dogs' has no readable images \(3 files skipped\)"):
        _load(tmp_path)


def test_too_many_classes(tmp_path, monkeypatch):
    _pets(tmp_path)
    _write(tmp_path / "birds" / "b.png", Image.new("RGB", (8, 8), GREEN))
    monkeypatch.setattr(folder, "MAX_CLASSES", 2)
    with pytest.raises(UserError, match="3 class folders; the limit on a shared server is 2 classes"):
        _load(tmp_path)


def test_too_many_images_unless_a_subset_is_asked_for(tmp_path, monkeypatch):
    _pets(tmp_path)
    monkeypatch.setattr(folder, "MAX_IMAGES", 5)
    with pytest.raises(UserError, match="8 images; the limit on a shared server is 5 images"):
        _load(tmp_path)
    ds = _load(tmp_path, n_samples=4)
    assert len(ds.x_train) + len(ds.x_test) == 4


# -- sampling and splitting --------------------------------------------------------

def test_stratified_split_covers_every_class(tmp_path):
    for i in range(3):
        _write(tmp_path / "rare" / f"{i}.png", Image.new("L", (8, 8), 10))
    for i in range(15):
        _write(tmp_path / "common" / f"{i}.png", Image.new("L", (8, 8), 250))
    ds = _load(tmp_path, test_fraction=0.2)
    assert set(ds.y_train.tolist()) == {0, 1}
    assert set(ds.y_test.tolist()) == {0, 1}
    # 20% of each class: 3 of the 15 common ones, 1 of the 3 rare ones
    assert sorted(ds.y_test.tolist()) == [0, 0, 0, 1]


def test_stratified_split_function():
    y = np.array([0] * 10 + [1] * 10 + [2] * 2)
    tr, te = folder.stratified_split(y, 0.3, seed=0)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(22))
    assert np.bincount(y[te]).tolist() == [3, 3, 1]


def test_n_samples_caps_the_total_and_keeps_every_class(tmp_path):
    for c in ("a", "b", "c"):
        for i in range(10):
            _write(tmp_path / c / f"{i}.png", Image.new("L", (8, 8), 7 * i))
    ds = _load(tmp_path, n_samples=12, test_fraction=0.25)
    y = torch.cat([ds.y_train, ds.y_test])
    assert len(y) == 12
    assert torch.bincount(y).tolist() == [4, 4, 4]


def test_unreadable_file_in_a_subset_is_replaced(tmp_path):
    _pets(tmp_path, 6, 6)
    for i in range(3):
        (tmp_path / "cats" / f"bad{i}.png").write_bytes(b"x")
    ds = _load(tmp_path, n_samples=10)
    assert len(ds.x_train) + len(ds.x_test) == 10


# -- image_files.open_image -------------------------------------------------------------

def test_exif_orientation_applied():
    a = np.zeros((10, 20, 3), np.uint8)
    a[:, :10] = RED     # left half red
    a[:, 10:] = BLUE    # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6    # "rotate 90 degrees clockwise to display"
    data = _encode(Image.fromarray(a), "JPEG", exif=exif.tobytes(), quality=95)
    im = open_image(data, "phone.jpg")
    assert im.mode == "RGB" and im.size == (10, 20)   # portrait now
    top, bottom = im.getpixel((5, 2)), im.getpixel((5, 17))
    assert top[0] > 200 and top[2] < 60        # the left edge went to the top
    assert bottom[2] > 200 and bottom[0] < 60


def test_rgba_composited_on_white():
    im = Image.new("RGBA", (2, 1))
    im.putpixel((0, 0), (255, 0, 0, 0))      # fully transparent red
    im.putpixel((1, 0), (0, 0, 255, 255))    # opaque blue
    out = open_image(_encode(im), "a.png")
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((1, 0)) == (0, 0, 255)


def test_la_composited_on_white_stays_gray():
    im = Image.new("LA", (2, 1))
    im.putpixel((0, 0), (0, 0))
    im.putpixel((1, 0), (0, 255))
    out = open_image(_encode(im), "la.png")
    assert out.mode == "L" and np.asarray(out).ravel().tolist() == [255, 0]


def test_16_bit_scaled_not_clipped():
    a = np.array([[0, 1000, 32768, 65535]], np.uint16)
    im16 = Image.fromarray(a)
    assert im16.mode == "I;16"
    out = open_image(_encode(im16), "depth.png")
    assert out.mode == "L"
    # clipping would give [0, 255, 255, 255]
    assert np.asarray(out).ravel().tolist() == [0, 4, 128, 255]


def test_palette_converted():
    im = Image.new("P", (2, 1))
    im.putpalette(list(RED) + list(GREEN) + [0, 0, 0] * 254)
    im.putpixel((0, 0), 0)
    im.putpixel((1, 0), 1)
    out = open_image(_encode(im), "p.png")
    assert out.mode == "RGB" and [out.getpixel((0, 0)), out.getpixel((1, 0))] == [RED, GREEN]


def test_gray_palette_becomes_l():
    im = Image.new("P", (2, 1))
    im.putpalette([v for g in range(256) for v in (g, g, g)])
    im.putpixel((0, 0), 30)
    im.putpixel((1, 0), 220)
    out = open_image(_encode(im), "g.png")
    assert out.mode == "L" and np.asarray(out).ravel().tolist() == [30, 220]


def test_palette_transparency_composited_on_white():
    im = Image.new("P", (2, 1))
    im.putpalette(list(RED) + list(BLUE) + [0, 0, 0] * 254)
    im.putpixel((0, 0), 0)
    im.putpixel((1, 0), 1)
    out = open_image(_encode(im, transparency=0), "t.png")
    assert [out.getpixel((0, 0)), out.getpixel((1, 0))] == [(255, 255, 255), BLUE]


def test_gif_first_frame():
    frames = [Image.new("RGB", (6, 6), RED), Image.new("RGB", (6, 6), BLUE)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = open_image(data, "anim.gif")
    assert out.mode == "RGB" and out.getpixel((3, 3)) == RED


def test_cmyk_bmp_webp_all_give_rgb():
    cmyk = open_image(_encode(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG"), "c.jpg")
    assert cmyk.mode == "RGB" and cmyk.getpixel((1, 1))[0] > 200
    bmp = open_image(_encode(Image.new("RGB", (4, 4), GREEN), "BMP"), "b.bmp")
    assert bmp.mode == "RGB" and bmp.getpixel((0, 0)) == GREEN
    webp = open_image(_encode(Image.new("RGB", (4, 4), BLUE), "WEBP", lossless=True), "w.webp")
    assert webp.mode == "RGB" and webp.getpixel((0, 0)) == BLUE


def test_min_size_lets_jpeg_decode_smaller_but_not_below_it():
    data = _encode(Image.new("RGB", (400, 200), RED), "JPEG")
    assert open_image(data, "x.jpg").size == (400, 200)
    small = open_image(data, "x.jpg", min_size=32)
    assert small.size[0] < 400 and min(small.size) >= 32


def _png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR is patched to claim another size (valid CRC)."""
    data = bytearray(_encode(Image.new("L", (1, 1))))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("w,h", [(100_000, 100_000), (8_000, 8_000)])
def test_decompression_bomb_refused_from_the_header(w, h):
    # 1e10 pixels trips Pillow's own limit; 64 M is under Pillow's but over ours
    assert w * h > MAX_PIXELS
    with pytest.raises(UserError, match=f"bomb.png: image too large.*{MAX_PIXELS:,}"):
        open_image(_png_claiming(w, h), "bomb.png")


@pytest.mark.parametrize("data,why", [
    (b"", "empty"),
    (b"hello, I am a text file\n", "not a supported image"),
    (_encode(Image.new("RGB", (64, 64), RED), "TIFF"), "not a supported image"),   # format not allowed
])
def test_non_images_refused(data, why):
    with pytest.raises(UserError, match=f"^thing: .*{why}"):
        open_image(data, "thing")


def test_truncated_image_refused():
    rng = np.random.default_rng(0)
    data = _encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    with pytest.raises(UserError, match="cut.png: not a supported image"):
        open_image(data[: len(data) // 2], "cut.png")


def test_damaged_zip(tmp_path):
    p = tmp_path / "pets.zip"
    p.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(UserError, match="pets.zip: not a valid zip file"):
        _load(p)
