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


class LayerTensors:
    """The watched layers' parameters, listed once per run: a health row's norms are a
    few ``torch._foreach_*`` calls over them instead of a few small ops per tensor and a
    concatenation per layer (health rows were the dearest recording on a tiny net:
    docs/ARCHITECTURE.md, "The live Train page"). A layer's norm is the root of the sum
    of its tensors' squared norms."""

    def __init__(self, model: nn.Module, names: list[str]):
        mods = dict(model.named_children())
        self.owners = [p for n in names for p in mods[n].parameters()]
        self.params = [p.detach() for p in self.owners]        # views: they follow the updates
        self.layer_of = [i for i, n in enumerate(names) for _ in mods[n].parameters()]
        self.n_layers = len(names)

    def copies(self) -> list[torch.Tensor]:
        """The parameters now, copied (before an update), one foreach call."""
        return torch._foreach_mul(self.params, 1.0) if self.params else []

    def norms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight norm, grad norm) per layer. -> (L,), (L,)"""
        w = _per_layer(self.params, self.layer_of, self.n_layers)
        with_grad = [(p.grad.detach(), i) for p, i in zip(self.owners, self.layer_of) if p.grad is not None]
        g = _per_layer([t for t, _ in with_grad], [i for _, i in with_grad], self.n_layers,
                       like=self.params[0] if self.params else None)
        return w, g

    def update_ratios(self, before: list[torch.Tensor], w_before: torch.Tensor) -> torch.Tensor:
        """||after - before|| / ||before|| per layer, ``w_before`` being ``norms()``'s weight
        norm taken before the update (the same tensors). -> (L,)"""
        if not self.params:
            return torch.zeros(0)
        moved = _per_layer(torch._foreach_sub(self.params, before), self.layer_of, self.n_layers)
        return moved / w_before.clamp_min(1e-12)


def param_norms(model: nn.Module, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight norm, grad norm) per named layer, over all its parameters. -> (L,), (L,)"""
    return LayerTensors(model, names).norms()


def _per_layer(tensors: list[torch.Tensor], layer_of: list[int], n_layers: int,
               like: torch.Tensor | None = None) -> torch.Tensor:
    """sqrt(sum of squared tensor norms) per layer; layers without a tensor: 0. -> (L,)"""
    if not tensors:
        ref = like if like is not None else torch.zeros(())
        return ref.new_zeros(n_layers)
    sq = torch.stack(torch._foreach_norm(tensors)) ** 2                 # (P,)
    index = torch.tensor(layer_of, device=sq.device)
    return sq.new_zeros(n_layers).index_add_(0, index, sq).sqrt()


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
