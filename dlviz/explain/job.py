"""What every method wrapper receives and returns (so each wrapper is a few lines)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Job:
    model: nn.Module              # eval mode, parameters frozen (see guard.borrowed)
    x: torch.Tensor               # (1, *input_shape) on the model's device
    target: int                   # output column to explain (0 for regression)
    params: dict                  # resolved: every setting present and checked
    layer: nn.Module | None = None
    layer_name: str | None = None


@dataclass
class Raw:
    values: torch.Tensor          # (1, *input_shape); or (1, U) for a dense layer's units
    delta: float | None = None    # convergence delta where the method reports one
    map2d: torch.Tensor | None = None   # layer maps: (H, W) already upsampled to the input
    in_input_space: bool = True


def spread(x: torch.Tensor) -> float:
    """The input's value range, so noise levels can be given as a fraction of it."""
    r = float(x.detach().max() - x.detach().min())
    return r if r > 0 else 1.0


def batch_limit(x: torch.Tensor, budget: int = 1 << 23) -> int:
    """How many copies of x fit in one forward pass (~32 MB of float32 inputs:
    a 512x512 RGB photo gets 10, a 28x28 digit 10,000)."""
    return max(1, budget // max(1, x[0].numel()))
