"""Shapes with a bias in the training data: every training square is red, nothing else is.

The bias lesson (dlviz/lessons/catalog/bias.py) needs a dataset where a
shortcut is easier to learn than the shape: in the training split the squares
are always drawn red and no other shape, nor any background, is ever red, so
"red" predicts "square" perfectly. The test split is the world without that
rule: squares in any colour but red, and half of the other shapes drawn red.
A model that learned the colour scores well on its training data and fails
on exactly those test images; ``extra["red_test"]`` marks them for the
lesson's check, and the masks let the Explain page show where it looked.

Drawing reuses the shapes' geometry (``shapes.draw_masks``); only the colours
differ. See docs/ARCHITECTURE.md, "Where extensions go".
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dlviz.data import shapes
from dlviz.data.dataset import Dataset
from dlviz.data.params import DatasetParams

KEY = "shapes-biased"
BIASED_CLASS = "square"
RED = np.array([0.9, 0.1, 0.1], dtype=np.float32)
RED_JITTER = 0.08                # each channel of a red shape within +-0.08 of RED
NOT_RED_DIST = 0.55              # any other colour is at least this far from RED (RGB distance)
DEFAULT_SAMPLES = 3000
RED_SHARE_TEST = 0.5             # of the test split's non-squares, drawn red

Array = np.ndarray


def _not_red(rng: np.random.Generator, n: int) -> Array:
    """n random colours float32 (n, 3), none near red."""
    c = rng.random((n, 3), dtype=np.float32)
    for _ in range(64):
        near = np.linalg.norm(c - RED, axis=1) < NOT_RED_DIST
        if not near.any():
            return c
        c[near] = rng.random((int(near.sum()), 3), dtype=np.float32)
    c[np.linalg.norm(c - RED, axis=1) < NOT_RED_DIST] = (0.1, 0.4, 0.9)     # a blue, never near red
    return c


def _red(rng: np.random.Generator, n: int) -> Array:
    return np.clip(RED + rng.uniform(-RED_JITTER, RED_JITTER, (n, 3)).astype(np.float32), 0, 1)


def _backgrounds(rng: np.random.Generator, fg: Array) -> Array:
    """Not red, and contrasting with ``fg`` as the shapes set's colours do."""
    bg = _not_red(rng, len(fg))
    luma = shapes._LUMA

    def too_close() -> Array:
        return ((np.linalg.norm(fg - bg, axis=1) < shapes.MIN_COLOUR_DIST)
                | (np.abs((fg - bg) @ luma) < shapes.MIN_LUMA_DIFF))

    for _ in range(64):
        close = too_close()
        if not close.any():
            break
        bg[close] = _not_red(rng, int(close.sum()))
    close = too_close()
    bg[close] = np.where(fg[close] @ luma > 0.5, 0.0, 1.0)[:, None]        # black or white
    return bg


def _draw(labels: Array, red: Array, rng: np.random.Generator, noise: float) -> tuple[Array, Array]:
    """Images float32 (N, 3, 32, 32) in [0, 1] and masks bool (N, 32, 32); shape i red where red[i]."""
    n, size = len(labels), shapes.SIZE
    scale = rng.uniform(*shapes.SCALE_RANGE, n)
    cx = rng.uniform(scale, size - 1 - scale)
    cy = rng.uniform(scale, size - 1 - scale)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    masks = shapes.draw_masks(labels, cx, cy, scale, angle, size)           # (N, H, W)
    fg = np.where(red[:, None], _red(rng, n), _not_red(rng, n))             # (N, 3)
    bg = _backgrounds(rng, fg)
    images = np.where(masks[:, None], fg[:, :, None, None], bg[:, :, None, None]).astype(np.float32)
    if noise > 0:
        images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(shapes.NOISE_STD * noise)
        np.clip(images, 0.0, 1.0, out=images)
    return images, masks


def build(params: DatasetParams) -> Dataset:
    """The ``shapes-biased`` dataset: as ``shapes`` (x float32 (N, 3, 32, 32) normalised,
    y int64, masks bool), with the colour rule of the module docstring.

    n_samples None -> DEFAULT_SAMPLES; noise None -> the shapes' default.
    ``extra["red_test"]``: bool (N_test,), the test images drawn red.
    """
    n = params.n_samples or DEFAULT_SAMPLES
    noise = shapes.DEFAULT_NOISE if params.noise is None else params.noise
    n_test = min(max(round(n * params.test_fraction), 1), n - 1)
    n_train = n - n_test
    rng = np.random.default_rng(params.seed)
    k = len(shapes.CLASSES)
    square = shapes.CLASSES.index(BIASED_CLASS)
    y_train = rng.permutation(np.arange(n_train) % k).astype(np.int64)
    y_test = rng.permutation(np.arange(n_test) % k).astype(np.int64)
    red_train = y_train == square                                          # the rule
    red_test = (y_test != square) & (rng.random(n_test) < RED_SHARE_TEST)  # the rule broken
    x_train, m_train = _draw(y_train, red_train, rng, noise)
    x_test, m_test = _draw(y_test, red_test, rng, noise)
    mean = x_train.mean(axis=(0, 2, 3), dtype=np.float64)                  # (3,)
    std = x_train.std(axis=(0, 2, 3), dtype=np.float64) + 1e-6
    for x in (x_train, x_test):
        x -= mean[:, None, None].astype(np.float32)
        x /= std[:, None, None].astype(np.float32)
    return Dataset(
        key=KEY,
        task="classification",
        input_shape=(3, shapes.SIZE, shapes.SIZE),
        classes=shapes.CLASSES,
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(y_train),
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y_test),
        description=f"shapes with a biased training set: every training {BIASED_CLASS} is red and "
                    f"nothing else is; in the test set no {BIASED_CLASS} is red and half the other "
                    "shapes are",
        masks_train=torch.from_numpy(m_train),
        masks_test=torch.from_numpy(m_test),
        norm_mean=tuple(float(a) for a in mean),
        norm_std=tuple(float(a) for a in std),
        extra={"red_test": torch.from_numpy(red_test)},
    )
