"""A run trained in another process, as the server sees it: each ``RunHandle`` call is
one named command (``ProcessRun`` sends it down a pipe to its worker process, ``RayRun``
to its actor), and snapshots travel as safetensors bytes, never a pickle of tensors.
A subclass gives ``_call`` (with its deadline), ``_gone`` (why the worker was lost, or
None) and ``_closed``."""

from __future__ import annotations

import time

from safetensors.torch import load as st_load

from dlviz.errors import UserError
from dlviz.train.history import Snapshot, weights_bytes
from dlviz.train.state import TrainerState


class WorkerGone(UserError):
    """The worker process died, or stopped answering and was ended."""


def pack(s: Snapshot) -> tuple:
    """A snapshot as (step, epoch, safetensors bytes, metrics): what crosses the boundary."""
    return (s.step, s.epoch, weights_bytes(s.weights), s.metrics)


def unpack(packed) -> Snapshot:
    step, epoch, blob, metrics = packed
    return Snapshot(step, epoch, st_load(blob), metrics)


class RemoteRun:
    """``RunHandle``'s calls, each forwarded as one command."""

    _gone: str | None = None
    _closed: bool = False

    def _call(self, name: str, *args):
        raise NotImplementedError

    def start(self, paused: bool = False) -> None:
        self._call("start", paused)

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def step(self, n: int = 1) -> None:
        self._call("step", n)

    def stop(self, reason: str = "stopped by user") -> None:
        if not self._closed:
            self._call("stop", reason)

    def reset(self) -> None:
        self._call("reset")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for training to end, in short calls (each within the deadline)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._call("join", 0.2):
                return True
            if end is not None and time.monotonic() >= end:
                return False

    def is_alive(self) -> bool:
        return not self._closed and self._call("is_alive")

    @property
    def status(self) -> str:
        if self._gone:
            raise WorkerGone(self._gone)
        return "closed" if self._closed else self._call("status")

    def state(self) -> TrainerState:
        return self._call("state")

    def snapshot(self, step: int | None = None) -> Snapshot:
        return unpack(self._call("snapshot", step))

    def latest_weights(self) -> Snapshot:
        return unpack(self._call("latest_weights"))
