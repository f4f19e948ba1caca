"""One look for every figure: palettes, fonts, margins, the empty-figure message.

Colours are colour-blind safe. Two classes use TensorFlow Playground's
orange (class 0, negative) and blue (class 1, positive); more classes use
Paul Tol's "muted" qualitative scheme; lines use Okabe-Ito.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

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

# -- font scale (presenter mode: every chart and picture label larger) ----------------
# ``plots`` never imports streamlit: the ui layer says how large text is. Two ways:
# FONT_SCALE, a ContextVar, for an explicit scope (``with font_scaled(1.5):``, tests);
# else the source the ui layer registers (dlviz/ui/presenter.py), asked at each figure.
# A ContextVar alone would not do for the app: a fragment's timed rerun runs on a fresh
# script thread (docs/ARCHITECTURE.md, "Presenter mode"), which sees none set by the full run.
FONT_SCALE: ContextVar[float | None] = ContextVar("dlviz_font_scale", default=None)
_scale_source: list[Callable[[], float]] = []
MAX_FONT_SCALE = 3.0


def use_font_scale_source(source: Callable[[], float]) -> None:
    """Where ``font_scale`` asks when no FONT_SCALE is set (one source; a later call replaces it)."""
    _scale_source[:] = [source]


def font_scale() -> float:
    """How much larger than normal text is drawn now: 1.0, or e.g. 1.5 in presenter mode."""
    v = FONT_SCALE.get()
    if v is None and _scale_source:
        v = _scale_source[0]()
    v = float(v) if v else 1.0
    return min(max(v, 1.0), MAX_FONT_SCALE)


@contextmanager
def font_scaled(scale: float) -> Iterator[None]:
    """Text ``scale`` times larger for figures and pictures built inside the block."""
    token = FONT_SCALE.set(scale)
    try:
        yield
    finally:
        FONT_SCALE.reset(token)


def px(size: float) -> int:
    """A text size (or a text-sized gap) in pixels at the current font scale."""
    return int(round(size * font_scale()))


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
    At a font scale above 1 (``font_scale``) text and margins grow, and ``height`` by
    as much as the margins did, so the plot area keeps its size.
    """
    margin = dict(margin or dict(l=56, r=16, t=36, b=44))
    scale = font_scale()
    if scale != 1.0:
        grown = {k: int(round(v * scale)) for k, v in margin.items()}
        if height:
            height += grown.get("t", 0) + grown.get("b", 0) - margin.get("t", 0) - margin.get("b", 0)
        margin = grown
    layout = dict(
        template="none",          # cheap: a named template is deep-copied on every figure
        font={**FONT, "size": px(FONT["size"])},
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=margin,
        hoverlabel=dict(font_size=px(12), font_family=FONT["family"]),
    )
    if height:
        layout["height"] = height
    if uirevision:
        layout["uirevision"] = uirevision
    if legend_top:
        layout["legend"] = dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left",
                                x=0, bgcolor="rgba(0,0,0,0)", font_size=px(11))
    fig.update_layout(**layout)
    axis = dict(title_font_size=px(12), gridcolor=GRID, zerolinecolor=GRID, linecolor="#c9ced6",
                ticks="outside", tickcolor="#c9ced6", ticklen=3)
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def placeholder(fig: go.Figure, text: str = "waiting for the first numbers", *,
                hide_axes: bool = False) -> go.Figure:
    """An empty plot area with a quiet message in the middle (no data yet, nothing to draw):
    the one placeholder of every plotly figure. ``hide_axes``: no axis lines either (a
    diagram, not a chart)."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font=dict(size=px(13), color=MUTED))
    if hide_axes:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    else:
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
        fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    return fig


def fmt_number(v: float, digits: int = 2) -> str:
    """A number for a label or caption, one style everywhere: ``digits`` significant digits
    (0.42, 0.0057, 12), whole numbers with commas from 100 on (1,234), and a short
    exponent outside 0.001 .. 1,000,000 (5.7e-4, 8.1e+11), never "0.57e-03".
    """
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "∞" if v > 0 else "-∞"
    a = abs(v)
    if a == 0:
        return "0"
    if 100 <= a < 1e6:
        return f"{v:,.0f}"
    if 1e-3 <= a < 100:
        return f"{v:.{digits}g}"
    mantissa, exp = f"{v:.{max(digits - 1, 0)}e}".split("e")
    return f"{mantissa}e{'+' if int(exp) > 0 else '-'}{abs(int(exp))}"


LEGEND_ROW_PX = 20
_LEGEND_CHAR_PX = 6.6        # 11 px text, a little wide: rather a row too many than one too few
_LEGEND_SYMBOL_PX = 56       # the line sample and the gaps around an entry


def legend_rows(labels, width_px: float) -> int:
    """Rows a horizontal legend of ``labels`` takes in ``width_px``, entries packed the
    way Plotly wraps them (each as wide as its text)."""
    rows, used = 1, 0.0
    for label in labels:
        w = _LEGEND_SYMBOL_PX + _LEGEND_CHAR_PX * len(str(label))
        if used and used + w > width_px:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def room_for_legend(fig: go.Figure, plot_height: int, labels, width_px: float | None = None) -> go.Figure:
    """A figure tall enough for its legend above the plot, so the plot keeps
    ``plot_height`` px however many entries there are (with 11 lines in a fixed
    height the legend's rows pushed the plot down to ~60 px, and Plotly scrolls a
    legend taller than its share of the figure).

    ``width_px``: the narrowest the plot area is drawn (a third of the page), for a
    legend wrapped into rows as Plotly does; None: one entry a row, which needs no
    guess about widths (long labels, such as a method and its area)."""
    labels = [str(label) for label in labels]
    scale = font_scale()
    rows = len(labels) if width_px is None else legend_rows(labels, width_px / scale)
    legend_px = int(round(LEGEND_ROW_PX * scale)) * max(rows, 1)
    margin_t = 16 + legend_px
    fig.update_layout(height=plot_height + margin_t + px(48), margin_t=margin_t,
                      legend=dict(orientation="v" if width_px is None else "h", yanchor="bottom", y=1.0,
                                  xanchor="left", x=0, bgcolor="rgba(0,0,0,0)", font_size=px(11),
                                  # never a scrolled legend: a row the estimate missed pushes the
                                  # plot down by 20 px (Plotly's automargin) instead of hiding
                                  tracegroupgap=0, maxheight=legend_px + 8 if width_px is None else 2 * legend_px + 8))
    return fig
