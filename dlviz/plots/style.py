"""One look for every figure: palettes, fonts, margins, the empty-figure message.

Colours are colour-blind safe. Two classes use TensorFlow Playground's
orange (class 0, negative) and blue (class 1, positive); more classes use
Paul Tol's "muted" qualitative scheme; lines use Okabe-Ito.
"""

from __future__ import annotations

import plotly.graph_objects as go

# TensorFlow Playground: orange = negative / class 0, blue = positive / class 1
ORANGE = "#f59322"
BLUE = "#0877bd"
NEUTRAL = "#e8eaeb"
DIVERGING = [[0.0, ORANGE], [0.5, "#ffffff"], [1.0, BLUE]]   # -1 .. 0 .. +1 (or 0 .. 0.5 .. 1)
# a paler version for backgrounds under points of the saturated colours
DIVERGING_PALE = [[0.0, "#f8c27f"], [0.5, "#ffffff"], [1.0, "#7fb4db"]]

# Paul Tol "muted" (9) + pale grey: distinct for up to 10 classes
CLASS_COLOURS = ["#332288", "#cc6677", "#117733", "#ddcc77", "#88ccee",
                 "#882255", "#44aa99", "#999933", "#aa4499", "#777777"]
# Okabe-Ito without black and yellow, then Tol muted: one per line
LINE_COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00",
                "#332288", "#882255", "#117733", "#999933", "#44aa99", "#aa4499"]
TRAIN_COLOUR = "#0072b2"
TEST_COLOUR = "#d55e00"
INK = "#2a2f36"          # text and dark outlines
MUTED = "#6b7280"        # secondary text
GRID = "#eceef1"

FONT = dict(family="Inter, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
            size=12, color=INK)


def class_colours(k: int) -> list[str]:
    """Marker colours for k classes (orange / blue for two)."""
    if k <= 2:
        return [ORANGE, BLUE][:max(k, 1)]
    return [CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(k)]


def line_colour(i: int) -> str:
    return LINE_COLOURS[i % len(LINE_COLOURS)]


def base_layout(fig: go.Figure, *, height: int | None = None, uirevision: str | None = None,
                legend_top: bool = True, margin: dict | None = None) -> go.Figure:
    """White background, light grid, small margins, legend above the plot.

    One ``update_layout`` and one update per axis kind: every plotly update
    validates its whole argument tree, and the live page redraws twice a second.
    """
    layout = dict(
        template="none",          # cheap: a named template is deep-copied on every figure
        font=FONT,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=margin or dict(l=56, r=16, t=36, b=44),
        hoverlabel=dict(font_size=12, font_family=FONT["family"]),
    )
    if height:
        layout["height"] = height
    if uirevision:
        layout["uirevision"] = uirevision
    if legend_top:
        layout["legend"] = dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left",
                                x=0, bgcolor="rgba(0,0,0,0)", font_size=11)
    fig.update_layout(**layout)
    axis = dict(title_font_size=12, gridcolor=GRID, zerolinecolor=GRID, linecolor="#c9ced6",
                ticks="outside", tickcolor="#c9ced6", ticklen=3)
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def placeholder(fig: go.Figure, text: str = "waiting for the first numbers") -> go.Figure:
    """An empty plot area with a quiet message in the middle (no data yet)."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font=dict(size=13, color=MUTED))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    return fig
