"""Evaluation and snapshots of a training model.

Evaluation: loss (and accuracy) over a set in eval mode, on the periodic
fixed subsets (``EvalSets``) or at the end on the whole sets. Snapshots:
CPU copies of the weights with the metrics of their step, kept in the
run's ``Timeline``; a diverged run keeps only those from before it left
its calm range.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlviz.data.dataset import Dataset
from dlviz.train.history import Snapshot, Timeline, weights_to_cpu

EVAL_SUBSET = 256          # samples per periodic evaluation (the final one uses all)


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: str, x: torch.Tensor, y: torch.Tensor,
             device: torch.device, prefix: str = "test", batch: int = 1024) -> dict:
    """Loss (and accuracy) over (x, y) in eval mode; restores train mode after.

    x: (N, *input_shape), on any device (moved ``batch`` rows at a time);
    y: (N,) class indices, or (N, outputs) targets for regression."""
    was_training = model.training
    model.eval()
    try:
        total, correct, n = 0.0, 0, len(x)
        for i in range(0, n, batch):
            xb = x[i:i + batch].to(device)
            yb = y[i:i + batch].to(device)
            out = model(xb)
            if task == "classification":
                total += F.cross_entropy(out, yb, reduction="sum").item()
                correct += (out.argmax(1) == yb).sum().item()
            else:
                total += F.mse_loss(out, yb, reduction="sum").item()
        res = {f"{prefix}_loss": total / max(n, 1)}
        if task == "classification":
            res[f"{prefix}_accuracy"] = correct / max(n, 1)
        return res
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class EvalSets:
    """The fixed subsets of the periodic evaluation, on the training device."""
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]

    @classmethod
    def draw(cls, dataset: Dataset, x_train: torch.Tensor, y_train: torch.Tensor, seed: int,
             device: torch.device) -> "EvalSets":
        """Up to EVAL_SUBSET rows of each set, the same for every evaluation of a seed;
        ``x_train``/``y_train``: the training set already on ``device``."""
        g = torch.Generator().manual_seed(seed + 1)
        i_tr = torch.randperm(len(dataset.x_train), generator=g)[:EVAL_SUBSET]
        i_te = torch.randperm(len(dataset.x_test), generator=g)[:EVAL_SUBSET]
        return cls((x_train[i_tr.to(device)], y_train[i_tr.to(device)]),
                   (dataset.x_test[i_te].to(device), dataset.y_test[i_te].to(device)))

    def evaluate(self, model: torch.nn.Module, task: str, device: torch.device) -> dict:
        """train_* and test_* metrics on the two subsets."""
        row = evaluate(model, task, *self.train, device, "train")
        row.update(evaluate(model, task, *self.test, device, "test"))
        return row


def snapshot_of(model: torch.nn.Module, step: int, batches_per_epoch: int, metrics: dict) -> Snapshot:
    return Snapshot(step, step / batches_per_epoch, weights_to_cpu(model), metrics)


def snapshot_metrics(last_eval: dict | None, last_history: dict | None) -> dict:
    """The metrics a snapshot carries: the latest evaluation and the latest train loss."""
    m = dict(last_eval or {})
    if last_history:
        m["train_loss"] = last_history["train_loss"]
    m.pop("step", None)
    m.pop("epoch", None)
    return m


def keep_good_snapshots(timeline: Timeline, good_until: int) -> int:
    """Drop snapshots after step ``good_until`` or with non-finite weights (the first is
    always kept); returns the step of the last one kept."""
    snaps = timeline.snapshots
    while len(snaps) > 1 and (snaps[-1].step > good_until or not _finite(snaps[-1])):
        snaps.pop()
    return snaps[-1].step


def _finite(snap: Snapshot) -> bool:
    return all(torch.isfinite(t).all() for t in snap.weights.values() if t.is_floating_point())
