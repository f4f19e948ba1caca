"""Process-wide registry of runs, keyed by a run id kept in the page URL.

A browser refresh finds its run again by id. The number of live runs is
capped (a shared server has few cores); a run nobody has looked at for
``idle_s`` stops itself; ended runs are kept, oldest dropped first, up to
``keep``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train.backend import JobBackend, RunHandle, ThreadBackend
from dlviz.train.config import TrainConfig
from dlviz.train.state import LIVE


@dataclass
class RunEntry:
    run_id: str
    handle: RunHandle
    spec: NetSpec
    dataset: Dataset
    config: TrainConfig
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)


class RunRegistry:
    def __init__(self, backend: JobBackend | None = None, max_live: int = 4,
                 idle_s: float = 600.0, keep: int = 32):
        self.backend = backend or ThreadBackend()
        self.max_live = max_live
        self.idle_s = idle_s
        self.keep = keep
        self._runs: dict[str, RunEntry] = {}
        self._lock = threading.Lock()

    def create(self, spec: NetSpec, dataset: Dataset, config: TrainConfig) -> RunEntry:
        self.reap()
        with self._lock:
            if self._live_count() >= self.max_live:
                raise UserError(f"this server already trains {self.max_live} networks at once, "
                                f"its limit; wait for one to finish or stop one")
        handle = self.backend.submit(spec, dataset, config)
        entry = RunEntry(secrets.token_urlsafe(6), handle, spec, dataset, config)
        with self._lock:
            self._runs[entry.run_id] = entry
            self._drop_old()
        return entry

    def get(self, run_id: str | None) -> RunEntry | None:
        """The run, marked as seen just now (None if unknown or dropped)."""
        with self._lock:
            entry = self._runs.get(run_id or "")
            if entry:
                entry.last_seen = time.monotonic()
            return entry

    def peek(self, run_id: str | None) -> RunEntry | None:
        """The run, without marking it as seen (listing runs must not keep them alive)."""
        with self._lock:
            return self._runs.get(run_id or "")

    def reap(self) -> list[str]:
        """Stop live runs nobody has looked at for ``idle_s``; returns their ids."""
        now = time.monotonic()
        with self._lock:
            idle = [e for e in self._runs.values()
                    if e.handle.is_alive() and now - e.last_seen > self.idle_s]
        for e in idle:
            e.handle.stop(f"stopped after {self.idle_s:.0f} s with nobody watching")
        return [e.run_id for e in idle]

    def remove(self, run_id: str) -> None:
        with self._lock:
            entry = self._runs.pop(run_id, None)
        if entry:
            _close(entry.handle)

    def live_count(self) -> int:
        with self._lock:
            return self._live_count()

    def _live_count(self) -> int:
        return sum(1 for e in self._runs.values() if e.handle.is_alive() or e.handle.status in LIVE)

    def _drop_old(self) -> None:
        ended = sorted((e for e in self._runs.values() if not e.handle.is_alive()),
                       key=lambda e: e.last_seen)
        while len(self._runs) > self.keep and ended:
            _close(self._runs.pop(ended.pop(0).run_id).handle)

    def stop_all(self) -> None:
        with self._lock:
            entries = list(self._runs.values())
        for e in entries:
            e.handle.stop()
        for e in entries:
            e.handle.join(5)
            _close(e.handle)


def _close(handle: RunHandle) -> None:
    """Stop a run and free what it holds (a worker process, for ProcessRun)."""
    handle.stop()
    close = getattr(handle, "close", None)
    if close is not None:
        close()
