"""Two runs' learning curves on one chart, with the moment being viewed marked."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from dlviz.plots.curves import HEIGHT, _column
from dlviz.plots.style import MUTED, base_layout, line_colour, placeholder


def compare_figure(runs: Sequence[tuple[str, Sequence[dict]]], key: str, y_title: str,
                   step: int | None = None, percent: bool = False) -> go.Figure:
    """One line per run of ``rows[key]`` against the step.

    runs: (label, rows) pairs, rows as in ``TrainerState.history`` / ``.evals``.
    step: draws a dotted vertical line there (the timeline position).
    """
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision=f"compare-{key}")
    fig.update_layout(hovermode="x unified", showlegend=True)
    fig.update_xaxes(title_text="step", title_standoff=4, rangemode="tozero")
    fig.update_yaxes(title_text=y_title, title_standoff=6)
    if percent:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", dtick=0.25)
    drawn = 0
    for i, (label, rows) in enumerate(runs):
        s, e, v = _column(rows or [], key)
        if not len(s):
            continue
        drawn += 1
        fig.add_trace(go.Scatter(x=s, y=v, name=label, mode="lines" if len(s) > 40 else "lines+markers",
                                 line=dict(color=line_colour(i), width=2), marker=dict(size=4),
                                 hovertemplate="%{y:" + (".1%" if percent else ".4g") + "}"))
    if not drawn:
        return placeholder(fig)
    if step is not None:
        fig.add_vline(x=step, line=dict(color=MUTED, width=1, dash="dot"))
    return fig
