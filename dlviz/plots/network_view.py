"""TensorFlow Playground's network view: every neuron as a picture of what it computes.

One column per layer (the input features first), each unit a small heatmap
tile of its output over the 2-D plane, lines between the tiles of
consecutive columns (width proportional to |w|, blue for positive and orange
for negative weights, as in Playground), and the model's output over the
plane as a larger tile on the right.

Everything is drawn on ONE pair of axes: each neuron tile is a small PNG image
(the output tile a heatmap, for its hover values) placed with x0/dx/y0/dy,
each connection a line shape. Many subplots would be slow
to paint in a browser (docs/ARCHITECTURE.md, "Facts measured").
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dlviz.plots.png import diverging_rgb, png_data_uri
from dlviz.plots.style import BLUE, DIVERGING, INK, MUTED, ORANGE, base_layout, class_colours, placeholder, px

MAX_UNITS = 8           # tiles shown per column; the rest is a "+N more" note
TILE = 1.0              # tile side, in axis units
PITCH = 1.28            # vertical distance between tile tops
COL = 2.6               # horizontal distance between column left edges
OUT_TILE = 2.6          # side of the output tile
PX_PER_UNIT = 52        # figure pixels per axis unit at most
EXPECTED_WIDTH = 860    # px: a wide Streamlit column; the height follows the aspect
GREY_LINE = "#9aa3ad"
BORDER = "#c9ced6"


def _pale(hex_colour: str, amount: float = 0.55) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return "#{:02x}{:02x}{:02x}".format(*(round(c + (255 - c) * amount) for c in (r, g, b)))


def absmax(a: np.ndarray) -> float:
    finite = np.abs(a[np.isfinite(a)])
    m = float(finite.max()) if finite.size else 1.0
    return m if m > 1e-12 else 1.0


def unit_centres(k: int, centre: float) -> list[float]:
    """y of the centre of each of k tiles, unit 0 at the top, centred on ``centre``."""
    return [centre + ((k - 1) / 2 - u) * PITCH for u in range(k)]


class _Canvas:
    """Traces, shapes and annotations gathered as plain dicts and handed to Plotly
    once: ``fig.add_shape`` re-validates every shape on each call, which is
    quadratic (seconds for a few hundred lines)."""

    def __init__(self):
        self.traces: list = []
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []

    def add_trace(self, trace) -> None:
        self.traces.append(trace)

    def add_shape(self, **shape) -> None:
        self.shapes.append(shape)

    def add_annotation(self, **annotation) -> None:
        self.annotations.append(annotation)


def _image_tile(fig: _Canvas, z: np.ndarray, x: float, y: float, size: float, *,
                zmin: float, zmax: float, hover: str) -> None:
    """``z`` (G, G), row 0 at the bottom, as a PNG picture filling [x, x+size] x [y, y+size].

    A neuron tile as a heatmap costs the server its G*G values in JSON (8 tiles
    of 60x60: ~250 KB a redraw) and the browser a heatmap to paint; as a small
    PNG in a data URI it is ~3 KB and an image to place, which keeps a live
    page redrawing twice a second off the trainer's core. Hover names the unit."""
    g_rows, g_cols = z.shape
    rgb = diverging_rgb(z, zmin, zmax)                      # (G, G, 3) uint8, row 0 first
    fig.add_trace(go.Image(source=png_data_uri(rgb), x0=x + size / g_cols / 2, dx=size / g_cols,
                           y0=y + size / g_rows / 2, dy=size / g_rows, hovertemplate=hover,
                           name=""))
    fig.add_shape(type="rect", x0=x, x1=x + size, y0=y, y1=y + size,
                  line=dict(color=BORDER, width=1), layer="above")


def _tile(fig: _Canvas, z: np.ndarray, x: float, y: float, size: float, *, colorscale,
          zmin: float, zmax: float, hover: str, customdata=None) -> None:
    """Heatmap ``z`` (G, G), row 0 at the bottom, filling the square [x, x+size] x [y, y+size]."""
    g_rows, g_cols = z.shape
    dx, dy = size / g_cols, size / g_rows
    fig.add_trace(go.Heatmap(
        z=z, x0=x + dx / 2, dx=dx, y0=y + dy / 2, dy=dy, colorscale=colorscale, zmin=zmin,
        zmax=zmax, showscale=False, zsmooth="best" if customdata is None else False,
        customdata=customdata, hovertemplate=hover, xgap=0, ygap=0))
    fig.add_shape(type="rect", x0=x, x1=x + size, y0=y, y1=y + size,
                  line=dict(color=BORDER, width=1), layer="above")


def network_figure(layers: Sequence[tuple[str, np.ndarray]], weights: Sequence[np.ndarray],
                   output_map: np.ndarray | None = None, *, task: str | None = None,
                   num_classes: int | None = None, input_names: Sequence[str] | None = None,
                   max_units: int = MAX_UNITS) -> go.Figure:
    """The network, Playground style.

    layers:  [(name, maps (units, G, G))], the input features first (as from
             ``dlviz.views.neuron_maps``: ``(l.name, l.maps)`` of each).
    weights: ``weights[i]`` (out, in) connects ``layers[i]`` to ``layers[i+1]``;
             a ``weights[len(layers) - 1]`` connects the last column to the
             output tile (as from ``dlviz.views.dense_weights``).
    output_map: (G, G) from ``boundary_values``: p(class 1) for 2 classes,
             the class index for more, the value for regression.
    task, num_classes: how to colour the output tile; when not given, read
             from the output weights (1 row: regression, K rows: K classes).
    input_names: labels for the input tiles (the dataset's features).

    One line is drawn per weight between shown tiles. To the output tile
    there is one line per shown unit: for 2 classes its weight is
    w[1] - w[0] (p(class 1) = sigmoid of that logit difference), for one
    output the weight itself, and for K > 2 classes a grey line as wide as
    the unit's weight norm over the classes.
    """
    cols = [(name, np.asarray(maps, dtype=np.float32)) for name, maps in layers]
    figure = go.Figure()
    base_layout(figure, legend_top=False, margin=dict(l=8, r=8, t=40, b=28))
    figure.update_layout(showlegend=False, hovermode="closest", uirevision="network")
    if not cols:
        return placeholder(figure, "no layers to show", hide_axes=True)
    fig = _Canvas()
    k_out = np.shape(weights[len(cols) - 1])[0] if len(weights) >= len(cols) else None
    if task is None:
        task = "regression" if k_out == 1 else "classification"
    if num_classes is None:
        num_classes = k_out if k_out and k_out > 1 else 2

    shown = [min(len(m), max_units) for _, m in cols]
    tallest = max(max(shown) * PITCH - (PITCH - TILE), OUT_TILE if output_map is not None else 0)
    centre = tallest / 2
    xs = [c * COL for c in range(len(cols))]
    ys = [unit_centres(k, centre) for k in shown]        # tile centres per column
    out_x = xs[-1] + COL + 0.2 if cols else 0

    # -- connections (drawn first, under the tiles) -----------------------------
    lines: list[tuple[float, float, float, float, float, str, str]] = []   # x0,y0,x1,y1,w,colour,label
    for i in range(len(cols) - 1):
        if i >= len(weights):
            break
        w = np.asarray(weights[i], dtype=np.float64)
        if w.shape != (len(cols[i + 1][1]), len(cols[i][1])):
            raise ValueError(f"weights[{i}] has shape {w.shape}; expected "
                             f"({len(cols[i + 1][1])}, {len(cols[i][1])}) between "
                             f"{cols[i][0]} and {cols[i + 1][0]}")
        for a in range(shown[i]):
            for b in range(shown[i + 1]):
                v = float(w[b, a])
                lines.append((xs[i] + TILE, ys[i][a], xs[i + 1], ys[i + 1][b], v,
                              BLUE if v >= 0 else ORANGE,
                              f"{cols[i][0]}[{a}] → {cols[i + 1][0]}[{b}]"))
    last = len(cols) - 1
    if output_map is not None and len(weights) > last:
        w = np.asarray(weights[last], dtype=np.float64)       # (K, units)
        if w.shape[1] != len(cols[last][1]):
            raise ValueError(f"weights[{last}] has shape {w.shape}; expected (outputs, "
                             f"{len(cols[last][1])}) from {cols[last][0]} to the output")
        for a in range(shown[last]):
            if w.shape[0] == 1:
                v, colour = float(w[0, a]), None
            elif w.shape[0] == 2:
                v, colour = float(w[1, a] - w[0, a]), None
            else:
                v, colour = float(np.linalg.norm(w[:, a])), GREY_LINE
            lines.append((xs[last] + TILE, ys[last][a], out_x, centre, v,
                          colour or (BLUE if v >= 0 else ORANGE), f"{cols[last][0]}[{a}] → output"))
    wmax = max((abs(l[4]) for l in lines), default=1.0) or 1.0
    for x0, y0, x1, y1, v, colour, _ in lines:
        fig.add_shape(type="line", x0=x0, y0=y0, x1=x1, y1=y1, layer="below",
                      opacity=0.8, line=dict(color=colour, width=0.3 + 3.4 * abs(v) / wmax))
    if lines:
        # hover targets on the lines, nearer the receiving end so they rarely coincide
        hx = [0.3 * l[0] + 0.7 * l[2] for l in lines]
        hy = [0.3 * l[1] + 0.7 * l[3] for l in lines]
        fig.add_trace(go.Scatter(
            x=hx, y=hy, mode="markers", marker=dict(size=8, color="rgba(0,0,0,0)"),
            customdata=[[l[6], l[4]] for l in lines],
            hovertemplate="%{customdata[0]}<br>weight %{customdata[1]:.3f}<extra></extra>"))

    # -- tiles ------------------------------------------------------------------
    # colour range: symmetric around 0, per tile for the input features (their
    # units differ: x1 vs x1^2), per layer for hidden units (so a weak unit looks weak)
    for i, (name, maps) in enumerate(cols):
        for u in range(shown[i]):
            m = absmax(maps[u] if i == 0 else maps[:shown[i]])
            label = input_names[u] if i == 0 and input_names and u < len(input_names) else f"{name}[{u}]"
            _image_tile(fig, maps[u], xs[i], ys[i][u] - TILE / 2, TILE, zmin=-m, zmax=m,
                        hover=f"{label}<extra></extra>")
            if i == 0 and input_names and u < len(input_names):
                fig.add_annotation(text=input_names[u], x=xs[i] - 0.08, y=ys[i][u], xanchor="right",
                                   showarrow=False, font=dict(size=px(11), color=INK))
        n = len(maps)
        title = "input" if i == 0 and name == "input" else name
        sub = f"{n} feature{'s' if n != 1 else ''}" if i == 0 and name == "input" else \
            f"{n} unit{'s' if n != 1 else ''}"
        fig.add_annotation(text=f"<b>{title}</b><br><span style='color:{MUTED}'>{sub}</span>",
                           x=xs[i] + TILE / 2, y=tallest + 0.12, yanchor="bottom", showarrow=False,
                           font=dict(size=px(11), color=INK))
        if n > shown[i]:
            fig.add_annotation(text=f"+{n - shown[i]} more", x=xs[i] + TILE / 2,
                               y=ys[i][-1] - TILE / 2 - 0.08, yanchor="top", showarrow=False,
                               font=dict(size=px(11), color=MUTED))

    # -- output ------------------------------------------------------------------
    right = xs[-1] + TILE
    if output_map is not None:
        z = np.asarray(output_map, dtype=np.float32)
        y0 = centre - OUT_TILE / 2
        if task == "regression":
            m = absmax(z)
            _tile(fig, z, out_x, y0, OUT_TILE, colorscale=DIVERGING, zmin=-m, zmax=m,
                  hover="output %{z:.3f}<extra></extra>")
        elif num_classes <= 2:
            _tile(fig, z, out_x, y0, OUT_TILE, colorscale=DIVERGING, zmin=0, zmax=1,
                  hover="p(class 1) %{z:.2f}<extra></extra>")
        else:
            k = num_classes
            scale = []
            for c, col in enumerate(class_colours(k)):
                scale += [[c / k, _pale(col)], [(c + 1) / k, _pale(col)]]
            _tile(fig, z, out_x, y0, OUT_TILE, colorscale=scale, zmin=-0.5, zmax=k - 0.5,
                  hover="predicted class %{z:.0f}<extra></extra>")
        fig.add_annotation(text=f"<b>output</b><br><span style='color:{MUTED}'>"
                                f"{'value' if task == 'regression' else 'p(class 1)' if num_classes <= 2 else 'predicted class'}"
                                f"</span>",
                           x=out_x + OUT_TILE / 2, y=tallest + 0.12, yanchor="bottom",
                           showarrow=False, font=dict(size=px(11), color=INK))
        right = out_x + OUT_TILE

    left = -0.75 if input_names else -0.15
    bottom = -0.55
    top = tallest + 0.95
    figure.add_traces(fig.traces)
    figure.update_layout(shapes=fig.shapes, annotations=fig.annotations)
    figure.update_xaxes(visible=False, range=[left, right + 0.15], fixedrange=True)
    figure.update_yaxes(visible=False, range=[bottom, top], scaleanchor="x", scaleratio=1,
                        fixedrange=True)
    # scaleanchor keeps tiles square, so a wide network gets less tall: size the
    # figure for the width it will likely have, leaving no empty bands
    per_unit = min(PX_PER_UNIT, EXPECTED_WIDTH / (right + 0.15 - left))       # px per unit
    height = int((top - bottom) * per_unit) + px(40) + px(28)
    figure.update_layout(height=max(240, min(height, 640)), plot_bgcolor="white")
    return figure
