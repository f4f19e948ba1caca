"""What every layer makes of one input: one forward pass, every module's output.

    vals = layer_values(net, x)          # x: one sample, (C, H, W) or (F,)
    vals[0].name, vals[0].kind, vals[0].values.shape   # "conv1", "conv", (6, 28, 28)

The values are the model's own: captured by ``dlviz.probe.capture`` hooks on
the top-level modules during a single eval-mode forward pass, not recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dlviz.build import BuiltNet
from dlviz.nn.residual import ResidualConvBlock, ResidualDenseBlock
from dlviz.probe import capture
from dlviz.views._eval import inference

_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Identity)


@dataclass(frozen=True)
class LayerValue:
    name: str                   # module name in BuiltNet.model ("conv1", "conv1_relu", "output")
    kind: str                   # see module_kind
    group: int                  # index into BuiltNet.layer_modules (the spec layer it belongs to)
    shape: tuple[int, ...]      # without the batch: (C, H, W) or (U,)
    values: np.ndarray          # float32, that shape
    vmin: float
    vmax: float
    probs: np.ndarray | None = None   # output only: softmax (K,), or the value (1,) for regression

    @property
    def is_map(self) -> bool:
        """True for (C, H, W) feature maps, False for (U,) unit vectors."""
        return len(self.shape) == 3


def module_kind(name: str, module: nn.Module) -> str:
    """conv | pool | activation | dense | output | flatten | dropout | batchnorm | residual | other."""
    if name == "output":
        return "output"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return "pool"
    if isinstance(module, nn.Sequential) and any(isinstance(m, nn.AdaptiveAvgPool2d) for m in module):
        return "pool"           # global average pooling: AdaptiveAvgPool2d(1) + Flatten
    if isinstance(module, _ACTIVATIONS):
        return "activation"
    if isinstance(module, nn.Linear):
        return "dense"
    if isinstance(module, nn.Flatten):
        return "flatten"
    if isinstance(module, (nn.Dropout, nn.Dropout2d)):
        return "dropout"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "batchnorm"
    if isinstance(module, (ResidualConvBlock, ResidualDenseBlock)):
        return "residual"
    return "other"


def input_shape(net: BuiltNet) -> tuple[int, ...]:
    """The network's input shape without the batch: (F,) or (C, H, W)."""
    return tuple(net.report.layers[0].input_shape)


def as_batch(net: BuiltNet, x: torch.Tensor) -> torch.Tensor:
    """One sample (input shape) or a batch of one -> (1, *input_shape) float32."""
    x = torch.as_tensor(x).float()
    shape = input_shape(net)
    if tuple(x.shape) == shape:
        return x.unsqueeze(0)
    if tuple(x.shape) == (1, *shape):
        return x
    raise ValueError(f"expected one input of shape {shape}, got {tuple(x.shape)}")


def groups_by_module(net: BuiltNet) -> dict[str, int]:
    return {name: i for i, grp in enumerate(net.layer_modules) for name in grp}


def layer_values(net: BuiltNet, x: torch.Tensor) -> list[LayerValue]:
    """Every top-level module's output for one input ``x`` (no batch), in order.

    One eval-mode forward pass without autograd; the model's training flag is
    restored and every hook removed, even when the forward pass raises.
    """
    model = net.model
    names = net.module_names
    modules = dict(model.named_children())
    group_of = groups_by_module(net)
    xb = as_batch(net, x)                                  # (1, *input_shape)
    with inference(model) as device:
        with capture(model, names) as probe:
            model(xb.to(device))
    out: list[LayerValue] = []
    for name in names:
        v = probe.outputs[name][0].float().cpu().numpy().astype(np.float32, copy=False)  # no batch
        kind = module_kind(name, modules[name])
        probs = None
        if kind == "output":
            # a classifier has >= 2 logits; a regression head has one value
            probs = (v.copy() if v.shape[0] == 1
                     else torch.softmax(torch.from_numpy(v).double(), 0).float().numpy())
        finite = v[np.isfinite(v)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        out.append(LayerValue(name, kind, group_of.get(name, -1), tuple(v.shape), v, lo, hi, probs))
    return out
