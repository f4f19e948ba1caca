"""A run as the server keeps it: waiting for a slot, training in a worker, or ended.

Life of a run (docs/ARCHITECTURE.md, "A class on one server"):

    fresh --start--> queued --slot--> starting --> live --ended--> ended
      ^                 |                            |  \\--worker lost--> ended ("error")
      +------reset------+----------------------------+

* **queued**: no process yet; ``state()`` says its place in line. The
  registry starts it when a slot frees.
* **live**: a worker (``ProcessRun`` in the app, or an in-process ``Trainer``)
  trains it; calls go to the worker, each with a deadline. A worker that dies
  or stops answering turns the run into an ended run with status ``error``
  and a message, never an exception for the page.
* **ended**: the registry's ticker copies what the views need (the final
  state, the snapshots, bounded in bytes) into this object and ends the
  worker, so an ended run costs no process.

This object's lock guards only its own fields: it is never held across a
call into a worker.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train.backend import JobBackend, RunHandle
from dlviz.train.config import TrainConfig
from dlviz.train.history import Snapshot
from dlviz.train.remote_run import WorkerGone
from dlviz.train.state import ENDED, TrainerState

FRESH, QUEUED, STARTING, LIVE, DONE = "fresh", "queued", "starting", "live", "ended"

LAUNCH_TRIES = 2
CRASHED = ("The training process ended unexpectedly ({why}). What it recorded until then is "
           "kept; press Start to train this network again.")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def snapshot_bytes(s: Snapshot) -> int:
    return sum(t.numel() * t.element_size() for t in s.weights.values())


class ManagedRun:
    """Implements ``RunHandle`` whatever the run's phase (see the module docstring)."""

    def __init__(self, spec: NetSpec, dataset: Dataset, config: TrainConfig, backend: JobBackend,
                 enqueue: Callable[["ManagedRun"], None], kept_bytes: int = 64 * 2**20):
        self.spec, self.dataset, self.config = spec, dataset, config
        self._backend = backend
        self._enqueue = enqueue
        self.kept_bytes = kept_bytes
        self._lock = threading.Lock()
        self._phase = FRESH
        self._worker: RunHandle | None = None
        self._want_paused = False            # what Start/Step asked for while queued
        self._want_steps = 0
        self.queue_place = 0                 # set by the registry while queued
        self.slots = 1
        self.wait_reason = ""                # set by the registry: why a queued run waits (GPU memory)
        self._last_status = "idle"           # the worker's status at the last poll
        self._state: TrainerState | None = None     # the newest state read, or the final one
        self._snaps: dict[int, Snapshot] = {}       # by step: shared by every viewer
        self._latest: Snapshot | None = None        # the newest live weights a viewer saw

    # -- phase ------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return self._phase

    def occupies_slot(self) -> bool:
        """Whether this run uses one of the server's training slots now."""
        return self._phase == STARTING or (self._phase == LIVE and self._last_status not in ENDED)

    def wants_slot(self) -> bool:
        return self._phase == QUEUED

    def launch(self) -> None:
        """Called by the registry once it has given this run a slot (phase starting)."""
        worker = None
        for attempt in range(LAUNCH_TRIES):
            try:
                worker = self._backend.submit(self.spec, self.dataset, self.config)
                break
            except WorkerGone as e:          # the process died on the way up: try once more
                why = str(e)
            except UserError as e:           # the run itself was refused
                why = str(e)
                break
        if worker is None:
            self._end("error", f"the run could not start: {why}")
            return
        with self._lock:
            cancelled = self._phase != STARTING      # stopped while it was starting
            if not cancelled:
                self._worker, self._phase = worker, LIVE
                self._last_status = "idle"
        if cancelled:
            _close(worker)
            return
        try:
            if self._want_steps:
                worker.step(self._want_steps)
            else:
                worker.start(paused=self._want_paused)
            self._last_status = worker.status
        except WorkerGone as e:
            self._crash(str(e))

    def mark_starting(self) -> bool:
        with self._lock:
            if self._phase != QUEUED:
                return False
            self._phase = STARTING
            return True

    def adopt(self, worker: RunHandle) -> None:
        """Take over a run already live on a cluster (made by another app replica)."""
        with self._lock:
            self._worker, self._phase = worker, LIVE
        self.poll()

    def poll(self) -> str:
        """The ticker's look at a live run: its status, or the run ends if its worker is lost."""
        w = self._worker
        if self._phase != LIVE or w is None:
            return self._phase
        try:
            if not w.process_alive:
                raise WorkerGone("it was killed, or ran out of memory")
            self._last_status = w.status
        except WorkerGone as e:
            self._crash(str(e))
        except UserError:
            pass                      # closed under us by a harvest: the phase says the rest
        return self._last_status

    def harvest(self) -> None:
        """Copy what the views need out of an ended worker, then end the worker."""
        w = self._worker
        if self._phase != LIVE or w is None:
            return
        try:
            if w.is_alive():
                return                # stopped, its final evaluation under way: the next tick
            final = w.state()
            kept = self._keep(final.timeline, w)
            final = replace(final, timeline=[t for t in final.timeline if t["step"] in kept])
        except WorkerGone as e:
            self._crash(str(e))
            return
        with self._lock:
            self._state, self._snaps = final, kept
            self._phase, self._worker = DONE, None
        _close(w)

    def _keep(self, timeline: list[dict], w: RunHandle) -> dict[int, Snapshot]:
        """The snapshots to keep, within ``kept_bytes``: the first and the last always, the
        others evenly over the timeline (it is log-spaced already)."""
        steps = [t["step"] for t in timeline]
        if not steps:
            return {}
        have = dict(self._snaps)

        def get(step):
            if step not in have:
                have[step] = w.snapshot(step)
            return have[step]

        per = snapshot_bytes(get(steps[-1]))
        room = max(2, self.kept_bytes // max(per, 1))
        if len(steps) > room:
            idx = sorted({round(i * (len(steps) - 1) / (room - 1)) for i in range(room)})
            steps = [steps[i] for i in idx]
        return {s: get(s) for s in steps}

    # -- ending -----------------------------------------------------------------
    def _crash(self, why: str) -> None:
        with self._lock:
            if self._phase != LIVE:
                return
            w, self._worker = self._worker, None
            self._phase = DONE
            base = self._state or self._queued_state()
            self._state = replace(base, status="error", message=CRASHED.format(why=why), eta_s=None)
            self._last_status = "error"
        _close(w)

    def _end(self, status: str, message: str) -> None:
        with self._lock:
            self._phase = DONE
            base = self._state or self._queued_state()
            self._state = replace(base, status=status, message=message, eta_s=None)
            self._last_status = status

    def _queued_state(self) -> TrainerState:
        n = len(self.dataset.y_train)
        per_epoch = max(1, n // self.config.batch_size + (1 if n % self.config.batch_size > 1 else 0))
        if self._phase == QUEUED and self.wait_reason:
            message = self.wait_reason
        elif self._phase == QUEUED and self.queue_place:
            message = (f"waiting: {ordinal(self.queue_place)} in line. This server trains "
                       f"{self.slots} network{'s' if self.slots != 1 else ''} at a time; "
                       f"this one starts by itself when a slot frees.")
        elif self._phase == STARTING:
            message = "starting: the training process is being prepared"
        else:
            message = ""
        status = {QUEUED: "queued", STARTING: "starting"}.get(self._phase, "idle")
        return TrainerState(status=status, step=0, total_steps=self.config.epochs * per_epoch,
                            epoch=0.0, epochs=self.config.epochs, device="", samples_per_s=0.0,
                            elapsed_s=0.0, loop_s=0.0, eta_s=None, message=message)

    # -- RunHandle ----------------------------------------------------------------
    def _live(self, name: str, *args):
        """Call the worker while live; (True, value), or (False, None) once it is not."""
        w = self._worker
        if self._phase != LIVE or w is None:
            return False, None
        try:
            attr = getattr(w, name)
            return True, (attr(*args) if callable(attr) else attr)
        except WorkerGone as e:
            self._crash(str(e))
        except UserError:
            if self._phase == LIVE:
                raise
        return False, None

    def start(self, paused: bool = False) -> None:
        if self._phase == LIVE:
            self._live("start", paused)
            return
        with self._lock:
            phase = self._phase
            if phase == DONE:
                raise UserError(f"this run has {self._last_status}; reset it to train again")
            self._want_paused = paused
            if phase == FRESH:
                self._phase, self._want_steps = QUEUED, 0
        if phase == FRESH:
            self._enqueue(self)

    def pause(self) -> None:
        if self._phase == QUEUED:
            self._want_paused = True
        self._live("pause")

    def resume(self) -> None:
        if self._phase == QUEUED:
            self._want_paused = False
        self._live("resume")

    def step(self, n: int = 1) -> None:
        if self._phase == FRESH:
            with self._lock:
                self._phase, self._want_steps = QUEUED, n
            self._enqueue(self)
            return
        self._live("step", n)

    def stop(self, reason: str = "stopped by user") -> None:
        with self._lock:
            waiting = self._phase in (QUEUED, STARTING, FRESH)
        if waiting:
            self._end("stopped", f"{reason} before it started")
            return
        self._live("stop", reason)

    def reset(self) -> None:
        """Back to the initial weights with an empty history; Start trains it anew."""
        w = self._worker
        first = self.snapshot(0) if self._phase in (LIVE, DONE) and self._has_weights() else None
        with self._lock:
            self._worker = None
            self._phase = FRESH
            self._snaps = {0: first} if first is not None and first.step == 0 else {}
            self._state = None
            self._last_status = "idle"
        if w is not None:
            _close(w)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until training is not going on (ended, or never started)."""
        if self._phase == LIVE:
            ok, done = self._live("join", timeout)
            if ok:
                if done:
                    self.poll()
                return done
        return self._phase != STARTING

    def is_alive(self) -> bool:
        if self._phase in (QUEUED, STARTING):
            return True
        ok, alive = self._live("is_alive")
        return bool(ok and alive)

    @property
    def status(self) -> str:
        ok, status = self._live("status")
        if ok:
            self._last_status = status
            return status
        if self._phase == DONE:
            return self._last_status
        return {QUEUED: "queued", STARTING: "starting"}.get(self._phase, "idle")

    def state(self) -> TrainerState:
        ok, s = self._live("state")
        if ok:
            self._state, self._last_status = s, s.status
            return s
        with self._lock:
            if self._phase == DONE and self._state is not None:
                return self._state
            s = self._queued_state()
            if self._phase == FRESH and 0 in self._snaps:
                s = replace(s, timeline=[{"step": 0, "epoch": 0.0, "metrics": {}}])
            return s

    def _has_weights(self) -> bool:
        return bool(self._snaps) or self._phase == LIVE

    def snapshot(self, step: int | None = None) -> Snapshot:
        if step is not None and step in self._snaps:
            return self._snaps[step]
        ok, snap = self._live("snapshot", step)
        if ok:
            self._remember(step, snap)
            return snap
        if not self._snaps and self._latest is not None:
            return self._latest
        if not self._snaps:
            raise UserError(self._state.message if self._state else "this run has no weights yet")
        steps = sorted(self._snaps)
        if step is None:
            return self._snaps[steps[-1]]
        return self._snaps[min(steps, key=lambda s: abs(s - step))]

    def latest_weights(self) -> Snapshot:
        ok, snap = self._live("latest_weights")
        if ok:
            self._latest = snap                  # what the views show if the worker is lost
            return snap
        if not self._snaps and self._latest is not None:
            return self._latest
        return self.snapshot(None)

    def _remember(self, asked: int | None, snap: Snapshot) -> None:
        """Keep a live run's fetched snapshots for every viewer (they never change), in budget."""
        if asked is None or snap is None:
            return
        with self._lock:
            self._snaps[snap.step] = snap
            total = sum(snapshot_bytes(s) for s in self._snaps.values())
            for step in sorted(self._snaps)[1:-1]:
                if total <= self.kept_bytes:
                    break
                total -= snapshot_bytes(self._snaps.pop(step))

    @property
    def process_alive(self) -> bool:
        """False only once its worker is known to be lost (no call into the worker)."""
        w = self._worker
        return w is None or w.process_alive

    def kept_bytes_now(self) -> int:
        return sum(snapshot_bytes(s) for s in self._snaps.values())

    def close(self) -> None:
        """End the worker (if any), keeping what the views need."""
        w = self._worker
        if self._phase == LIVE and w is not None:
            try:
                w.stop("closed")
                w.join(5)
            except UserError:
                pass
            self.harvest()
        w = self._worker
        with self._lock:
            if self._phase != DONE:
                base = self._state or self._queued_state()
                self._state = replace(base, status="stopped", message=base.message or "closed")
                self._last_status = "stopped"
                self._phase, self._worker = DONE, None
        if w is not None:
            _close(w)


def _close(handle: RunHandle | None) -> None:
    """Stop a worker and free what it holds (a process, for ProcessRun)."""
    if handle is None:
        return
    try:
        handle.stop("closed")
    except UserError:
        pass
    handle.close()

