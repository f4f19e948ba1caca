"""Dense layers and the output for one input: a strip of unit values, class probabilities.

Figures are built in one step from a cached styled layout (``fast_layout``):
the Inside page draws several per input.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.fast_layout import styled_figure
from dlviz.plots.style import BLUE, DIVERGING, INK, MUTED, NEUTRAL, fmt_number, placeholder, px

STRIP_HEIGHT = 150


def _title(text: str) -> dict:
    return dict(text=text, font_size=px(12), x=0, xanchor="left", y=0.98)


def units_strip_figure(values, name: str, highlight: int | None = None) -> go.Figure:
    """One bar per unit of a dense-like layer (U,), coloured orange < 0 < blue
    on a scale symmetric around 0; ``highlight`` outlines one unit."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel())
    look = dict(height=STRIP_HEIGHT, legend_top=False, margin=dict(l=48, r=12, t=28, b=30),
                uirevision=f"units-{name}")
    if v.size == 0:
        return placeholder(styled_figure([], **look), "no units")
    m = float(np.abs(v).max()) or 1.0
    line_w = [2.0 if i == highlight else 0.0 for i in range(v.size)] if highlight is not None else 0
    bar = go.Bar(x=np.arange(v.size), y=v,
                 marker=dict(color=v, colorscale=DIVERGING, cmin=-m, cmax=m,
                             line=dict(color=INK, width=line_w)),
                 hovertemplate=f"{name} unit %{{x}}<br>%{{y:.4g}}<extra></extra>")
    dtick = 1 if v.size <= 20 else max(1, 10 ** int(np.log10(v.size)) // 2)
    return styled_figure(
        [bar], **look, title=_title(f"{name}: {v.size} units, {fmt_number(v.min(), 3)} to {fmt_number(v.max(), 3)}"),
        bargap=0.1 if v.size < 64 else 0, showlegend=False,
        xaxis=dict(showgrid=False, ticks="", range=[-0.5, v.size - 0.5], dtick=dtick),
        yaxis=dict(zeroline=True, zerolinecolor="#c9ced6"))


def probabilities_figure(probs, classes: Sequence[str] | None = None,
                         true: int | None = None) -> go.Figure:
    """Horizontal bars of class probabilities (K,) in class order; the predicted
    class in blue, the true class (when given) named in its label. A single value
    without classes is a regression output, shown as that value."""
    p = np.nan_to_num(np.asarray(probs, dtype=np.float64).ravel())
    k = p.size
    look = dict(height=max(120, 40 + 22 * k), legend_top=False,
                margin=dict(l=96, r=16, t=28, b=30), uirevision="probabilities")
    if k == 0:
        return placeholder(styled_figure([], **look), "no output")
    if k == 1 and not classes:
        bar = go.Bar(x=p, y=["value"], orientation="h", marker_color=BLUE,
                     text=[f"{p[0]:.4g}"], textposition="outside", cliponaxis=False,
                     hovertemplate="output %{x:.4g}<extra></extra>")
        return styled_figure([bar], **look, title=_title(f"output value {p[0]:.4g}"), showlegend=False)
    names = [str(classes[i]) if classes is not None and i < len(classes) else str(i) for i in range(k)]
    labels = [f"{n} (true)" if i == true else n for i, n in enumerate(names)]
    pred = int(p.argmax())
    bar = go.Bar(x=p, y=labels, orientation="h",
                 marker_color=[BLUE if i == pred else NEUTRAL for i in range(k)],
                 text=[f"{v:.0%}" if v >= 0.005 else "" for v in p], textposition="outside",
                 cliponaxis=False, textfont=dict(size=px(11), color=MUTED),
                 hovertemplate="%{y}: %{x:.2%}<extra></extra>")
    verdict = "" if true is None else (" ✓" if pred == true else f" ✗ (true {names[true]})")
    return styled_figure(
        [bar], **look, title=_title(f"prediction: {names[pred]} ({p[pred]:.0%}){verdict}"),
        showlegend=False, xaxis=dict(range=[0, 1.12], tickformat=".0%", dtick=0.25),
        # "0".."9" are names, not numbers: a category axis, first class on top
        yaxis=dict(type="category", autorange="reversed", showgrid=False, ticks=""))
