"""One image, as a model trained on a dataset expects it.

An upload (or a camera shot) can be any size, colour or grey. A model wants a
fixed (C, H, W) tensor, normalised with the statistics of its training data.
``prepare_image`` makes that tensor the same way the folder dataset loader
makes its training images (shorter side scaled to fit, then a centre crop:
the aspect ratio is kept, nothing is squashed), and also returns the pixels
the model "sees", so a page can show them next to the original.

    im = open_image(data, "cat.jpg")                    # "RGB" or "L"
    p = prepare_image(im, (3, 32, 32), mean, std)
    p.x        # float32 (3, 32, 32), normalised
    p.shown    # uint8 (32, 32, 3), what the model sees, back in pixels
    p.note     # "resized 640x480 -> 32x32 (centre crop), normalised"
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from dlviz.data.image_files import FORMATS, open_image
from dlviz.errors import UserError


@dataclass(frozen=True)
class PreparedInput:
    x: torch.Tensor         # float32 (C, H, W), normalised like the training data
    shown: np.ndarray       # uint8 (H, W, 3): the converted image before normalisation
    note: str               # what was done, in words
    original_size: tuple[int, int]   # (width, height) of the image file
    # True when flipping ``invert`` would likely match the training images better
    # (a light background for light-on-dark digits, or the other way round)
    suggest_invert: bool = False


def prepare_image(im: Image.Image, input_shape: Sequence[int], norm_mean: Sequence[float] = (),
                  norm_std: Sequence[float] = (), *, invert: bool = False,
                  source_size: tuple[int, int] | None = None) -> PreparedInput:
    """Resize (aspect kept, centre crop), convert to the model's channels, normalise.

    ``input_shape`` is (C, H, W) with C = 1 (grayscale) or 3 (RGB).
    ``norm_mean`` / ``norm_std`` are per channel on [0, 1] pixels (empty: none).
    ``invert`` turns dark-on-light into light-on-dark (a photo of ink on paper
    for a model trained on the light-on-dark digits; see ``looks_inverted``).
    ``source_size`` is the file's own (width, height) for the note, when the
    image was decoded smaller than stored (JPEG draft mode).
    """
    c, h, w = _image_shape(input_shape)
    mean, std = _stats(norm_mean, c), _stats(norm_std, c, fill=1.0)
    steps = []
    src_w, src_h = im.size
    if (src_w, src_h) != (w, h):
        box = _centre_box(src_w, src_h, w, h)
        cropped = box != (0, 0, src_w, src_h)
        # resize straight from the crop box; reducing_gap shrinks a big photo
        # by whole factors first (much faster, same look at the target size)
        im = im.resize((w, h), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
        sw, sh = source_size or (src_w, src_h)
        steps.append(f"resized {sw}x{sh} -> {w}x{h}" + (" (centre crop)" if cropped else ""))
    else:
        steps.append(f"{w}x{h} as is")
    if c == 1:
        if im.mode != "L":
            steps.append("grayscale")
        im = im.convert("L")
    elif im.mode != "RGB":
        steps.append("grey copied to RGB")
        im = im.convert("RGB")
    suggest = looks_inverted(im, norm_mean) != invert          # judged on the uninverted image
    if invert:
        im = ImageOps.invert(im)
        steps.append("inverted")
    pixels = np.asarray(im, dtype=np.uint8)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels                # (H, W, C)
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)  # (C, H, W)
    x = (x - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    if norm_mean:
        steps.append("normalised")
    shown = np.repeat(pixels, 3, axis=2) if c == 1 else pixels               # (H, W, 3)
    return PreparedInput(x.contiguous(), np.ascontiguousarray(shown), ", ".join(steps),
                         source_size or (src_w, src_h), suggest)


def prepare_upload(data: bytes, name: str, input_shape: Sequence[int], norm_mean: Sequence[float] = (),
                   norm_std: Sequence[float] = (), *, invert: bool = False) -> PreparedInput:
    """Untrusted bytes -> ``PreparedInput``; every refusal is a ``UserError`` (see ``open_image``)."""
    c, h, w = _image_shape(input_shape)
    im = open_image(data, name, min_size=max(h, w))
    return prepare_image(im, (c, h, w), norm_mean, norm_std, invert=invert,
                         source_size=stored_size(data, im.size))


def stored_size(data: bytes, decoded: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) the file stores, turned like the decoded image (EXIF
    rotation). open_image has already accepted these bytes; this reads the header only."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            w, h = im.size
    except Exception:                 # cannot happen after open_image; the note is not worth failing
        return decoded
    return (h, w) if (w > h) != (decoded[0] > decoded[1]) and w != h else (w, h)


def looks_inverted(im: Image.Image, norm_mean: Sequence[float]) -> bool:
    """True when the image's background (its border) is light but the training
    images were mostly dark (mean < 0.5), or the other way round: a hint to
    offer ``invert=True``. Only meaningful for drawings on a plain background."""
    if not norm_mean:
        return False
    g = np.asarray(im.convert("L"), dtype=np.float32) / 255.0                 # (H, W)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    trained_dark = float(np.mean(norm_mean)) < 0.5
    return bool((float(np.median(border)) > 0.5) == trained_dark)


def _image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise UserError(f"this model takes {shape[0] if shape else 0} input features, not an image")
    if shape[0] not in (1, 3):
        raise UserError(f"images must have 1 (grayscale) or 3 (RGB) channels; the model takes {shape[0]}")
    return shape  # type: ignore[return-value]


def _stats(values: Sequence[float], c: int, fill: float = 0.0) -> list[float]:
    v = [float(a) for a in values] or [fill] * c
    if len(v) == 1 and c > 1:
        v = v * c
    if len(v) != c:
        raise UserError(f"the model's normalisation has {len(v)} channels, its input {c}")
    return v


def _centre_box(src_w: int, src_h: int, w: int, h: int) -> tuple[int, int, int, int]:
    """The largest centred box with the target's aspect ratio (what ImageOps.fit crops)."""
    if src_w * h > src_h * w:                 # wider than the target: trim left and right
        cw = max(1, round(src_h * w / h))
        left = (src_w - cw) // 2
        return (left, 0, left + cw, src_h)
    ch = max(1, round(src_w * h / w))         # taller: trim top and bottom
    top = (src_h - ch) // 2
    return (0, top, src_w, top + ch)
