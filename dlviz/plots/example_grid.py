"""Training examples as one picture: the input explained, then rows of training images,
each captioned (label and score). The CLI's ``--influence`` PNG; the page draws the same
rows with Streamlit's own images."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dlviz.plots.pil_draw import INK, MUTED, WHITE, fit_text, pil_font, upscale
from dlviz.plots.style import px

TILE = 84            # side of one example, px


def short_score(v: float) -> str:
    """A signed score in at most 6 characters: +0.042, -3.1, +870, +1.3k, -25k."""
    a = abs(v)
    if a >= 1000:
        return f"{v / 1000:+.2g}k" if a < 10_000 else f"{v / 1000:+.0f}k"
    return f"{v:+.2g}" if a < 1 else f"{v:+.3g}"


def _tile(img: np.ndarray, side: int) -> Image.Image:
    """uint8 (H, W, 1 or 3) -> an RGB tile about ``side`` px, each pixel a block."""
    rgb = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]
    scale = max(1, side // max(rgb.shape[:2]))
    return Image.fromarray(upscale(np.ascontiguousarray(rgb), scale))


def example_grid(shown: np.ndarray | None, rows: Sequence[tuple[str, np.ndarray, Sequence[str]]],
                 title: str = "", tile: int = TILE) -> Image.Image:
    """``shown``: the input, uint8 (H, W, C) or None; ``rows``: (row title, images uint8
    (k, H, W, C), one caption per image). The input heads the first column."""
    side = tile
    gap, cap_h, head_h = 8, px(18), px(20)
    title_h = px(26) if title else 0
    lead = side + 2 * gap if shown is not None else 0          # the input's column
    cols = max([len(imgs) for _, imgs, _ in rows] + [1])
    width = lead + gap + cols * (side + gap)
    height = title_h + gap + len(rows) * (head_h + side + cap_h + gap)
    sheet = Image.new("RGB", (width, max(height, title_h + side + cap_h + 2 * gap)), WHITE)
    draw = ImageDraw.Draw(sheet)
    font, small = pil_font(px(13)), pil_font(px(11))
    if title:
        draw.text((gap, gap), fit_text(pil_font(px(15)), title, width - 2 * gap), fill=INK,
                  font=pil_font(px(15)))
    if shown is not None:
        im = _tile(shown, side)
        y0 = title_h + gap + head_h
        sheet.paste(im, (gap + (side - im.width) // 2, y0 + (side - im.height) // 2))
        draw.text((gap + side / 2, y0 + side + 2), "input", fill=INK, font=small, anchor="ma")
    for r, (name, imgs, captions) in enumerate(rows):
        y0 = title_h + gap + r * (head_h + side + cap_h + gap)
        draw.text((lead + gap, y0), fit_text(font, name, width - lead - 2 * gap), fill=INK, font=font)
        for c, (img, cap) in enumerate(zip(imgs, captions)):
            x0 = lead + gap + c * (side + gap)
            im = _tile(img, side)
            sheet.paste(im, (x0 + (side - im.width) // 2, y0 + head_h + (side - im.height) // 2))
            draw.text((x0 + side / 2, y0 + head_h + side + 2), fit_text(small, cap, side + gap),
                      fill=MUTED, font=small, anchor="ma")
    return sheet
