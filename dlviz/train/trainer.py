"""Run control: one model, one dataset, one training thread.

In the app a Trainer lives in a worker process of its own
(``process_backend``), driven through a pipe; in tests and the CLI, in the
caller's process. Its thread runs the step loop (``train/loop.py``) and owns
the model while it runs. Everything a reader may see is appended to the
run's ``RunRecords`` under ``_lock`` and read back as a copy (``state()``);
the thread never calls streamlit. When the loop records is the
``RecordingSchedule``'s business (``train/recording.py``); evaluation and
snapshots are in ``train/evaluation.py``, the divergence watch in
``train/divergence.py``. A run that runs out of GPU memory ends alone, with
one message, its device memory given back (``_out_of_memory``).
"""

from __future__ import annotations

import gc
import threading

import torch

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train.compatibility import check_compatible
from dlviz.train.config import TrainConfig
from dlviz.train.device import pick_device
from dlviz.train.evaluation import EvalSets, evaluate, keep_good_snapshots
from dlviz.train.history import RunRecords, Snapshot, timeline_capacity
from dlviz.train.loop import Outcome, RunSignals, TrainingLoop
from dlviz.train.precision import check_precision
from dlviz.train.state import ENDED, TrainerState

LIVE_WAIT_S = 0.1      # how long latest_weights waits for the training thread's next step


class Trainer:
    """Implements ``RunHandle`` (``train/backend.py``) in the caller's process."""

    def __init__(self, spec: NetSpec, dataset: Dataset, config: TrainConfig | None = None,
                 deferred_losses: bool | None = None):
        """``deferred_losses``: read step losses in batches (``train/loss_reads.py``);
        None: on CUDA only."""
        self.spec = spec
        self.dataset = dataset
        self.config = (config or TrainConfig()).validate()
        check_compatible(spec, dataset)
        self.device = pick_device(self.config.device)
        check_precision(self.config.precision, self.device)     # before any data moves there
        self._deferred_losses = deferred_losses
        self._lock = threading.RLock()   # reset() re-inits under it
        self._thread: threading.Thread | None = None
        self._x = None
        self._init_run()

    # -- set-up -----------------------------------------------------------------
    def _place_data(self) -> None:
        # put the whole dataset on the device once; batches are drawn by index
        self._x = self.dataset.x_train.to(self.device)
        self._y = self.dataset.y_train.to(self.device)
        # fixed subsets for the periodic evaluation, kept on the device
        self._eval_sets = EvalSets.draw(self.dataset, self._x, self._y, self.config.seed, self.device)

    def _init_run(self) -> None:
        c = self.config
        try:
            if self._x is None:              # not placed yet, or given back after running out of memory
                self._place_data()
            self._loop = TrainingLoop(self.spec, c, self.device, self._x, self._y, self._eval_sets,
                                      self._deferred_losses)
        except torch.OutOfMemoryError:
            # the data or the network did not fit (other runs hold the GPU): one message,
            # and nothing kept on the device
            self._x = self._y = self._eval_sets = None
            gc.collect()
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise UserError(f"not enough {'GPU ' if self.device.type != 'cpu' else ''}memory on "
                            f"{self.device} to set this run up (its data and its network): try "
                            "fewer samples, a smaller network, or later, when other runs have "
                            "finished") from None
        self.net = self._loop.net
        self.model = self._loop.model
        self.optimizer = self._loop.optimizer
        self.total_steps = self._loop.total_steps
        self._signals = RunSignals()
        self._records = RunRecords(self._lock, timeline_capacity(self.model, c.max_snapshots))
        self.timeline = self._records.timeline
        self._status = "idle"
        self._message = ""
        self._records.add_snapshot(self._loop.snapshot({}))      # step 0: the initial weights

    @property
    def step_count(self) -> int:
        """Optimizer steps taken."""
        return self._loop.step_count

    # -- control (any thread) ---------------------------------------------------
    def start(self, paused: bool = False) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self._status in ENDED:
            raise UserError(f"this run has {self._status}; reset it to train again")
        self._signals.paused = paused
        self._set_status("paused" if paused else "running")
        self._thread = threading.Thread(target=self._run, name="dlviz-trainer", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self._status == "running":
            self._signals.paused = True
            self._set_status("paused")

    def resume(self) -> None:
        if self._status == "paused":
            with self._signals.wake:
                self._signals.paused = False
                self._set_status("running")
                self._signals.wake.notify_all()

    def step(self, n: int = 1) -> None:
        """Run ``n`` steps while paused (starts the run paused if it is idle)."""
        if self._status == "idle":
            self.start(paused=True)
        with self._signals.wake:
            self._signals.pending_steps += n
            self._signals.wake.notify_all()

    def stop(self, reason: str = "stopped by user") -> None:
        with self._signals.wake:
            self._signals.stop = True
            if not self._message:
                self._message = reason
            self._signals.wake.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        t = self._thread
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    def reset(self) -> None:
        """Stop, then start over from the seed's initial weights with empty history."""
        self.stop()
        self.join()
        with self._lock:
            self._thread = None
            self._init_run()

    def close(self) -> None:
        """Stop training and wait (up to 5 s) for the thread; what was recorded stays readable."""
        self.stop("closed")
        self.join(5)

    @property
    def status(self) -> str:
        return self._status

    @property
    def process_alive(self) -> bool:
        """Always True: this trainer runs in the caller's own process."""
        return True

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- reading (any thread) ---------------------------------------------------
    def state(self) -> TrainerState:
        with self._lock:
            r, loop = self._records, self._loop
            remaining = self.total_steps - loop.step_count
            eta = remaining / self._steps_per_s() if loop.rate > 0 and self._status == "running" else None
            return TrainerState(
                status=self._status, step=loop.step_count, total_steps=self.total_steps,
                epoch=loop.step_count / loop.batches_per_epoch, epochs=self.config.epochs,
                device=str(self.device), samples_per_s=loop.rate, elapsed_s=loop.elapsed,
                loop_s=loop.wall,
                eta_s=eta, message=self._message, history=r.history.copy(),
                evals=r.evals.copy(), health=[dict(row) for row in r.health.rows],
                timeline=[{"step": s.step, "epoch": s.epoch, "metrics": dict(s.metrics)}
                          for s in r.timeline.snapshots],
                final=dict(r.final))

    def snapshot(self, step: int | None = None) -> Snapshot:
        """The snapshot nearest ``step`` (the latest when None). Its tensors are never mutated."""
        with self._lock:
            if step is None:
                return self.timeline.snapshots[-1]
            return self.timeline.nearest(step)

    def latest_weights(self) -> Snapshot:
        """Weights at the current step, for views of a live run.

        Copies are made between two steps, never a torn read of weights being
        updated: by the trainer thread at the end of its current step (this
        waits for it, up to LIVE_WAIT_S, else returns the newest copy), or here
        while the loop rests paused (it cannot leave its wait while this holds
        ``wake``). So the picture of a page shows the step its progress line
        shows, and a Step's effect at once. Costs nothing when nobody asks.
        """
        r, signals = self._records, self._signals
        if self.is_alive():
            with signals.wake:
                resting = signals.resting
                if resting:                         # paused between two steps: the model rests
                    r.set_live(self._loop.snapshot({}))
            if not resting:
                r.live_copied.clear()
                r.live_wanted = True
                r.live_copied.wait(LIVE_WAIT_S)
        with self._lock:
            live = self._records.live
            last = self.timeline.snapshots[-1]
        if not self.is_alive() or live is None or live.step < last.step:
            return last
        return live

    def _steps_per_s(self) -> float:
        return self._loop.rate / self.config.batch_size

    # -- the thread -------------------------------------------------------------
    def _run(self) -> None:
        try:
            torch.manual_seed(self.config.seed)      # dropout masks
            outcome = self._loop.run(self._records, self._signals)
            if outcome.status == "diverged":
                self._diverged(outcome)
            else:
                self._finish(outcome.status)
        except torch.OutOfMemoryError:
            pass        # handled below, outside this block: its traceback holds the step's tensors
        except Exception as e:  # noqa: BLE001 - reported to the UI, never raised into it
            self._message = f"training failed: {type(e).__name__}: {e}"
            self._set_status("error")
            return
        else:
            return
        self._out_of_memory()

    def _out_of_memory(self) -> None:
        """End the run with one message and give its device memory back, so the other runs
        sharing the GPU go on. What the views need stays: the snapshots are CPU copies,
        and the model moves to the CPU (a reset puts it and the data back)."""
        loop = self._loop
        what = "GPU memory" if self.device.type != "cpu" else "memory"
        ended = loop.step_count == self.total_steps or self._status == "stopped"
        when = (f"in the final evaluation, after step {loop.step_count}" if ended
                else f"at step {loop.step_count + 1}")
        message = (f"ran out of {what} {when} (batch size {self.config.batch_size}): "
                   "try a smaller batch size or a smaller network")
        loop.optimizer.state.clear()
        self.model.zero_grad(set_to_none=True)
        self.model.to("cpu")
        loop.release_device()
        self._x = self._y = self._eval_sets = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        with self._lock:
            self._message = message
        self._set_status("error")

    def _finish(self, status: str) -> None:
        if status == "stopped":
            # a Stop shows at once: the whole-set evaluation (0.9 s on LeNet/digits) runs
            # after, with the thread still alive, and ``final`` fills in when it is done
            # (docs/ARCHITECTURE.md, "The live Train page"); a finished run reports the
            # end with its final figures, as readers waiting for "finished" expect
            self._set_status(status)
        task, ds = self.spec.task, self.dataset
        final = evaluate(self.model, task, ds.x_test, ds.y_test, self.device, "test")
        # the whole train set in eval mode: deterministic, unlike a running average
        final.update(evaluate(self.model, task, self._x, self._y, self.device, "train"))
        self._records.add_snapshot(self._loop.snapshot(final))
        with self._lock:
            self._records.final = final
            if status == "finished":
                self._message = f"finished {self.config.epochs} epochs ({self.step_count} steps)"
        self._set_status(status)

    def _diverged(self, outcome: Outcome) -> None:
        loop = self._loop
        # the steps before the one whose loss showed it: the steps taken, or fewer when
        # losses are read in batches (train/loss_reads.py)
        before = outcome.step - 1 if outcome.step else loop.step_count
        with self._lock:
            good_until = loop.watch.good_until(outcome.grown, before)
            last = keep_good_snapshots(self.timeline, good_until)
            self._message = loop.watch.message(outcome.loss_value, outcome.grown, before,
                                               loop.batches_per_epoch, self.config.lr, last)
        self._set_status("diverged")

    def _set_status(self, status: str) -> None:
        with self._lock:
            self._status = status
