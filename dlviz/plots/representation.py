"""Representation over time: 2-D projected features of fixed samples, coloured by class.

Axis ranges are passed in (``dlviz.inside.Projection.x_range/y_range``, one
range over all steps) so that scrubbing the timeline moves the points, not
the axes. One scatter trace per class, with each point's sample index in
``customdata``: Plotly's ``on_select`` reports clicks on markers, so a page
can open the clicked sample.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.fast_layout import styled_figure
from dlviz.plots.style import DIVERGING, class_colours, placeholder, px

HEIGHT = 380


def representation_figure(coords, labels, classes: Sequence[str] | None, step: int,
                          x_range: tuple[float, float] | None = None,
                          y_range: tuple[float, float] | None = None,
                          explained: Sequence[float] | None = None, layer: str = "",
                          height: int = HEIGHT) -> go.Figure:
    """Points (N, 2) coloured by ``labels`` (N,): one colour per class, or a
    continuous scale for regression (``classes`` empty)."""
    c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    y = np.asarray(labels).ravel()
    what = f"{layer} " if layer else ""
    ev = list(explained) if explained is not None else [None, None]
    axes = {}
    for key, e, name, rng in (("xaxis", ev[0], "PC 1", x_range), ("yaxis", ev[1], "PC 2", y_range)):
        axes[key] = dict(title_text=f"{name} ({e:.0%} of variance)" if e is not None else name,
                         title_standoff=4, zeroline=False)
        if rng:
            axes[key].update(range=list(rng), autorange=False)
    look = dict(height=height, uirevision="representation",
                title=dict(text=f"{what}features, PCA to 2-D · step {step:,}", font_size=px(12),
                           x=0, xanchor="left", y=0.99), **axes)
    if len(c) == 0:
        return placeholder(styled_figure([], **look), "no samples")
    idx = np.arange(len(c))
    traces = []
    if classes:
        colours = class_colours(len(classes))
        for k, name in enumerate(classes):
            m = y == k
            if not m.any():
                continue
            traces.append(go.Scatter(
                x=c[m, 0], y=c[m, 1], mode="markers", name=str(name), customdata=idx[m],
                marker=dict(color=colours[k], size=6, opacity=0.85, line=dict(width=0.5, color="white")),
                hovertemplate=f"class {name}<br>sample %{{customdata}}<extra></extra>"))
    else:
        v = y.astype(np.float64)
        m = float(np.abs(v).max()) if v.size else 1.0
        traces.append(go.Scatter(
            x=c[:, 0], y=c[:, 1], mode="markers", name="target", customdata=idx,
            marker=dict(color=v, colorscale=DIVERGING, cmin=-m, cmax=m, size=6,
                        colorbar=dict(title=dict(text="target", font_size=px(11)), thickness=10)),
            hovertemplate="sample %{customdata}<br>target %{marker.color:.3g}<extra></extra>"))
    return styled_figure(traces, **look)
