"""Distributions over time: a heatmap of histograms against the training step.

Like TensorBoard's distributions/histograms dashboards, flattened: x is the
step, y the value, colour the number of values in that bin at that step on a
log scale (log10(1 + count)), so the tails stay visible next to a crowded
centre. A line follows the median.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.fast_layout import styled_figure
from dlviz.plots.style import INK, placeholder, px

HEIGHT = 240
# white -> Playground blue -> deep navy: empty bins vanish into the background
COUNT_SCALE = [[0.0, "#ffffff"], [0.15, "#d6e6f2"], [0.6, "#0877bd"], [1.0, "#08306b"]]
KIND_LABEL = {"weights": "weight", "gradients": "gradient ∂L/∂W", "activations": "activation"}


def median_from_counts(edges: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(S,) the median of each step's histogram, interpolated inside its bin."""
    out = np.full(counts.shape[0], np.nan)
    for s, row in enumerate(counts):
        total = row.sum()
        if total <= 0:
            continue
        cum = np.concatenate([[0.0], np.cumsum(row)]) / total        # (B+1,) at the edges
        out[s] = np.interp(0.5, cum, edges) if np.all(np.diff(cum) >= 0) else np.nan
    return out


def distribution_figure(series, title: str | None = None, height: int = HEIGHT) -> go.Figure:
    """A ``dlviz.inside.DistributionSeries`` as a step x value heatmap of counts."""
    label = KIND_LABEL.get(series.kind, series.kind)
    look = dict(height=height, legend_top=False, margin=dict(l=56, r=8, t=30, b=40),
                uirevision=f"dist-{series.layer}-{series.kind}",
                title=dict(text=title or f"{series.layer} · {series.kind}", font_size=px(12),
                           x=0, xanchor="left", y=0.98),
                showlegend=False,
                xaxis=dict(title_text="step", title_standoff=4, showgrid=False),
                yaxis=dict(title_text=label, title_standoff=4, showgrid=False))
    if not len(series.steps):
        return placeholder(styled_figure([], **look), "no snapshots yet")
    edges = np.asarray(series.edges, dtype=np.float64)
    counts = np.asarray(series.counts, dtype=np.float64)                  # (S, B)
    centres = (edges[:-1] + edges[1:]) / 2
    z = np.log10(1.0 + np.maximum(counts, 0)).T                           # (B, S)
    zmax = max(float(z.max()), 1.0)
    ticks = list(range(int(np.floor(zmax)) + 1))
    traces = [go.Heatmap(
        x=list(series.steps), y=centres, z=z, zmin=0, zmax=zmax, colorscale=COUNT_SCALE,
        customdata=np.round(counts.T).astype(np.int64),
        colorbar=dict(title=dict(text="count", side="right", font_size=px(11)), thickness=10, len=0.9,
                      tickvals=[np.log10(1 + 10 ** t) for t in ticks],
                      ticktext=[f"{10 ** t:,}" for t in ticks], tickfont_size=px(10)),
        hovertemplate="step %{x:,}<br>" + label + " ≈ %{y:.3g}<br>%{customdata:,} values<extra></extra>")]
    if len(series.steps) > 1:
        traces.append(go.Scatter(x=list(series.steps), y=median_from_counts(edges, counts), mode="lines",
                                 line=dict(color=INK, width=1, dash="dot"), name="median",
                                 hovertemplate="median %{y:.3g}<extra></extra>"))
    look["yaxis"]["range"] = [edges[0], edges[-1]]
    return styled_figure(traces, **look)
