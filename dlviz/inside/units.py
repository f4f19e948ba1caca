"""Which dataset examples excite one unit (or one conv channel) the most.

A unit's response to an example is its value for a dense-like output (U,);
for a feature-map channel (C, H, W) it is the channel's **maximum over
space**: a filter "finds" its pattern if it fires strongly anywhere in the
image (Zeiler & Fergus picked top images the same way). The mean would
favour examples where the pattern covers the whole image.
"""

from __future__ import annotations

import numpy as np
import torch

from dlviz.build import BuiltNet
from dlviz.probe import capture
from dlviz.views._eval import inference


def unit_response(out: torch.Tensor, unit: int) -> torch.Tensor:
    """(B, U) or (B, C, H, W) -> (B,): the unit's value, or the channel's maximum over space."""
    v = out[:, unit]
    return v.flatten(1).amax(dim=1) if v.ndim > 1 else v


def top_activating(net: BuiltNet, module_name: str, unit: int, x_pool: torch.Tensor, k: int = 9,
                   batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` examples of ``x_pool`` (N, *input_shape) that drive ``unit`` of
    ``module_name`` highest -> (indices int64 (k,), responses float32 (k,)), highest
    first; ties keep the lower index first. Eval mode, no autograd, hooks removed."""
    model = net.model

    def reduce(name, out):                     # keep (B,) per batch, never the whole maps
        if not 0 <= unit < out.shape[1]:
            raise ValueError(f"{module_name} has {out.shape[1]} units/channels; no unit {unit}")
        return unit_response(out, unit).float().cpu()

    parts = []
    with inference(model) as device:
        with capture(model, [module_name], reduce=reduce) as probe:
            for i in range(0, len(x_pool), batch):
                model(x_pool[i:i + batch].to(device))
                parts.append(probe.outputs[module_name])
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    resp = torch.cat(parts).numpy()                                    # (N,)
    order = np.argsort(-resp, kind="stable")[:k]
    return order.astype(np.int64), resp[order].astype(np.float32)
