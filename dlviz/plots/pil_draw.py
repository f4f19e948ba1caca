"""Drawing on PIL pictures, shared by every module that makes one: the colours as RGB
tuples, a font per size, text cut to fit, nearest-neighbour upscaling, a message tile.

(``dlviz.plots.style`` holds the same colours as CSS strings for plotly figures, and the
font scale: a picture's text and the room made for it are ``px(size)`` pixels.)
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dlviz.plots.style import px

WHITE = (255, 255, 255)
INK = (42, 47, 54)
MUTED = (107, 114, 128)
EMPTY = (241, 243, 245)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """'#0072b2' -> (0, 114, 178): a style colour for a PIL picture."""
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


@functools.lru_cache(maxsize=8)
def pil_font(size: int) -> ImageFont.ImageFont:
    """Pillow's own font at ``size`` px (no font file needed on the server)."""
    try:
        return ImageFont.load_default(size)      # scalable since Pillow 10.1
    except TypeError:                            # pragma: no cover - older Pillow
        return ImageFont.load_default()


def text_width(f, text: str) -> float:
    return f.getlength(text) if hasattr(f, "getlength") else len(text) * 6


def fit_text(f, text: str, width: float) -> str:
    """``text``, cut with an ellipsis to fit ``width`` pixels in font ``f``."""
    if text_width(f, text) <= width:
        return text
    while text and text_width(f, text + "…") > width:
        text = text[:-1]
    return text + "…"


def upscale(img: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) -> (H*scale, W*scale, C), each pixel a block (no smoothing)."""
    return img if scale == 1 else np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


def message_image(text: str, width: int = 240, height: int = 60) -> Image.Image:
    """A white tile with a quiet message in the middle: a picture with nothing to show."""
    font = pil_font(px(13))
    width, height = max(width, int(text_width(font, text)) + 16), max(height, px(13) + 16)
    img = Image.new("RGB", (width, height), WHITE)
    ImageDraw.Draw(img).text((width / 2, height / 2), text, fill=MUTED, font=font, anchor="mm")
    return img
