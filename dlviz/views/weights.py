"""Weights as arrays, for filter mosaics and the network view's connections."""

from __future__ import annotations

import numpy as np
from torch import nn


def first_conv_filters(model: nn.Module) -> np.ndarray | None:
    """Weights of the first ``nn.Conv2d`` (in module order): float32 (O, I, k, k), or None."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.weight.detach().float().cpu().numpy().copy()
    return None


def dense_weights(model: nn.Module, layer_modules: list[list[str]]) -> list[np.ndarray]:
    """Weights (out, in) of every dense layer group, the output head included, in order."""
    modules = dict(model.named_modules())
    out = []
    for grp in layer_modules:
        m = modules.get(grp[0]) if grp else None
        if isinstance(m, nn.Linear):
            out.append(m.weight.detach().float().cpu().numpy().copy())
    return out
