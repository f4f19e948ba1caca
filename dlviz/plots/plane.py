"""2-D data and what the model says over the plane.

``boundary_figure`` draws the model's output over a grid as the background
(2 classes: p(class 1) on Playground's orange-white-blue; K classes: one pale
colour per predicted class; regression: diverging around 0) with the data on
top. Train points have a white outline, test points a dark one.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.style import (DIVERGING, DIVERGING_PALE, INK, base_layout,
                               class_colours, px)

HEIGHT = 440


def _np(a, dtype=np.float64) -> np.ndarray:
    if a is None:
        return np.zeros((0,), dtype=dtype)
    return np.asarray(a, dtype=dtype)


def _pale(hex_colour: str, amount: float = 0.6) -> str:
    """``hex_colour`` mixed with white (amount = share of white)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def _num_classes(task: str, classes: Sequence[str], *ys) -> int:
    if task == "regression":
        return 0
    k = len(classes or ())
    for y in ys:
        if len(y):
            k = max(k, int(np.max(y)) + 1)
    return max(k, 1)


def _class_name(classes: Sequence[str], i: int) -> str:
    return classes[i] if classes and i < len(classes) else f"class {i}"


def _square_range(*point_sets: np.ndarray, margin: float = 0.15) -> tuple[list[float], list[float]]:
    pts = [p.reshape(-1, 2) for p in point_sets if p is not None and p.size]
    if not pts:
        return [-1, 1], [-1, 1]
    p = np.concatenate(pts)
    lo, hi = p.min(axis=0), p.max(axis=0)
    c = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2, 1e-6) * (1 + margin)
    return [c[0] - half, c[0] + half], [c[1] - half, c[1] + half]


def _frame(xr: Sequence[float], yr: Sequence[float], uirevision: str) -> go.Figure:
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision=uirevision, margin=dict(l=40, r=10, t=34, b=36))
    fig.update_layout(hovermode="closest", legend=dict(itemsizing="constant"))
    fig.update_xaxes(range=list(xr), title_text="x1", title_standoff=2, showgrid=False,
                     zeroline=False, constrain="domain", mirror=True, showline=True)
    fig.update_yaxes(range=list(yr), title_text="x2", title_standoff=2, showgrid=False,
                     zeroline=False, scaleanchor="x", scaleratio=1, constrain="domain",
                     mirror=True, showline=True)
    return fig


def _add_points(fig: go.Figure, points: np.ndarray, y: np.ndarray, task: str,
                classes: Sequence[str], k: int, test: bool, value_range: float) -> None:
    if not len(points):
        return
    if test:
        outline = dict(width=1.2, color=INK)
    elif task == "regression":      # values near 0 are white: a faint outline keeps them visible
        outline = dict(width=0.8, color="rgba(42,47,54,0.35)")
    else:
        outline = dict(width=0.8, color="white")
    size = 7 if test else 6.5
    where = "test" if test else "train"
    if task == "regression":
        fig.add_trace(go.Scatter(
            x=points[:, 0], y=points[:, 1], mode="markers", name=f"{where} points", showlegend=False,
            marker=dict(size=size, color=y, colorscale=DIVERGING, cmin=-value_range,
                        cmax=value_range, line=outline, showscale=False),
            customdata=y, hovertemplate=f"{where}: %{{customdata:.3g}}<br>x1 %{{x:.2f}}, "
                                        f"x2 %{{y:.2f}}<extra></extra>"))
        return
    colours = class_colours(k)
    for c in range(k):
        sel = y == c
        if not sel.any():
            continue
        name = _class_name(classes, c)
        fig.add_trace(go.Scatter(
            x=points[sel, 0], y=points[sel, 1], mode="markers", name=name,
            legendgroup=f"class{c}", showlegend=not test,
            marker=dict(size=size, color=colours[c], line=outline),
            hovertemplate=f"{name} ({where})<br>x1 %{{x:.2f}}, x2 %{{y:.2f}}<extra></extra>"))


def _add_test_legend(fig: go.Figure) -> None:
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="test (outlined)",
                             marker=dict(size=7, color="white", line=dict(width=1.4, color=INK)),
                             hoverinfo="skip"))


def dataset_figure(points_train, y_train, points_test, y_test, task: str,
                   classes: Sequence[str]) -> go.Figure:
    """The data alone: a scatter coloured by class (or value), test points outlined dark."""
    ptr, pte = _np(points_train).reshape(-1, 2), _np(points_test).reshape(-1, 2)
    ytr, yte = _np(y_train).ravel(), _np(y_test).ravel()
    xr, yr = _square_range(ptr, pte)
    fig = _frame(xr, yr, "dataset")
    k = _num_classes(task, classes, ytr, yte)
    vr = float(max(np.abs(np.concatenate([ytr, yte])).max(initial=0), 1e-9))
    _add_points(fig, ptr, ytr, task, classes, k, False, vr)
    _add_points(fig, pte, yte, task, classes, k, True, vr)
    if len(pte):
        _add_test_legend(fig)
    return fig


def boundary_figure(grid_xs, grid_ys, values, points_train, y_train, points_test, y_test,
                    task: str, classes: Sequence[str], show_test: bool = True) -> go.Figure:
    """The model's output over the plane (``values`` (G, G), ``[i, j]`` at (xs[j], ys[i]))
    as a heatmap, with the data on top."""
    xs, ys = _np(grid_xs), _np(grid_ys)
    z = _np(values)
    ptr, pte = _np(points_train).reshape(-1, 2), _np(points_test).reshape(-1, 2)
    ytr, yte = _np(y_train).ravel(), _np(y_test).ravel()
    dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) if len(xs) else 1
    dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1) if len(ys) else 1
    xr = [xs[0] - dx / 2, xs[-1] + dx / 2] if len(xs) else [-1, 1]
    yr = [ys[0] - dy / 2, ys[-1] + dy / 2] if len(ys) else [-1, 1]
    fig = _frame(xr, yr, "boundary")
    k = _num_classes(task, classes, ytr, yte)
    # a short horizontal colour bar under the plot: a vertical one would steal width
    # from the square plot, and above it collides with the legend in narrow columns
    bar = dict(orientation="h", thickness=8, len=0.5, lenmode="fraction", x=0.5, xanchor="center",
               y=-0.16, yanchor="top", outlinewidth=0, tickfont_size=px(10), ypad=0)
    fig.update_layout(margin=dict(l=40, r=10, t=34, b=78))
    finite = z[np.isfinite(z)]
    if task == "regression":
        vr = float(max(np.abs(finite).max(initial=0), np.abs(ytr).max(initial=0),
                       np.abs(yte).max(initial=0), 1e-9))
        fig.add_trace(go.Heatmap(
            x=xs, y=ys, z=z, colorscale=DIVERGING_PALE, zmin=-vr, zmax=vr, zsmooth="best",
            colorbar=dict(title=dict(text="output", side="right", font_size=px(11)), **bar),
            hovertemplate="x1 %{x:.2f}, x2 %{y:.2f}<br>output %{z:.3g}<extra></extra>"))
    elif k <= 2:
        vr = 1.0
        fig.add_trace(go.Heatmap(
            x=xs, y=ys, z=z, colorscale=DIVERGING_PALE, zmin=0, zmax=1, zsmooth="best",
            colorbar=dict(title=dict(text=f"p({_class_name(classes, 1)})", side="right", font_size=px(11)),
                          tickvals=[0, 0.5, 1], **bar),
            hovertemplate=f"x1 %{{x:.2f}}, x2 %{{y:.2f}}<br>p({_class_name(classes, 1)}) "
                          f"%{{z:.2f}}<extra></extra>"))
        # the 0.5 contour: where the decision flips
        if finite.size and finite.min() < 0.5 < finite.max():
            fig.add_trace(go.Contour(
                x=xs, y=ys, z=z, contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                line=dict(color="rgba(42,47,54,0.55)", width=1.2), showscale=False,
                hoverinfo="skip", showlegend=False))
    else:
        vr = 1.0
        pale = [_pale(c, 0.62) for c in class_colours(k)]
        # step colour scale: class c owns [c/k, (c+1)/k] over z in [-0.5, k-0.5]
        scale = []
        for c, col in enumerate(pale):
            scale += [[c / k, col], [(c + 1) / k, col]]
        names = np.array([_class_name(classes, int(v)) if np.isfinite(v) else ""
                          for v in z.ravel()]).reshape(z.shape) if z.size else None
        fig.add_trace(go.Heatmap(
            x=xs, y=ys, z=z, colorscale=scale, zmin=-0.5, zmax=k - 0.5, showscale=False,
            customdata=names,
            hovertemplate="x1 %{x:.2f}, x2 %{y:.2f}<br>predicted %{customdata}<extra></extra>"))
    _add_points(fig, ptr, ytr, task, classes, k, False, vr)
    if show_test and len(pte):
        _add_points(fig, pte, yte, task, classes, k, True, vr)
        _add_test_legend(fig)
    return fig


