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

from dlviz.plots.style import MUTED, TEST_COLOUR, TRAIN_COLOUR, base_layout, fmt_number, placeholder, px

HEIGHT = 260
# a loss this many times its start squashes everything else on a linear axis (the
# trainer stops a run as diverged at 100x): the axis turns logarithmic, and says so
BLOWN_UP = 100.0
_HOVER = "step %{x:,}<br>epoch %{customdata:.2f}<br>%{fullData.name}: %{y:.4g}<extra></extra>"
_HOVER_PCT = "step %{x:,}<br>epoch %{customdata:.2f}<br>%{fullData.name}: %{y:.1%}<extra></extra>"


def metric_column(rows: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, epochs, values) of the rows that have a finite ``key``."""
    keep = [r for r in rows if r.get(key) is not None and np.isfinite(r[key])]
    return (np.array([r["step"] for r in keep], dtype=np.int64),
            np.array([r.get("epoch", np.nan) for r in keep], dtype=np.float64),
            np.array([r[key] for r in keep], dtype=np.float64))


# A curve is drawn with at most this many points: about what a chart half a page wide
# can show (one point per ~1.5 px). A long run records up to 1,000 rows, and the live
# page builds the figure, and the browser draws it, twice a second (docs/ARCHITECTURE.md,
# "The live Train page"). Past MARKERS_UP_TO points a test curve is a line: its markers
# (one SVG node each) would touch anyway.
MAX_POINTS = 300
MARKERS_UP_TO = 80


def thinned(*columns: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """The same evenly spaced rows of each column, at most ``max_points``; the first and
    the last row are always kept (the newest point is what a live chart must show)."""
    n = len(columns[0]) if columns else 0
    if n <= max_points:
        return columns
    keep = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
    return tuple(c[keep] for c in columns)


def test_markers(n: int) -> bool:
    """Whether a test curve of ``n`` points has markers (past MARKERS_UP_TO they would touch)."""
    return n <= MARKERS_UP_TO


def _test_mode(n: int) -> str:
    return "lines+markers" if test_markers(n) else "lines"


def marker_size(n: int) -> float:
    """Markers shrink as evaluations pile up, so a long run stays a readable line."""
    return 6 if n <= 30 else 4 if n <= 100 else 3


def _frame(title_y: str, uirevision: str) -> go.Figure:
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision=uirevision)
    fig.update_layout(hovermode="closest", showlegend=True)
    fig.update_xaxes(title_text="step", title_standoff=4, rangemode="tozero")
    fig.update_yaxes(title_text=title_y, title_standoff=6)
    return fig


def blown_up(values) -> bool:
    """Whether a loss curve grew so far past its start (``BLOWN_UP`` times the smaller of
    its first values) that a linear axis would flatten the rest of it to a line at 0."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) < 2:
        return False
    # the start is the first few points, never a tenth of the run: a loss that falls
    # 1000x early (a solved problem) must not make its own start look like a blow-up
    start = float(np.min(v[:3]))
    peak = float(v[3:].max()) if len(v) > 3 else float(v.max())
    return bool(peak > BLOWN_UP * max(start, 1e-12))


def log_axis(fig: go.Figure, curves, log_y: bool | None) -> bool:
    """Put the y axis on a log scale when asked (``log_y``) or, by default (None),
    when one of ``curves`` (sequences of values) blew up; the chart then says why.
    Returns whether the axis is logarithmic."""
    curves = [list(c) for c in curves]
    v = [x for c in curves for x in c if x is not None and np.isfinite(x) and x > 0]
    auto = log_y is None
    log = any(blown_up(c) for c in curves) if auto else bool(log_y)
    if log and v:
        fig.update_yaxes(type="log", exponentformat="power", rangemode="normal")
        if auto:
            fig.add_annotation(text=f"log scale: the loss reached {fmt_number(max(v))}", xref="paper",
                               yref="paper", x=1, y=1, xanchor="right", yanchor="top", showarrow=False,
                               font=dict(size=px(11), color=MUTED), bgcolor="rgba(255,255,255,0.8)")
    return log and bool(v)


def loss_figure(history: Sequence[dict], evals: Sequence[dict], task: str = "classification",
                log_y: bool | None = None) -> go.Figure:
    """Train loss (a line, from history) and test loss (line with markers, from evals).

    ``log_y``: a logarithmic y axis; None (default) turns it on by itself for a loss
    that blew up (a diverged run's 8e11 would squash the rest of the curve flat).
    """
    fig = _frame("MSE loss" if task == "regression" else "cross-entropy", "loss")
    s, e, v = metric_column(history or [], "train_loss")
    ts, te, tv = metric_column(evals or [], "test_loss")
    if not len(s) and not len(ts):
        return placeholder(fig)
    blew_up = [v, tv]                   # judged on every row, drawn from at most MAX_POINTS
    _train_and_test(fig, (s, e, v), (ts, te, tv), "loss", _HOVER)
    if not log_axis(fig, blew_up, log_y):
        fig.update_yaxes(rangemode="tozero")
    return fig


def _train_and_test(fig: go.Figure, train, test, what: str, hover: str) -> None:
    """The train curve (a line) and the test curve (markers while few) of one metric,
    each ``(steps, epochs, values)`` and drawn from at most MAX_POINTS."""
    s, e, v = thinned(*train)
    ts, te, tv = thinned(*test)
    if len(s):
        fig.add_trace(go.Scatter(x=s, y=v, customdata=e, name=f"train {what}", mode="lines",
                                 line=dict(color=TRAIN_COLOUR, width=2), hovertemplate=hover))
    if len(ts):
        fig.add_trace(go.Scatter(x=ts, y=tv, customdata=te, name=f"test {what}", mode=_test_mode(len(ts)),
                                 line=dict(color=TEST_COLOUR, width=1.5),
                                 marker=dict(size=marker_size(len(ts)), color=TEST_COLOUR), hovertemplate=hover))


def accuracy_figure(evals: Sequence[dict]) -> go.Figure:
    """Train and test accuracy from the periodic evaluations, y in [0, 1]."""
    fig = _frame("accuracy", "accuracy")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", dtick=0.25)
    s, e, v = metric_column(evals or [], "train_accuracy")
    ts, te, tv = metric_column(evals or [], "test_accuracy")
    if not len(s) and not len(ts):
        if evals and any("test_loss" in r for r in evals):
            return placeholder(fig, "no accuracy for a regression task")
        return placeholder(fig)
    _train_and_test(fig, (s, e, v), (ts, te, tv), "accuracy", _HOVER_PCT)
    return fig
