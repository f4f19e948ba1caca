"""Process-wide registry of runs: a fair queue for a class sharing one server.

A run id kept in the page URL finds its run again after a refresh. Each run
has an owner (the browser that started it): the owner controls it, anyone
else with its link watches it. At most ``max_live`` runs train at once; a
Start beyond that waits in a first-come queue and starts by itself when a
slot frees. Each owner holds at most ``per_owner`` live or queued runs.
A run on a GPU also needs room in its memory (``gpu_memory.GpuAdmission``):
one that could never fit is refused when made, one that does not fit beside
the running ones waits in the queue (saying so) until they end; GPU runs
keep their order among themselves, CPU runs pass them.

A background ticker (``start_ticker``), never a page, does the upkeep: it
looks at each live worker (a dead or hung one ends its run with a message),
copies an ended run's results into the server and ends its worker process,
stops runs nobody has looked at for ``idle_s``, starts queued runs, and drops
the oldest ended runs past ``keep`` or past ``kept_total_bytes``.

The registry's lock guards only its dictionaries and queue: no call into a
worker is ever made while holding it. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train.backend import JobBackend, ThreadBackend, check_run
from dlviz.train.config import TrainConfig
from dlviz.train.gpu_memory import GpuAdmission, GpuEstimate
from dlviz.train.managed_run import DONE, LIVE, QUEUED, STARTING, ManagedRun

NOBODY = ""          # the owner of runs made outside any browser session (tests, scripts)
AUTO = "auto"        # RunRegistry(gpu=AUTO): admit GPU runs by memory when this machine has CUDA


class SessionLimit(UserError):
    """The owner already has as many live or queued runs as allowed."""


@dataclass
class RunEntry:
    run_id: str
    handle: ManagedRun
    spec: NetSpec
    dataset: Dataset
    config: TrainConfig
    owner: str = NOBODY
    created: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    gpu_need: tuple[str, GpuEstimate] | None = None     # (device, estimate) of a GPU run


class RunRegistry:
    def __init__(self, backend: JobBackend | None = None, max_live: int = 4,
                 idle_s: float = 600.0, keep: int = 32, per_owner: int = 0,
                 kept_run_bytes: int = 64 * 2**20, kept_total_bytes: int = 1024 * 2**20,
                 gpu: GpuAdmission | None | str = AUTO):
        """``gpu``: how GPU runs are admitted by memory; AUTO: by the GPUs of this machine
        when it has CUDA and runs train here (a cluster backend, ``capacity``, places its
        own); None: not at all."""
        self.backend = backend or ThreadBackend()
        if gpu == AUTO:
            gpu = _local_gpu_admission(self.backend)
        self.gpu: GpuAdmission | None = gpu
        self.max_live = max_live
        self.idle_s = idle_s
        self.keep = keep
        self.per_owner = per_owner              # 0: no limit
        self.kept_run_bytes = kept_run_bytes
        self.kept_total_bytes = kept_total_bytes
        self._runs: dict[str, RunEntry] = {}
        self._queue: list[RunEntry] = []
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._halt = threading.Event()
        self.on_tick: list[Callable[[], object]] = []     # extra upkeep (e.g. old uploads)

    # -- making runs ------------------------------------------------------------------
    def create(self, spec: NetSpec, dataset: Dataset, config: TrainConfig,
               owner: str = NOBODY) -> RunEntry:
        """A new run, not started (``handle.start()`` queues it). Checks the network
        against the dataset and the memory guard first, allocating nothing."""
        check_run(spec, dataset, config)
        gpu_need = self._check_gpu(spec, dataset, config)
        run_id = secrets.token_urlsafe(9)
        holder: list[RunEntry] = []
        handle = ManagedRun(spec, dataset, config, _named(self.backend, run_id, owner),
                            self._enqueuer(holder), self.kept_run_bytes)
        entry = RunEntry(run_id, handle, spec, dataset, config, owner, gpu_need=gpu_need)
        holder.append(entry)
        if self.per_owner and owner != NOBODY:
            for e in self.runs_of(owner):
                e.handle.poll()                  # fresh statuses, outside the lock
        with self._lock:
            if self.per_owner and owner != NOBODY:
                mine = [e for e in self._runs.values() if e.owner == owner and _busy(e)]
                if len(mine) >= self.per_owner:
                    raise SessionLimit(
                        f"you already have {len(mine)} run{'s' if len(mine) != 1 else ''} training "
                        f"or waiting (the limit on this server is {self.per_owner}); stop it to start another")
            self._runs[entry.run_id] = entry
        return entry

    def _check_gpu(self, spec: NetSpec, dataset: Dataset, config: TrainConfig):
        """(device, estimate) of a GPU run, refused when it alone exceeds the budget."""
        need = self.gpu.need(spec, dataset, config) if self.gpu is not None else None
        if need is not None:
            device, est = need
            budget = self.gpu.budget(device)
            if est.total > budget:
                raise UserError(f"this run would need about {est.describe()} of GPU memory, more "
                                f"than the {budget / 2**30:.2f} GiB training may use on {device}; "
                                "try a smaller batch size or a smaller network")
        return need

    def _enqueuer(self, holder: list[RunEntry]) -> Callable[[ManagedRun], None]:
        def enqueue(handle: ManagedRun) -> None:
            with self._lock:
                if holder and holder[0] not in self._queue:
                    self._queue.append(holder[0])
                    self._number_queue()
            self.dispatch()
        return enqueue

    def dispatch(self) -> list[str]:
        """Give free slots to queued runs, first come first served; returns the started ids.
        A cluster backend (``capacity``) sets the slots: its free CPUs, not ``max_live``."""
        cap = self._capacity() if self._queue else None
        with self._lock:
            self._queue = [e for e in self._queue if e.handle.wants_slot()]
            if cap is None:
                free = self.max_live - sum(1 for e in self._runs.values() if e.handle.occupies_slot())
            else:                       # runs still starting hold no cluster CPU yet
                free = cap[0] - sum(1 for e in self._runs.values() if e.handle.phase == STARTING)
                self.max_live = cap[1]
            starting = []
            # budgets were asked (maybe in a worker) by ``create``, outside the lock: cached here
            in_use = self._gpu_in_use()
            blocked: set[str] = set()           # GPUs a waiting run is first in line for
            for e in list(self._queue):
                if free <= 0:
                    break
                if e.gpu_need is not None:
                    device, est = e.gpu_need
                    budget = self.gpu.budget(device) if self.gpu is not None else est.total
                    used, runs = in_use.get(device, (0, 0))
                    if device in blocked or used + est.total > budget:
                        e.handle.wait_reason = _waiting_for_gpu(est, used, runs, budget, device) \
                            if device not in blocked else e.handle.wait_reason or _behind(device)
                        blocked.add(device)
                        continue
                self._queue.remove(e)
                if e.handle.mark_starting():
                    e.handle.wait_reason = ""
                    if e.gpu_need is not None:
                        used, runs = in_use.get(e.gpu_need[0], (0, 0))
                        in_use[e.gpu_need[0]] = (used + e.gpu_need[1].total, runs + 1)
                    starting.append(e)
                    free -= 1
            self._number_queue()
        for e in starting:                      # outside the lock: starting a worker takes time
            e.handle.launch()
        return [e.run_id for e in starting]

    def _gpu_in_use(self) -> dict[str, tuple[int, int]]:
        """Estimated bytes and runs on each GPU now (called under the lock): every run with a
        worker, ended or not, until the ticker's harvest ends that worker's process."""
        in_use: dict[str, tuple[int, int]] = {}
        for e in self._runs.values():
            if e.gpu_need is not None and e.handle.phase in (STARTING, LIVE):
                used, runs = in_use.get(e.gpu_need[0], (0, 0))
                in_use[e.gpu_need[0]] = (used + e.gpu_need[1].total, runs + 1)
        return in_use

    def _capacity(self) -> tuple[int, int] | None:
        """(free, total) slots of a cluster backend, asked outside the lock; None: use
        ``max_live`` (no cluster, or it does not answer: a launch then says why)."""
        capacity = getattr(self.backend, "capacity", None)
        if capacity is None:
            return None
        try:
            return capacity()
        except Exception as exc:  # noqa: BLE001 - the upkeep must go on
            print(f"dlviz: the cluster's free resources are unknown: {exc}", file=sys.stderr)
            return None

    def _number_queue(self) -> None:
        for i, e in enumerate(self._queue):
            e.handle.queue_place = i + 1
            e.handle.slots = self.max_live

    # -- finding runs -------------------------------------------------------------------
    def get(self, run_id: str | None) -> RunEntry | None:
        """The run, marked as seen just now (None if unknown or dropped). With a cluster
        backend (``attach``), a run another app replica made is found there by its id."""
        with self._lock:
            entry = self._runs.get(run_id or "")
            if entry:
                entry.last_seen = time.monotonic()
        touch = getattr(self.backend, "touch", None)
        if entry is not None and touch is not None:
            touch(entry.run_id)             # "seen" for every replica (no wait)
        if entry is None and run_id and hasattr(self.backend, "attach"):
            entry = self._attach(run_id)
        return entry

    def _attach(self, run_id: str) -> RunEntry | None:
        found = self.backend.attach(run_id)           # outside the lock: asks the cluster
        if found is None:
            return None
        holder: list[RunEntry] = []
        handle = ManagedRun(found["spec"], found["dataset"], found["config"],
                            _named(self.backend, run_id, found["owner"]), self._enqueuer(holder),
                            self.kept_run_bytes)
        handle.adopt(found["handle"])
        entry = RunEntry(run_id, handle, found["spec"], found["dataset"], found["config"], found["owner"])
        holder.append(entry)
        with self._lock:
            entry = self._runs.setdefault(run_id, entry)     # another page attached it first
        return entry

    def peek(self, run_id: str | None) -> RunEntry | None:
        """The run, without marking it as seen (listing runs must not keep them alive)."""
        with self._lock:
            return self._runs.get(run_id or "")

    def runs_of(self, owner: str) -> list[RunEntry]:
        """The owner's runs the server still keeps, oldest first."""
        with self._lock:
            return sorted((e for e in self._runs.values() if e.owner == owner and owner != NOBODY),
                          key=lambda e: e.created)

    def live_count(self) -> int:
        with self._lock:
            return sum(1 for e in self._runs.values() if e.handle.occupies_slot())

    def queued_count(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- upkeep -----------------------------------------------------------------------------
    def tick(self) -> None:
        """One round of upkeep (see the module docstring); never raises for one bad run."""
        with self._lock:
            entries = list(self._runs.values())
        now = time.monotonic()
        for e in entries:
            h = e.handle
            try:
                if h.phase == LIVE:
                    status = h.poll()
                    if status in ("finished", "stopped", "diverged", "error"):
                        h.harvest()
                if (h.phase in (LIVE, QUEUED, STARTING) and now - e.last_seen > self.idle_s
                        and not self._seen_elsewhere(e, now)):
                    h.stop(f"stopped after {self.idle_s:.0f} s with nobody watching")
            except Exception as exc:  # noqa: BLE001 - one broken run must not stop the upkeep
                print(f"dlviz: upkeep of run {e.run_id} failed: {exc!r}", file=sys.stderr)
        self.dispatch()
        self._drop_old()
        for job in list(self.on_tick):
            try:
                job()
            except Exception as exc:  # noqa: BLE001
                print(f"dlviz: upkeep job failed: {exc!r}", file=sys.stderr)

    def start_ticker(self, every_s: float = 0.25) -> None:
        """Run ``tick`` in a daemon thread every ``every_s`` seconds (idempotent)."""
        if self._ticker is not None and self._ticker.is_alive():
            return
        self._halt.clear()

        def loop():
            while not self._halt.wait(every_s):
                self.tick()

        self._ticker = threading.Thread(target=loop, name="dlviz-runs-upkeep", daemon=True)
        self._ticker.start()

    def _drop_old(self) -> None:
        with self._lock:
            ended = sorted((e for e in self._runs.values() if e.handle.phase == DONE),
                           key=lambda e: e.last_seen)
            total = sum(e.handle.kept_bytes_now() for e in ended)
            dropped = []
            while ended and (len(self._runs) > self.keep or total > self.kept_total_bytes):
                e = ended.pop(0)
                total -= e.handle.kept_bytes_now()
                dropped.append(self._runs.pop(e.run_id))
        for e in dropped:
            e.handle.close()

    def remove(self, run_id: str) -> None:
        with self._lock:
            entry = self._runs.pop(run_id, None)
            if entry in self._queue:
                self._queue.remove(entry)
        if entry:
            entry.handle.close()

    def stop_all(self) -> None:
        self._halt.set()
        with self._lock:
            entries = list(self._runs.values())
        for e in entries:
            e.handle.stop()
        for e in entries:
            e.handle.close()

    def _seen_elsewhere(self, e: RunEntry, now: float) -> bool:
        """Whether a page of another app replica looked at this live run within ``idle_s``
        (a cluster backend knows, ``seen_ago``)."""
        seen_ago = getattr(self.backend, "seen_ago", None)
        ago = seen_ago(e.run_id) if seen_ago is not None and e.handle.phase == LIVE else None
        if ago is None or ago > self.idle_s:
            return False
        e.last_seen = now - ago
        return True


class _NamedRuns:
    """A backend that names its runs (a cluster's, ``names_runs``), given this run's id and
    owner: any app replica can then find the run by the id in its URL."""

    def __init__(self, backend: JobBackend, run_id: str, owner: str):
        self._backend, self._run_id, self._owner = backend, run_id, owner

    def submit(self, spec: NetSpec, dataset: Dataset, config: TrainConfig):
        return self._backend.submit(spec, dataset, config, run_id=self._run_id, owner=self._owner)


def _named(backend: JobBackend, run_id: str, owner: str) -> JobBackend:
    return _NamedRuns(backend, run_id, owner) if getattr(backend, "names_runs", False) else backend


def _busy(e: RunEntry) -> bool:
    """Live or waiting to be: what the per-owner limit and the idle stop count."""
    h = e.handle
    return h.phase in (QUEUED, STARTING) or h.occupies_slot()


def _local_gpu_admission(backend) -> GpuAdmission | None:
    """Admission by the memory of this machine's GPUs, when it has CUDA and the backend
    trains here (a cluster backend, ``capacity``, places runs by its own GPU shares)."""
    import torch
    if hasattr(backend, "capacity") or not torch.cuda.is_available():
        return None
    return GpuAdmission()


def _waiting_for_gpu(est: GpuEstimate, used: int, runs: int, budget: int, device: str) -> str:
    gib = 2**30
    return (f"waiting for GPU memory: this run needs about {est.total / gib:.2f} GiB, and "
            f"{runs} running run{'s' if runs != 1 else ''} hold{'s' if runs == 1 else ''} about "
            f"{used / gib:.2f} of the {budget / gib:.2f} GiB training may use on {device}; "
            "it starts by itself when enough of them end.")


def _behind(device: str) -> str:
    return (f"waiting for GPU memory on {device}: an earlier run is waiting for it first; "
            "this one starts by itself after it.")
