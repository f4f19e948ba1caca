"""What every layer makes of one input: one forward pass, every module's output.

    vals = layer_values(net, x)          # x: one sample, (C, H, W) or (F,)
    vals[0].name, vals[0].kind, vals[0].values.shape   # "conv1", "conv", (6, 28, 28)

The values are the model's own: captured by ``dlviz.probe.capture`` hooks on
the top-level modules during a single eval-mode forward pass, not recomputed.
Each value's kind and spec layer come from the builder's ``ModuleRecord``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dlviz.build import BuiltNet, record_of
from dlviz.probe import capture
from dlviz.views._eval import inference


@dataclass(frozen=True)
class LayerValue:
    name: str                   # module name in BuiltNet.model ("conv1", "conv1_relu", "output")
    kind: str                   # see module_kind
    group: int                  # the spec layer it belongs to (index into BuiltNet.layer_modules)
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
    """conv | pool | activation | dense | output | flatten | dropout | batchnorm | residual
    (the kind's ``view`` in dlviz/nn/layers.py), read from the record ``build`` gave the
    module; "other" for a module ``build`` did not make."""
    record = record_of(module)
    return record.view if record is not None else "other"


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


def layer_values(net: BuiltNet, x: torch.Tensor) -> list[LayerValue]:
    """Every top-level module's output for one input ``x`` (no batch), in order.

    One eval-mode forward pass without autograd; the model's training flag is
    restored and every hook removed, even when the forward pass raises.
    """
    model = net.model
    names = net.module_names
    xb = as_batch(net, x)                                  # (1, *input_shape)
    with inference(model) as device:
        with capture(model, names) as probe:
            model(xb.to(device))
    out: list[LayerValue] = []
    for name in names:
        v = probe.outputs[name][0].float().cpu().numpy().astype(np.float32, copy=False)  # no batch
        record = net.record(name)
        kind = record.view
        probs = None
        if kind == "output":
            # a classifier has >= 2 logits; a regression head has one value
            probs = (v.copy() if v.shape[0] == 1
                     else torch.softmax(torch.from_numpy(v).double(), 0).float().numpy())
        finite = v[np.isfinite(v)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        out.append(LayerValue(name, kind, record.layer, tuple(v.shape), v, lo, hi, probs))
    return out
