"""The 2-D views of a running run as PNG pictures: the decision boundary and the network.

While a run trains, the Train page redraws twice a second. Streamlit mounts a
Plotly chart afresh whenever its figure changes (the chart's element id is a
hash of the figure), so every redraw rebuilt both figures in the browser:
~0.3 of a core of Chromium's renderer on a 2-core machine, the charts blank
for a moment, and the trainer slowed (docs/ARCHITECTURE.md, "The live Train
page"). A picture updates in place: the browser decodes one PNG. These draw
what ``plane.boundary_figure`` and ``network_view.network_figure`` draw, with
the same colours and geometry, minus hover; paused, ended or at a past moment
the page shows the interactive figures again.

Both return PNG bytes (compress level 1: ~5 ms for the pair at 60x60 grids).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from dlviz.plots import network_view as nv
from dlviz.plots.pil_draw import INK, MUTED, WHITE, pil_font
from dlviz.plots.pil_draw import rgb as _rgb
from dlviz.plots.png import diverging_rgb, png_bytes
from dlviz.plots.style import BLUE, ORANGE, class_colours, px

SUPER = 2                     # drawn at twice the size, then halved: smooth lines and dots
BOUNDARY_PX = 420             # side of the boundary picture
_PALE_LOW, _PALE_HIGH = (248, 194, 127), (127, 180, 219)      # style.DIVERGING_PALE's ends
_BORDER = (201, 206, 214)


def _mix(c, amount: float) -> tuple[int, int, int]:
    """``c`` mixed with white (``amount``: the share of white)."""
    return tuple(round(v + (255 - v) * amount) for v in c)


def _pale_diverging(z: np.ndarray, zmin: float, zmax: float) -> np.ndarray:
    """(H, W) -> (H, W, 3) uint8 on DIVERGING_PALE: pale orange, white, pale blue."""
    t = np.clip(np.nan_to_num((np.asarray(z, np.float64) - zmin) / max(zmax - zmin, 1e-12), nan=0.5), 0, 1)
    t = t[..., None]
    low, high, white = np.array(_PALE_LOW, float), np.array(_PALE_HIGH, float), np.full(3, 255.0)
    rgb = np.where(t < 0.5, low + (white - low) * (t / 0.5), white + (high - white) * ((t - 0.5) / 0.5))
    return rgb.round().astype(np.uint8)



def _background(values: np.ndarray, task: str, k: int, side: int) -> Image.Image:
    """The model's output over the grid, ``values`` (G, G) with row 0 at the bottom,
    as a ``side`` x ``side`` picture (row 0 at the top)."""
    z = np.asarray(values, dtype=np.float64)[::-1]
    if task == "regression":
        m = float(np.abs(z[np.isfinite(z)]).max(initial=0)) or 1.0
        return Image.fromarray(_pale_diverging(z, -m, m)).resize((side, side), Image.BILINEAR)
    if k <= 2:
        return Image.fromarray(_pale_diverging(z, 0.0, 1.0)).resize((side, side), Image.BILINEAR)
    pale = np.array([_mix(_rgb(c), 0.62) for c in class_colours(k)] + [WHITE], dtype=np.uint8)
    idx = np.where(np.isfinite(z), np.clip(np.nan_to_num(z), 0, k - 1), k).astype(np.int64)
    return Image.fromarray(pale[idx]).resize((side, side), Image.NEAREST)


def boundary_png(grid_xs, grid_ys, values, points_train, y_train, points_test, y_test,
                 task: str, classes: Sequence[str], show_test: bool = True,
                 side: int = BOUNDARY_PX) -> bytes:
    """The picture of ``plane.boundary_figure`` (same arguments): the output over the
    plane, train points outlined white, test points outlined dark."""
    xs, ys = np.asarray(grid_xs, np.float64), np.asarray(grid_ys, np.float64)
    dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
    dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
    frame = (float(xs[0] - dx / 2), float(xs[-1] + dx / 2), float(ys[0] - dy / 2), float(ys[-1] + dy / 2))
    ptr, pte = (np.asarray(p, np.float64).reshape(-1, 2) for p in (points_train, points_test))
    ytr, yte = np.asarray(y_train).ravel(), np.asarray(y_test).ravel()
    k = 0 if task == "regression" else max(len(classes or ()), int(max(ytr.max(initial=0), yte.max(initial=0))) + 1)
    img = _background(values, task, k, side).convert("RGBA")
    img.alpha_composite(_points_layer(frame, ptr, ytr, pte if show_test else pte[:0], yte, task, k, side))
    return png_bytes(img.convert("RGB"))


_LAYERS: dict = {}            # the points of a dataset, drawn once: they never move
_LAYERS_MAX = 8


def _points_layer(frame, ptr, ytr, pte, yte, task: str, k: int, side: int) -> Image.Image:
    """The data points and the frame on a transparent ``side`` x ``side`` layer, drawn at
    SUPER times the size and halved (smooth dots); cached, so a redraw only paints the
    background under it (~20 ms of drawing 500 dots saved per redraw)."""
    key = (frame, ptr.tobytes(), ytr.tobytes(), pte.tobytes(), yte.tobytes(), task, k, side)
    layer = _LAYERS.get(key)
    if layer is not None:
        return layer
    x0, x1, y0, y1 = frame
    s = side * SUPER
    big = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    colours = [_rgb(c) for c in class_colours(max(k, 1))]
    vr = float(max(np.abs(ytr).max(initial=0), np.abs(yte).max(initial=0), 1e-9))

    def dots(p, y, test: bool) -> None:
        if not len(p):
            return
        px_ = (p[:, 0] - x0) / (x1 - x0) * s
        py_ = (y1 - p[:, 1]) / (y1 - y0) * s
        r = (3.5 if test else 3.25) * SUPER
        edge = INK if test else WHITE
        fill = diverging_rgb(y.reshape(1, -1), -vr, vr)[0] if task == "regression" else None
        for i in range(len(p)):
            c = tuple(int(v) for v in fill[i]) if fill is not None else colours[int(y[i]) % len(colours)]
            draw.ellipse((px_[i] - r, py_[i] - r, px_[i] + r, py_[i] + r), fill=c, outline=edge,
                         width=max(1, round((1.2 if test else 0.8) * SUPER)))

    dots(ptr, ytr, False)
    dots(pte, yte, True)
    draw.rectangle((0, 0, s - 1, s - 1), outline=INK, width=SUPER)
    layer = big.resize((side, side), Image.LANCZOS)
    if len(_LAYERS) >= _LAYERS_MAX:
        _LAYERS.pop(next(iter(_LAYERS)))
    _LAYERS[key] = layer
    return layer


def network_png(layers: Sequence[tuple[str, np.ndarray]], weights: Sequence[np.ndarray],
                output_map: np.ndarray | None = None, *, task: str | None = None,
                num_classes: int | None = None, input_names: Sequence[str] | None = None,
                max_units: int = nv.MAX_UNITS) -> bytes:
    """The picture of ``network_view.network_figure`` (same arguments and geometry):
    one tile per unit, lines as wide as the weights, the output tile on the right."""
    cols = [(name, np.asarray(maps, dtype=np.float32)) for name, maps in layers]
    if not cols:
        return png_bytes(Image.new("RGB", (240, 60), WHITE))
    k_out = np.shape(weights[len(cols) - 1])[0] if len(weights) >= len(cols) else None
    task = task or ("regression" if k_out == 1 else "classification")
    num_classes = num_classes or (k_out if k_out and k_out > 1 else 2)
    shown = [min(len(m), max_units) for _, m in cols]
    tallest = max(max(shown) * nv.PITCH - (nv.PITCH - nv.TILE), nv.OUT_TILE if output_map is not None else 0)
    centre = tallest / 2
    xs = [c * nv.COL for c in range(len(cols))]
    ys = [nv.unit_centres(k, centre) for k in shown]
    out_x = xs[-1] + nv.COL + 0.2
    left = -0.75 if input_names else -0.15
    right = (out_x + nv.OUT_TILE if output_map is not None else xs[-1] + nv.TILE) + 0.15
    bottom, top = -0.55, tallest + 0.95
    unit = min(nv.PX_PER_UNIT, nv.EXPECTED_WIDTH / (right - left)) * SUPER       # px per axis unit
    w, h = int((right - left) * unit), int((top - bottom) * unit)
    img = Image.new("RGB", (w, h), WHITE)
    draw = ImageDraw.Draw(img)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * unit, (top - y) * unit

    # -- connections, under the tiles (the figure's 0.8 opacity on white: mixed 20% white)
    lines = []
    for i in range(len(cols) - 1):
        if i >= len(weights):
            break
        wi = np.asarray(weights[i], dtype=np.float64)
        for a in range(shown[i]):
            for b in range(shown[i + 1]):
                lines.append((xs[i] + nv.TILE, ys[i][a], xs[i + 1], ys[i + 1][b], float(wi[b, a]), None))
    last = len(cols) - 1
    if output_map is not None and len(weights) > last:
        wl = np.asarray(weights[last], dtype=np.float64)
        for a in range(shown[last]):
            grey = wl.shape[0] > 2
            v = float(wl[0, a]) if wl.shape[0] == 1 else float(wl[1, a] - wl[0, a]) if not grey \
                else float(np.linalg.norm(wl[:, a]))
            lines.append((xs[last] + nv.TILE, ys[last][a], out_x, centre, v, _rgb(nv.GREY_LINE) if grey else None))
    wmax = max((abs(l[4]) for l in lines), default=1.0) or 1.0
    for lx0, ly0, lx1, ly1, v, colour in lines:
        c = _mix(colour or _rgb(BLUE if v >= 0 else ORANGE), 0.2)
        draw.line((*at(lx0, ly0), *at(lx1, ly1)), fill=c,
                  width=max(1, round((0.3 + 3.4 * abs(v) / wmax) * SUPER)))

    # -- tiles: colour range per input tile, per layer for hidden units (as the figure)
    side = int(round(nv.TILE * unit))
    font = pil_font(px(11) * SUPER)
    for i, (name, maps) in enumerate(cols):
        for u in range(shown[i]):
            m = nv.absmax(maps[u] if i == 0 else maps[:shown[i]])
            tile = Image.fromarray(diverging_rgb(maps[u][::-1], -m, m)).resize((side, side), Image.BILINEAR)
            tx, ty = at(xs[i], ys[i][u] + nv.TILE / 2)
            img.paste(tile, (int(tx), int(ty)))
            draw.rectangle((int(tx), int(ty), int(tx) + side - 1, int(ty) + side - 1), outline=_BORDER, width=SUPER)
            if i == 0 and input_names and u < len(input_names):
                draw.text(at(xs[i] - 0.08, ys[i][u]), input_names[u], fill=INK, font=font, anchor="rm")
        n = len(maps)
        title = "input" if i == 0 and name == "input" else name
        sub = f"{n} feature{'s' if n != 1 else ''}" if i == 0 and name == "input" else f"{n} unit{'s' if n != 1 else ''}"
        _title(draw, at(xs[i] + nv.TILE / 2, tallest + 0.12), title, sub, font)
        if n > shown[i]:
            draw.text(at(xs[i] + nv.TILE / 2, ys[i][-1] - nv.TILE / 2 - 0.08), f"+{n - shown[i]} more",
                      fill=MUTED, font=font, anchor="mt")

    # -- output
    if output_map is not None:
        z = np.asarray(output_map, dtype=np.float32)[::-1]
        if task == "regression":
            m = nv.absmax(z)
            rgb, what = diverging_rgb(z, -m, m), "value"
        elif num_classes <= 2:
            rgb, what = diverging_rgb(z, 0.0, 1.0), "p(class 1)"
        else:
            pale = np.array([_mix(_rgb(c), 0.55) for c in class_colours(num_classes)] + [WHITE], np.uint8)
            idx = np.where(np.isfinite(z), np.clip(np.nan_to_num(z), 0, num_classes - 1), num_classes)
            rgb, what = pale[idx.astype(np.int64)], "predicted class"
        oside = int(round(nv.OUT_TILE * unit))
        ox, oy = at(out_x, centre + nv.OUT_TILE / 2)
        img.paste(Image.fromarray(rgb).resize((oside, oside), Image.BILINEAR), (int(ox), int(oy)))
        draw.rectangle((int(ox), int(oy), int(ox) + oside - 1, int(oy) + oside - 1), outline=_BORDER, width=SUPER)
        _title(draw, at(out_x + nv.OUT_TILE / 2, tallest + 0.12), "output", what, font)
    return png_bytes(img.resize((w // SUPER, h // SUPER), Image.LANCZOS))


def _title(draw: ImageDraw.ImageDraw, xy: tuple[float, float], title: str, sub: str, font) -> None:
    """A column's two-line title, its bottom at ``xy`` (centred)."""
    x, y = xy
    line = font.size * 1.25 if hasattr(font, "size") else 14
    draw.text((x, y), sub, fill=MUTED, font=font, anchor="md")
    draw.text((x, y - line), title, fill=INK, font=font, anchor="md")
