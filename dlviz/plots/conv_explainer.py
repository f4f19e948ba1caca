"""The convolution explainer as a picture: input patch x kernel = products, with the numbers.

Takes a ``dlviz.inside.ConvArithmetic``'s arrays. For a layer with several
input channels one channel is drawn (by default the one contributing most);
a line underneath gives every channel's sum, the bias and the total, and the
layer's own output to compare with.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from dlviz.plots.colour_scale import to_rgb
from dlviz.plots.feature_maps import FRAME, fmt
from dlviz.plots.pil_draw import EMPTY, INK, MUTED, fit_text, pil_font
from dlviz.plots.style import px

GAP = 28           # between grids, room for "×" and "="
WIDE_PX = 900      # the widest the three grids grow at a larger font scale


def _grid(draw: ImageDraw.ImageDraw, canvas: np.ndarray, x0: int, y0: int, values: np.ndarray,
          cell: int, pad_mask: np.ndarray | None, font) -> None:
    """Draw a (k, k) grid of coloured cells with their numbers at (x0, y0)."""
    kh, kw = values.shape
    m = float(np.abs(values).max()) or 1.0
    colours = to_rgb(values, -m, m)                                  # (kh, kw, 3)
    for i in range(kh):
        for j in range(kw):
            ya, xa = y0 + i * cell, x0 + j * cell
            pad = pad_mask is not None and pad_mask[i, j]
            draw.rectangle((xa, ya, xa + cell, ya + cell), fill=EMPTY if pad else tuple(colours[i, j]),
                           outline=FRAME)
            v = float(values[i, j])
            # white text on saturated cells, ink on pale ones
            dark = not pad and abs(v) / m > 0.6
            draw.text((xa + cell / 2, ya + cell / 2), fit_text(font, f"{v:.2f}", cell - 2),
                      fill=(255, 255, 255) if dark else (MUTED if pad else INK), font=font, anchor="mm")


def conv_explainer_image(a, in_channel: int | None = None, cell: int | None = None) -> Image.Image:
    """patch (channel ``in_channel``) x kernel = products, then the sums.

    ``a``: a ``ConvArithmetic``. Cells lying in the zero padding are drawn pale
    grey. ``cell`` is the side of one number cell in pixels (default by kernel size).
    """
    cin, kh, kw = a.patch.shape
    sums = a.channel_sums
    c = int(np.argmax(np.abs(sums))) if in_channel is None else int(in_channel)
    if not 0 <= c < cin:
        raise ValueError(f"input channel {c} is outside 0..{cin - 1}")
    if cell is None:
        base = 44 if max(kh, kw) <= 5 else 38 if max(kh, kw) <= 7 else 32
        # larger with the font scale, but the three grids stay within ~900 px (a projector's
        # page width): an image shrunk to fit its column shrinks its numbers with it
        cell = min(px(base), max(base, WIDE_PX // (3 * max(kh, kw))))
    font, small, title_font = pil_font(px(11)), pil_font(px(10)), pil_font(px(12))
    # which patch cells are zero padding: input rows/cols outside the unpadded input
    dh, dw = a.dilation
    rows = a.top + dh * np.arange(kh)
    cols = a.left + dw * np.arange(kw)
    _, h, w = a.input_shape
    pad_mask = ~(((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :])
    gw, gh = kw * cell, kh * cell
    head, foot = px(36), px(48)
    width = 3 * gw + 2 * GAP + 16
    height = head + gh + foot
    canvas = np.full((height, width, 3), 255, np.uint8)
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    xs = [8, 8 + gw + GAP, 8 + 2 * (gw + GAP)]
    where = f" channel {c} of {cin}" if cin > 1 else ""
    titles = [(f"{a.input_name}{where}", f"rows {rows[0]} to {rows[-1]}, cols {cols[0]} to {cols[-1]}"),
              ("kernel", f"weights of map {a.channel}" + (f", channel {c}" if cin > 1 else "")),
              ("input x weight", f"{kh * kw} products")]
    for x, (t, sub), vals, mask in zip(xs, titles, [a.patch[c], a.kernel[c], a.products[c]],
                                       [pad_mask, None, None]):
        draw.text((x, 3), fit_text(title_font, t, gw + GAP - 6), fill=INK, font=title_font)
        draw.text((x, px(19)), fit_text(small, sub, gw + GAP - 6), fill=MUTED, font=small)
        _grid(draw, canvas, x, head, vals, cell, mask, font)
    mid = head + gh / 2
    cx, r = xs[1] - GAP / 2, 5                  # the default font has no "×": draw it
    draw.line((cx - r, mid - r, cx + r, mid + r), fill=INK, width=2)
    draw.line((cx - r, mid + r, cx + r, mid - r), fill=INK, width=2)
    draw.text((xs[2] - GAP / 2, mid), "=", fill=INK, font=pil_font(px(18)), anchor="mm")
    y = head + gh + 8
    if cin > 1:
        draw.text((8, y), f"sum for channel {c}: {fmt(sums[c])}  ·  over all {cin} channels: {fmt(sums.sum())}",
                  fill=INK, font=font)
        y += px(18)
    else:
        draw.text((8, y), f"sum of the {kh * kw} products: {fmt(sums[0])}", fill=INK, font=font)
        y += px(18)
    draw.text((8, y), f"+ bias {fmt(a.bias)} = {fmt(a.total)}   (the layer's output: "
              f"{fmt(a.layer_output)})", fill=INK, font=font)
    if pad_mask.any():
        draw.text((width - 8, y), "grey: zero padding", fill=MUTED, font=small, anchor="ra")
    return img
