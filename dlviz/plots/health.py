"""Layer health over training: norms, update ratios, dead and saturated units.

Input: ``TrainerState.health`` rows {step, layers: {name: {weight_norm,
grad_norm, update_ratio} | {dead: f} | {saturated: f}}}.
"""

from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from dlviz.plots.style import base_layout, line_colour, placeholder, px, room_for_legend

HEIGHT = 280
PLOT_HEIGHT = 190          # the plot area; the figure grows with its legend (one entry per layer)
METRICS = {
    "weight_norm": "weight norm ‖W‖",
    "grad_norm": "gradient norm ‖∂L/∂W‖",
    "update_ratio": "update / weight ratio",
}
HEALTHY_UPDATE = (1e-4, 1e-2)     # update_ratio band drawn as "healthy"


def layer_series(health: Sequence[dict], metric: str) -> dict[str, tuple[list[int], list[float | None]]]:
    """layer name -> (steps, values) in first-seen order; non-finite or <= 0 on log axes -> None."""
    out: dict[str, tuple[list[int], list[float | None]]] = {}
    for row in health or []:
        for name, vals in (row.get("layers") or {}).items():
            if metric not in vals:
                continue
            v = vals[metric]
            ok = v is not None and math.isfinite(v) and (metric in ("dead", "saturated") or v > 0)
            steps, ys = out.setdefault(name, ([], []))
            steps.append(row["step"])
            ys.append(float(v) if ok else None)
    return out


def update_ratio_range(series: dict) -> tuple[float, float] | None:
    """The y range (data values) of an update-ratio chart: the layers' values and the
    healthy band, with room; None without values. Keeps the band in view even when
    every layer is far from it."""
    vals = [v for _, ys in series.values() for v in ys if v is not None]
    if not vals:
        return None
    lo, hi = HEALTHY_UPDATE
    return min(min(vals), lo) / 2, max(max(vals), hi) * 2


def health_figure(health: Sequence[dict], metric: str = "update_ratio") -> go.Figure:
    """One line per weighted layer over steps, on a log y axis.

    For ``update_ratio`` a shaded band marks 1e-4..1e-2, where a layer learns
    at a healthy pace (below: frozen, above: thrashing).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision=f"health-{metric}")
    fig.update_xaxes(title_text="step", title_standoff=4)
    fig.update_yaxes(title_text=METRICS[metric], title_standoff=6)
    series = layer_series(health, metric)
    if not series:
        return placeholder(fig)
    fig.update_yaxes(type="log", exponentformat="power", dtick=1)
    for i, (name, (steps, ys)) in enumerate(series.items()):
        fig.add_trace(go.Scatter(
            x=steps, y=ys, name=name, mode="lines+markers" if len(steps) < 3 else "lines",
            line=dict(color=line_colour(i), width=1.8), marker=dict(size=4),
            hovertemplate=f"{name}<br>step %{{x:,}}<br>%{{y:.3g}}<extra></extra>"))
    room_for_legend(fig, PLOT_HEIGHT, list(series), width_px=260)
    if metric == "update_ratio":
        lo, hi = HEALTHY_UPDATE
        # plotly.js 3: shapes on a log axis take data values, annotations take log10
        fig.add_shape(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=lo, y1=hi,
                      fillcolor="rgba(0,158,115,0.12)", line_width=0, layer="below")
        fig.add_annotation(text="healthy range", xref="paper", x=0.005, xanchor="left", yref="y",
                           y=math.log10(lo), yanchor="bottom", showarrow=False,
                           font=dict(size=px(10), color="#007a5a"))
        y_range = update_ratio_range(series)
        if y_range:
            fig.update_yaxes(range=[math.log10(v) for v in y_range])
    return fig


def units_figure(health: Sequence[dict]) -> go.Figure:
    """Fraction of unhealthy units per activation layer over steps, y in [0, 1].

    ReLU-family layers report dead units (never positive on the batch), tanh and
    sigmoid layers saturated ones (outputs pinned near their asymptotes).
    """
    fig = go.Figure()
    base_layout(fig, height=HEIGHT, uirevision="health-units")
    fig.update_xaxes(title_text="step", title_standoff=4)
    fig.update_yaxes(title_text="unhealthy units", title_standoff=6, range=[0, 1.02],
                     tickformat=".0%", dtick=0.25)
    dead = layer_series(health, "dead")
    sat = layer_series(health, "saturated")
    if not dead and not sat:
        return placeholder(fig, "no activation layers to watch yet" if health else
                           "waiting for the first numbers")
    i = 0
    for kind, series in (("dead", dead), ("saturated", sat)):
        for name, (steps, ys) in series.items():
            fig.add_trace(go.Scatter(
                x=steps, y=ys, name=f"{name} ({kind})", mode="lines+markers" if len(steps) < 3 else "lines",
                line=dict(color=line_colour(i), width=1.8), marker=dict(size=4),
                hovertemplate=f"{name}<br>step %{{x:,}}<br>{kind}: %{{y:.0%}}<extra></extra>"))
            i += 1
    room_for_legend(fig, PLOT_HEIGHT, [t.name for t in fig.data], width_px=260)
    return fig
