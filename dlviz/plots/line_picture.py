"""A line chart against training step as a PNG picture: the live Train page's charts.

While a run trains, the Train page redraws twice a second, and Streamlit mounts
a changed Plotly chart afresh in the browser; a picture updates in place
(docs/ARCHITECTURE.md, "The live Train page"). This draws what the Plotly
charts of ``style.base_layout`` look like (white, light grid, axis lines with
outside ticks, the legend above the plot wrapped into rows, the same margins and
fonts), minus hover and zoom, for ``curve_pictures`` (loss, accuracy) and
``health_pictures`` (layer health).

Drawn at SCALE times the CSS size (sharp on a projector; the browser scales it
down) on a palette picture: a few flat colours, one byte a pixel, so its PNG
encodes in ~1 ms instead of ~5 ms for RGB (text is then drawn without
anti-aliasing, which the browser's halving smooths).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dlviz.plots.pil_draw import INK, MUTED, WHITE, pil_font, rgb, text_width
from dlviz.plots.png import png_bytes
from dlviz.plots.style import GRID, LEGEND_ROW_PX, fmt_number, px

SCALE = 2                   # pixels per CSS pixel
_AXIS = (201, 206, 214)     # axis lines and ticks (style.base_layout's #c9ced6)
MARGIN_L, MARGIN_R, MARGIN_B = 56, 16, 44      # CSS px, as style.base_layout
LEGEND_TOP = 16             # CSS px above the legend's first row (style.room_for_legend)


@dataclass(frozen=True)
class Line:
    """One curve: values over steps (NaN: a gap), ``width`` and marker ``size`` in CSS px
    (0: no markers; Plotly's marker size, a diameter)."""
    name: str
    colour: str
    steps: np.ndarray
    values: np.ndarray
    width: float = 2.0
    marker: float = 0.0


@dataclass(frozen=True)
class Band:
    """A shaded range of y (data values) with a label at its lower left."""
    low: float
    high: float
    fill: tuple[int, int, int]
    label: str
    label_colour: tuple[int, int, int]


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi], about
    ``target`` of them, as a plotting library picks them."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return [lo]
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    n = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 12) for i in range(max(n, 0))]


def power_label(k: int) -> str:
    """A log axis's tick 10^k: 0.01, 0.1, 1, 10, 100, then 1e+3, 1e-3 (short, as Plotly's
    exponent labels)."""
    return fmt_number(10.0 ** k) if -2 <= k <= 2 else f"1e{'+' if k > 0 else '-'}{abs(k)}"


def line_chart_png(lines: Sequence[Line], *, y_title: str, width: int, plot_height: int,
                   log: bool = False, y_range: tuple[float, float] | None = None,
                   percent: bool = False, band: Band | None = None, note: str | None = None,
                   empty: str = "waiting for the first numbers") -> bytes:
    """``lines`` over steps in a ``width`` CSS px wide picture whose plot area is
    ``plot_height`` px high, plus the legend's rows above it.

    ``log``: a log y axis (ticks at powers of ten; values <= 0 are gaps);
    ``y_range``: (low, high) in data values (log: their logs are taken), else from
    the data (a linear axis from zero, as rangemode="tozero"); ``percent``: ticks at
    0, 25, ... 100%; ``note``: a quiet line at the plot's top right (over a white box)."""
    s = SCALE
    shown = [ln for ln in lines if len(ln.steps)]
    small, tick_font = pil_font(px(11) * s), pil_font(px(12) * s)
    w = width * s
    left, right = px(MARGIN_L) * s, w - px(MARGIN_R) * s
    rows = _legend_rows(shown, small, left, right)
    top = (px(LEGEND_TOP) + px(LEGEND_ROW_PX) * max(len(rows), 1)) * s
    bottom = top + plot_height * s
    h = bottom + px(MARGIN_B) * s
    img = Image.new("P", (w, h), 0)
    img.putpalette(WHITE)
    draw = ImageDraw.Draw(img)
    values = [_shown_values(ln.values, log) for ln in shown]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    if not len(finite):
        draw.text((w / 2, h / 2), empty, fill=MUTED, font=pil_font(px(13) * s), anchor="mm")
        return png_bytes(img)
    if y_range is not None:
        y_lo, y_hi = (math.log10(y_range[0]), math.log10(y_range[1])) if log else y_range
    elif log:
        y_lo, y_hi = float(finite.min()), float(finite.max())
        pad = max(0.05 * (y_hi - y_lo), 0.05)
        y_lo, y_hi = y_lo - pad, y_hi + pad
    else:
        y_lo, y_hi = min(0.0, float(finite.min())), float(finite.max()) * 1.05 or 1.0
    x_hi = 1.02 * float(max(max(int(ln.steps.max()) for ln in shown), 1))

    def xs(steps) -> np.ndarray:
        return left + np.asarray(steps, np.float64) / x_hi * (right - left)

    def ys(v) -> np.ndarray:                   # v: already log10 on a log axis
        return bottom - (np.asarray(v, np.float64) - y_lo) / (y_hi - y_lo) * (bottom - top)

    if band is not None:
        b_lo, b_hi = (math.log10(band.low), math.log10(band.high)) if log else (band.low, band.high)
        y0, y1 = (float(np.clip(ys(b), top, bottom)) for b in (b_hi, b_lo))
        draw.rectangle((left, y0, right, y1), fill=band.fill)
    y_ticks = [0, 0.25, 0.5, 0.75, 1.0] if percent else \
        [float(k) for k in range(math.ceil(y_lo), math.floor(y_hi) + 1)] if log else nice_ticks(y_lo, y_hi)
    for t in y_ticks:
        y = float(ys(t))
        draw.line((left, y, right, y), fill=rgb(GRID), width=s)
        draw.line((left - 3 * s, y, left, y), fill=_AXIS, width=s)
        label = f"{t:.0%}" if percent else power_label(int(t)) if log else fmt_number(t)
        draw.text((left - 5 * s, y), label, fill=INK, font=tick_font, anchor="rm")
    for t in nice_ticks(0.0, x_hi, max(2, min(5, width // 90))):
        x = float(xs(t))
        if x > right:
            continue
        draw.line((x, top, x, bottom), fill=rgb(GRID), width=s)
        draw.line((x, bottom, x, bottom + 3 * s), fill=_AXIS, width=s)
        draw.text((x, bottom + 5 * s), f"{t:,.0f}", fill=INK, font=tick_font, anchor="mt")
    draw.line((left, bottom, right, bottom), fill=_AXIS, width=s)
    draw.line((left, top, left, bottom), fill=_AXIS, width=s)
    draw.text(((left + right) / 2, h - 4 * s), "step", fill=INK, font=tick_font, anchor="mb")
    _vertical_text(img, y_title, tick_font, (6 * s, (top + bottom) / 2))
    if band is not None and top <= y1 <= bottom:
        draw.text((left + 4 * s, y1 - 2 * s), band.label, fill=band.label_colour,
                  font=pil_font(px(10) * s), anchor="lb")

    for ln, v in zip(shown, values):
        px_, py_ = xs(ln.steps), np.clip(ys(v), top - s, bottom + s)
        colour = rgb(ln.colour)
        for run in _runs(np.isfinite(v)):          # a gap (NaN) breaks the line
            pts = list(zip(px_[run].tolist(), py_[run].tolist()))
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=max(1, round(ln.width * s)), joint="curve")
        if ln.marker:
            r = ln.marker / 2 * s
            for x, y, ok in zip(px_.tolist(), py_.tolist(), np.isfinite(v).tolist()):
                if ok:
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    if note:
        box = draw.textbbox((right, top + 2 * s), note, font=small, anchor="ra")
        draw.rectangle((box[0] - 2 * s, box[1] - s, box[2] + s, box[3] + s), fill=WHITE)
        draw.text((right, top + 2 * s), note, fill=MUTED, font=small, anchor="ra")
    for r, row in enumerate(rows):
        y = (px(LEGEND_TOP) + px(LEGEND_ROW_PX) * (r + 0.5)) * s
        for x, ln in row:
            colour = rgb(ln.colour)
            draw.line((x, y, x + 24 * s, y), fill=colour, width=max(1, round(ln.width * s)))
            if ln.marker:
                draw.ellipse((x + 9 * s, y - 3 * s, x + 15 * s, y + 3 * s), fill=colour)
            draw.text((x + 28 * s, y), ln.name, fill=INK, font=small, anchor="lm")
    return png_bytes(img)


def _shown_values(values: np.ndarray, log: bool) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
    return np.where(np.isfinite(v), v, np.nan)


def _runs(ok: np.ndarray) -> list[np.ndarray]:
    """Index runs of consecutive True values."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return []
    return np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)


def _legend_rows(lines: Sequence[Line], font, left: float, right: float) -> list[list[tuple[float, Line]]]:
    """The legend's entries packed left to right into rows, as Plotly wraps a horizontal
    legend: (x, line) per entry."""
    rows: list[list[tuple[float, Line]]] = []
    x = right + 1
    for ln in lines:
        entry = (28 + 16) * SCALE + text_width(font, ln.name)
        if x + entry > right and (not rows or rows[-1]):
            rows.append([])
            x = left
        rows[-1].append((x, ln))
        x += entry
    return rows


def _vertical_text(img: Image.Image, text: str, font, centre: tuple[float, float]) -> None:
    """``text`` turned 90 degrees (reading upwards) with its top-left edge near ``centre``'s x."""
    tw = int(text_width(font, text)) + 4
    th = int(font.size * 1.3) if hasattr(font, "size") else 16
    tile = Image.new("L", (tw, th), 0)
    ImageDraw.Draw(tile).text((2, th / 2), text, fill=255, font=font, anchor="lm")
    turned = tile.rotate(90, expand=True)      # a mask: where the text's ink goes
    box = (int(centre[0]), int(centre[1] - turned.height / 2))
    ImageDraw.Draw(img).bitmap(box, turned.point(lambda v: 255 if v >= 128 else 0), fill=INK)
