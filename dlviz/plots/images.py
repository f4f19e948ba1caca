"""Image mosaics as PIL images (for ``st.image``): samples, predictions, filters.

Built with numpy (tiles copied into one canvas, nearest-neighbour upscaling
by ``np.repeat``) and a little PIL text: a 64-image mosaic takes a few
milliseconds. Images come in as uint8 (N, H, W, C) with C = 1 or 3, as from
``dlviz.views.denormalise``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

# the palette stays readable here too (WHITE: a tile's background, next to WRONG and RIGHT)
from dlviz.plots.pil_draw import (EMPTY, INK, MUTED, WHITE, fit_text, message_image,  # noqa: F401
                                  pil_font, text_width, upscale)
from dlviz.plots.style import px

WRONG = (213, 33, 33)          # red border / caption: a wrong prediction (3 px)
RIGHT = (0, 158, 115)          # Okabe-Ito bluish green: a right one (1 px)
BORDER = 3                     # px reserved around every prediction tile
GAP = 6
# diverging filter colours: Playground orange (negative) - white - blue (positive)
_NEG = np.array([245, 147, 34], dtype=np.float32)
_POS = np.array([8, 119, 189], dtype=np.float32)


def _as_rgb(images) -> np.ndarray:
    """uint8 (N, H, W, 3) from (N, H, W), (N, H, W, 1), (N, H, W, 3) or (N, H, W, 4)."""
    a = np.asarray(images)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    elif a.shape[-1] == 4:
        a = a[..., :3]
    elif a.shape[-1] != 3:
        raise ValueError(f"images must have 1, 3 or 4 channels, got {a.shape[-1]}")
    return a


def _class_name(classes: Sequence[str], i: int) -> str:
    return str(classes[i]) if classes is not None and 0 <= i < len(classes) else str(i)


def sample_grid(images, labels, classes: Sequence[str], per_class: int = 8,
                scale: int = 3) -> Image.Image:
    """A row per class: its name at the left, then its first ``per_class`` images.

    A class with fewer examples leaves pale empty cells.
    """
    imgs = _as_rgb(images)
    y = np.asarray(labels).astype(np.int64).ravel()
    k = len(classes) if classes is not None and len(classes) else (int(y.max()) + 1 if len(y) else 0)
    if k == 0 or len(imgs) == 0:
        return message_image("no images")
    h, w = imgs.shape[1] * scale, imgs.shape[2] * scale
    font = pil_font(px(max(11, min(15, h // 3))))
    names = [_class_name(classes, c) for c in range(k)]
    label_w = int(min(max(text_width(font, n) for n in names), px(160))) + 14
    gap = max(2, scale)
    width = label_w + per_class * (w + gap)
    height = k * (h + gap) + gap
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for c in range(k):
        top = gap + c * (h + gap)
        idx = np.flatnonzero(y == c)[:per_class]
        for j in range(per_class):
            left = label_w + j * (w + gap)
            if j < len(idx):
                canvas[top:top + h, left:left + w] = upscale(imgs[idx[j]], scale)
            else:
                canvas[top:top + h, left:left + w] = EMPTY
    out = Image.fromarray(canvas)
    draw = ImageDraw.Draw(out)
    for c, name in enumerate(names):
        draw.text((label_w - 8, gap + c * (h + gap) + h / 2), fit_text(font, name, label_w - 10),
                  fill=INK, font=font, anchor="rm")
    return out


def prediction_mosaic(images, y_true, y_pred, classes: Sequence[str], cols: int = 8,
                      scale: int = 3) -> Image.Image:
    """Images with their predictions: caption "pred 3" under each tile; a wrong one
    gets a 3 px red border (``WRONG``) and "pred 3 (true 8)", a right one a 1 px
    green border (``RIGHT``) next to the image."""
    imgs = _as_rgb(images)
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    n = len(imgs)
    if n == 0:
        return message_image("no images")
    if len(t) != n or len(p) != n:
        raise ValueError(f"{n} images but {len(t)} true and {len(p)} predicted labels")
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    h, w = imgs.shape[1] * scale, imgs.shape[2] * scale
    tile_w, tile_h = w + 2 * BORDER, h + 2 * BORDER
    font = pil_font(px(11 if tile_w >= 60 else 10))
    line_h = px(13)
    cap_h = 2 * line_h + 4
    cell_w, cell_h = tile_w + GAP, tile_h + cap_h + GAP
    canvas = np.full((rows * cell_h + GAP, cols * cell_w + GAP, 3), 255, dtype=np.uint8)
    captions = []
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = GAP + c * cell_w, GAP + r * cell_h
        wrong = t[i] != p[i]
        if wrong:
            canvas[y0:y0 + tile_h, x0:x0 + tile_w] = WRONG
        else:
            canvas[y0 + BORDER - 1:y0 + BORDER + h + 1, x0 + BORDER - 1:x0 + BORDER + w + 1] = RIGHT
        canvas[y0 + BORDER:y0 + BORDER + h, x0 + BORDER:x0 + BORDER + w] = upscale(imgs[i], scale)
        pred = f"pred {_class_name(classes, p[i])}"
        lines = [pred]
        if wrong:
            true = f"(true {_class_name(classes, t[i])})"
            one = f"{pred} {true}"
            lines = [one] if text_width(font, one) <= tile_w else [pred, true]
        captions.append((x0 + tile_w / 2, y0 + tile_h + 2, lines, wrong))
    out = Image.fromarray(canvas)
    draw = ImageDraw.Draw(out)
    for x, y, lines, wrong in captions:
        for j, line in enumerate(lines):
            draw.text((x, y + j * line_h), fit_text(font, line, tile_w + GAP - 2), anchor="ma",
                      fill=WRONG if wrong else INK, font=font)
    return out


def filters_mosaic(filters, scale: int = 12, cols: int = 8) -> Image.Image:
    """Convolution filters (O, I, k, k) side by side, each scaled symmetrically around 0.

    I == 3: shown as RGB with 0 at mid-grey; otherwise the filter (or its mean over the
    input channels) in diverging colours: orange negative, white 0, blue positive.
    """
    f = np.asarray(filters, dtype=np.float32)
    if f.ndim != 4:
        raise ValueError(f"filters must have shape (O, I, k, k), got {f.shape}")
    o, i_ch, kh, kw = f.shape
    if o == 0:
        return message_image("no filters")
    f = np.nan_to_num(f)
    m = np.abs(f).reshape(o, -1).max(axis=1).reshape(o, 1, 1, 1)
    f = f / np.where(m > 1e-12, m, 1.0)                          # (O, I, k, k) in [-1, 1]
    if i_ch == 3:
        tiles = (0.5 + 0.5 * f.transpose(0, 2, 3, 1)) * 255       # (O, k, k, 3)
    else:
        v = f[:, 0] if i_ch == 1 else f.mean(axis=1)              # (O, k, k)
        if i_ch > 1:                                              # the mean is smaller: rescale
            mv = np.abs(v).reshape(o, -1).max(axis=1).reshape(o, 1, 1)
            v = v / np.where(mv > 1e-12, mv, 1.0)
        a = np.abs(v)[..., None]
        colour = np.where(v[..., None] < 0, _NEG, _POS)
        tiles = 255 * (1 - a) + colour * a                        # white at 0
    tiles = np.clip(tiles.round(), 0, 255).astype(np.uint8)
    cols = max(1, min(cols, o))
    rows = -(-o // cols)
    th, tw = kh * scale, kw * scale
    gap = 4
    canvas = np.full((rows * (th + 2 + gap) + gap, cols * (tw + 2 + gap) + gap, 3), 255, np.uint8)
    for j in range(o):
        r, c = divmod(j, cols)
        y0, x0 = gap + r * (th + 2 + gap), gap + c * (tw + 2 + gap)
        canvas[y0:y0 + th + 2, x0:x0 + tw + 2] = (201, 206, 214)   # 1 px frame
        canvas[y0 + 1:y0 + 1 + th, x0 + 1:x0 + 1 + tw] = upscale(tiles[j], scale)
    return Image.fromarray(canvas)


def filters_legend(in_channels: int) -> str:
    """What ``filters_mosaic``'s colours mean, for a caption."""
    if in_channels == 3:
        return "each tile: one filter, its red, green and blue weights as colours (mid-grey: 0)"
    mean = ", averaged over its input channels" if in_channels > 1 else ""
    return f"each tile: one filter{mean}; blue: positive weight, orange: negative, white: 0"


FILTERS_HELP = ("A convolution's filters, each scaled to its own largest weight. A filter responds "
                "most where its input looks like its positive part.")


def pixelated(img: np.ndarray, side: int = 224) -> np.ndarray:
    """(H, W, 3) uint8 scaled up by a whole factor to about ``side`` px, nearest
    neighbour: a 28x28 input is seen as pixels, not a blur."""
    return upscale(img, max(1, side // max(img.shape[:2])))
