"""Open one untrusted image file (bytes from disk, a zip or an upload) safely.

Every path that turns user bytes into pixels goes through ``open_image``:
the folder/zip dataset loader and the Explain page's upload. It decides once
which formats are accepted, how big an image may be, and how odd modes
(palette, alpha, CMYK, 16-bit) become plain "RGB" or "L".
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from dlviz.errors import UserError

# Formats a person plausibly has photos or drawings in. Naming them makes
# Pillow skip every other plugin (TIFF, PSD, EPS via Ghostscript, ...), which
# is both less attack surface and a clear message for odd files.
FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP")

# A header may claim any size; decoding 40 MP takes ~120 MB as RGB, which is
# as much as one request on a shared server should cost. Checked on the size
# the header claims, before any pixel is decoded.
MAX_PIXELS = 40_000_000


def open_image(data: bytes, name: str, *, min_size: int | None = None) -> Image.Image:
    """Decode ``data`` into a loaded PIL image in mode "RGB" or "L".

    ``name`` is only used in error messages. ``min_size``, when given, lets the
    JPEG decoder decode at a reduced scale (much faster for photos that will
    be shrunk anyway) as long as both sides stay >= ``min_size``.

    EXIF orientation is applied, animations give their first frame, alpha is
    composited on white, 16-bit greyscale is scaled (not clipped) to 8 bits.
    Raises ``UserError("<name>: not a supported image (...)")`` for anything
    that is not a readable image of an accepted format and size.
    """
    if not data:
        raise UserError(f"{name}: not a supported image (empty file)")
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as e:
        # Pillow's own limit (2x its MAX_IMAGE_PIXELS) fired first.
        raise UserError(f"{name}: image too large (over {MAX_PIXELS:,} pixels)") from e
    except Exception as e:  # untrusted bytes into a third-party parser
        raise UserError(f"{name}: not a supported image ({_why(e)}; "
                        f"accepted: {', '.join(FORMATS)})") from e
    with im:
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise UserError(f"{name}: image too large ({w}x{h} = {w * h:,} pixels; "
                            f"the limit is {MAX_PIXELS:,} pixels)")
        if w < 1 or h < 1:
            raise UserError(f"{name}: not a supported image (size {w}x{h})")
        try:
            if min_size and im.format == "JPEG":
                # draft() picks the largest DCT scale-down that keeps the
                # image >= the requested size on both sides.
                im.draft(im.mode, (min_size, min_size))
            im.load()                           # first frame of an animation
            try:
                out = ImageOps.exif_transpose(im)   # a new image; im can close
            except Exception:
                out = im.copy()   # broken EXIF: the pixels are still good; keep them as stored
            return _to_rgb_or_l(out)
        except Image.DecompressionBombError as e:
            raise UserError(f"{name}: image too large (over {MAX_PIXELS:,} pixels)") from e
        except Exception as e:
            raise UserError(f"{name}: not a supported image ({_why(e)})") from e


def _why(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if msg.startswith("cannot identify image file"):
        # Pillow names the BytesIO object ("<_io.BytesIO object at 0x7f...>"): no use to a person
        msg = "unrecognised file format"
    return msg[:120]


def _to_rgb_or_l(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> "RGB" or "L", without losing contrast or colour."""
    mode = im.mode
    if mode in ("RGB", "L"):
        if "transparency" in im.info:   # a PNG tRNS colour key: that colour is see-through
            flat = _on_white(im.convert("RGBA"))
            return flat.convert("L") if mode == "L" else flat
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I;16") or mode == "I":
        return _wide_gray_to_l(im)
    if mode == "F":
        return _stretch_to_l(np.asarray(im, dtype=np.float64))
    if mode in ("P", "PA"):
        gray = _palette_is_gray(im)
        has_alpha = mode == "PA" or "transparency" in im.info
        if has_alpha:
            rgb = _on_white(im.convert("RGBA"))
        else:
            rgb = im.convert("RGB")
        return rgb.convert("L") if gray else rgb
    if mode in ("LA", "La"):
        return _on_white(im.convert("RGBA")).convert("L")
    if mode in ("RGBA", "RGBa"):
        return _on_white(im.convert("RGBA"))
    # CMYK, YCbCr, LAB, HSV, RGBX: Pillow knows the colour maths.
    return im.convert("RGB")


def _on_white(rgba: Image.Image) -> Image.Image:
    """Composite on white: a transparent pixel is background, not its hidden colour."""
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _palette_is_gray(im: Image.Image) -> bool:
    pal = im.getpalette("RGB")
    if not pal:
        return False
    rgb = np.asarray(pal, dtype=np.uint8).reshape(-1, 3)
    return bool((rgb[:, 0] == rgb[:, 1]).all() and (rgb[:, 1] == rgb[:, 2]).all())


def _wide_gray_to_l(im: Image.Image) -> Image.Image:
    # Pillow's convert("L") clips 16-bit values at 255, turning most of a
    # 16-bit image white. Scale the full 16-bit range to 8 bits instead.
    a = np.asarray(im).astype(np.float64)   # (H, W); I;16B etc. are byte-swapped by numpy
    if a.size and a.min() >= 0 and a.max() <= 65535:
        return Image.fromarray(np.round(a / 257.0).astype(np.uint8), "L")
    return _stretch_to_l(a)   # 32-bit or float data: no nominal range, stretch min..max


def _stretch_to_l(a: np.ndarray) -> Image.Image:
    a = np.nan_to_num(a)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    scaled = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.round(scaled).astype(np.uint8), "L")
