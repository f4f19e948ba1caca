"""Two runs' learning curves on one chart, with the moment being viewed marked."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from dlviz.plots.curves import HEIGHT, log_axis, metric_column
from dlviz.plots.style import MUTED, base_layout, line_colour, placeholder, px, room_for_legend


def compare_figure(runs: Sequence[tuple], key: str, y_title: str,
                   step: int | None = None, percent: bool = False, log_y: bool | None = None) -> go.Figure:
    """One line per run of ``rows[key]`` against the step.

    runs: (label, rows) or (label, rows, diverged) tuples, rows as in
    ``TrainerState.history`` / ``.evals``. A diverged run is named so in the
    legend, drawn dashed and its last point marked with an x.
    step: draws a dotted vertical line there (the timeline position).
    log_y: a log y axis (not for percentages); None: on by itself when a run's
    curve blew up, which on a shared linear axis squashes every other run flat.
    """
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision=f"compare-{key}")
    fig.update_layout(hovermode="x unified", showlegend=True)
    fig.update_xaxes(title_text="step", title_standoff=4, rangemode="tozero")
    fig.update_yaxes(title_text=y_title, title_standoff=6)
    if percent:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", dtick=0.25)
    drawn, names, values = 0, [], []
    for i, run in enumerate(runs):
        label, rows = run[0], run[1]
        diverged = bool(run[2]) if len(run) > 2 else False
        s, e, v = metric_column(rows or [], key)
        if not len(s):
            continue
        drawn += 1
        name = f"{label} · diverged" if diverged else label
        names.append(name)
        values.append(v)
        fig.add_trace(go.Scatter(x=s, y=v, name=name, mode="lines" if len(s) > 40 else "lines+markers",
                                 line=dict(color=line_colour(i), width=2, dash="dash" if diverged else None),
                                 marker=dict(size=4),
                                 hovertemplate="%{y:" + (".1%" if percent else ".4g") + "}"))
        if diverged:
            fig.add_trace(go.Scatter(x=s[-1:], y=v[-1:], mode="markers+text", showlegend=False,
                                     marker=dict(symbol="x", size=11, color=line_colour(i)),
                                     text=["diverged"], textposition="top center",
                                     textfont=dict(size=px(11), color=line_colour(i)), hoverinfo="skip"))
    if not drawn:
        return placeholder(fig)
    if not percent:
        log_axis(fig, values, log_y)
    room_for_legend(fig, HEIGHT - 80, names)
    if step is not None:
        fig.add_vline(x=step, line=dict(color=MUTED, width=1, dash="dot"))
    return fig
