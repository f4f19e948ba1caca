"""Activation registry: key -> a fresh module.

Every activation is its own module instance, built on demand, never
``F.relu`` in a forward and never ``inplace=True``: Captum's DeepLift,
GuidedBackprop and LayerIntegratedGradients need one hookable module per use
(docs/ARCHITECTURE.md, "Captum needs one hookable module per use").
"""

from __future__ import annotations

from typing import Callable

from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}

# What counts as an unhealthy unit for each activation, used by layer health:
# (dead_below, saturated_above) on |output|, or None where it does not apply.
# ReLU units whose output is 0 for a whole batch are dead; tanh/sigmoid units
# pinned near their asymptotes pass almost no gradient and are saturated.
SATURATION: dict[str, str] = {
    "relu": "dead",
    "leaky_relu": "dead",
    "gelu": "dead",
    "tanh": "saturated",
    "sigmoid": "saturated",
}


def make_activation(key: str) -> nn.Module:
    return ACTIVATIONS[key]()
