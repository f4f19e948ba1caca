"""Confusion matrix: rows are the true class, columns the predicted one."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from dlviz.plots.pil_draw import INK as PIL_INK
from dlviz.plots.pil_draw import MUTED, pil_font, text_width
from dlviz.plots.png import png_bytes
from dlviz.plots.style import BLUE, INK, base_layout, placeholder

# white -> Playground blue; colour = share of the true class's samples
_SCALE = [[0.0, "#ffffff"], [0.15, "#d6e6f3"], [1.0, BLUE]]


def confusion_figure(matrix, classes: Sequence[str], of: int | None = None) -> go.Figure:
    """Counts in every cell ("·" for none); colour is the row share (recall per
    class), so the diagonal stands out even when classes differ in size;
    diagonal cells are outlined. The x title says how many samples it counts, and
    with ``of`` (the test set's size) when that is fewer than all of them."""
    m = np.asarray(matrix, dtype=np.int64)
    k = m.shape[0] if m.ndim == 2 else 0
    names = [str(classes[i]) if i < len(classes or ()) else str(i) for i in range(k)]
    fig = go.Figure()
    # the counts stay 12 px at any font scale: a cell is no larger in presenter mode
    side = int(min(620, max(240, 90 + 40 * k)))
    base_layout(fig, height=side, legend_top=False, uirevision="confusion",
                margin=dict(l=70, r=16, t=56, b=16))
    if k == 0 or m.sum() == 0:
        return placeholder(fig, "no predictions yet")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=np.float64), where=rows > 0)  # (k, k)
    hover = np.array([[f"true <b>{names[r]}</b>, predicted <b>{names[c]}</b><br>{m[r, c]:,} "
                       f"({share[r, c]:.0%} of true {names[r]})" for c in range(k)] for r in range(k)])
    fig.add_trace(go.Heatmap(
        z=share, x=names, y=names, colorscale=_SCALE, zmin=0, zmax=1, showscale=False,
        text=np.where(m == 0, "·", m.astype(str)), texttemplate="%{text}", textfont=dict(size=12 if k <= 10 else 9),
        customdata=hover, hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1))
    fig.update_layout(shapes=[dict(type="rect", xref="x", yref="y", x0=i - 0.5, x1=i + 0.5,
                                   y0=i - 0.5, y1=i + 0.5, line=dict(color=INK, width=1.5))
                              for i in range(k)])
    n = int(m.sum())
    counted = f"{n:,} test samples" if of is None or of == n else f"the first {n:,} of {of:,} test samples"
    fig.update_xaxes(type="category", title_text=f"predicted ({counted})", side="top", showgrid=False, ticks="", tickangle=0
                     if max(len(n) for n in names) <= 3 else -35, constrain="domain")
    fig.update_yaxes(type="category", title_text="true", autorange="reversed", showgrid=False, ticks="",
                     scaleanchor="x", scaleratio=1, constrain="domain")
    return fig



def _share_rgb(share: np.ndarray) -> np.ndarray:
    """(k, k) row shares -> (k, k, 3) uint8 on ``_SCALE`` (white, pale blue at 15%, blue)."""
    stops = np.array([s for s, _ in _SCALE])
    colours = np.array([[int(c.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)] for _, c in _SCALE], float)
    t = np.clip(share, 0, 1)
    rgb = np.stack([np.interp(t, stops, colours[:, ch]) for ch in range(3)], axis=-1)
    return rgb.round().astype(np.uint8)


def confusion_png(matrix, classes: Sequence[str], of: int | None = None) -> bytes:
    """What ``confusion_figure`` draws, as a PNG picture (no hover): for a running run,
    whose matrix changes on every redraw. A picture updates in place, while a changed
    Plotly chart is mounted afresh (docs/ARCHITECTURE.md, "The live Train page")."""
    m = np.asarray(matrix, dtype=np.int64)
    k = m.shape[0] if m.ndim == 2 else 0
    names = [str(classes[i]) if i < len(classes or ()) else str(i) for i in range(k)]
    s = 2                                           # drawn at twice the size, then halved
    cell = s * int(min(48, max(22, 440 // max(k, 1))))
    left, top = s * 60, s * 58
    side = left + max(k, 1) * cell + s * 12
    img = Image.new("RGB", (side, top + max(k, 1) * cell + s * 12), (255, 255, 255))
    d = ImageDraw.Draw(img)
    label, small = pil_font(s * 13), pil_font(s * (12 if k <= 10 else 9))
    n = int(m.sum()) if k else 0
    if k == 0 or n == 0:
        d.text((side // 2, img.height // 2), "no predictions yet", fill=MUTED, font=label, anchor="mm")
        return png_bytes(img.resize((img.width // s, img.height // s), Image.LANCZOS))
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=np.float64), where=rows > 0)  # (k, k)
    rgb = _share_rgb(share)
    for r in range(k):
        for c in range(k):
            x0, y0 = left + c * cell, top + r * cell
            d.rectangle([x0 + s, y0 + s, x0 + cell - s, y0 + cell - s], fill=tuple(int(v) for v in rgb[r, c]))
            ink = (255, 255, 255) if share[r, c] > 0.55 else PIL_INK
            d.text((x0 + cell // 2, y0 + cell // 2), "·" if m[r, c] == 0 else f"{m[r, c]}", fill=ink,
                   font=small, anchor="mm")
        d.rectangle([left + r * cell, top + r * cell, left + (r + 1) * cell, top + (r + 1) * cell],
                    outline=PIL_INK, width=3)          # the diagonal, outlined
        d.text((left + r * cell + cell // 2, top - s * 6), names[r], fill=PIL_INK, font=small, anchor="ms")
        d.text((left - s * 6, top + r * cell + cell // 2), names[r], fill=PIL_INK, font=small, anchor="rm")
    counted = f"{n:,} test samples" if of is None or of == n else f"the first {n:,} of {of:,} test samples"
    title = f"predicted ({counted})"
    d.text((left + (k * cell - text_width(label, title)) / 2, s * 8), title, fill=PIL_INK, font=label)
    d.text((s * 8, top + k * cell // 2), "true", fill=PIL_INK, font=label, anchor="lm")
    return png_bytes(img.resize((img.width // s, img.height // s), Image.LANCZOS))
