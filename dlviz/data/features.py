"""Input features for the 2-D sets, as in TensorFlow Playground.

A 2-D point (x1, x2) can be fed to the network as any subset of these
derived values. With only x1 and x2 a linear model can draw straight lines;
adding x1^2 and x2^2 lets it draw the circle, x1*x2 the XOR, sin the
wiggles. The same functions run on the training points and on the grid of
plane points the decision-boundary plot evaluates, so they take any (N, 2)
tensor and keep no state.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from dlviz.errors import UserError


def _x1(p: Tensor) -> Tensor:
    return p[:, 0]


def _x2(p: Tensor) -> Tensor:
    return p[:, 1]


# name -> f(points (N, 2)) -> (N,); in TensorFlow Playground's order
FEATURES: dict[str, Callable[[Tensor], Tensor]] = {
    "x1": _x1,
    "x2": _x2,
    "x1^2": lambda p: _x1(p) ** 2,
    "x2^2": lambda p: _x2(p) ** 2,
    "x1*x2": lambda p: _x1(p) * _x2(p),
    "sin(x1)": lambda p: torch.sin(_x1(p)),
    "sin(x2)": lambda p: torch.sin(_x2(p)),
}


def featurize(points: Tensor, names: Sequence[str]) -> Tensor:
    """Expand raw plane points (N, 2) into the chosen features: float32 (N, F).

    Column j is ``FEATURES[names[j]]``; F = len(names). Accepts anything
    ``torch.as_tensor`` does (a numpy grid from a plot, for instance).
    """
    p = torch.as_tensor(points, dtype=torch.float32)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {tuple(p.shape)}")
    if not names:
        raise UserError(f"choose at least one input feature from: {', '.join(FEATURES)}")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise UserError(f"unknown input feature {unknown[0]}; choose from: {', '.join(FEATURES)}")
    return torch.stack([FEATURES[n](p) for n in names], dim=1).contiguous()  # (N, F)
