"""Layer health of a running run as pictures: gradient norms, update ratios, unhealthy units.

The Train page's "Layer health" view, redrawn twice a second while a run
trains, rebuilt three Plotly figures on every redraw (each mounted afresh in
the browser: docs/ARCHITECTURE.md, "The live Train page"). These draw what
``health.health_figure`` and ``health.units_figure`` draw -- one line per layer
in the same colours, the log axis with the healthy update band, the units'
share from 0 to 100% -- as ``line_picture`` pictures; paused or ended, the page
shows the interactive figures again.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from dlviz.plots.health import HEALTHY_UPDATE, METRICS, PLOT_HEIGHT, layer_series, update_ratio_range
from dlviz.plots.line_picture import Band, Line, line_chart_png
from dlviz.plots.style import line_colour

WIDTH = 300                 # CSS px: a third of the page, as the figures' legend assumes
_BAND = Band(*HEALTHY_UPDATE, fill=(225, 243, 238), label="healthy range",    # rgba(0,158,115,0.12) on white
             label_colour=(0, 122, 90))


def health_png(health: Sequence[dict], metric: str = "update_ratio") -> bytes:
    """The picture of ``health_figure(health, metric)``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    series = layer_series(health, metric)
    lines = [_line(name, i, steps, ys) for i, (name, (steps, ys)) in enumerate(series.items())]
    ratio = metric == "update_ratio"
    y_range, band = (update_ratio_range(series), _BAND) if ratio else (None, None)
    # Pillow's own font (no font file on a server) has no ‖ or ∂: the same title in ASCII
    title = METRICS[metric].replace("‖", "|").replace("∂", "d")
    return line_chart_png(lines, y_title=title, width=WIDTH, plot_height=PLOT_HEIGHT,
                          log=True, y_range=y_range, band=band)


def units_png(health: Sequence[dict]) -> bytes:
    """The picture of ``units_figure(health)``: dead and saturated shares per layer."""
    lines = []
    for kind in ("dead", "saturated"):
        for name, (steps, ys) in layer_series(health, kind).items():
            lines.append(_line(f"{name} ({kind})", len(lines), steps, ys))
    return line_chart_png(lines, y_title="unhealthy units", width=WIDTH, plot_height=PLOT_HEIGHT,
                          y_range=(0.0, 1.02), percent=True,
                          empty="no activation layers to watch yet" if health else "waiting for the first numbers")


def _line(name: str, i: int, steps: list[int], ys: list[float | None]) -> Line:
    values = np.array([math.nan if v is None else v for v in ys], dtype=np.float64)
    return Line(name, line_colour(i), np.asarray(steps, dtype=np.int64), values, width=1.8,
                marker=4.0 if len(steps) < 3 else 0.0)
