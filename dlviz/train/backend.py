"""Where runs execute: a small interface so pages never care.

The app trains each run in a worker process of its own: the server's
backend is ``process_backend.ProcessBackend``, whose ``ProcessRun`` drives a
``Trainer`` in a child process through a pipe (weights cross it as
safetensors bytes). ``ThreadBackend`` runs a ``Trainer`` thread in this
process instead (tests, the CLI, scripts). The server's ``RunRegistry`` wraps
either in a ``ManagedRun`` (queue, deadlines, results kept after the end),
which is itself a ``RunHandle``; pages only use ``RunHandle``'s methods. A
pool or a cluster implements the same ``submit`` (docs/ARCHITECTURE.md,
"Where extensions go").
"""

from __future__ import annotations

from typing import Protocol

import torch

from dlviz.build import build, count_params
from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec, SpecReport
from dlviz.train.compatibility import check_compatible
from dlviz.train.config import TrainConfig
from dlviz.train.history import Snapshot
from dlviz.train.state import TrainerState
from dlviz.train.trainer import Trainer

MAX_RUN_BYTES = 2 * 2**30      # estimated peak memory of one training step


class RunHandle(Protocol):
    """One training run, wherever it executes (``Trainer``, ``ProcessRun``, ``ManagedRun``).

    Every method may be called from any thread. A handle whose worker process
    was lost raises ``process_backend.WorkerGone`` (a ``UserError``) from its calls;
    ``ManagedRun`` turns that into an ended run with status ``error``.
    """

    @property
    def status(self) -> str:
        """idle, queued, starting, running, paused, finished, stopped, diverged or error
        (``train/state.py``)."""

    @property
    def process_alive(self) -> bool:
        """Whether what executes the run still exists, asked without calling into it (safe
        on a hung worker); always True for a run in this process."""

    def start(self, paused: bool = False) -> None:
        """Begin training (paused: ready, waiting for ``resume`` or ``step``); an ended run
        raises ``UserError`` until it is reset."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...

    def step(self, n: int = 1) -> None:
        """Take ``n`` optimizer steps while paused (an idle run starts paused)."""

    def stop(self, reason: str = ...) -> None:
        """Ask training to end; ``reason`` becomes the message unless one is set."""

    def reset(self) -> None:
        """Stop, then back to the seed's initial weights with an empty history."""

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for training to end; True when it is not going on."""

    def is_alive(self) -> bool:
        """Whether training is going on (a queued or starting run counts)."""

    def state(self) -> TrainerState:
        """A consistent copy of the run's status, progress and records."""

    def snapshot(self, step: int | None = None) -> Snapshot:
        """The kept snapshot nearest ``step`` (the latest when None); never mutated."""

    def latest_weights(self) -> Snapshot:
        """Weights at (nearly) the current step of a live run; the latest snapshot otherwise."""

    def close(self) -> None:
        """Stop training and free what the run holds (the worker process, for a
        ``ProcessRun``); ``ManagedRun`` keeps what the views need."""


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
