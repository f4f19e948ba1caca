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

from dlviz.plots.style import DIVERGING, base_layout, class_colours, placeholder

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
    fig = go.Figure()
    base_layout(fig, height=height, uirevision="representation")
    what = f"{layer} " if layer else ""
    fig.update_layout(title=dict(text=f"{what}features, PCA to 2-D · step {step:,}", font_size=12,
                                 x=0, xanchor="left", y=0.99))
    ev = list(explained) if explained is not None else [None, None]
    for axis, e, name in ((fig.update_xaxes, ev[0], "PC 1"), (fig.update_yaxes, ev[1], "PC 2")):
        axis(title_text=f"{name} ({e:.0%} of variance)" if e is not None else name, title_standoff=4,
             zeroline=False)
    if x_range:
        fig.update_xaxes(range=list(x_range), autorange=False)
    if y_range:
        fig.update_yaxes(range=list(y_range), autorange=False)
    if len(c) == 0:
        return placeholder(fig, "no samples")
    idx = np.arange(len(c))
    if classes:
        colours = class_colours(len(classes))
        for k, name in enumerate(classes):
            m = y == k
            if not m.any():
                continue
            fig.add_trace(go.Scatter(
                x=c[m, 0], y=c[m, 1], mode="markers", name=str(name), customdata=idx[m],
                marker=dict(color=colours[k], size=6, opacity=0.85, line=dict(width=0.5, color="white")),
                hovertemplate=f"class {name}<br>sample %{{customdata}}<extra></extra>"))
    else:
        v = y.astype(np.float64)
        m = float(np.abs(v).max()) if v.size else 1.0
        fig.add_trace(go.Scatter(
            x=c[:, 0], y=c[:, 1], mode="markers", name="target", customdata=idx,
            marker=dict(color=v, colorscale=DIVERGING, cmin=-m, cmax=m, size=6,
                        colorbar=dict(title=dict(text="target", font_size=11), thickness=10)),
            hovertemplate="sample %{customdata}<br>target %{marker.color:.3g}<extra></extra>"))
    return fig
