"""Every upload path refuses hostile files with one clear line and reads odd ones correctly."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from bad_inputs import BAD, BAD_REASON, ODD, check_odd
from dlviz.data.image_files import MAX_PIXELS, open_image
from dlviz.data.model_input import looks_inverted, prepare_image, prepare_upload
from dlviz.errors import UserError

SHAPES = [(1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_are_refused_with_one_clear_line(name):
    with pytest.raises(UserError) as e:
        open_image(BAD[name], name)
    msg = str(e.value)
    assert msg.startswith(f"{name}: ") and BAD_REASON[name] in msg
    # one line, no Python object addresses ("<_io.BytesIO object at 0x7f...>")
    assert "\n" not in msg and not re.search(r"0x[0-9a-f]{6,}", msg) and len(msg) < 200, msg
    for shape in SHAPES:
        with pytest.raises(UserError, match=BAD_REASON[name]):
            prepare_upload(BAD[name], name, shape, [0.5] * shape[0], [0.25] * shape[0])


@pytest.mark.parametrize("name", [n for n in BAD if n.startswith("bomb")])
def test_bombs_are_refused_from_the_header_before_any_pixel_is_decoded(name, monkeypatch):
    def no_decoding(self):
        raise AssertionError("decoded a bomb")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(UserError, match="too large") as e:
        open_image(BAD[name], name)
    assert f"{MAX_PIXELS:,}" in str(e.value)        # the stated limit
    assert len(BAD[name]) < 10_000                   # and these are small files


def test_the_small_file_bomb_really_decodes_big():
    # the file is ~8 KB but its pixels are over the limit: the check is on pixels, not bytes
    with Image.open(io.BytesIO(BAD["bomb-small-file.png"])) as im:
        assert im.size[0] * im.size[1] > MAX_PIXELS


@pytest.mark.parametrize("name", list(ODD))
def test_odd_files_are_read_correctly(name):
    data, expected = ODD[name]
    im = open_image(data, name)
    assert check_odd(im, expected) is None, check_odd(im, expected)
    for shape in SHAPES:
        p = prepare_upload(data, name, shape, [0.5] * shape[0], [0.25] * shape[0])
        assert p.x.shape == shape and p.x.dtype == torch.float32 and torch.isfinite(p.x).all()
        assert p.shown.shape == (shape[1], shape[2], 3) and p.shown.dtype == np.uint8
        assert p.original_size == expected["size"]
        # what is shown is exactly what was normalised
        back = p.x.permute(1, 2, 0).numpy() * 0.25 + 0.5
        np.testing.assert_allclose(back, p.shown[..., : shape[0]] / 255.0, atol=1e-5)


def test_aspect_is_kept_and_the_centre_is_cropped():
    data, _ = ODD["wide.png"]              # 400 x 40: left half white, right half black
    p = prepare_upload(data, "wide.png", (3, 32, 32), [0.5] * 3, [0.5] * 3)
    assert p.note == "resized 400x40 -> 32x32 (centre crop), normalised"
    # the centre 40 x 40 is cropped: its left half white, right half black, not squashed
    assert p.shown[:, :14].min() > 240 and p.shown[:, 18:].max() < 15


def test_normalisation_and_channels():
    im = Image.new("RGB", (50, 30), (10, 100, 200))
    p = prepare_image(im, (3, 8, 8), (0.1, 0.2, 0.3), (0.5, 0.25, 0.125))
    for c, (v, m, s) in enumerate(zip((10, 100, 200), (0.1, 0.2, 0.3), (0.5, 0.25, 0.125))):
        assert torch.allclose(p.x[c], torch.full((8, 8), (v / 255 - m) / s), atol=1e-5)
    g = prepare_image(im, (1, 8, 8), (0.5,), (0.5,))
    assert g.note.endswith("grayscale, normalised")
    luma = round(0.299 * 10 + 0.587 * 100 + 0.114 * 200)          # Pillow's L conversion
    assert abs(int(g.shown[0, 0, 0]) - luma) <= 1 and (g.shown[..., 0] == g.shown[..., 2]).all()
    same = prepare_image(Image.new("L", (28, 28), 7), (1, 28, 28))
    assert same.note == "28x28 as is" and float(same.x[0, 0, 0]) == pytest.approx(7 / 255)
    grey_to_rgb = prepare_image(Image.new("L", (8, 8), 7), (3, 8, 8))
    assert "grey copied to RGB" in grey_to_rgb.note and grey_to_rgb.x.shape == (3, 8, 8)


def test_invert_and_the_hint_for_it():
    paper = Image.new("L", (60, 60), 250)                          # dark ink on white paper
    paper.paste(0, (25, 10, 35, 50))
    digits_mean = (0.19,)                                          # light-on-dark digits
    assert looks_inverted(paper, digits_mean)
    assert not looks_inverted(Image.new("L", (60, 60), 5), digits_mean)
    assert not looks_inverted(paper, (0.8,)) and not looks_inverted(paper, ())
    p = prepare_image(paper, (1, 28, 28), digits_mean, (0.35,), invert=True)
    assert "inverted" in p.note and p.shown[0, 0, 0] == 5 and p.shown[14, 14, 0] == 255
    assert not p.suggest_invert                       # inverted, as it should be
    assert prepare_image(paper, (1, 28, 28), digits_mean, (0.35,)).suggest_invert


def test_exif_rotation_and_jpeg_draft_keep_the_true_size_in_the_note():
    data, _ = ODD["exif-rotated.jpg"]
    assert prepare_upload(data, "r.jpg", (3, 32, 32)).note.startswith("resized 20x40 -> 32x32")
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1000), (30, 60, 90)).save(buf, "JPEG")
    p = prepare_upload(buf.getvalue(), "big.jpg", (3, 32, 32))     # decoded at 1/8 scale
    assert p.note.startswith("resized 2000x1000 -> 32x32 (centre crop)")
    assert p.original_size == (2000, 1000)


@pytest.mark.parametrize("shape, message", [
    ((2,), "takes 2 input features, not an image"),
    ((4, 8, 8), "1 \\(grayscale\\) or 3 \\(RGB\\) channels"),
])
def test_models_that_take_no_image_are_refused(shape, message):
    with pytest.raises(UserError, match=message):
        prepare_image(Image.new("RGB", (8, 8)), shape)


def test_normalisation_that_does_not_fit_the_channels():
    with pytest.raises(UserError, match="2 channels, its input 3"):
        prepare_image(Image.new("RGB", (8, 8)), (3, 8, 8), (0.1, 0.2), (1.0, 1.0))
