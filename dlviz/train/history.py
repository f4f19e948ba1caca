"""Bounded records of a run: metric series and the snapshot timeline.

However long a run lasts, memory stays bounded:

* ``BoundedSeries`` keeps evenly spaced rows: when full it drops every other
  row and from then on keeps only every 2nd (4th, ...) row offered.
* ``Timeline`` keeps snapshots (weights on the CPU plus metrics). When full
  it drops the interior snapshot whose neighbours are closest on a log-step
  scale, so the spacing tends to logarithmic: early training, where most
  change happens, keeps as many snapshots as the long tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


class BoundedSeries:
    def __init__(self, capacity: int = 1000):
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.rows: list[dict] = []
        self._stride = 1
        self._offered = 0

    def append(self, row: dict) -> None:
        keep = self._offered % self._stride == 0
        self._offered += 1
        if not keep:
            return
        self.rows.append(row)
        if len(self.rows) > self.capacity:
            self.rows = self.rows[::2]
            self._stride *= 2

    def copy(self) -> list[dict]:
        return [dict(r) for r in self.rows]

    def last(self) -> dict | None:
        return self.rows[-1] if self.rows else None

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Snapshot:
    step: int
    epoch: float
    weights: dict[str, torch.Tensor] = field(repr=False)   # state_dict on the CPU
    metrics: dict = field(default_factory=dict)


class Timeline:
    def __init__(self, capacity: int = 60):
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.snapshots: list[Snapshot] = []

    def add(self, snap: Snapshot) -> None:
        if self.snapshots and self.snapshots[-1].step == snap.step:
            self.snapshots[-1] = snap        # same step: keep the newer metrics
            return
        self.snapshots.append(snap)
        if len(self.snapshots) > self.capacity:
            self._thin()

    def _thin(self) -> None:
        s = self.snapshots
        logs = [math.log1p(x.step) for x in s]
        # interior i whose removal leaves the smallest log-gap between i-1 and i+1
        i = min(range(1, len(s) - 1), key=lambda i: (logs[i + 1] - logs[i - 1], -i))
        del s[i]

    def steps(self) -> list[int]:
        return [x.step for x in self.snapshots]

    def nearest(self, step: int) -> Snapshot | None:
        if not self.snapshots:
            return None
        return min(self.snapshots, key=lambda x: abs(x.step - step))

    def __len__(self) -> int:
        return len(self.snapshots)


def weights_to_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the state dict (buffers too, e.g. batch-norm stats)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
