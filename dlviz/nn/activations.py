"""Activation registry: key -> everything about that activation, in one entry.

An entry carries its module factory, the rule layer health uses to call a unit
unhealthy, how the layer feeding it is initialised, and a one-line
description. Adding an activation is one entry in ``ACTIVATIONS``; the
contract tests (tests/test_contracts_layers.py) then check it in every view.

Every activation is its own module instance, built on demand, never
``F.relu`` in a forward and never ``inplace=True``: Captum's DeepLift,
GuidedBackprop and LayerIntegratedGradients need one hookable module per use
(docs/ARCHITECTURE.md, "Captum needs one hookable module per use").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


# -- what counts as an unhealthy unit (layer health, dlviz/train/health.py) -----------

@dataclass(frozen=True)
class DeadRule:
    """ReLU family: a unit (feature, or conv channel) is dead when no sample and no
    position of the batch is positive; it passes no gradient at all."""
    name = "dead"

    def fraction(self, out: torch.Tensor) -> torch.Tensor:
        """(B, F) or (B, C, H, W) -> () the share of dead units."""
        per_unit = out.transpose(0, 1).reshape(out.shape[1], -1)      # (units, B*H*W)
        return (per_unit.amax(dim=1) <= 0).float().mean()


@dataclass(frozen=True)
class SaturatedRule:
    """tanh / sigmoid: outputs pinned near the asymptotes, where the gradient is ~0."""
    lo: float
    hi: float
    name = "saturated"

    def fraction(self, out: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> () the share of output values at or beyond ``lo`` / ``hi``."""
        return ((out <= self.lo) | (out >= self.hi)).float().mean()


# -- how the layer feeding the activation starts (dlviz/build.py) -----------------------
# PyTorch's default init shrinks the signal ~3x per ReLU layer, so a 6-conv stack
# can sit at chance for epochs depending on the seed: He init keeps the variance
# for ReLU-like units, Glorot init (with its gain) for tanh. Sigmoid keeps
# PyTorch's default on purpose: the deep-sigmoid preset is there to show the
# classic vanishing gradient. Biases of re-initialised layers start at 0.

@dataclass(frozen=True)
class HeInit:
    nonlinearity: str                  # torch.nn.init's name for the gain

    def apply(self, weight: torch.Tensor) -> None:
        nn.init.kaiming_normal_(weight, nonlinearity=self.nonlinearity)


@dataclass(frozen=True)
class GlorotInit:
    gain: float

    def apply(self, weight: torch.Tensor) -> None:
        nn.init.xavier_uniform_(weight, gain=self.gain)


@dataclass(frozen=True)
class Activation:
    key: str
    make: Callable[[], nn.Module]      # a fresh module per use
    description: str                   # one plain sentence, for hover help
    health: DeadRule | SaturatedRule | None = None     # None: never unhealthy
    init: HeInit | GlorotInit | None = None            # None: PyTorch's default init


ACTIVATIONS: dict[str, Activation] = {a.key: a for a in [
    Activation("relu", nn.ReLU, "Keeps positive values and turns negative ones into 0.",
               DeadRule(), HeInit("relu")),
    Activation("leaky_relu", lambda: nn.LeakyReLU(0.01),
               "Like ReLU, but lets a small part (1%) of negative values through.",
               DeadRule(), HeInit("leaky_relu")),
    Activation("gelu", nn.GELU, "A smooth ReLU: small negative values are damped, not cut off.",
               DeadRule(), HeInit("relu")),
    Activation("tanh", nn.Tanh, "Squashes every value into the range -1 to 1.",
               SaturatedRule(-0.99, 0.99), GlorotInit(5 / 3)),
    Activation("sigmoid", nn.Sigmoid, "Squashes every value into the range 0 to 1.",
               SaturatedRule(0.01, 0.99)),
    Activation("linear", nn.Identity, "No activation: values pass through unchanged."),
]}


def make_activation(key: str) -> nn.Module:
    return ACTIVATIONS[key].make()
