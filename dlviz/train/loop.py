"""The step loop of one run: batches, loss, update, and what is recorded between steps.

The hot loop does the work of a bare PyTorch loop plus one host read of the
loss (which also feeds the divergence watch, before the update). Recording
(train-loss rows, evaluations, layer health, snapshots) happens when the
``RecordingSchedule`` says it is due. The loop runs in the trainer's thread
(``train/trainer.py``, run control): between two steps it honours
``RunSignals`` (stop, pause, single steps) and appends to ``RunRecords``.
"""

from __future__ import annotations

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
from dlviz.train.optimizers import make_optimizer
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
    """How the loop ended: finished, stopped or diverged (with the loss that showed it)."""
    status: str
    loss_value: float = 0.0
    grown: bool = False


class TrainingLoop:
    """One run's model, optimizer and batches, from its seed's initial weights.

    x: (N, *input_shape) and y: (N,) or (N, outputs), the whole training set, already
    on ``device``: batches are drawn by index."""

    def __init__(self, spec: NetSpec, config: TrainConfig, device: torch.device,
                 x: torch.Tensor, y: torch.Tensor, eval_sets: EvalSets):
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
        self._loss_sum = 0.0
        self._loss_n = 0

    def snapshot(self, metrics: dict) -> Snapshot:
        return snapshot_of(self.model, self.step_count, self.batches_per_epoch, metrics)

    def run(self, records: RunRecords, signals: RunSignals) -> Outcome:
        c = self.config
        n = len(self._x)
        model, opt, sched = self.model, self.optimizer, self.schedule
        loss_fn = F.cross_entropy if self.spec.task == "classification" else F.mse_loss
        l1_params = [p for p in model.parameters() if p.dim() > 1] if c.l1 > 0 else []
        scheduled = varies(c)
        model.train()
        t_run = time.perf_counter()
        t_rate, samples_rate = t_run, 0
        while self.step_count < self.total_steps:
            epoch_step = self.step_count % self.batches_per_epoch
            if epoch_step == 0:
                perm = torch.randperm(n, device=self.device, generator=self._gen)
            if signals.stop:
                break
            if signals.paused and not signals.wait_while_paused():
                break
            t0 = time.perf_counter()
            first = epoch_step * c.batch_size
            idx = perm[first:first + c.batch_size]
            xb, yb = self._x[idx], self._y[idx]
            if scheduled:
                lr = lr_at(c, self.step_count, self.total_steps)
                for group in opt.param_groups:
                    group["lr"] = lr
            step = self.step_count + 1
            due = step >= sched.next_due            # anything to record after this step
            check_health = due and sched.is_due("health", step)
            if check_health:
                before = self._tensors.copies()
                with capture(model, self._plan.activations,
                             reduce=lambda name, out: H.unit_stats(self._plan.activations[name], out)) as probe:
                    out = model(xb)
            else:
                out = model(xb)
            loss = loss_fn(out, yb)
            if l1_params:
                loss = loss + c.l1 * sum(p.abs().sum() for p in l1_params)
            loss_value = loss.item()            # one host read: the loss curve and the divergence checks
            verdict = self.watch.observe(step, loss_value)
            if verdict is not None:
                return Outcome("diverged", loss_value, grown=verdict == GROWN)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if check_health:
                w, g = self._tensors.norms()
            opt.step()
            self.step_count = step
            self._loss_sum += loss_value
            self._loss_n += 1
            samples_rate += min(first + c.batch_size, n) - first     # len(idx) without asking torch
            t1 = time.perf_counter()
            sched.note_step(t1 - t0)
            self.elapsed += t1 - t0
            if check_health:
                ratio = self._tensors.update_ratios(before, w)
                row = H.health_row(self._plan, w, g, ratio, probe.outputs)
                records.add(records.health, {"step": step, "layers": row})
                sched.reschedule("health", step, t0, time.perf_counter(), t1 - t0)
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
        self.wall = time.perf_counter() - t_run - signals.paused_s
        if not self.rate and samples_rate:      # a run shorter than one rate window: its own mean
            self.rate = samples_rate / max(time.perf_counter() - t_rate, 1e-9)
        if signals.stop:
            self.record(records, self.step_count)
            return Outcome("stopped")
        return Outcome("finished")

    def record(self, records: RunRecords, step: int) -> None:
        """The mean train loss since the last row, and the learning rate, as a history row."""
        t0 = time.perf_counter()
        if self._loss_n:
            row = {"step": step, "epoch": step / self.batches_per_epoch,
                   "train_loss": self._loss_sum / self._loss_n,
                   "lr": self.optimizer.param_groups[0]["lr"]}
            self._loss_sum, self._loss_n = 0.0, 0
            records.add(records.history, row)
        self.schedule.reschedule("record", self.step_count, t0, time.perf_counter())

    def _evaluate(self, records: RunRecords, step: int) -> None:
        row = {"step": step, "epoch": step / self.batches_per_epoch}
        row.update(self._eval_sets.evaluate(self.model, self.spec.task, self.device))
        records.add(records.evals, row)
