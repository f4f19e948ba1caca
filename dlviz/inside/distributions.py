"""Distributions over time: weights, gradients and activations of every layer, per snapshot.

Computed after the fact from a snapshot's weights, on a fixed batch (x, y):

* weights     -- the ``weight`` tensors of the layer's Conv2d/Linear modules (biases left out);
* gradients   -- d loss / d those weights on (x, y): cross-entropy for a classifier,
                 mean squared error for regression (one output);
* activations -- the layer's output (after its activation function) on x.

Two steps, so a page can cache the expensive one per (run, step):

    stats = [snapshot_stats(net, snap.weights, x, y) for snap in timeline]   # one forward+backward each
    series = assemble(steps, stats, bins=40)       # common bins per (layer, kind): cheap

``layer_distributions`` does both. The model is never modified: the
snapshot's weights are substituted with ``torch.func.functional_call``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from dlviz.build import BuiltNet
from dlviz.inside.sketch import Sketch, sketch
from dlviz.probe import capture
from dlviz.train.device import device_of
from dlviz.train.history import Snapshot

StepWeights = tuple[int, "dict[str, torch.Tensor] | None"]     # (step, state dict; None: the model's own)

KINDS = ("weights", "gradients", "activations")


@dataclass(frozen=True)
class DistributionSeries:
    layer: str               # the layer's first module name ("conv1", "dense2", "output")
    kind: str                # "weights" | "gradients" | "activations"
    module: str              # where the values come from ("conv1", "conv1_relu", ...)
    steps: list[int]
    edges: np.ndarray        # float64 (B+1,), shared by every step
    counts: np.ndarray       # float64 (S, B): values per bin at each step
    totals: np.ndarray       # int64 (S,): values counted at each step (counts sum to these)


@dataclass(frozen=True)
class SnapshotStats:
    """One snapshot's sketches, keyed (layer, kind); ``sources`` names the module
    behind each key, ``loss`` is the loss on (x, y)."""
    sketches: dict[tuple[str, str], Sketch]
    sources: dict[tuple[str, str], str]
    loss: float


def layer_plan(net: BuiltNet) -> list[tuple[str, list[str], str | None]]:
    """For every spec layer worth showing: (layer name, weight parameter names,
    activation module name or None). Layers that only pass their input on
    (flatten, dropout: the kind's ``passthrough``) are skipped.

    The weights are the layer's weight matrices and kernels: parameters named
    ``weight`` with two or more dimensions (a batch norm's per-channel scale is not one).
    """
    modules = dict(net.model.named_children())
    plan = []
    for grp in net.layer_modules:
        weights = [n for n, p in modules[grp[0]].named_parameters(prefix=grp[0])
                   if n.rsplit(".", 1)[-1] == "weight" and p.dim() >= 2]
        act = None if net.record(grp[0]).passthrough else grp[-1]
        if weights or act:
            plan.append((grp[0], weights, act))
    return plan


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.shape[1] == 1:                                   # regression head
        return F.mse_loss(out, y.float().reshape(out.shape))
    return F.cross_entropy(out, y.long().reshape(-1))


def snapshot_stats(net: BuiltNet, weights: dict[str, torch.Tensor] | None, x: torch.Tensor,
                   y: torch.Tensor) -> SnapshotStats:
    """Sketches of every layer's weights, gradients and activations for one set of
    ``weights`` (a state dict; None: the model's own) on the batch ``x`` (N, ...), ``y`` (N,).

    One eval-mode forward and backward pass; the model's parameters, their
    ``.grad`` and its training flag are left as they were; no hook is left.
    """
    model = net.model
    device = device_of(model)
    plan = layer_plan(net)
    state = {k: v.detach() for k, v in (weights if weights is not None else model.state_dict()).items()}
    wanted = [w for _, ws, _ in plan for w in ws]
    leaves = {k: state[k].to(device).float().requires_grad_(True) for k in wanted}
    params = {**{k: v.to(device) for k, v in state.items()}, **leaves}
    was_training = model.training
    model.eval()
    try:
        with capture(model, [a for _, _, a in plan if a]) as probe:
            out = functional_call(model, params, (x.to(device),))        # (N, K)
        loss = _loss(out, y.to(device))
        grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)))
    finally:
        model.train(was_training)
    sketches: dict[tuple[str, str], Sketch] = {}
    sources: dict[tuple[str, str], str] = {}
    for layer, ws, act in plan:
        if ws:
            src = ", ".join(w.rsplit(".", 1)[0] for w in ws)
            sketches[layer, "weights"] = sketch(torch.cat([state[w].reshape(-1).float() for w in ws]))
            sketches[layer, "gradients"] = sketch(torch.cat(
                [(grads[w] if grads[w] is not None else torch.zeros_like(leaves[w])).reshape(-1)
                 for w in ws]))
            sources[layer, "weights"] = sources[layer, "gradients"] = src
        if act:
            sketches[layer, "activations"] = sketch(probe.outputs[act])
            sources[layer, "activations"] = act
    return SnapshotStats(sketches, sources, float(loss.detach()))


def _edges(sketches: Iterable[Sketch], bins: int) -> np.ndarray:
    present = [s for s in sketches if s.n]
    lo = min((s.lo for s in present), default=0.0)
    hi = max((s.hi for s in present), default=0.0)
    if not hi > lo:                                   # constant values: a unit-wide window
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def assemble(steps: Sequence[int], stats: Sequence[SnapshotStats],
             bins: int = 40) -> dict[str, dict[str, DistributionSeries]]:
    """Histograms on common bins: ``{layer: {kind: DistributionSeries}}``, layers in
    model order. The bins of a (layer, kind) span its values over all the steps."""
    if len(steps) != len(stats):
        raise ValueError(f"{len(steps)} steps but {len(stats)} snapshot stats")
    keys: list[tuple[str, str]] = []
    for st in stats:
        keys += [k for k in st.sketches if k not in keys]
    out: dict[str, dict[str, DistributionSeries]] = {}
    for layer, kind in keys:
        have = [(step, st) for step, st in zip(steps, stats) if (layer, kind) in st.sketches]
        sks = [st.sketches[layer, kind] for _, st in have]
        edges = _edges(sks, bins)
        counts = np.stack([s.histogram(edges) for s in sks])          # (S, B)
        totals = np.array([s.n for s in sks], dtype=np.int64)
        out.setdefault(layer, {})[kind] = DistributionSeries(
            layer, kind, have[0][1].sources[layer, kind], [int(s) for s, _ in have],
            edges, counts, totals)
    return {layer: {k: kinds[k] for k in KINDS if k in kinds} for layer, kinds in out.items()}


def layer_distributions(net: BuiltNet, snapshots: Sequence[StepWeights | Snapshot], x: torch.Tensor,
                        y: torch.Tensor, bins: int = 40) -> dict[str, dict[str, DistributionSeries]]:
    """``assemble`` over ``snapshot_stats`` of every snapshot: ``(step, weights)`` pairs,
    or the timeline's ``Snapshot``s."""
    steps, stats = [], []
    for s in snapshots:
        step, weights = s if isinstance(s, tuple) else (s.step, s.weights)
        steps.append(int(step))
        stats.append(snapshot_stats(net, weights, x, y))
    return assemble(steps, stats, bins)
