"""Synthetic shapes: 32x32 RGB images with an exact ground-truth mask each.

One shape per image, at a random position, size, rotation and colour, on a
flat random background colour; then Gaussian pixel noise over the whole
image. Shapes are drawn with hard edges, tested at pixel centres, so the
mask is exactly the set of pixels painted in the shape's colour: the
attribution checks ("how much attribution mass falls on the object") can
trust it.

Every shape lives in its own unit frame (u, v), inside the unit disc, as a
union of convex polygons (half-plane tests) and discs, minus discs. A pixel
is mapped into that frame by translating to the shape's centre, rotating by
its angle and dividing by its scale (the circumradius in pixels), so one
test per class draws a whole batch at once with numpy.

Classes are chosen to stay distinct under any rotation at 11 px (no
square-vs-diamond, no hexagon-vs-circle; a heart was tried and read as a
square at small sizes: a small CNN confused a third of the squares).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from dlviz.data.dataset import Dataset
from dlviz.data.params import DatasetParams

CLASSES = ("circle", "ring", "square", "triangle", "cross", "star", "crescent", "bar")
DEFAULT_SAMPLES = 6000           # train + test
DEFAULT_NOISE = 0.2              # pixel noise std is NOISE_STD * noise (0.05 by default)
NOISE_STD = 0.25
SIZE = 32                        # image side length
SCALE_RANGE = (5.5, 12.0)        # circumradius in px: shapes are 11 to 24 px across
MIN_COLOUR_DIST = 0.5            # Euclidean RGB distance between shape and background
MIN_LUMA_DIFF = 0.25             # and brightness difference (Rec. 601 luma)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

Array = np.ndarray


# --------------------------------------------------------------------------- unit shapes
# each test takes u, v: float32 (M, H, W) in the shape's unit frame -> bool (M, H, W)

def _convex(u: Array, v: Array, verts: list[tuple[float, float]]) -> Array:
    """Inside a convex polygon whose vertices go counter-clockwise (u right, v up)."""
    inside = np.ones(u.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(verts, verts[1:] + verts[:1]):
        # the point must lie left of (or on) every edge a -> b
        inside &= (bx - ax) * (v - ay) - (by - ay) * (u - ax) >= 0
    return inside


def _disc(u: Array, v: Array, cu: float = 0.0, cv: float = 0.0, r: float = 1.0) -> Array:
    return (u - cu) ** 2 + (v - cv) ** 2 <= r * r


def _polar(r: float, degrees: float) -> tuple[float, float]:
    a = math.radians(degrees)
    return r * math.cos(a), r * math.sin(a)


_SQUARE = [(-0.7, -0.7), (0.7, -0.7), (0.7, 0.7), (-0.7, 0.7)]
_TRIANGLE = [_polar(1.0, 90 + 120 * k) for k in range(3)]
_STAR_INNER = 0.45               # fatter than a regular star (0.38): sturdier points at 11 px
# a 5-point star as 5 convex kites: centre, inner vertex, outer tip, inner vertex
_STAR_KITES = [[(0.0, 0.0), _polar(_STAR_INNER, 90 + 72 * k - 36), _polar(1.0, 90 + 72 * k),
                _polar(_STAR_INNER, 90 + 72 * k + 36)] for k in range(5)]


def _bar(u: Array, v: Array) -> Array:
    return (np.abs(u) <= 0.95) & (np.abs(v) <= 0.3)          # 1.9 x 0.6: one arm of the cross


SHAPES: dict[str, Callable[[Array, Array], Array]] = {
    "circle": lambda u, v: _disc(u, v),
    "ring": lambda u, v: _disc(u, v) & ~_disc(u, v, r=0.5),
    "square": lambda u, v: _convex(u, v, _SQUARE),
    "triangle": lambda u, v: _convex(u, v, _TRIANGLE),
    "cross": lambda u, v: _bar(u, v) | _bar(v, u),
    "star": lambda u, v: np.logical_or.reduce([_convex(u, v, k) for k in _STAR_KITES]),
    "crescent": lambda u, v: _disc(u, v) & ~_disc(u, v, 0.5, 0.0, 0.75),
    "bar": _bar,
}


# --------------------------------------------------------------------------- drawing

def draw_masks(labels: Array, cx: Array, cy: Array, scale: Array, angle: Array,
               size: int = SIZE) -> Array:
    """Masks bool (N, size, size) of shape ``CLASSES[labels[i]]``.

    cx, cy: centre in pixels (column, row; pixel centres are integers);
    scale: circumradius in pixels; angle: rotation in radians. All (N,).
    """
    idx = np.arange(size, dtype=np.float32)
    dx = idx[None, None, :] - cx[:, None, None].astype(np.float32)          # (N, 1, W)
    dy = cy[:, None, None].astype(np.float32) - idx[None, :, None]          # (N, H, 1), v up
    c = (np.cos(angle) / scale).astype(np.float32)[:, None, None]
    s = (np.sin(angle) / scale).astype(np.float32)[:, None, None]
    u = c * dx + s * dy                                                     # (N, H, W)
    v = c * dy - s * dx
    masks = np.zeros(u.shape, dtype=bool)
    for k, name in enumerate(CLASSES):
        sel = np.flatnonzero(labels == k)
        if len(sel):
            masks[sel] = SHAPES[name](u[sel], v[sel])
    return masks


def _colours(rng: np.random.Generator, n: int) -> tuple[Array, Array]:
    """Background and shape colours float32 (n, 3) that contrast.

    At least MIN_COLOUR_DIST apart in RGB and MIN_LUMA_DIFF apart in
    brightness, so the shape's edges show in every channel mix, grey included.
    """
    bg = rng.random((n, 3), dtype=np.float32)
    fg = rng.random((n, 3), dtype=np.float32)

    def too_close() -> Array:
        return ((np.linalg.norm(fg - bg, axis=1) < MIN_COLOUR_DIST)
                | (np.abs((fg - bg) @ _LUMA) < MIN_LUMA_DIFF))

    for _ in range(32):                       # redraw the ones too close (about half each round)
        close = too_close()
        if not close.any():
            break
        fg[close] = rng.random((int(close.sum()), 3), dtype=np.float32)
    close = too_close()
    # still too close (vanishingly rare): black or white, whichever is farther
    fg[close] = np.where(bg[close] @ _LUMA > 0.5, 0.0, 1.0)[:, None]
    return bg, fg


def render(labels: Array, rng: np.random.Generator, noise: float,
           size: int = SIZE) -> tuple[Array, Array, dict[str, Array]]:
    """Draw one image per label.

    Returns images float32 (N, 3, size, size) in [0, 1], masks bool
    (N, size, size) and the drawn parameters (cx, cy, scale, angle, bg, fg).
    """
    n = len(labels)
    scale = rng.uniform(*SCALE_RANGE, n)
    # keep the whole unit disc inside the pixel centres 0 .. size-1
    cx = rng.uniform(scale, size - 1 - scale)
    cy = rng.uniform(scale, size - 1 - scale)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    masks = draw_masks(labels, cx, cy, scale, angle, size)                  # (N, H, W)
    bg, fg = _colours(rng, n)                                               # (N, 3)
    images = np.where(masks[:, None], fg[:, :, None, None], bg[:, :, None, None])  # (N, 3, H, W)
    if noise > 0:
        images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(NOISE_STD * noise)
        np.clip(images, 0.0, 1.0, out=images)
    params = dict(cx=cx, cy=cy, scale=scale, angle=angle, bg=bg, fg=fg)
    return images.astype(np.float32, copy=False), masks, params


# --------------------------------------------------------------------------- dataset

def build(params: DatasetParams) -> Dataset:
    """The ``shapes`` dataset: x float32 (N, 3, 32, 32) normalised, y int64, masks bool.

    n_samples None -> DEFAULT_SAMPLES; noise None -> DEFAULT_NOISE (pixel noise
    std NOISE_STD * noise on [0, 1] images). Labels cycle through the classes
    within each split, so both splits are balanced to within one image.
    Normalised with the per-channel mean / std of the train split.
    """
    n = params.n_samples or DEFAULT_SAMPLES
    noise = DEFAULT_NOISE if params.noise is None else params.noise
    n_test = min(max(round(n * params.test_fraction), 1), n - 1)
    n_train = n - n_test
    rng = np.random.default_rng(params.seed)
    k = len(CLASSES)
    labels = np.concatenate([rng.permutation(np.arange(n_train) % k),
                             rng.permutation(np.arange(n_test) % k)]).astype(np.int64)
    images, masks, _ = render(labels, rng, noise)

    train = images[:n_train]
    mean = train.mean(axis=(0, 2, 3), dtype=np.float64)                    # (3,)
    std = train.std(axis=(0, 2, 3), dtype=np.float64) + 1e-6
    images -= mean[:, None, None].astype(np.float32)    # in place: no second 120 MB copy
    images /= std[:, None, None].astype(np.float32)
    x = torch.from_numpy(images)                        # (N, 3, H, W)
    y = torch.from_numpy(labels)
    m = torch.from_numpy(masks)
    return Dataset(
        key="shapes",
        task="classification",
        input_shape=(3, SIZE, SIZE),
        classes=CLASSES,
        x_train=x[:n_train],
        y_train=y[:n_train],
        x_test=x[n_train:],
        y_test=y[n_train:],
        description=f"{SIZE}x{SIZE} RGB shapes ({', '.join(CLASSES)}) on noisy backgrounds, "
                    "with exact ground-truth masks",
        masks_train=m[:n_train],
        masks_test=m[n_train:],
        norm_mean=tuple(float(a) for a in mean),
        norm_std=tuple(float(a) for a in std),
    )
