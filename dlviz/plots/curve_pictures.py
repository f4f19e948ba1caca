"""The learning curves of a running run as PNG pictures: loss and accuracy against step.

While a run trains, the Train page redraws twice a second, and a changed Plotly
chart is mounted afresh in the browser: the two curve charts, rebuilt once a
second, took ~0.1 of a core of Chromium's renderer and ~0.03 of the server on
a 2-core machine, and lagged up to a second behind the progress line
(docs/ARCHITECTURE.md, "The live Train page"). A picture updates in place. These
draw what ``curves.loss_figure`` and ``curves.accuracy_figure`` draw (the same
points, colours, axes, legend and log-scale rule), minus hover and zoom; paused,
ended or at a past moment the page shows the interactive figures again.

Drawn at SCALE times the CSS size (sharp on a projector; the browser scales it
down); ~3-6 ms per picture, PNG included.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dlviz.plots.curves import MARKERS_UP_TO, blown_up, metric_column, thinned
from dlviz.plots.pil_draw import INK, MUTED, WHITE, pil_font, text_width
from dlviz.plots.png import png_bytes
from dlviz.plots.style import GRID, TEST_COLOUR, TRAIN_COLOUR, fmt_number, px

SCALE = 2                   # pixels per CSS pixel
WIDTH, HEIGHT = 450, 260    # CSS px: a half-page column (1400 px window) at 260 px high, as the figures
_AXIS = (201, 206, 214)     # axis lines and ticks (style.base_layout's #c9ced6)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


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


def loss_png(history: Sequence[dict], evals: Sequence[dict], task: str = "classification") -> bytes:
    """The picture of ``loss_figure(history, evals, task)``: train loss (a line) and test
    loss (a line, with markers while there are few), a log axis for a loss that blew up."""
    train = metric_column(history or [], "train_loss")
    test = metric_column(evals or [], "test_loss")
    log = any(blown_up(c[2]) for c in (train, test))
    return _chart("MSE loss" if task == "regression" else "cross-entropy", "loss",
                  train, test, log=log)


def accuracy_png(evals: Sequence[dict]) -> bytes:
    """The picture of ``accuracy_figure(evals)``: train and test accuracy, y from 0 to 100%."""
    train = metric_column(evals or [], "train_accuracy")
    test = metric_column(evals or [], "test_accuracy")
    empty = "no accuracy for a regression task" if (evals and not len(train[0]) and not len(test[0])
                                                    and any("test_loss" in r for r in evals)) else None
    return _chart("accuracy", "accuracy", train, test, y_range=(0.0, 1.02), percent=True, empty=empty)


def _chart(y_title: str, what: str, train, test, *, log: bool = False,
           y_range: tuple[float, float] | None = None, percent: bool = False,
           empty: str | None = None) -> bytes:
    s = SCALE
    # taller by as much as the margins grew with the font (presenter mode), as base_layout
    w, h = WIDTH * s, (HEIGHT + px(36) + px(44) - 80) * s
    img = _blank(w, h)
    draw = ImageDraw.Draw(img)
    small, tick_font = pil_font(px(11) * s), pil_font(px(12) * s)
    # the plot area: style.base_layout's margins (l=56, r=16, t=36, b=44), grown with the font
    left, right, top, bottom = px(56) * s, w - px(16) * s, px(36) * s, h - px(44) * s
    (s_tr, _, v_tr), (s_te, _, v_te) = thinned(train[0], train[1], train[2]), thinned(test[0], test[1], test[2])
    if not len(s_tr) and not len(s_te):
        draw.text((w / 2, h / 2), empty or "waiting for the first numbers", fill=MUTED,
                  font=pil_font(px(13) * s), anchor="mm")
        return png_bytes(img)
    values = np.concatenate([v_tr, v_te])
    if log:
        positive = values[values > 0]
        values = np.log10(positive) if len(positive) else np.zeros(1)
    x_hi = float(max(s_tr.max(initial=0), s_te.max(initial=0), 1))
    if y_range is not None:
        y_lo, y_hi = y_range
    elif log:
        y_lo, y_hi = float(values.min()), float(values.max())
        pad = max(0.05 * (y_hi - y_lo), 0.05)
        y_lo, y_hi = y_lo - pad, y_hi + pad
    else:
        y_lo, y_hi = 0.0, float(values.max()) * 1.05 or 1.0      # from zero, as rangemode="tozero"
    x_lo, x_hi = 0.0, x_hi * 1.02

    def at(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        if log:
            y = np.log10(np.clip(y, 1e-300, None))
        px_ = left + (np.asarray(x, np.float64) - x_lo) / (x_hi - x_lo) * (right - left)
        py_ = bottom - (np.asarray(y, np.float64) - y_lo) / (y_hi - y_lo) * (bottom - top)
        return list(zip(px_.tolist(), np.clip(py_, top - s, bottom + s).tolist()))

    # grid, axes, ticks and their labels
    y_ticks = [0, 0.25, 0.5, 0.75, 1.0] if percent else \
        [float(k) for k in range(math.ceil(y_lo), math.floor(y_hi) + 1)] if log else nice_ticks(y_lo, y_hi)
    for t in y_ticks:
        y = at(np.zeros(1), np.array([10 ** t if log else t]))[0][1]
        draw.line((left, y, right, y), fill=_rgb(GRID), width=s)
        label = f"{t:.0%}" if percent else _power(int(t)) if log else fmt_number(t)
        draw.line((left - 3 * s, y, left, y), fill=_AXIS, width=s)
        draw.text((left - 5 * s, y), label, fill=INK, font=tick_font, anchor="rm")
    for t in nice_ticks(0.0, x_hi, 5):
        x = at(np.array([t]), np.ones(1))[0][0]
        if x > right:
            continue
        draw.line((x, top, x, bottom), fill=_rgb(GRID), width=s)
        draw.line((x, bottom, x, bottom + 3 * s), fill=_AXIS, width=s)
        draw.text((x, bottom + 5 * s), f"{t:,.0f}", fill=INK, font=tick_font, anchor="mt")
    draw.line((left, bottom, right, bottom), fill=_AXIS, width=s)
    draw.line((left, top, left, bottom), fill=_AXIS, width=s)
    draw.text(((left + right) / 2, h - 4 * s), "step", fill=INK, font=tick_font, anchor="mb")
    _vertical_text(img, y_title, tick_font, (6 * s, (top + bottom) / 2))

    # the curves: train a line, test a thinner line with markers while few
    train_c, test_c = _rgb(TRAIN_COLOUR), _rgb(TEST_COLOUR)
    if len(s_tr) > 1:
        draw.line(at(s_tr, v_tr), fill=train_c, width=2 * s, joint="curve")
    if len(s_te):
        pts = at(s_te, v_te)
        if len(pts) > 1:
            draw.line(pts, fill=test_c, width=max(1, round(1.5 * s)), joint="curve")
        if len(pts) <= MARKERS_UP_TO or len(pts) == 1:
            r = (3 if len(pts) <= 30 else 2 if len(pts) <= 100 else 1.5) * s
            for x, y in pts:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=test_c)

    if log:          # said on the chart, over a white box, as loss_figure's annotation
        note = f"log scale: the loss reached {fmt_number(float(np.max(np.concatenate([v_tr, v_te]))))}"
        box = draw.textbbox((right, top + 2 * s), note, font=small, anchor="ra")
        draw.rectangle((box[0] - 2 * s, box[1] - s, box[2] + s, box[3] + s), fill=WHITE)
        draw.text((right, top + 2 * s), note, fill=MUTED, font=small, anchor="ra")

    # the legend above the plot, left: a line sample then the name, per curve
    x = left
    for name, colour, marker, shown in ((f"train {what}", train_c, False, len(s_tr)),
                                        (f"test {what}", test_c, True, len(s_te))):
        if not shown:
            continue
        y = top - 14 * s
        draw.line((x, y, x + 24 * s, y), fill=colour, width=2 * s)
        if marker:
            draw.ellipse((x + 12 * s - 3 * s, y - 3 * s, x + 12 * s + 3 * s, y + 3 * s), fill=colour)
        draw.text((x + 28 * s, y), name, fill=INK, font=small, anchor="lm")
        x += 28 * s + text_width(small, name) + 16 * s
    return png_bytes(img)


def _power(k: int) -> str:
    """A log axis's tick 10^k: 0.01, 0.1, 1, 10, 100, then 1e+3, 1e-3 (short, as Plotly's
    exponent labels)."""
    return fmt_number(10.0 ** k) if -2 <= k <= 2 else f"1e{'+' if k > 0 else '-'}{abs(k)}"


def _blank(w: int, h: int) -> Image.Image:
    """A white palette picture: a few flat colours, one byte a pixel, so its PNG encodes
    in ~1 ms instead of ~5 ms for RGB (text is then drawn without anti-aliasing, which
    the browser's halving of a SCALE=2 picture smooths)."""
    img = Image.new("P", (w, h), 0)
    img.putpalette(WHITE)
    return img


def _vertical_text(img: Image.Image, text: str, font, centre: tuple[float, float]) -> None:
    """``text`` turned 90 degrees (reading upwards) with its top-left edge near ``centre``'s x."""
    tw = int(text_width(font, text)) + 4
    th = int(font.size * 1.3) if hasattr(font, "size") else 16
    tile = Image.new("L", (tw, th), 0)
    ImageDraw.Draw(tile).text((2, th / 2), text, fill=255, font=font, anchor="lm")
    turned = tile.rotate(90, expand=True)      # a mask: where the text's ink goes
    box = (int(centre[0]), int(centre[1] - turned.height / 2))
    ImageDraw.Draw(img).bitmap(box, turned.point(lambda v: 255 if v >= 128 else 0), fill=INK)
