"""Layer health: is each layer learning, and are its units alive?

Measured on one training step every so often (never every step):

* weight norm ||W||, gradient norm ||dL/dW||, and the update-to-weight ratio
  ||W_after - W_before|| / ||W_before|| (about 1e-3 is healthy; 1e-6 means the
  layer is frozen, 1e-1 that it is thrashing);
* for activations, the fraction of units that are dead (ReLU family: never
  positive over the whole batch) or saturated (tanh/sigmoid: outputs pinned
  near the asymptotes, where the gradient is ~0).

Everything is reduced on the device and copied to the CPU in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dlviz.build import record_of
from dlviz.nn.activations import ACTIVATIONS


@dataclass(frozen=True)
class HealthPlan:
    """Which modules to watch, derived once from the built network."""
    weighted: list[str]                 # layer names whose parameters we measure
    activations: dict[str, str]         # activation module name -> activation key

    @classmethod
    def for_model(cls, model: nn.Sequential, layer_modules: list[list[str]]) -> "HealthPlan":
        """Every activation module (the builder's record says so) whose activation has a
        health rule (``Activation.health`` in dlviz/nn/activations.py) is watched."""
        mods = dict(model.named_children())
        weighted = [g[0] for g in layer_modules if any(True for _ in mods[g[0]].parameters())]
        acts: dict[str, str] = {}
        for group in layer_modules:
            for name in group:
                record = record_of(mods[name])
                if (record is not None and record.role == "activation"
                        and ACTIVATIONS[record.activation].health is not None):
                    acts[name] = record.activation
        return cls(weighted, acts)


def unit_stats(key: str, out: torch.Tensor) -> torch.Tensor:
    """Fraction of unhealthy units in one activation output, by the activation's own rule
    (dead for the ReLU family, saturated for tanh/sigmoid). (B, F) or (B, C, H, W) -> ()."""
    return ACTIVATIONS[key].health.fraction(out)


def param_norms(model: nn.Module, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight norm, grad norm) per named layer, over all its parameters. -> (L,), (L,)

    One ``torch._foreach_norm`` over every parameter (and one over every gradient)
    instead of a few small ops per tensor: health rows were the dearest recording
    (docs/ARCHITECTURE.md, "The live Train page"). A layer's norm is the root of the
    sum of its tensors' squared norms."""
    mods = dict(model.named_children())
    params, layer_of, with_grad = [], [], []
    for i, n in enumerate(names):
        for p in mods[n].parameters():
            params.append(p.detach())
            layer_of.append(i)
            if p.grad is not None:
                with_grad.append((p.grad.detach(), i))
    w = _per_layer(params, layer_of, len(names))
    g = _per_layer([t for t, _ in with_grad], [i for _, i in with_grad], len(names),
                   like=params[0] if params else None)
    return w, g


def _per_layer(tensors: list[torch.Tensor], layer_of: list[int], n_layers: int,
               like: torch.Tensor | None = None) -> torch.Tensor:
    """sqrt(sum of squared tensor norms) per layer; layers without a tensor: 0. -> (L,)"""
    if not tensors:
        ref = like if like is not None else torch.zeros(())
        return ref.new_zeros(n_layers)
    sq = torch.stack(torch._foreach_norm(tensors)) ** 2                 # (P,)
    index = torch.tensor(layer_of, device=sq.device)
    return sq.new_zeros(n_layers).index_add_(0, index, sq).sqrt()


def flat_params(model: nn.Module, names: list[str]) -> list[torch.Tensor]:
    mods = dict(model.named_children())
    return [torch.cat([p.detach().reshape(-1) for p in mods[n].parameters()]) for n in names]


def update_ratios(before: list[torch.Tensor], after: list[torch.Tensor]) -> torch.Tensor:
    """||after - before|| / ||before|| per layer, in three foreach calls. -> (L,)"""
    if not before:
        return torch.zeros(0)
    moved = torch.stack(torch._foreach_norm(torch._foreach_sub(after, before)))
    return moved / torch.stack(torch._foreach_norm(before)).clamp_min(1e-12)


def health_row(plan: HealthPlan, w: torch.Tensor, g: torch.Tensor, ratio: torch.Tensor,
               act_stats: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """One record: {layer name: {metric: value}}, with one device->host copy."""
    act_names = list(act_stats)
    flat = torch.cat([w, g, ratio, torch.stack([act_stats[a] for a in act_names])
                      if act_names else w.new_zeros(0)]).tolist()
    n = len(plan.weighted)
    row: dict[str, dict[str, float]] = {}
    for i, name in enumerate(plan.weighted):
        row[name] = {"weight_norm": flat[i], "grad_norm": flat[n + i], "update_ratio": flat[2 * n + i]}
    for j, name in enumerate(act_names):
        kind = ACTIVATIONS[plan.activations[name]].health.name
        row[name] = {kind: flat[3 * n + j]}
    return row
