"""The network as a left-to-right diagram, after CNN Explainer.

One box per tensor: the input, then the output of every layer. A box's
height shows the spatial size (H) of an image-shaped tensor, or the log of
the unit count of a flat one; its width shows the channel count (log
scale). Light funnel lines join consecutive boxes. Under each box: the
shape ("6x28x28") and a short description; hovering a box gives the full
description and parameter count.

Everything sits on one pair of axes: boxes are layout shapes, and one
scatter of invisible markers at the box centres carries the hover text.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from dlviz.plots.style import INK, MUTED, base_layout, placeholder, px

HEIGHT = 320
# The diagram's own boxes; a layer's colour and legend come with its report
# (LayerReport.colour / .legend, from the kind's entry in dlviz/nn/layers.py).
INPUT_STYLE = ("input", "#4b5563")       # (legend, colour)
OUTPUT_STYLE = ("output", "#d55e00")     # the head, a report layer of kind "output"
MIN_SLOTS = 7            # small nets are centred in this many slots, not stretched
STAGGER_FROM = 7         # boxes from which labels alternate between two rows (each gets two slots)
STAGGER_DROP = 0.4       # the lower row's offset, in y units (three 10 px lines)


def _shape_text(shape) -> str:
    return "x".join(str(s) for s in shape)


def _pale(hex_colour: str, amount: float = 0.72) -> str:
    """``hex_colour`` mixed with white (``amount`` = share of white), as opaque hex."""
    h = hex_colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    return "#{:02x}{:02x}{:02x}".format(*(round(c + (255 - c) * amount) for c in rgb))


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def architecture_figure(report) -> go.Figure:
    """Diagram of a ``dlviz.spec.SpecReport`` (from ``analyse(spec)``)."""
    fig = go.Figure()
    layers = list(report.layers)
    # a slot is ~40 px wide in a narrow column: with many boxes, neighbouring labels
    # ("6x28x28" beside "6x14x14") ran into each other, so every other one goes lower
    stagger = len(layers) + 1 >= STAGGER_FROM
    base_layout(fig, height=HEIGHT + (60 if stagger else 0), uirevision="architecture",
                margin=dict(l=8, r=8, t=34, b=8))
    if not layers:
        return placeholder(fig, "no layers", hide_axes=True)

    # (legend, colour, label lines, name, description, shape, params, input shape) per box,
    # the input first
    first = layers[0]
    boxes = [(*INPUT_STYLE, ["input"], "input", "input", tuple(first.input_shape), 0, None)]
    for r in layers:
        legend, colour = (r.legend, r.colour) if r.colour else OUTPUT_STYLE
        boxes.append((legend, colour, list(r.caption), r.name, r.description, tuple(r.output_shape),
                      r.params, tuple(r.input_shape)))

    spatial = [b[5] for b in boxes if len(b[5]) == 3]
    h_max = max((s[1] for s in spatial), default=1)
    c_max = max((s[0] for s in spatial), default=1)
    flat_max = max((s[0] for s in (b[5] for b in boxes) if len(s) == 1), default=1)
    flat_top = 0.72 if spatial else 1.0     # a vector never looks bigger than the largest map

    def size(shape) -> tuple[float, float]:
        """(width in slots, height in [0, 1]) of a tensor's box."""
        if len(shape) == 3:
            c, h = shape[0], shape[1]
            width = 0.12 + 0.38 * math.log2(c + 1) / math.log2(max(c_max, 1) + 1)
            return width, 0.14 + 0.86 * h / h_max
        n = shape[0] if shape else 1
        return 0.09, 0.1 + (flat_top - 0.1) * math.log10(n + 1) / math.log10(max(flat_max, 1) + 1)

    shapes, annotations = [], []
    hx, hy, hover = [], [], []
    n = len(boxes)
    geom = []
    for i, box in enumerate(boxes):
        w, h = size(box[5])
        geom.append((i - w / 2, i + w / 2, -h / 2, h / 2))   # (left, right, bottom, top)
    # funnel lines between consecutive boxes, under the boxes
    for (l0, r0, b0, t0), (l1, r1, b1, t1) in zip(geom, geom[1:]):
        for y0, y1 in ((t0, t1), (b0, b1)):
            shapes.append(dict(type="line", x0=r0, y0=y0, x1=l1, y1=y1, layer="below",
                               line=dict(color="#c9ced6", width=1)))
    for i, ((_, colour, caption, name, desc, shape, params, in_shape), (x0, x1, y0, y1)) in enumerate(
            zip(boxes, geom)):
        if len(shape) == 3 and shape[0] > 1:
            # two offset outlines behind the box: a stack of feature maps
            for k, off in enumerate((0.05, 0.025)):
                shapes.append(dict(type="rect", x0=x0 + off, x1=x1 + off, y0=y0 + off * 1.6,
                                   y1=y1 + off * 1.6, fillcolor="white",
                                   line=dict(color=_rgba(colour, 0.45 + 0.2 * k), width=1)))
        # opaque fill, so the stack outlines behind do not show through
        shapes.append(dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1,
                           fillcolor=_pale(colour), line=dict(color=colour, width=1.5)))
        lines = [f"<b>{_shape_text(shape)}</b>"] + caption
        annotations.append(dict(x=i, y=-0.56 - (STAGGER_DROP if stagger and i % 2 else 0), yanchor="top",
                                showarrow=False, align="center",
                                text="<br>".join(lines), font=dict(size=px(10 if n <= 14 else 8), color=INK)))
        hx.append(i)
        hy.append(0)
        io = f"{_shape_text(in_shape)} → {_shape_text(shape)}" if in_shape else _shape_text(shape)
        hover.append(f"<b>{name}</b><br>{desc}<br>{io}<br>{params:,} parameters")

    fig.add_trace(go.Scatter(x=hx, y=hy, mode="markers", showlegend=False,
                             marker=dict(size=28, color="rgba(0,0,0,0)"), hovertext=hover,
                             hovertemplate="%{hovertext}<extra></extra>"))
    # colour key: one legend entry per kind present
    seen = []
    for key, colour, *_ in boxes:
        if key not in [s[0] for s in seen]:
            seen.append((key, colour))
    for key, colour in seen:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=key, hoverinfo="skip",
                                 marker=dict(symbol="square", size=11, color=_pale(colour),
                                             line=dict(color=colour, width=1.5))))
    total = report.total_params
    annotations.append(dict(text=f"{total:,} parameters", xref="paper", yref="paper", x=1, y=1.02,
                            xanchor="right", yanchor="bottom", showarrow=False,
                            font=dict(size=px(11), color=MUTED)))
    pad = max(0, MIN_SLOTS - n) / 2
    fig.update_layout(shapes=shapes, annotations=annotations, hovermode="closest",
                      legend=dict(itemclick=False, itemdoubleclick=False))
    fig.update_xaxes(visible=False, range=[-0.6 - pad, n - 0.4 + pad], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-0.98 - (STAGGER_DROP if stagger else 0), 0.6], fixedrange=True)
    return fig
