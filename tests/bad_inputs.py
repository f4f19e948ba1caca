"""Crafted image files, made in memory, for every test that takes an upload.

    from bad_inputs import BAD, BAD_REASON, ODD, check_odd

    BAD[name]         bytes that must be refused with a clear message
    BAD_REASON[name]  a fragment of that message: "too large" or "not a supported image"
    ODD[name]         (bytes, expected): odd but valid files that must be read correctly;
                      expected = {"mode": "RGB" | "L", "size": (w, h),
                                  "pixels": {(x, y): value}, "tol": int}
                      value is an int for "L" images, an (r, g, b) tuple for "RGB"
    check_odd(im, expected) -> None | str: what is wrong with a decoded PIL image

Names end with the extension a person would upload them with (the name is
used in messages only: formats are sniffed from the bytes). Everything is
built once at import, in well under a second, with Pillow, zlib and struct.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, features

from dlviz.data.image_files import MAX_PIXELS


# --------------------------------------------------------------------------- helpers

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes | None,
         idat: bytes | None = None) -> bytes:
    """A PNG from scanlines ``raw`` (each row: filter byte 0 + packed pixels)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(raw or b"", 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _split(w: int, h: int, left, right, mode: str = "RGB") -> Image.Image:
    """Left half one colour, right half another."""
    im = Image.new(mode, (w, h), left)
    im.paste(Image.new(mode, (w - w // 2, h), right), (w // 2, 0))
    return im


# --------------------------------------------------------------------------- bad files

def _bomb_header_png() -> bytes:
    # a 100000 x 100000 RGB image by its header (10^10 px): one tiny IDAT, never decoded
    return _png(100_000, 100_000, 8, 2, None, idat=zlib.compress(b"\x00" * 16))


def _bomb_header_below_pillow_limit() -> bytes:
    # 9000 x 9000 = 81 MP: over MAX_PIXELS (40 MP) but under Pillow's own bomb limit,
    # so it is dlviz's header check that must refuse it
    assert 9000 * 9000 > MAX_PIXELS
    return _png(9000, 9000, 8, 0, None, idat=zlib.compress(b"\x00" * 16))


def _bomb_small_file_png() -> bytes:
    # a real, complete 8000 x 8000 one-colour PNG (64 MP) in a ~8 KB file:
    # 1 bit per pixel, every row a filter byte and 1000 zero bytes
    assert 8000 * 8000 > MAX_PIXELS
    row = b"\x00" + b"\x00" * 1000
    return _png(8000, 8000, 1, 0, row * 8000)


def _bomb_header_gif() -> bytes:
    # GIF logical screen 65535 x 65535 (4.3 GP) around a 1 x 1 frame
    good = _save(Image.new("P", (1, 1)), "GIF")
    return good[:6] + struct.pack("<HH", 65535, 65535) + good[10:]


def _truncated_png() -> bytes:
    im = Image.effect_noise((64, 64), 60).convert("RGB")     # noise: does not compress away
    data = _save(im, "PNG")
    return data[: len(data) // 2]


def _truncated_jpeg() -> bytes:
    data = _save(Image.effect_noise((64, 64), 60).convert("RGB"), "JPEG", quality=95)
    return data[: len(data) // 2]


def _bad_crc_png() -> bytes:
    data = bytearray(_save(Image.new("RGB", (8, 8), (10, 20, 30)), "PNG"))
    data[29] ^= 0xFF                  # the IHDR chunk's CRC (bytes 29..32)
    return bytes(data)


def _zero_width_png() -> bytes:
    return _png(0, 8, 8, 0, b"")


def _heic() -> bytes:
    # an ISO-BMFF "ftyp" box with brand heic: what an iPhone photo starts with
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64


BAD: dict[str, bytes] = {
    "bomb-header.png": _bomb_header_png(),
    "bomb-header-81mp.png": _bomb_header_below_pillow_limit(),
    "bomb-small-file.png": _bomb_small_file_png(),
    "bomb-header.gif": _bomb_header_gif(),
    "truncated.png": _truncated_png(),
    "truncated.jpg": _truncated_jpeg(),
    "bad-crc.png": _bad_crc_png(),
    "zero-width.png": _zero_width_png(),
    "empty.png": b"",
    "notes.txt": b"This is a text file, not a picture.\n" * 4,
    "page.html.png": b"<!doctype html><html><body><img src=x></body></html>",
    "document.pdf": (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                     b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"),
    "drawing.svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
                    b'height="10"><circle cx="5" cy="5" r="4" fill="red"/></svg>'),
    "photo.heic": _heic(),
    "scan.tiff": _save(Image.new("RGB", (8, 8), (200, 0, 0)), "TIFF"),   # valid, not accepted
}

BAD_REASON: dict[str, str] = {
    name: "too large" if name.startswith("bomb") else "not a supported image" for name in BAD
}


# --------------------------------------------------------------------------- odd but valid

def _la() -> tuple[bytes, dict]:
    im = Image.new("LA", (4, 4), (0, 0))            # black, fully transparent -> white
    im.putpixel((3, 3), (0, 255))                   # black, opaque -> black
    return _save(im, "PNG"), {"mode": "L", "size": (4, 4), "pixels": {(0, 0): 255, (3, 3): 0}}


def _rgba() -> tuple[bytes, dict]:
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # red, transparent -> white (not red)
    im.putpixel((3, 3), (0, 0, 255, 255))
    im.putpixel((0, 3), (0, 0, 0, 128))             # half-transparent black -> mid grey
    return _save(im, "PNG"), {"mode": "RGB", "size": (4, 4),
                              "pixels": {(0, 0): (255, 255, 255), (3, 3): (0, 0, 255),
                                         (0, 3): (127, 127, 127)}, "tol": 2}


def _palette() -> tuple[bytes, dict]:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([200, 30, 40, 10, 120, 220] + [0] * 762)
    im.putpixel((3, 3), 1)
    return _save(im, "PNG"), {"mode": "RGB", "size": (4, 4),
                              "pixels": {(0, 0): (200, 30, 40), (3, 3): (10, 120, 220)}}


def _palette_gray() -> tuple[bytes, dict]:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    im.putpixel((3, 3), 200)
    return _save(im, "PNG"), {"mode": "L", "size": (4, 4), "pixels": {(0, 0): 0, (3, 3): 200}}


def _palette_transparent() -> tuple[bytes, dict]:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    im.putpixel((3, 3), 1)
    return _save(im, "PNG", transparency=0), {"mode": "RGB", "size": (4, 4),
                                              "pixels": {(0, 0): (255, 255, 255), (3, 3): (0, 200, 0)}}


def _cmyk() -> tuple[bytes, dict]:
    im = Image.new("CMYK", (16, 16), (255, 0, 0, 0))          # pure cyan ink
    return _save(im, "JPEG", quality=95), {"mode": "RGB", "size": (16, 16),
                                           "pixels": {(8, 8): (0, 255, 255)}, "tol": 40}


def _gray16() -> tuple[bytes, dict]:
    im = Image.new("I;16", (4, 4), 32896)                     # mid-range: 32896 / 257 = 128
    im.putpixel((3, 3), 65535)
    return _save(im, "PNG"), {"mode": "L", "size": (4, 4), "pixels": {(0, 0): 128, (3, 3): 255}}


def _exif_rotated() -> tuple[bytes, dict]:
    # stored 40 wide x 20 high, left half red, right half blue, EXIF orientation 6
    # ("rotate 90 degrees clockwise to display"): shown 20 x 40, red on top
    im = _split(40, 20, (220, 20, 20), (20, 20, 220))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(im, "JPEG", quality=95, exif=exif.tobytes()), {
        "mode": "RGB", "size": (20, 40), "pixels": {(10, 5): (220, 20, 20), (10, 35): (20, 20, 220)},
        "tol": 40}


def _animated_gif() -> tuple[bytes, dict]:
    frames = [Image.new("RGB", (8, 8), c) for c in ((250, 0, 0), (0, 0, 250), (0, 250, 0))]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return data, {"mode": "RGB", "size": (8, 8), "pixels": {(4, 4): (250, 0, 0)}, "tol": 8}


def _bilevel() -> tuple[bytes, dict]:
    im = Image.new("1", (8, 8), 1)
    im.putpixel((0, 0), 0)
    return _save(im, "PNG"), {"mode": "L", "size": (8, 8), "pixels": {(0, 0): 0, (7, 7): 255}}


def _colour_key() -> tuple[bytes, dict]:
    im = Image.new("RGB", (4, 4), (0, 255, 0))                # green is the see-through colour
    im.putpixel((3, 3), (200, 0, 0))
    return _save(im, "PNG", transparency=(0, 255, 0)), {
        "mode": "RGB", "size": (4, 4), "pixels": {(0, 0): (255, 255, 255), (3, 3): (200, 0, 0)}}


def _wide() -> tuple[bytes, dict]:
    return _save(_split(400, 40, (255, 255, 255), (0, 0, 0)), "PNG"), {"mode": "RGB", "size": (400, 40)}


def _gray_jpeg() -> tuple[bytes, dict]:
    return _save(Image.new("L", (16, 16), 90), "JPEG", quality=95), {
        "mode": "L", "size": (16, 16), "pixels": {(8, 8): 90}, "tol": 3}


def _bmp() -> tuple[bytes, dict]:
    return _save(Image.new("RGB", (5, 3), (1, 2, 3)), "BMP"), {
        "mode": "RGB", "size": (5, 3), "pixels": {(4, 2): (1, 2, 3)}}


ODD: dict[str, tuple[bytes, dict]] = {
    "gray-alpha.png": _la(),
    "rgba.png": _rgba(),
    "palette.png": _palette(),
    "palette-gray.png": _palette_gray(),
    "palette-transparent.png": _palette_transparent(),
    "colour-key.png": _colour_key(),
    "cmyk.jpg": _cmyk(),
    "gray16.png": _gray16(),
    "exif-rotated.jpg": _exif_rotated(),
    "animated.gif": _animated_gif(),
    "bilevel.png": _bilevel(),
    "wide.png": _wide(),
    "gray.jpg": _gray_jpeg(),
    "tiny.bmp": _bmp(),
    "one-pixel.png": (_save(Image.new("RGB", (1, 1), (9, 99, 199)), "PNG"),
                      {"mode": "RGB", "size": (1, 1), "pixels": {(0, 0): (9, 99, 199)}}),
}
if features.check("webp"):
    ODD["lossless.webp"] = (_save(Image.new("RGB", (6, 6), (12, 34, 56)), "WEBP", lossless=True),
                            {"mode": "RGB", "size": (6, 6), "pixels": {(3, 3): (12, 34, 56)}})


def check_odd(im: Image.Image, expected: dict) -> str | None:
    """None when ``im`` (as decoded) matches ``expected``; else what differs, in words."""
    if "mode" in expected and im.mode != expected["mode"]:
        return f"mode {im.mode}, expected {expected['mode']}"
    if "size" in expected and im.size != tuple(expected["size"]):
        return f"size {im.size}, expected {tuple(expected['size'])}"
    tol = expected.get("tol", 1)
    for xy, want in expected.get("pixels", {}).items():
        got = im.getpixel(xy)
        got_t = got if isinstance(got, tuple) else (got,)
        want_t = want if isinstance(want, tuple) else (want,)
        if len(got_t) != len(want_t) or any(abs(int(g) - int(w)) > tol for g, w in zip(got_t, want_t)):
            return f"pixel {xy} is {got}, expected {want} (+-{tol})"
    return None
