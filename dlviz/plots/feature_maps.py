"""Feature maps as ONE image: a mosaic of every channel of a layer, and one map enlarged.

One image instead of a grid of subplots: 32 Plotly subplots take ~0.9 s from
click to paint, one image ~0.33 s (docs/ARCHITECTURE.md). Built with numpy (maps
coloured, upscaled by ``np.repeat``, copied into one canvas) plus a little
PIL text: a 64-map mosaic takes a few milliseconds.

Colours: orange negative, white 0, blue positive (``colour_scale``). By
default every map of a layer shares one scale, so a strong map looks strong
and a silent one white; ``shared=False`` scales each map to its own range to
show the pattern in weak maps too. The caption says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from dlviz.plots.colour_scale import colour_bar, colour_range, to_rgb
from dlviz.plots.pil_draw import INK, MUTED, message_image, pil_font, upscale
from dlviz.plots.style import fmt_number, px

FRAME = (201, 206, 214)          # 1 px grid line around every map
HIGHLIGHT = (213, 33, 33)        # the selected map's outline (images.WRONG's red)
GAP = 4
LABEL_H = 13


@dataclass(frozen=True)
class MosaicImage:
    image: Image.Image                           # RGB
    cells: list[tuple[int, int, int, int]]       # per channel: (x0, y0, x1, y1) of the map, ends exclusive
    vmin: float                                  # lowest / highest value over all maps
    vmax: float
    ranges: np.ndarray                           # float32 (C, 2): each map's own (min, max)
    shared: bool                                 # one colour scale for all maps?
    zoom: int                                    # screen pixels per map pixel
    caption: str

    def channel_at(self, x: float, y: float) -> int | None:
        """The channel whose map contains image pixel (x, y), or None (for click handling)."""
        for c, (x0, y0, x1, y1) in enumerate(self.cells):
            if x0 <= x < x1 and y0 <= y < y1:
                return c
        return None


def fmt(v: float) -> str:
    """A value for a label: 3 significant digits (``style.fmt_number``, one style everywhere)."""
    return fmt_number(v, 3)


def default_zoom(h: int, w: int, target: int = 60) -> int:
    """Upscale so a map is about ``target`` pixels across (1x..12x)."""
    return int(min(12, max(1, round(target / max(h, w, 1)))))


def default_cols(c: int) -> int:
    return c if c <= 8 else 8 if c <= 64 else math.ceil(math.sqrt(c))


def feature_mosaic(maps, cols: int | None = None, scale: int | None = None, shared: bool = True,
                   labels: bool = True, highlight: int | None = None,
                   centre_zero: bool = True) -> MosaicImage:
    """All maps (C, H, W) of one layer in one RGB image.

    ``scale`` is the pixel upscale (default: maps about 60 px across); ``cols``
    maps per row; ``labels`` puts each map's index above it; ``highlight``
    outlines one map in red.
    """
    m = np.asarray(maps, dtype=np.float32)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"maps must have shape (C, H, W), got {m.shape}")
    c, h, w = m.shape
    if c == 0 or h == 0 or w == 0:
        img = message_image("no maps")
        return MosaicImage(img, [], 0.0, 0.0, np.zeros((0, 2), np.float32), shared, 1, "no maps")
    finite = np.where(np.isfinite(m), m, np.nan)
    flat = finite.reshape(c, -1)
    with np.errstate(all="ignore"):
        ranges = np.stack([np.nan_to_num(np.nanmin(flat, axis=1)),
                           np.nan_to_num(np.nanmax(flat, axis=1))], axis=1).astype(np.float32)   # (C, 2)
    vmin, vmax = float(ranges[:, 0].min()), float(ranges[:, 1].max())
    zoom = scale or default_zoom(h, w)
    cols = max(1, min(cols or default_cols(c), c))
    rows = -(-c // cols)
    th, tw = h * zoom, w * zoom
    lab = px(LABEL_H) if labels else 0
    pitch_x, pitch_y = tw + 2 + GAP, th + 2 + GAP + lab
    canvas = np.full((rows * pitch_y + GAP, cols * pitch_x + GAP, 3), 255, np.uint8)
    if shared:
        lo, hi = colour_range(vmin, vmax, centre_zero)
        tiles = to_rgb(m, lo, hi, centre_zero)                                  # (C, H, W, 3)
    else:
        tiles = np.stack([to_rgb(m[i], *colour_range(*ranges[i], centre_zero), centre_zero)
                          for i in range(c)])
    cells = []
    for i in range(c):
        r, k = divmod(i, cols)
        y0, x0 = GAP + r * pitch_y + lab, GAP + k * pitch_x
        canvas[y0:y0 + th + 2, x0:x0 + tw + 2] = FRAME
        canvas[y0 + 1:y0 + 1 + th, x0 + 1:x0 + 1 + tw] = upscale(tiles[i], zoom)
        cells.append((x0 + 1, y0 + 1, x0 + 1 + tw, y0 + 1 + th))
    img = Image.fromarray(canvas)
    if labels or highlight is not None:
        draw = ImageDraw.Draw(img)
        font = pil_font(px(10))
        if labels:
            for i, (x0, y0, x1, _) in enumerate(cells):
                draw.text((x0 - 1, y0 - 2), str(i), fill=HIGHLIGHT if i == highlight else MUTED,
                          font=font, anchor="ld")
        if highlight is not None and 0 <= highlight < c:
            x0, y0, x1, y1 = cells[highlight]
            draw.rectangle((x0 - 3, y0 - 3, x1 + 2, y1 + 2), outline=HIGHLIGHT, width=2)
    how = (f"one colour scale for all maps, {fmt(vmin)} to {fmt(vmax)}" if shared
           else "each map scaled to its own range")
    zero = "white = 0" if centre_zero else f"white = {fmt(vmin)}"
    caption = f"{c} map{'s' if c != 1 else ''} of {h}×{w} · {how} ({zero}, orange < 0 < blue)"
    return MosaicImage(img, cells, vmin, vmax, ranges, shared, zoom, caption)


def enlarge(map_, size: int = 224, vmin: float | None = None, vmax: float | None = None,
            centre_zero: bool = True, title: str | None = None,
            box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """One map (H, W) at a readable size with a colour bar and its range under it.

    ``vmin``/``vmax`` default to the map's own range (pass the layer's to compare
    maps); ``box`` = (row0, col0, row1, col1), ends exclusive, outlines a window,
    e.g. the convolution explainer's input patch (parts in the padding are clipped).
    """
    a = np.asarray(map_, dtype=np.float32)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"a map must have shape (H, W), got {a.shape}")
    h, w = a.shape
    fin = a[np.isfinite(a)]
    lo_v = float(fin.min()) if fin.size else 0.0
    hi_v = float(fin.max()) if fin.size else 0.0
    lo, hi = colour_range(lo_v if vmin is None else vmin, hi_v if vmax is None else vmax, centre_zero)
    zoom = max(1, size // max(h, w))
    body = upscale(to_rgb(a, lo, hi, centre_zero), zoom)                     # (h*z, w*z, 3)
    bh, bw = body.shape[:2]
    pad, title_h, bar_h, text_h = 8, (px(18) if title else 0), 10, px(34)
    width = max(bw, px(160)) + 2 * pad
    canvas = np.full((title_h + bh + 2 + 6 + bar_h + text_h + pad, width, 3), 255, np.uint8)
    left = (width - bw - 2) // 2
    top = title_h + 2
    canvas[top - 1:top + bh + 1, left:left + bw + 2] = FRAME
    canvas[top:top + bh, left + 1:left + 1 + bw] = body
    bar_y = top + bh + 1 + 6
    canvas[bar_y:bar_y + bar_h, pad:width - pad] = colour_bar(width - 2 * pad, bar_h, lo, hi, centre_zero)
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    font = pil_font(px(11))
    if title:
        draw.text((width / 2, 2), title, fill=INK, font=font, anchor="ma")
    ty = bar_y + bar_h + 3
    draw.text((pad, ty), fmt(lo), fill=MUTED, font=font, anchor="la")
    draw.text((width - pad, ty), fmt(hi), fill=MUTED, font=font, anchor="ra")
    if lo < 0 < hi:
        zx = pad + (width - 2 * pad) * (0 - lo) / (hi - lo)
        draw.text((zx, ty), "0", fill=MUTED, font=font, anchor="ma")
    draw.text((width / 2, ty + px(15)), f"{h}x{w} · min {fmt(lo_v)} · max {fmt(hi_v)}", fill=INK,
              font=font, anchor="ma")
    if box is not None:
        r0, c0, r1, c1 = (max(0, box[0]), max(0, box[1]), min(h, box[2]), min(w, box[3]))
        if r1 > r0 and c1 > c0:
            x0, y0 = left + 1 + c0 * zoom, top + r0 * zoom
            draw.rectangle((x0 - 1, y0 - 1, left + c1 * zoom + 1, top + r1 * zoom), outline=INK, width=2)
    return img
