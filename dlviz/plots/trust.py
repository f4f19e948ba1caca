"""Can the explanation be trusted: deletion curves and the randomisation check, as figures."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.style import MUTED, base_layout, line_colour, px, room_for_legend

HEIGHT = 280
PLOT_HEIGHT = 200          # the deletion chart's plot area, whatever its legend needs


def deletion_figure(curves: Sequence[tuple[str, object]], class_name: str, unit: str = "pixels") -> go.Figure:
    """One line per method: the target's probability as the most-attributed pixels
    (``unit``: "features" for a vector input) are removed first. ``curves``:
    (label, DeletionCurve) pairs. The legend lists one method a row above the
    plot, and the figure grows with it, so 11 methods leave the plot its height."""
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision="deletion")
    fig.update_layout(hovermode="x unified",
                      xaxis=dict(title_text=f"share of {unit} removed, most attributed first",
                                 tickformat=".0%", range=[0, 1]),
                      yaxis=dict(title_text=f"P({class_name})", range=[0, 1.02], tickformat=".0%"))
    for i, (label, c) in enumerate(curves):
        fig.add_trace(go.Scatter(x=np.asarray(c.fractions), y=np.asarray(c.probs), mode="lines",
                                 name=f"{label} (area {c.auc:.2f})", line=dict(color=line_colour(i), width=2),
                                 hovertemplate="%{y:.1%}"))
    room_for_legend(fig, PLOT_HEIGHT, [label for label, _ in curves])
    return fig


def randomisation_figure(steps: Sequence[str], similarity: Sequence[float], flag_at: float) -> go.Figure:
    """Rank correlation with the trained model's map as layers are randomised, top layer first."""
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision="randomisation", legend_top=False)
    x = ["trained"] + [f"+ {s}" for s in steps]
    y = [1.0] + [float(v) for v in similarity]
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color=line_colour(0), width=2),
                             hovertemplate="%{x}: %{y:.2f}<extra></extra>"))
    fig.add_hline(y=flag_at, line=dict(color=MUTED, dash="dot", width=1),
                  annotation_text="above: the map ignores the weights", annotation_font_size=px(11),
                  annotation_position="top right")
    fig.update_layout(xaxis=dict(title_text="layers randomised, from the output down", tickangle=-30),
                      yaxis=dict(title_text="rank correlation with the original", range=[-1.02, 1.02]))
    return fig
