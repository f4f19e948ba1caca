"""Draw your own 2-D points: a canvas over the plane; a click adds a point, a click on one removes it.

The canvas is ``streamlit-drawable-canvas`` in its "point" mode (see
``draw_input.py`` for the component and docs/ARCHITECTURE.md): each click
adds a dot and sends the canvas's objects back. The points are kept in
session state (``_State``), the canvas only shows them: every rerun compares
what the canvas sends with the kept points and turns the difference into

- a click on empty plane: a new point of the chosen class (already on screen);
- a click on a point: that point removed, and the canvas remounted (a new
  key) to show the kept points without it; in eraser mode a click on empty
  plane adds nothing (remounted too);
- anything else the canvas's own toolbar did (undo, move, its bin): taken as is.

The kept points become the dataset key ``drawn:CODE`` (``dlviz.data.drawn_points``),
which the Build page loads, splits and shares like any other dataset.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from dlviz.data import drawn_points
from dlviz.data.drawn_points import LIMIT, MAX_CLASSES, MAX_POINTS, MIN_POINTS, Point, snap
from dlviz.data.params import DatasetParams
from dlviz.data.features import FEATURES
from dlviz.errors import UserError
from dlviz.ui import keep
from dlviz.ui.draw_input import TOOLBAR_PX
from dlviz.plots.style import BLUE, CLASS_COLOURS, ORANGE

CHOICE = "your own points (click on the plane)"    # the Build page's dataset box offers this
CANVAS_PX = 320                # the plane's [-6, 6] square (1 unit = 27 px): fits the Build page's column
DOT_PX = 6                     # a point's radius on the canvas
HIT_PX = 10                    # a click this close to a point's centre is a click on it
# one colour per class, fixed (the parser reads a dot's class from its colour):
# orange / blue as the plane plots draw two classes, then two more of the class palette
COLOURS = (ORANGE, BLUE, CLASS_COLOURS[2], CLASS_COLOURS[1])[:MAX_CLASSES]
_ORIGIN = {"left": 0.0, "center": 0.5, "right": 1.0, "top": 0.0, "bottom": 1.0}


# -- the plane <-> canvas pixels ------------------------------------------------

def to_canvas(x: float, y: float) -> tuple[float, float]:
    """Plane (x, y) in [-6, 6] -> canvas pixels (left, top); y grows upwards on the plane."""
    return (x + LIMIT) / (2 * LIMIT) * CANVAS_PX, (LIMIT - y) / (2 * LIMIT) * CANVAS_PX


def to_plane(px: float, py: float) -> tuple[float, float]:
    x = px / CANVAS_PX * 2 * LIMIT - LIMIT
    y = LIMIT - py / CANVAS_PX * 2 * LIMIT
    return min(LIMIT, max(-LIMIT, x)), min(LIMIT, max(-LIMIT, y))


def point_object(p: Point) -> dict:
    """A kept point as the canvas draws it (a Fabric.js circle, centred on the point)."""
    left, top = to_canvas(p[0], p[1])
    colour = COLOURS[p[2]]
    return {"type": "Circle", "originX": "center", "originY": "center", "left": left, "top": top,
            "radius": DOT_PX, "width": 2 * DOT_PX, "height": 2 * DOT_PX, "fill": colour,
            "stroke": colour, "strokeWidth": 1, "scaleX": 1, "scaleY": 1, "angle": 0}


def object_point(o: dict, default_class: int) -> Point | None:
    """A canvas object -> the point at its centre (class from its colour); None if not a dot."""
    if not isinstance(o, dict) or str(o.get("type", "")).lower() != "circle":
        return None
    try:
        w = float(o.get("width", 0)) * float(o.get("scaleX", 1)) + float(o.get("strokeWidth", 0))
        h = float(o.get("height", 0)) * float(o.get("scaleY", 1)) + float(o.get("strokeWidth", 0))
        cx = float(o["left"]) + (0.5 - _ORIGIN.get(o.get("originX", "left"), 0.0)) * w
        cy = float(o["top"]) + (0.5 - _ORIGIN.get(o.get("originY", "top"), 0.0)) * h
    except (KeyError, TypeError, ValueError):
        return None
    colour = str(o.get("fill", "")).lower()
    c = next((i for i, k in enumerate(COLOURS) if k.lower() == colour), default_class)
    return snap(*to_plane(cx, cy), c)


# -- what a canvas update means -------------------------------------------------

def apply_canvas(kept: list[Point], objects: list, chosen: int, erase: bool) -> tuple[list[Point], bool]:
    """The kept points after the canvas sent ``objects``; and whether the canvas must be
    remounted (it shows something other than the result: a removed point, a refused click).

    ``objects`` is the canvas's list: the kept points in order, plus one new dot
    per click since (the component appends). Anything else is the toolbar's work
    and is taken as the new truth.
    """
    got = [p for p in (object_point(o, chosen) for o in objects or []) if p is not None]
    if _same(got, kept):
        return kept, False
    if len(got) == len(kept) + 1 and _same(got[:-1], kept):
        click = got[-1]
        hit = _nearest(kept, click)
        if hit is not None:                              # a click on a point removes it
            return kept[:hit] + kept[hit + 1:], True
        if erase or len(kept) >= MAX_POINTS:             # nothing there to erase, or full
            return kept, True
        return kept + [snap(click[0], click[1], chosen)], False
    return got[:MAX_POINTS], len(got) > MAX_POINTS


def _same(a: list[Point], b: list[Point]) -> bool:
    tol = 2 * LIMIT / CANVAS_PX                          # one canvas pixel, in plane units
    return len(a) == len(b) and all(abs(p[0] - q[0]) <= tol and abs(p[1] - q[1]) <= tol and p[2] == q[2]
                                    for p, q in zip(a, b))


def _nearest(kept: list[Point], click: Point) -> int | None:
    """The index of the kept point within HIT_PX of ``click`` (the nearest), or None."""
    cx, cy = to_canvas(click[0], click[1])
    best, best_d = None, HIT_PX ** 2
    for i, p in enumerate(kept):
        px, py = to_canvas(p[0], p[1])
        d = (px - cx) ** 2 + (py - cy) ** 2
        if d <= best_d:
            best, best_d = i, d
    return best


# -- the widget -----------------------------------------------------------------

@dataclass
class _State:
    points: list            # the kept points, snapped to the code's grid
    generation: int = 0     # part of the canvas key: a new one remounts the canvas
    mounted: tuple = ()     # the points the canvas was mounted with: its initial drawing, fixed
                            # for one key (a changed one makes the canvas reload and resend, a loop)
    seen: str = ""          # the workspace dataset last looked at (a link may bring other points)


def drawn_points_dataset(ws, key: str = "build_draw") -> tuple[str | None, DatasetParams]:
    """The canvas and its settings on the Build page. Returns the dataset key of the
    points (None while there are fewer than MIN_POINTS) and the dataset settings."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except ImportError:
        st.error("The drawing canvas is not installed on this server "
                 "(pip install -r requirements.txt installs streamlit-drawable-canvas).")
        return None, ws.params
    s = _state(ws, key)
    chosen = st.segmented_control("Class of a new point", list(range(MAX_CLASSES)), default=0,
                                  format_func=lambda c: f"class {c}", key=f"{key}_class") or 0
    c2, c3 = st.columns([2, 1], vertical_alignment="center")
    erase = c2.toggle("eraser", key=f"{key}_erase", help="on: clicks only remove points; a click on empty "
                      "plane adds nothing (off, a click on a point removes it too)")
    if c3.button("Clear", key=f"{key}_clear", disabled=not s.points):
        s.points = []
        _remount(s, key)
    st.caption(_legend())
    st.space(TOOLBAR_PX)            # the canvas's toolbar floats above it: keep it off the legend
    result = st_canvas(fill_color=COLOURS[chosen], stroke_color=COLOURS[chosen], stroke_width=1,
                       background_image=_axes_image(), height=CANVAS_PX, width=CANVAS_PX,
                       drawing_mode="point", point_display_radius=DOT_PX,
                       initial_drawing={"objects": [point_object(p) for p in s.mounted]},
                       update_streamlit=True, key=_canvas_key(key, s))
    objects = (result.json_data or {}).get("objects", [])
    points, remount = apply_canvas(s.points, objects, int(chosen), erase)
    if points != s.points or remount:
        s.points = points
        if remount:
            _remount(s, key)
            st.rerun()          # the canvas shows a removed or refused dot: show the kept points
    n = len(s.points)
    if n:
        st.caption(drawn_points.describe(s.points) + ".")
    params = _settings(ws, key)
    if n >= MAX_POINTS:
        st.warning(f"{MAX_POINTS} points is the most a drawing may have: remove some to add others.")
    if n < MIN_POINTS:
        st.info(f"Click on the plane to add points: {n} so far, at least {MIN_POINTS} make a dataset "
                "(twenty or so of two classes are enough to train on).")
        return None, params
    try:
        return drawn_points.dataset_key(s.points), params
    except UserError as e:              # cannot happen for clicked points; a clear line if it does
        st.error(str(e))
        return None, params


def _state(ws, key: str) -> _State:
    s = st.session_state.get(f"{key}_state")
    if s is None:
        s = st.session_state[f"{key}_state"] = _State([])
    if ws.dataset != s.seen:            # a link or another page changed the dataset
        s.seen = ws.dataset
        try:
            linked = drawn_points.points_of(ws.dataset)
        except UserError as e:
            st.error(str(e))
            linked = None
        if linked is not None and linked != s.points:
            s.points = linked
            _remount(s, key)
    return s


def _remount(s: _State, key: str) -> None:
    """A new canvas key, mounted with the kept points; the old canvas's state is let go
    (its Fabric.js objects, about 1 kB a dot, would pile up with every removal)."""
    st.session_state.pop(_canvas_key(key, s), None)
    s.generation += 1
    s.mounted = tuple(s.points)


def _canvas_key(key: str, s: _State) -> str:
    return f"{key}_canvas_{s.generation}"


def _settings(ws, key: str) -> DatasetParams:
    """Noise and input features of the drawn points (the test share is the page's own slider)."""
    p = ws.params if ws.dataset.startswith(drawn_points.PREFIX + ":") else DatasetParams(
        test_fraction=ws.params.test_fraction, seed=ws.params.seed)
    c1, c2 = st.columns(2)
    keep.follow(f"{key}_noise", float(p.noise or 0.0))        # a link's noise shows, an edit stays
    keep.follow(f"{key}_features", list(p.features))
    noise = c1.slider("Noise", 0.0, 1.0, step=0.05, key=f"{key}_noise",
                      help=f"moves each point by up to {drawn_points.NOISE_SCALE:g} x noise in x and in y "
                           "(the same every time for a seed)")
    feats = c2.multiselect("Input features", list(FEATURES), key=f"{key}_features")
    return replace(p, n_samples=None, noise=noise or None, features=tuple(feats) or ("x1", "x2"),
                   image_size=None)


def _legend() -> str:
    return "Colours: " + ", ".join(f":{_name(c)}[●] class {i}" for i, c in enumerate(COLOURS)) + \
        ". A click on empty plane adds a point of the chosen class; a click on a point removes it."


def _name(colour: str) -> str:
    # Streamlit's coloured text takes names, not hex: the nearest of its palette
    return {ORANGE: "orange", BLUE: "blue", CLASS_COLOURS[2]: "green", CLASS_COLOURS[1]: "red"}.get(colour, "gray")


@functools.lru_cache(maxsize=1)
def _axes_image() -> Image.Image:
    """The plane's axes as the canvas background: a grid every unit, the axes at 0,
    labels every 2 units. RGB (CANVAS_PX, CANVAS_PX)."""
    im = Image.new("RGB", (CANVAS_PX, CANVAS_PX), "white")
    d = ImageDraw.Draw(im)
    try:
        font = ImageFont.load_default(size=11)
    except (TypeError, OSError):
        font = ImageFont.load_default()
    for v in range(-int(LIMIT), int(LIMIT) + 1):
        px, py = to_canvas(v, v)
        colour = "#9a9a9a" if v == 0 else "#ececec"
        d.line([(px, 0), (px, CANVAS_PX)], fill=colour)
        d.line([(0, py), (CANVAS_PX, py)], fill=colour)
        if v % 2 == 0 and abs(v) < LIMIT:
            ox, oy = to_canvas(0, 0)
            d.text((px + 2, oy + 2), str(v), fill="#777777", font=font)
            if v != 0:
                d.text((ox + 3, py + 1), str(v), fill="#777777", font=font)
    d.text((CANVAS_PX - 18, to_canvas(0, 0)[1] - 14), "x1", fill="#555555", font=font)
    d.text((to_canvas(0, 0)[0] + 4, 2), "x2", fill="#555555", font=font)
    return im
