"""The step loop of one run: batches, loss, update, and what is recorded between steps.

The hot loop does the work of a bare PyTorch loop plus the host read of the
loss (which also feeds the divergence watch): at once on the CPU, every few
steps on a GPU, where a read waits for the device (``train/loss_reads.py``),
so a CUDA step queues its kernels and never synchronises. ``precision``
bf16 runs forward and loss under autocast (``train/precision.py``). Recording
(train-loss rows, evaluations, layer health, snapshots) happens when the
``RecordingSchedule`` says it is due. The loop runs in the trainer's thread
(``train/trainer.py``, run control): between two steps it honours
``RunSignals`` (stop, pause, single steps) and appends to ``RunRecords``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlviz.build import BuiltNet, build
from dlviz.probe import capture
from dlviz.spec import NetSpec
from dlviz.train import health as H
from dlviz.train.config import TrainConfig
from dlviz.train.divergence import GROWN, DivergenceWatch
from dlviz.train.evaluation import EvalSets, snapshot_metrics, snapshot_of
from dlviz.train.head_start import apply_head_start, trainable
from dlviz.train.history import RunRecords, Snapshot
from dlviz.train.loss_reads import LossReads
from dlviz.train.optimizers import make_optimizer
from dlviz.train.precision import autocast_for, check_precision
from dlviz.train.recording import RecordingSchedule
from dlviz.train.schedules import lr_at, varies


class RunSignals:
    """What run control asks of the loop, checked between two steps."""

    def __init__(self) -> None:
        self.wake = threading.Condition()
        self.stop = False
        self.paused = False
        self.pending_steps = 0           # single steps asked for while paused
        self.paused_s = 0.0              # seconds spent paused
        self.resting = False             # the loop waits in wait_while_paused (under ``wake``)

    def wait_while_paused(self) -> bool:
        """Block until resumed, a single step is requested, or stop. False means stop."""
        t0 = time.perf_counter()
        with self.wake:
            self.resting = True
            while self.paused and not self.stop and self.pending_steps == 0:
                self.wake.wait()
            self.resting = False
            self.paused_s += time.perf_counter() - t0
            if self.stop:
                return False
            if self.paused and self.pending_steps > 0:
                self.pending_steps -= 1
            return True


@dataclass(frozen=True)
class Outcome:
    """How the loop ended: finished, stopped or diverged (with the loss that showed it, and
    its step: the one after the last step taken, or up to ``DEFER_EVERY`` before it when
    losses are read in batches)."""
    status: str
    loss_value: float = 0.0
    grown: bool = False
    step: int = 0


class TrainingLoop:
    """One run's model, optimizer and batches, from its seed's initial weights.

    x: (N, *input_shape) and y: (N,) or (N, outputs), the whole training set, already
    on ``device``: batches are drawn by index. ``deferred_losses``: read losses in
    batches (None: on CUDA only; tests force it on the CPU)."""

    def __init__(self, spec: NetSpec, config: TrainConfig, device: torch.device,
                 x: torch.Tensor, y: torch.Tensor, eval_sets: EvalSets,
                 deferred_losses: bool | None = None):
        check_precision(config.precision, device)
        self.spec, self.config, self.device = spec, config, device
        self._x, self._y = x, y
        self._eval_sets = eval_sets
        self.net: BuiltNet = build(spec, device, seed=config.seed)
        self.model = self.net.model
        # a head start copies trained weights in and freezes layers (train/head_start.py); the
        # optimizer gets only what trains, so no momentum or weight decay moves a frozen layer
        self.head_start = apply_head_start(self.net, spec.head_start) if spec.head_start else None
        self.optimizer = make_optimizer(trainable(self.model), config)
        self._plan = H.HealthPlan.for_model(self.model, self.net.layer_modules)
        self._tensors = H.LayerTensors(self.model, self._plan.weighted)
        n = len(x)
        self.batches_per_epoch = max(1, n // config.batch_size + (1 if n % config.batch_size > 1 else 0))
        self.total_steps = config.epochs * self.batches_per_epoch
        self._gen = torch.Generator(device=device).manual_seed(config.seed)
        self.step_count = 0
        self.elapsed = 0.0        # seconds inside training steps
        self.wall = 0.0           # seconds in the loop, recording included, pauses not
        self.rate = 0.0           # samples per second, a running mean
        self.schedule = RecordingSchedule(config, self.total_steps)
        self.watch = DivergenceWatch()
        self.losses = LossReads(device, self.watch, deferred_losses)
        # DLVIZ_SYNC_DEBUG=1 on CUDA: any host sync inside a step raises (tests/test_cuda.py)
        self._sync_debug = device.type == "cuda" and os.environ.get("DLVIZ_SYNC_DEBUG") == "1"
        self._window_s, self._window_n = 0.0, 0     # deferred: host time of the steps since the last read

    def release_device(self) -> None:
        """Drop this loop's references to device tensors (the data, the evaluation subsets,
        the loss buffer): after running out of memory; the loop cannot run again."""
        self._x = self._y = self._eval_sets = None
        self._gen = None
        self.losses = LossReads(torch.device("cpu"), self.watch, deferred=False)

    def snapshot(self, metrics: dict) -> Snapshot:
        return snapshot_of(self.model, self.step_count, self.batches_per_epoch, metrics)

    def run(self, records: RunRecords, signals: RunSignals) -> Outcome:
        if not self._sync_debug:
            return self._steps(records, signals)
        try:
            return self._steps(records, signals)
        finally:                        # a step that failed inside the checked part
            torch.cuda.set_sync_debug_mode("default")

    def _steps(self, records: RunRecords, signals: RunSignals) -> Outcome:
        c = self.config
        n = len(self._x)
        model, opt, sched = self.model, self.optimizer, self.schedule
        loss_fn = F.cross_entropy if self.spec.task == "classification" else F.mse_loss
        l1_params = [p for p in model.parameters() if p.dim() > 1] if c.l1 > 0 else []
        scheduled = varies(c)
        losses, deferred, sync_debug = self.losses, self.losses.deferred, self._sync_debug
        bf16 = c.precision == "bf16"
        model.train()
        t_run = time.perf_counter()
        t_rate, samples_rate = t_run, 0
        while self.step_count < self.total_steps:
            epoch_step = self.step_count % self.batches_per_epoch
            if epoch_step == 0:
                perm = torch.randperm(n, device=self.device, generator=self._gen)
            if signals.stop:
                break
            if signals.paused:
                ended = self._read_losses() if deferred else None    # a paused run shows its last step
                if ended is not None:
                    return ended
                if not signals.wait_while_paused():
                    break
            t0 = time.perf_counter()
            step = self.step_count + 1
            due = step >= sched.next_due            # anything to record after this step
            check_health = due and sched.is_due("health", step)
            # a health row reads to the host anyway: the debug mode checks the other steps
            checked = sync_debug and not check_health
            if checked:
                torch.cuda.set_sync_debug_mode("error")
            first = epoch_step * c.batch_size
            idx = perm[first:first + c.batch_size]
            xb, yb = self._x[idx], self._y[idx]
            if scheduled:
                lr = lr_at(c, self.step_count, self.total_steps)
                for group in opt.param_groups:
                    group["lr"] = lr
            if check_health:
                before = self._tensors.copies()
            with autocast_for(c.precision, self.device) if bf16 else _NO_AUTOCAST:
                if check_health:
                    with capture(model, self._plan.activations,
                                 reduce=lambda name, out: H.unit_stats(self._plan.activations[name], out)) as probe:
                        out = model(xb)
                else:
                    out = model(xb)
                loss = loss_fn(out, yb)
            if l1_params:
                loss = loss + c.l1 * sum(p.abs().sum() for p in l1_params)
            if deferred:
                losses.keep(step, loss)         # read with the next few (train/loss_reads.py)
            else:
                verdict = losses.read(step, loss)   # one host read: loss curve, divergence checks
                if verdict is not None:
                    return _diverged(verdict)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if check_health:
                w, g = self._tensors.norms()
            opt.step()
            if checked:
                torch.cuda.set_sync_debug_mode("default")
            self.step_count = step
            samples_rate += min(first + c.batch_size, n) - first     # len(idx) without asking torch
            t1 = time.perf_counter()
            self.elapsed += t1 - t0
            if not deferred:
                sched.note_step(t1 - t0)
            else:
                self._window_s += t1 - t0
                self._window_n += 1
                if losses.full or due or step == self.total_steps:
                    ended = self._read_losses()
                    if ended is not None:
                        return ended
                    waited = time.perf_counter() - t1
                    t0, t1 = t0 + waited, t1 + waited      # a health row's cost: not the wait
            if check_health:
                ratio = self._tensors.update_ratios(before, w)
                row = H.health_row(self._plan, w, g, ratio, probe.outputs)
                records.add(records.health, {"step": step, "layers": row})
                # a deferred step's own host time is its launch time only: the running mean
                sched.reschedule("health", step, t0, time.perf_counter(), None if deferred else t1 - t0)
            if t1 - t_rate > 0.25:
                self.rate = samples_rate / (t1 - t_rate) if not self.rate else \
                    0.7 * self.rate + 0.3 * samples_rate / (t1 - t_rate)
                t_rate, samples_rate = t1, 0
            if records.live_wanted:
                records.live_wanted = False
                records.set_live(self.snapshot({}))
            if not (due or step == self.total_steps):
                continue
            if sched.is_due("record", step):
                self.record(records, step)
            if sched.is_due("eval", step):
                sched.timed("eval", step, lambda: self._evaluate(records, step))
            if sched.is_due("snapshot", step) or step == self.total_steps:
                sched.timed("snapshot", step, lambda: records.add_snapshot(self.snapshot(
                    snapshot_metrics(records.evals.last(), records.history.last()))))
        ended = self._read_losses() if deferred else None       # stopped between two reads
        self.wall = time.perf_counter() - t_run - signals.paused_s
        if ended is not None:
            return ended
        if not self.rate and samples_rate:      # a run shorter than one rate window: its own mean
            self.rate = samples_rate / max(time.perf_counter() - t_rate, 1e-9)
        if signals.stop:
            self.record(records, self.step_count)
            return Outcome("stopped")
        return Outcome("finished")

    def _read_losses(self) -> Outcome | None:
        """Deferred mode: read the pending losses (waits for the queued steps) and charge
        the wait to those steps: the schedule then weighs recordings against the steps'
        real time, not their launch time. An outcome when one of them diverged."""
        t0 = time.perf_counter()
        verdict = self.losses.flush()
        wait = time.perf_counter() - t0
        self.elapsed += wait
        if self._window_n:
            self.schedule.note_steps((self._window_s + wait) / self._window_n, self._window_n)
        self._window_s, self._window_n = 0.0, 0
        return _diverged(verdict) if verdict is not None else None

    def record(self, records: RunRecords, step: int) -> None:
        """The mean train loss since the last row, and the learning rate, as a history row."""
        t0 = time.perf_counter()
        mean = self.losses.take_mean()
        if mean is not None:
            row = {"step": step, "epoch": step / self.batches_per_epoch, "train_loss": mean,
                   "lr": self.optimizer.param_groups[0]["lr"]}
            records.add(records.history, row)
        self.schedule.reschedule("record", self.step_count, t0, time.perf_counter())

    def _evaluate(self, records: RunRecords, step: int) -> None:
        row = {"step": step, "epoch": step / self.batches_per_epoch}
        row.update(self._eval_sets.evaluate(self.model, self.spec.task, self.device))
        records.add(records.evals, row)


_NO_AUTOCAST = contextlib.nullcontext()       # reusable: it keeps no state


def _diverged(verdict: tuple[str, int, float]) -> Outcome:
    what, step, value = verdict
    return Outcome("diverged", value, grown=what == GROWN, step=step)
