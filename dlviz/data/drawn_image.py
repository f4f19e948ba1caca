"""A digit drawn on a canvas, as the model's input.

The canvas gives an RGBA picture (H, W, 4) uint8 of the strokes, usually far
bigger than the model's input and with the strokes anywhere on it. The
training digits are white on black, the digit's longer side 20 px of 28,
centred by its centre of mass (see ``digits.py``, as MNIST). So a drawing is

1. turned into *ink*: light-on-dark grey, 0 where nothing was drawn, whatever
   colours the canvas used (``canvas_ink``);
2. cropped to a square around the ink, centred on its centre of mass and
   ``1 / DIGIT_FILL`` times the ink's longer side, so that after resizing the
   digit fills the same box as a training digit does (``centred_crop``);
3. handed to ``model_input.prepare_image``, the path every uploaded image
   takes (resize, channels, polarity, normalisation): one conversion, not two.

    p = prepare_drawing(canvas_rgba, (1, 28, 28), ds.norm_mean, ds.norm_std)
    p.x       # float32 (1, 28, 28), normalised like the training digits
    p.shown   # uint8 (28, 28, 3), what the model sees

An empty canvas raises ``UserError`` ("draw a digit"), as does anything that
is not an (H, W, 4) / (H, W, 3) uint8 picture of a bounded size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from dlviz.data.model_input import PreparedInput, prepare_image
from dlviz.errors import UserError

DIGIT_FILL = 20 / 28          # the digit's longer side / the image side (MNIST, digits.py)
INK_THRESHOLD = 0.1           # of the strongest ink: fainter pixels (anti-aliasing) do not widen the box
MAX_CANVAS_SIDE = 2048        # a canvas is a few hundred pixels; bound what a caller may pass
EMPTY_CANVAS = "the canvas is empty: draw a digit on it (white on black, like the training images)"


def canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """Strokes as light-on-dark ink, float32 (H, W) in [0, 255].

    Where the canvas has transparent parts, ink is where paint is (its alpha),
    whatever its colour. A fully opaque canvas (a painted background) has ink
    where the colour differs from the background, which is the median of the
    border: white strokes on black and black strokes on white both become
    white on black.
    """
    a = _check_canvas(rgba)
    rgb = a[..., :3].astype(np.float32)
    lum = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)            # (H, W)
    if a.shape[-1] == 4 and int(a[..., 3].min()) < 255:
        return a[..., 3].astype(np.float32)
    border = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
    return np.abs(lum - float(np.median(border)))


def centred_crop(ink: np.ndarray, fill: float = DIGIT_FILL) -> Image.Image:
    """The square of ``ink`` (H, W) around the strokes, as a grey "L" image.

    Its side is the strokes' longer extent / ``fill``; it is centred on their
    centre of mass. Parts outside the canvas are black (no ink). Raises
    ``UserError`` when there is no ink at all.
    """
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0.0:
        raise UserError(EMPTY_CANVAS)
    rows, cols = np.nonzero(ink >= INK_THRESHOLD * peak)
    extent = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)   # px, the longer side
    side = max(1, int(round(extent / fill)))
    mass = ink.sum()
    cy = float((ink.sum(1) * np.arange(ink.shape[0])).sum() / mass) + 0.5    # centre of mass, px
    cx = float((ink.sum(0) * np.arange(ink.shape[1])).sum() / mass) + 0.5
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    im = Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8))            # 2-D uint8: "L"
    return im.crop((left, top, left + side, top + side))       # outside the canvas: 0, no ink


def prepare_drawing(rgba: np.ndarray, input_shape: Sequence[int], norm_mean: Sequence[float] = (),
                    norm_std: Sequence[float] = ()) -> PreparedInput:
    """A canvas picture -> the model's input, through ``prepare_image`` (as an upload).

    ``input_shape`` is the model's (C, H, W). The ink is light on dark; it is
    inverted when the training images were light on dark's opposite (a mean
    above 0.5: dark ink on light paper), so the polarity always matches them.
    """
    ink = canvas_ink(rgba)
    crop = centred_crop(ink)
    trained_light = bool(norm_mean) and float(np.mean([float(m) for m in norm_mean])) > 0.5
    p = prepare_image(crop, input_shape, norm_mean, norm_std, invert=trained_light)
    h, w = rgba.shape[:2]
    note = f"your drawing: cropped to {crop.size[0]}x{crop.size[1]} around the strokes " \
           f"(centred on their centre of mass), {p.note}"
    return PreparedInput(p.x, p.shown, note, (w, h), False)


def _check_canvas(rgba) -> np.ndarray:
    a = np.asarray(rgba) if rgba is not None else None
    if a is None or a.dtype != np.uint8 or a.ndim != 3 or a.shape[-1] not in (3, 4):
        got = "nothing" if a is None else f"{a.dtype} {tuple(a.shape)}"
        raise UserError(f"a drawing must be an (H, W, 4) RGBA picture of bytes, got {got}")
    h, w = a.shape[:2]
    if not (1 <= h <= MAX_CANVAS_SIDE and 1 <= w <= MAX_CANVAS_SIDE):
        raise UserError(f"a drawing may be at most {MAX_CANVAS_SIDE}x{MAX_CANVAS_SIDE} pixels, got {w}x{h}")
    return a
