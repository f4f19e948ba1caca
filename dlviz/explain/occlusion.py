"""Occlusion: grey out a sliding patch and record how much the class score drops."""

from __future__ import annotations

import math

import torch
from captum.attr import Occlusion
from torch import nn

from dlviz.explain.job import Job, Raw, batch_limit


def occlusion(job: Job) -> Raw:
    return Raw(run_occlusion(job.model, job.x, job.target, job.params["window"], job.params["stride"]))


def windows(shape: tuple[int, ...], window: int, stride: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Captum's sliding window and strides for one sample's shape.

    Images (C, H, W): a w x w patch through all channels at once; vectors (F,):
    w consecutive features. Both are clipped to the input, so a default window
    still works on a 2-feature input.
    """
    if len(shape) == 3:
        c, h, w = shape
        k = min(window, h, w)
        return (c, k, k), (c, min(stride, h), min(stride, w))
    return (min(window, shape[0]),), (min(stride, shape[0]),)


def count(shape: tuple[int, ...], win: tuple[int, ...], strides: tuple[int, ...]) -> int:
    """How many patches Captum will try."""
    return math.prod((s - k) // st + 1 for s, k, st in zip(shape, win, strides))


def run_occlusion(model: nn.Module, x: torch.Tensor, target: int, window: int, stride: int,
                  per_eval: int | None = None) -> torch.Tensor:
    """x: (1, *shape) -> attribution of the same shape.

    ``per_eval`` patches go through the model in one forward pass: all of them
    by default (bounded by memory), which is ~5x faster than one at a time on
    a small CNN. ``per_eval=1`` is the unbatched reference for the benchmark.
    The patch is filled with 0, the training data's average after normalisation.
    """
    shape = tuple(x.shape[1:])
    win, strides = windows(shape, window, stride)
    n = count(shape, win, strides)
    per_eval = per_eval or min(n, batch_limit(x))
    with torch.no_grad():
        return Occlusion(model).attribute(x, sliding_window_shapes=win, strides=strides,
                                          baselines=0.0, target=target,
                                          perturbations_per_eval=max(1, min(per_eval, n)))
