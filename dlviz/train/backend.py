"""Where runs execute: a small interface so pages never care.

The app trains each run in a worker process of its own
(``process_backend.ProcessBackend``); ``ThreadBackend`` runs a ``Trainer``
thread in this process (tests, scripts). The server's ``RunRegistry`` wraps
either in a ``ManagedRun`` (queue, deadlines, results kept after the end);
pages only use ``RunHandle``'s methods. A pool or a cluster implements the
same ``submit`` (docs/ARCHITECTURE.md, "Where extensions go").
"""

from __future__ import annotations

from typing import Protocol

import torch

from dlviz.build import build, count_params
from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec, SpecReport
from dlviz.train.config import TrainConfig
from dlviz.train.history import Snapshot
from dlviz.train.state import TrainerState
from dlviz.train.trainer import Trainer, check_compatible

MAX_RUN_BYTES = 2 * 2**30      # estimated peak memory of one training step


class RunHandle(Protocol):
    status: str

    def start(self, paused: bool = False) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def step(self, n: int = 1) -> None: ...
    def stop(self, reason: str = ...) -> None: ...
    def reset(self) -> None: ...
    def join(self, timeout: float | None = None) -> bool: ...
    def is_alive(self) -> bool: ...
    def state(self) -> TrainerState: ...
    def snapshot(self, step: int | None = None) -> Snapshot: ...
    def latest_weights(self) -> Snapshot: ...


class JobBackend(Protocol):
    def submit(self, spec: NetSpec, dataset: Dataset, config: TrainConfig) -> RunHandle: ...


def estimate(spec: NetSpec, batch_size: int) -> SpecReport:
    """Check a network against the guard rails without allocating: the analytic
    report, cross-checked by building the model on the ``meta`` device."""
    net = build(spec, "meta")
    with torch.device("meta"):
        out = net.model(torch.empty((2, *spec.input_shape)))
    if tuple(out.shape[1:]) != (spec.outputs,):
        raise UserError(f"the network gives output {list(out.shape[1:])}, expected [{spec.outputs}]")
    if count_params(net.model) != net.report.total_params:
        raise AssertionError("parameter estimate disagrees with the built model")
    need = net.report.training_bytes(batch_size)
    if need > MAX_RUN_BYTES:
        raise UserError(f"one training step would need about {need / 2**30:.1f} GiB, over the "
                        f"{MAX_RUN_BYTES / 2**30:.0f} GiB limit on this server; use a smaller batch")
    return net.report


def check_run(spec: NetSpec, dataset: Dataset, config: TrainConfig) -> SpecReport:
    """Everything that can be refused before a run is queued: the network against the
    dataset, and the memory guard (nothing is allocated)."""
    check_compatible(spec, dataset)
    return estimate(spec, config.batch_size)


class ThreadBackend:
    """Each run is a Trainer with its own thread in this process."""

    def submit(self, spec: NetSpec, dataset: Dataset, config: TrainConfig) -> Trainer:
        estimate(spec, config.batch_size)
        return Trainer(spec, dataset, config)
