"""Learning curves: loss and accuracy over optimizer steps.

Inputs are the rows of ``TrainerState``: history {step, epoch, train_loss, lr}
and evals {step, epoch, train_loss, train_accuracy, test_loss, test_accuracy}.
x is the step; hovering shows the epoch too. ``uirevision`` keeps a user's
zoom while the page redraws the figure every half second.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.style import TEST_COLOUR, TRAIN_COLOUR, base_layout, placeholder

HEIGHT = 260
_HOVER = "step %{x:,}<br>epoch %{customdata:.2f}<br>%{fullData.name}: %{y:.4g}<extra></extra>"
_HOVER_PCT = "step %{x:,}<br>epoch %{customdata:.2f}<br>%{fullData.name}: %{y:.1%}<extra></extra>"


def _column(rows: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, epochs, values) of the rows that have a finite ``key``."""
    keep = [r for r in rows if r.get(key) is not None and np.isfinite(r[key])]
    return (np.array([r["step"] for r in keep], dtype=np.int64),
            np.array([r.get("epoch", np.nan) for r in keep], dtype=np.float64),
            np.array([r[key] for r in keep], dtype=np.float64))


def _marker_size(n: int) -> float:
    """Markers shrink as evaluations pile up, so a long run stays a readable line."""
    return 6 if n <= 30 else 4 if n <= 100 else 3


def _frame(title_y: str, uirevision: str) -> go.Figure:
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision=uirevision)
    fig.update_layout(hovermode="closest", showlegend=True)
    fig.update_xaxes(title_text="step", title_standoff=4, rangemode="tozero")
    fig.update_yaxes(title_text=title_y, title_standoff=6)
    return fig


def loss_figure(history: Sequence[dict], evals: Sequence[dict], task: str = "classification") -> go.Figure:
    """Train loss (a line, from history) and test loss (line with markers, from evals)."""
    fig = _frame("MSE loss" if task == "regression" else "cross-entropy", "loss")
    s, e, v = _column(history or [], "train_loss")
    ts, te, tv = _column(evals or [], "test_loss")
    if not len(s) and not len(ts):
        return placeholder(fig)
    if len(s):
        fig.add_trace(go.Scatter(x=s, y=v, customdata=e, name="train loss", mode="lines",
                                 line=dict(color=TRAIN_COLOUR, width=2), hovertemplate=_HOVER))
    if len(ts):
        fig.add_trace(go.Scatter(x=ts, y=tv, customdata=te, name="test loss", mode="lines+markers",
                                 line=dict(color=TEST_COLOUR, width=1.5),
                                 marker=dict(size=_marker_size(len(ts)), color=TEST_COLOUR), hovertemplate=_HOVER))
    fig.update_yaxes(rangemode="tozero")
    return fig


def accuracy_figure(evals: Sequence[dict]) -> go.Figure:
    """Train and test accuracy from the periodic evaluations, y in [0, 1]."""
    fig = _frame("accuracy", "accuracy")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", dtick=0.25)
    s, e, v = _column(evals or [], "train_accuracy")
    ts, te, tv = _column(evals or [], "test_accuracy")
    if not len(s) and not len(ts):
        if evals and any("test_loss" in r for r in evals):
            return placeholder(fig, "no accuracy for a regression task")
        return placeholder(fig)
    if len(s):
        fig.add_trace(go.Scatter(x=s, y=v, customdata=e, name="train accuracy", mode="lines",
                                 line=dict(color=TRAIN_COLOUR, width=2), hovertemplate=_HOVER_PCT))
    if len(ts):
        fig.add_trace(go.Scatter(x=ts, y=tv, customdata=te, name="test accuracy",
                                 mode="lines+markers", line=dict(color=TEST_COLOUR, width=1.5),
                                 marker=dict(size=_marker_size(len(ts)), color=TEST_COLOUR), hovertemplate=_HOVER_PCT))
    return fig
