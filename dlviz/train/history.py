"""Bounded records of a run: metric series and the snapshot timeline.

However long a run lasts, memory stays bounded:

* ``BoundedSeries`` keeps evenly spaced rows: when full it drops every other
  row and from then on keeps only every 2nd (4th, ...) row offered.
* ``Timeline`` keeps snapshots (weights on the CPU plus metrics). When full
  it drops the interior snapshot whose neighbours are closest on a log-step
  scale, so the spacing tends to logarithmic: early training, where most
  change happens, keeps as many snapshots as the long tail.
* ``RunRecords`` is one run's series and timeline together, shared between
  the training thread (which appends) and readers (which copy), under one lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from dlviz.errors import UserError


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


TIMELINE_BYTES = 256 * 2**20   # all snapshots of one run together


def timeline_capacity(model: torch.nn.Module, max_snapshots: int) -> int:
    """Snapshots kept: ``max_snapshots``, fewer when they would pass TIMELINE_BYTES."""
    model_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return max(2, min(max_snapshots, TIMELINE_BYTES // max(model_bytes, 1)))


class RunRecords:
    """What a reader may see of one run: appended by the training thread under ``lock``,
    read back as copies (``Trainer.state``) under the same lock."""

    def __init__(self, lock: threading.RLock, timeline_capacity: int):
        self.lock = lock
        self.history = BoundedSeries(1000)     # {step, epoch, train_loss, lr}
        self.evals = BoundedSeries(500)        # {step, epoch, train_*, test_*}
        self.health = BoundedSeries(300)       # {step, layers: {name: {...}}}
        self.timeline = Timeline(timeline_capacity)
        self.final: dict = {}                  # full-set metrics at the end
        self.live: Snapshot | None = None      # weights copied on request (latest_weights)
        self.live_wanted = False               # a reader asked for a fresh copy
        self.live_copied = threading.Event()   # set when the training thread has made it

    def add(self, series: BoundedSeries, row: dict) -> None:
        with self.lock:
            series.append(row)

    def add_snapshot(self, snap: Snapshot) -> None:
        with self.lock:
            self.timeline.add(snap)

    def set_live(self, snap: Snapshot) -> None:
        with self.lock:
            self.live = snap
        self.live_copied.set()


def weights_to_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the state dict (buffers too, e.g. batch-norm stats)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def weights_bytes(weights: dict[str, torch.Tensor]) -> bytes:
    """Weights as safetensors bytes (never a pickle): for the worker's pipe and bundles."""
    return st_save({k: v.detach().to("cpu").contiguous() for k, v in weights.items()})


# the limits on weights read from outside (a bundle, a head start's store)
MAX_WEIGHTS_BYTES = 64 * 2**20
MAX_TENSORS = 1000
MAX_HEADER_BYTES = 1 * 2**20


def weights_from_bytes(data: bytes, what: str) -> dict[str, torch.Tensor]:
    """Safetensors bytes back to tensors, bounded: ``UserError`` naming ``what`` when they
    are not safetensors or hold more than ``MAX_TENSORS`` tensors (never a pickle)."""
    # the first 8 bytes give the JSON header's length: refuse absurd ones before parsing
    if len(data) < 8 or int.from_bytes(data[:8], "little") > min(len(data), MAX_HEADER_BYTES):
        raise UserError(f"{what}: not a valid safetensors file")
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception):
        raise UserError(f"{what}: not a valid safetensors file") from None
    if len(tensors) > MAX_TENSORS:
        raise UserError(f"{what}: {len(tensors)} tensors, over the limit of {MAX_TENSORS}")
    return tensors


def evenly_by_step(items: Sequence[tuple[int, object]], most: int) -> list:
    """At most ``most`` of ``items`` ((step, anything), sorted by step), as evenly spaced in
    steps as they allow, the first and the last always kept. By step, not by position: a
    run's kept snapshots are dense near its end (older ones are thinned), and a sum over
    checkpoints (TracIn) or a series over training should cover the whole of it."""
    n, most = len(items), max(1, int(most))
    if n <= most:
        return list(items)
    if most == 1:
        return [items[-1]]
    first, last = items[0][0], items[-1][0]
    picks = {0, n - 1}
    for i in range(1, most - 1):
        want = first + i * (last - first) / (most - 1)
        free = [j for j in range(n) if j not in picks]
        picks.add(min(free, key=lambda j: abs(items[j][0] - want)))
    return [items[i] for i in sorted(picks)]
