"""The learning curves of a running run as pictures: loss and accuracy against step.

Rebuilt as Plotly figures once a second, the two curve charts took ~0.1 of a
core of Chromium's renderer and ~0.03 of the server on a 2-core machine, and
lagged up to a second behind the progress line (docs/ARCHITECTURE.md, "The
live Train page"). As pictures (``line_picture``) they are redrawn on every
redraw. These draw what ``curves.loss_figure`` and ``curves.accuracy_figure``
draw: the same points (thinned to ``curves.MAX_POINTS`` a trace), colours,
markers and log-scale rule; paused, ended or at a past moment the page shows
the interactive figures again. ~2.5-3.5 ms a picture, PNG included.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dlviz.plots.curves import HEIGHT as FIGURE_HEIGHT
from dlviz.plots.curves import blown_up, marker_size, metric_column, test_markers, thinned
from dlviz.plots.line_picture import MARGIN_B, Line, line_chart_png
from dlviz.plots.style import LEGEND_ROW_PX, TEST_COLOUR, TRAIN_COLOUR, fmt_number

WIDTH = 450                 # CSS px: a half-page column of a 1400 px window
PLOT_HEIGHT = FIGURE_HEIGHT - 16 - LEGEND_ROW_PX - MARGIN_B     # the figures' plot area


def loss_png(history: Sequence[dict], evals: Sequence[dict], task: str = "classification") -> bytes:
    """The picture of ``loss_figure(history, evals, task)``: train loss (a line) and test
    loss (a line, with markers while there are few), a log axis for a loss that blew up."""
    train = metric_column(history or [], "train_loss")
    test = metric_column(evals or [], "test_loss")
    log = any(blown_up(c[2]) for c in (train, test))
    lines = _train_and_test(train, test, "loss")
    values = np.concatenate([train[2], test[2]])
    note = f"log scale: the loss reached {fmt_number(float(values.max()))}" if log and len(values) else None
    return line_chart_png(lines, y_title="MSE loss" if task == "regression" else "cross-entropy",
                          width=WIDTH, plot_height=PLOT_HEIGHT, log=log, note=note)


def accuracy_png(evals: Sequence[dict]) -> bytes:
    """The picture of ``accuracy_figure(evals)``: train and test accuracy, y from 0 to 100%."""
    train = metric_column(evals or [], "train_accuracy")
    test = metric_column(evals or [], "test_accuracy")
    regression = bool(evals) and not len(train[0]) and not len(test[0]) and any("test_loss" in r for r in evals)
    return line_chart_png(_train_and_test(train, test, "accuracy"), y_title="accuracy", width=WIDTH,
                          plot_height=PLOT_HEIGHT, y_range=(0.0, 1.02), percent=True,
                          empty="no accuracy for a regression task" if regression else
                          "waiting for the first numbers")


def _train_and_test(train, test, what: str) -> list[Line]:
    """The train curve (a line) and the test curve (markers while few), as
    ``curves._train_and_test`` draws them; each ``(steps, epochs, values)``."""
    s, _, v = thinned(*train)
    ts, _, tv = thinned(*test)
    marker = marker_size(len(ts)) if test_markers(len(ts)) else 0.0
    return [Line(f"train {what}", TRAIN_COLOUR, s, v, width=2.0),
            Line(f"test {what}", TEST_COLOUR, ts, tv, width=1.5, marker=marker)]
