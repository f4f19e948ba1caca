"""The trainer: one model, one dataset, one training thread.

In the app a Trainer lives in a worker process of its own
(``process_backend``), driven through a pipe; in tests and the CLI, in the
caller's process. Its thread owns the model while it runs. Everything a
reader may see is appended under ``_lock`` and read back as a copy
(``state()``); the thread never calls streamlit. The hot loop does the work
of a bare PyTorch loop plus one host read of the loss (which also catches
NaN and a blown-up loss before the update); metrics, layer health,
evaluation and snapshots happen on a schedule whose intervals are chosen so
that each costs about 1% of training time, with at least MIN_POINTS of each
over a run where that costs at most MAX_SHARE.
"""

from __future__ import annotations

import math
import threading
import time

import torch
import torch.nn.functional as F

from dlviz.build import BuiltNet, build
from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.probe import capture
from dlviz.spec import NetSpec
from dlviz.train import health as H
from dlviz.train.config import TrainConfig
from dlviz.train.device import pick_device
from dlviz.train.history import BoundedSeries, Snapshot, Timeline, weights_to_cpu
from dlviz.train.optim import lr_at, make_optimizer
from dlviz.train.state import ENDED, TrainerState

EVAL_SUBSET = 256          # samples per periodic evaluation (the final one uses all)
OVERHEAD_SHARE = 0.01      # target share of training time for each recording activity
MIN_INTERVAL_S = 0.05      # records more often than this are never seen
MIN_POINTS = 40            # evaluations and health rows over a run, at least (if time allows)
MAX_SHARE = 0.03           # ... for which each activity may take up to this share of training
TIMELINE_BYTES = 256 * 2**20   # all snapshots of one run together
# Divergence without NaN: a short running mean of the step loss far above where
# it started (the smallest of the first steps' losses, floored so that a tiny
# regression loss does not trip on noise) stops the run, as a NaN does.
DIVERGE_FACTOR = 100.0     # running mean above this times the starting loss: diverged
CALM_FACTOR = 10.0         # below this times the starting loss the weights count as good
LOSS_FLOOR = 0.1           # the starting loss is taken as at least this (limit >= 10)
START_STEPS = 5            # the starting loss: the smallest of the first steps' losses
LOSS_EMA = 1 / 3           # running-mean weight of the newest step (~ the last 5 steps)


class Trainer:
    def __init__(self, spec: NetSpec, dataset: Dataset, config: TrainConfig | None = None):
        self.spec = spec
        self.dataset = dataset
        self.config = (config or TrainConfig()).validate()
        check_compatible(spec, dataset)
        self.device = pick_device(self.config.device)
        self._lock = threading.RLock()   # reset() re-inits under it
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        # put the whole dataset on the device once; batches are drawn by index
        self._x = dataset.x_train.to(self.device)
        self._y = dataset.y_train.to(self.device)
        # fixed subsets for the periodic evaluation, kept on the device
        g = torch.Generator().manual_seed(self.config.seed + 1)
        i_tr = torch.randperm(len(dataset.x_train), generator=g)[:EVAL_SUBSET]
        i_te = torch.randperm(len(dataset.x_test), generator=g)[:EVAL_SUBSET]
        self._eval_train = (self._x[i_tr.to(self.device)], self._y[i_tr.to(self.device)])
        self._eval_test = (dataset.x_test[i_te].to(self.device), dataset.y_test[i_te].to(self.device))
        self._init_run()

    # -- set-up -----------------------------------------------------------------
    def _init_run(self) -> None:
        c = self.config
        self.net: BuiltNet = build(self.spec, self.device, seed=c.seed)
        self.model = self.net.model
        self.optimizer = make_optimizer(self.model.parameters(), c)
        self._plan = H.HealthPlan.for_model(self.model, self.net.layer_modules)
        n = len(self._x)
        self._batches_per_epoch = max(1, n // c.batch_size + (1 if n % c.batch_size > 1 else 0))
        self.total_steps = c.epochs * self._batches_per_epoch
        self._gen = torch.Generator(device=self.device).manual_seed(c.seed)
        self.step_count = 0
        self._status = "idle"
        self._message = ""
        self._elapsed = 0.0       # seconds inside training steps
        self._wall = 0.0          # seconds in the training loop, recording included, pauses not
        self._paused_s = 0.0
        self._rate = 0.0
        self._history = BoundedSeries(1000)
        self._evals = BoundedSeries(500)
        self._health = BoundedSeries(300)
        model_bytes = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        self.timeline = Timeline(max(2, min(c.max_snapshots, TIMELINE_BYTES // max(model_bytes, 1))))
        self._final: dict = {}
        self._live: Snapshot | None = None       # weights copied on request (latest_weights)
        self._want_weights = False
        self._stop = False
        self._paused = False
        self._pending_steps = 0
        # recording schedule: next step at which each activity is due
        self._due = {"record": 1, "eval": 1, "health": 1, "snapshot": 1}
        self._cost = {"record": 0.0, "eval": 0.0, "health": 0.0, "snapshot": 0.0}
        self._step_time = 0.0
        self._loss_sum = 0.0
        self._loss_n = 0
        # divergence watch (see DIVERGE_FACTOR): infinite limits until the first step
        self._loss_start = math.inf     # the starting loss
        self._loss_mean = 0.0           # running mean of the step loss
        self._calm_limit = math.inf
        self._diverge_limit = math.inf
        self._calm_step = 0             # last step whose running mean was below the calm limit
        self._take_snapshot({})      # step 0: the initial weights

    # -- control (any thread) ---------------------------------------------------
    def start(self, paused: bool = False) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self._status in ENDED:
            raise UserError(f"this run has {self._status}; reset it to train again")
        self._paused = paused
        self._set_status("paused" if paused else "running")
        self._thread = threading.Thread(target=self._run, name="dlviz-trainer", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self._status == "running":
            self._paused = True
            self._set_status("paused")

    def resume(self) -> None:
        if self._status == "paused":
            with self._wake:
                self._paused = False
                self._set_status("running")
                self._wake.notify_all()

    def step(self, n: int = 1) -> None:
        """Run ``n`` steps while paused (starts the run paused if it is idle)."""
        if self._status == "idle":
            self.start(paused=True)
        with self._wake:
            self._pending_steps += n
            self._wake.notify_all()

    def stop(self, reason: str = "stopped by user") -> None:
        with self._wake:
            self._stop = True
            if not self._message:
                self._message = reason
            self._wake.notify_all()

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

    @property
    def status(self) -> str:
        return self._status

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- reading (any thread) ---------------------------------------------------
    def state(self) -> TrainerState:
        with self._lock:
            remaining = self.total_steps - self.step_count
            eta = remaining / self._steps_per_s() if self._rate > 0 and self._status == "running" else None
            return TrainerState(
                status=self._status, step=self.step_count, total_steps=self.total_steps,
                epoch=self.step_count / self._batches_per_epoch, epochs=self.config.epochs,
                device=str(self.device), samples_per_s=self._rate, elapsed_s=self._elapsed,
                loop_s=self._wall,
                eta_s=eta, message=self._message, history=self._history.copy(),
                evals=self._evals.copy(), health=[dict(r) for r in self._health.rows],
                timeline=[{"step": s.step, "epoch": s.epoch, "metrics": dict(s.metrics)}
                          for s in self.timeline.snapshots],
                final=dict(self._final))

    def snapshot(self, step: int | None = None) -> Snapshot:
        """The snapshot nearest ``step`` (the latest when None). Its tensors are never mutated."""
        with self._lock:
            if step is None:
                return self.timeline.snapshots[-1]
            return self.timeline.nearest(step)

    def latest_weights(self) -> Snapshot:
        """Weights at (nearly) the current step, for views of a live run.

        Copies are made by the trainer thread between two steps (never a torn
        read of weights being updated): this returns the newest copy and asks
        for a fresh one, so a page polling twice a second sees weights at most
        one poll old. Costs nothing when nobody asks.
        """
        self._want_weights = True
        with self._lock:
            live = self._live
            last = self.timeline.snapshots[-1]
        if not self.is_alive() or live is None or live.step < last.step:
            return last
        return live

    def _steps_per_s(self) -> float:
        return self._rate / self.config.batch_size

    # -- the thread -------------------------------------------------------------
    def _run(self) -> None:
        try:
            torch.manual_seed(self.config.seed)      # dropout masks
            self._loop()
        except Exception as e:  # noqa: BLE001 - reported to the UI, never raised into it
            self._message = f"training failed: {type(e).__name__}: {e}"
            self._set_status("error")

    def _loop(self) -> None:
        c = self.config
        n = len(self._x)
        model, opt = self.model, self.optimizer
        loss_fn = F.cross_entropy if self.spec.task == "classification" else F.mse_loss
        l1_params = [p for p in model.parameters() if p.dim() > 1] if c.l1 > 0 else []
        scheduled = c.schedule != "constant"
        model.train()
        t_run = time.perf_counter()
        t_rate, samples_rate = t_run, 0
        while self.step_count < self.total_steps:
            epoch_step = self.step_count % self._batches_per_epoch
            if epoch_step == 0:
                perm = torch.randperm(n, device=self.device, generator=self._gen)
            if self._stop:
                break
            if self._paused and not self._wait_while_paused():
                break
            t0 = time.perf_counter()
            idx = perm[epoch_step * c.batch_size:(epoch_step + 1) * c.batch_size]
            xb, yb = self._x[idx], self._y[idx]
            if scheduled:
                lr = lr_at(c, self.step_count, self.total_steps)
                for group in opt.param_groups:
                    group["lr"] = lr
            step = self.step_count + 1
            watch = step >= self._due["health"]
            if watch:
                before = H.flat_params(model, self._plan.weighted)
                with capture(model, self._plan.activations,
                             reduce=lambda name, out: H.unit_stats(self._plan.activations[name], out)) as probe:
                    out = model(xb)
            else:
                out = model(xb)
            loss = loss_fn(out, yb)
            if l1_params:
                loss = loss + c.l1 * sum(p.abs().sum() for p in l1_params)
            loss_value = loss.item()            # one host read: the loss curve and the divergence checks
            if not math.isfinite(loss_value):
                self._diverged(loss_value)
                return
            # growth check on the host float: a few Python float operations, no device read
            if step <= START_STEPS:
                self._watch_start(loss_value)
            mean = self._loss_mean = self._loss_mean + LOSS_EMA * (loss_value - self._loss_mean)
            if mean > self._calm_limit:
                if mean > self._diverge_limit:
                    self._diverged(loss_value, grown=True)
                    return
            else:
                self._calm_step = step
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if watch:
                w, g = H.param_norms(model, self._plan.weighted)
            opt.step()
            self.step_count = step
            self._loss_sum += loss_value
            self._loss_n += 1
            samples_rate += len(idx)
            t1 = time.perf_counter()
            self._step_time = 0.98 * self._step_time + 0.02 * (t1 - t0) if self._step_time else t1 - t0
            self._elapsed += t1 - t0
            if watch:
                ratio = H.update_ratios(before, H.flat_params(model, self._plan.weighted))
                row = H.health_row(self._plan, w, g, ratio, probe.outputs)
                with self._lock:
                    self._health.append({"step": step, "layers": row})
                self._reschedule("health", t0, time.perf_counter(), t1 - t0)
            if t1 - t_rate > 0.25:
                self._rate = samples_rate / (t1 - t_rate) if not self._rate else \
                    0.7 * self._rate + 0.3 * samples_rate / (t1 - t_rate)
                t_rate, samples_rate = t1, 0
            if step >= self._due["record"]:
                self._record(step)
            if step >= self._due["eval"]:
                self._evaluate_periodic(step)
            if self._want_weights:
                self._want_weights = False
                live = Snapshot(step, step / self._batches_per_epoch, weights_to_cpu(model), {})
                with self._lock:
                    self._live = live
            if step >= self._due["snapshot"] or step == self.total_steps:
                self._timed("snapshot", lambda: self._take_snapshot(self._latest_metrics()))
        self._wall = time.perf_counter() - t_run - self._paused_s
        if self._stop:
            self._record(self.step_count)
            self._finish("stopped")
        else:
            self._finish("finished")

    def _wait_while_paused(self) -> bool:
        """Block until resumed, a single step is requested, or stop. False means stop."""
        t0 = time.perf_counter()
        with self._wake:
            while self._paused and not self._stop and self._pending_steps == 0:
                self._wake.wait()
            self._paused_s += time.perf_counter() - t0
            if self._stop:
                return False
            if self._paused and self._pending_steps > 0:
                self._pending_steps -= 1
            return True

    # -- recording --------------------------------------------------------------
    def _timed(self, what: str, fn) -> None:
        t0 = time.perf_counter()
        fn()
        self._reschedule(what, t0, time.perf_counter(), self._step_time)

    def _reschedule(self, what: str, t0: float, t1: float, step_time: float) -> None:
        """Space the next ``what`` so that it costs about OVERHEAD_SHARE of training,
        no denser than the bounded series keep and a screen can show."""
        self._cost[what] = t1 - t0 if not self._cost[what] else 0.8 * self._cost[what] + 0.2 * (t1 - t0)
        st = max(step_time, 1e-7)
        by_cost = self._cost[what] / (OVERHEAD_SHARE * st)
        every = {"record": 0, "eval": self.config.eval_every, "health": self.config.health_every,
                 "snapshot": self.config.snapshot_every}[what]
        if every:
            interval = every
        elif what == "snapshot":
            # geometric early (1, 2, 4, ...), then spread the timeline over the run
            interval = max(self.step_count, 1) if self.step_count < 64 else max(
                by_cost, self.total_steps / (2 * self.config.max_snapshots))
        else:
            # At most ~1% of training time each, and no more often than a screen can
            # show. But evaluations and health at least MIN_POINTS times over a run (a
            # curve of 3 points says nothing), up to MAX_SHARE of training time, so one
            # slow measurement never pushes the next past the end. No floor from the
            # run's length: a run of 100,000 epochs shows its first points in its first
            # second too (the bounded series thin themselves evenly when full).
            at_least = self.total_steps / MIN_POINTS
            interval = max(min(by_cost, at_least), by_cost * OVERHEAD_SHARE / MAX_SHARE,
                           min(MIN_INTERVAL_S / st, at_least))
        self._due[what] = self.step_count + max(1, int(interval))

    def _record(self, step: int) -> None:
        t0 = time.perf_counter()
        if self._loss_n:
            row = {"step": step, "epoch": step / self._batches_per_epoch,
                   "train_loss": self._loss_sum / self._loss_n,
                   "lr": self.optimizer.param_groups[0]["lr"]}
            self._loss_sum, self._loss_n = 0.0, 0
            with self._lock:
                self._history.append(row)
        self._reschedule("record", t0, time.perf_counter(), self._step_time)

    def _evaluate_periodic(self, step: int) -> None:
        t0 = time.perf_counter()
        row = {"step": step, "epoch": step / self._batches_per_epoch}
        row.update(self.evaluate(*self._eval_train, "train"))
        row.update(self.evaluate(*self._eval_test, "test"))
        with self._lock:
            self._evals.append(row)
        self._reschedule("eval", t0, time.perf_counter(), self._step_time)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, prefix: str = "test",
                 batch: int = 1024) -> dict:
        """Loss (and accuracy) over (x, y) in eval mode; restores train mode after."""
        was_training = self.model.training
        self.model.eval()
        try:
            total, correct, n = 0.0, 0, len(x)
            for i in range(0, n, batch):
                xb = x[i:i + batch].to(self.device)
                yb = y[i:i + batch].to(self.device)
                out = self.model(xb)
                if self.spec.task == "classification":
                    total += F.cross_entropy(out, yb, reduction="sum").item()
                    correct += (out.argmax(1) == yb).sum().item()
                else:
                    total += F.mse_loss(out, yb, reduction="sum").item()
            res = {f"{prefix}_loss": total / max(n, 1)}
            if self.spec.task == "classification":
                res[f"{prefix}_accuracy"] = correct / max(n, 1)
            return res
        finally:
            self.model.train(was_training)

    def _latest_metrics(self) -> dict:
        m = dict(self._evals.last() or {})
        h = self._history.last()
        if h:
            m["train_loss"] = h["train_loss"]
        m.pop("step", None)
        m.pop("epoch", None)
        return m

    def _take_snapshot(self, metrics: dict) -> None:
        snap = Snapshot(self.step_count, self.step_count / self._batches_per_epoch,
                        weights_to_cpu(self.model), metrics)
        with self._lock:
            self.timeline.add(snap)

    def _finish(self, status: str) -> None:
        final = self.evaluate(self.dataset.x_test, self.dataset.y_test, "test")
        # the whole train set in eval mode: deterministic, unlike a running average
        final.update(self.evaluate(self._x, self._y, "train"))
        self._take_snapshot(final)
        with self._lock:
            self._final = final
            if status == "finished":
                self._message = f"finished {self.config.epochs} epochs ({self.step_count} steps)"
        self._set_status(status)

    def _watch_start(self, loss_value: float) -> None:
        """One of the first START_STEPS losses: set the starting loss and the limits.

        The smallest of them, not their mean: a run that explodes within its
        first steps would otherwise raise its own limit past its explosion."""
        if loss_value < self._loss_start:
            self._loss_start = loss_value
            base = max(loss_value, LOSS_FLOOR)
            self._calm_limit = CALM_FACTOR * base
            self._diverge_limit = DIVERGE_FACTOR * base
        if self.step_count == 0:
            self._loss_mean = loss_value

    def _diverged(self, loss_value: float, grown: bool = False) -> None:
        step = self.step_count + 1          # the step whose loss showed it (not taken)
        with self._lock:
            # the current weights gave a non-finite loss: a snapshot of them is not "good";
            # when the loss grew, neither are those taken after it left its calm range
            # (a snapshot at step s gave the loss of step s + 1)
            good_until = self._calm_step - 1 if grown else self.step_count - 1
            snaps = self.timeline.snapshots
            while len(snaps) > 1 and (snaps[-1].step > good_until or not _finite(snaps[-1])):
                snaps.pop()
            last = snaps[-1].step
            lr = self.config.lr
            what = (f"the loss grew from {self._loss_start:.3g} to {loss_value:.3g} by step {step}"
                    if grown else f"the loss became {loss_value} at step {step}")
            self._message = (f"{what} (epoch {self.step_count // self._batches_per_epoch + 1}); "
                             f"the learning rate {lr:g} is probably too high — try {lr / 10:g}. "
                             f"The weights of step {last} are kept.")
        self._set_status("diverged")

    def _set_status(self, status: str) -> None:
        with self._lock:
            self._status = status


def _finite(snap: Snapshot) -> bool:
    return all(torch.isfinite(t).all() for t in snap.weights.values() if t.is_floating_point())


def check_compatible(spec: NetSpec, ds: Dataset) -> None:
    if tuple(spec.input_shape) != tuple(ds.input_shape):
        raise UserError(f"the network expects input {list(spec.input_shape)} but dataset "
                        f"'{ds.key}' gives {list(ds.input_shape)}")
    if spec.task != ds.task:
        raise UserError(f"the network does {spec.task} but dataset '{ds.key}' is {ds.task}")
    if spec.outputs != ds.output_size:
        raise UserError(f"the network has {spec.outputs} outputs but dataset '{ds.key}' "
                        f"needs {ds.output_size}")
