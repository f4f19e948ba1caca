"""Confusion matrix: rows are the true class, columns the predicted one."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

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
