"""Reference inputs ("what if the evidence were absent?") for path methods.

Inputs are normalised, so an all-zero tensor is the training data's average
colour, not black. Choices:

    zero   all zeros: the average pixel of the training data (or feature mean)
    blur   the input, Gaussian-blurred: keeps colours, removes edges and detail
    min    every value at the input's own minimum per channel: black, for
           most photos and for the light-on-dark digits
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlviz.errors import UserError

BASELINES: tuple[str, ...] = ("zero", "blur", "min")


def make_baseline(x: torch.Tensor, kind: str) -> torch.Tensor:
    """x: (1, *input_shape) -> a baseline of the same shape (no grad)."""
    x = x.detach()
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "min":
        dims = tuple(range(2, x.ndim))                   # per channel for images
        return x.amin(dim=dims, keepdim=True).expand_as(x).clone() if dims else \
            torch.full_like(x, float(x.min()))
    if kind == "blur":
        if x.ndim != 4:
            raise UserError("the blur baseline needs an image input; use zero or min")
        return blur(x)
    raise UserError(f"unknown baseline '{kind}'; choose one of {', '.join(BASELINES)}")


def blur(x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Depthwise Gaussian blur of (B, C, H, W); sigma defaults to 1/8 of the shorter side."""
    _, c, h, w = x.shape
    sigma = sigma or max(min(h, w) / 8.0, 0.5)
    r = min(math.ceil(2.5 * sigma), h - 1, w - 1)   # reflect padding must be < the side
    if r < 1:
        return x.clone()
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()                                             # (2r+1,)
    pad = F.pad(x, (r, r, r, r), mode="reflect")                 # (B, C, H+2r, W+2r)
    out = F.conv2d(pad, k.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)
