"""Trainer: control latency, divergence, threads, bounded memory, reproducibility."""

import threading
import time

import pytest
import torch

from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.probe import hook_count
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.history import BoundedSeries, Snapshot, Timeline
from dlviz.train.trainer import Trainer

from conftest import ring_dataset, wait_for


def playground(ds):
    return preset_spec("playground", ds.input_shape, ds.output_size, ds.task)


def test_learns_the_ring_and_records_everything(ring):
    t = Trainer(playground(ring), ring, TrainConfig(lr=0.03, batch_size=10, epochs=60))
    t.start()
    assert t.join(60)
    s = t.state()
    assert s.status == "finished"
    assert s.step == s.total_steps == 60 * 20
    assert s.final["test_accuracy"] >= 0.95
    assert s.history and s.evals and s.health
    assert s.history[-1]["train_loss"] < s.history[0]["train_loss"]
    layers = s.health[-1]["layers"]
    assert set(layers) == {"dense1", "dense2", "output", "dense1_tanh", "dense2_tanh"}
    assert layers["dense1"]["grad_norm"] > 0 and layers["dense1"]["update_ratio"] > 0
    assert 0 <= layers["dense1_tanh"]["saturated"] <= 1
    assert s.timeline[0]["step"] == 0 and s.timeline[-1]["step"] == s.total_steps
    assert hook_count(t.model) == 0


def test_stop_takes_effect_within_one_step():
    ds = ring_dataset(n_train=2000)
    t = Trainer(playground(ds), ds, TrainConfig(batch_size=10, epochs=1000))
    t.start()
    assert wait_for(lambda: t.step_count > 50)
    t.pause()
    # read after pause(): the step in flight may still finish, however long the thread
    # waits for a core on a busy machine, and nothing after it
    at_pause = t.step_count
    assert wait_for(lambda: t.state().status == "paused")
    time.sleep(0.2)                          # long enough for ~200 steps of a running trainer
    assert t.step_count - at_pause <= 1      # paused means paused
    t.resume()
    assert wait_for(lambda: t.step_count > at_pause + 20)
    t.stop()
    stopped_at = t.step_count
    assert t.join(5)
    # the step in flight when stop() was called may finish, nothing after it
    assert t.step_count - stopped_at <= 1
    assert t.state().status == "stopped"
    assert not t.is_alive()


def test_pause_then_single_steps(ring):
    t = Trainer(playground(ring), ring, TrainConfig(batch_size=10, epochs=5))
    t.step()                      # idle -> started paused, one step
    assert wait_for(lambda: t.step_count == 1)
    t.step(3)
    assert wait_for(lambda: t.step_count == 4)
    time.sleep(0.05)
    assert t.step_count == 4
    assert t.state().status == "paused"
    t.stop()
    assert t.join(5)


def test_no_thread_left_after_stop_or_finish(ring):
    before = {th.ident for th in threading.enumerate()}
    runs = [Trainer(playground(ring), ring, TrainConfig(epochs=2000, batch_size=10)) for _ in range(3)]
    for r in runs:
        r.start()
    for r in runs:
        r.stop()
    for r in runs:
        assert r.join(5)
    short = Trainer(playground(ring), ring, TrainConfig(epochs=1))
    short.start()
    assert short.join(10) and short.status == "finished"
    leftover = [th for th in threading.enumerate()
                if th.ident not in before and th.name == "dlviz-trainer"]
    assert leftover == []


def test_divergence_stops_within_one_step_and_keeps_last_good_weights(ring):
    t = Trainer(playground(ring), ring, TrainConfig(optimizer="sgd", lr=1.0, epochs=50))
    t.start()
    assert wait_for(lambda: t.step_count >= 5)
    t.pause()
    assert wait_for(lambda: t.status == "paused")
    time.sleep(0.02)
    # poison one weight: the very next forward pass gives a NaN loss
    with torch.no_grad():
        t.model.dense1.weight[0, 0] = float("nan")
    poisoned_at = t.step_count
    t.resume()
    assert t.join(10)
    s = t.state()
    assert s.status == "diverged"
    assert "nan" in s.message and "learning rate" in s.message
    assert s.step - poisoned_at <= 1
    snap = t.snapshot()
    assert all(torch.isfinite(v).all() for v in snap.weights.values() if v.is_floating_point())


def test_reset_starts_over_reproducibly(ring):
    cfg = TrainConfig(batch_size=10, epochs=3, seed=7)
    t = Trainer(playground(ring), ring, cfg)
    t.start()
    t.join(30)
    first = t.state().final["test_loss"]
    w_first = t.snapshot().weights
    t.reset()
    s = t.state()
    assert s.status == "idle" and s.step == 0 and s.history == [] and len(s.timeline) == 1
    t.start()
    t.join(30)
    assert t.state().final["test_loss"] == pytest.approx(first, rel=1e-5)
    w_second = t.snapshot().weights
    assert all(torch.allclose(w_first[k], w_second[k]) for k in w_first)


def test_state_is_a_consistent_copy(ring):
    t = Trainer(playground(ring), ring, TrainConfig(batch_size=10, epochs=3))
    s = t.state()
    s.history.append({"step": -1})
    assert t.state().history == []


def test_regression_and_l1_and_schedules_run():
    from dlviz.data.dataset import Dataset
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g)
    y = (0.5 * x[:, :1] - 0.3 * x[:, 1:])
    ds = Dataset("lin", "regression", (2,), (), x[:240], y[:240], x[240:], y[240:])
    spec = NetSpec((2,), 1, [LayerSpec("dense", units=8, activation="tanh")], task="regression")
    for schedule in ("constant", "step", "cosine"):
        t = Trainer(spec, ds, TrainConfig(lr=0.02, epochs=30, l1=1e-4, schedule=schedule,
                                          optimizer="rmsprop", momentum=0.0))
        t.start()
        t.join(30)
        s = t.state()
        assert s.status == "finished", s.message
        assert s.final["test_loss"] < 0.01
        lrs = [h["lr"] for h in s.history]
        if schedule == "constant":
            assert set(lrs) == {0.02}
        else:
            assert lrs[-1] < lrs[0]


def test_incompatible_dataset_is_refused(ring):
    spec = NetSpec((3,), 2, [])
    with pytest.raises(UserError, match="expects input \\[3\\]"):
        Trainer(spec, ring, TrainConfig())


def test_bad_config_is_refused():
    with pytest.raises(UserError, match="learning rate"):
        TrainConfig(lr=-1).validate()
    with pytest.raises(UserError, match="unknown optimizer"):
        TrainConfig.from_dict({"optimizer": "lbfgs"})
    with pytest.raises(UserError, match="unknown training setting"):
        TrainConfig.from_dict({"lrr": 0.1})


def test_dead_relu_units_are_detected(ring):
    spec = NetSpec((2,), 2, [LayerSpec("dense", units=6, activation="relu")])
    t = Trainer(spec, ring, TrainConfig(epochs=1, health_every=1))
    with torch.no_grad():                 # kill 3 of 6 units: bias far below any input
        t.model.dense1.bias[:3] = -1e3
        t.model.dense1.weight[:3] = 0.0
    t.step()
    assert wait_for(lambda: t.state().health)
    t.stop()
    t.join(5)
    assert t.state().health[0]["layers"]["dense1_relu"]["dead"] == pytest.approx(0.5)


def test_bounded_series_keeps_even_spacing_and_bounded_length():
    s = BoundedSeries(capacity=100)
    for i in range(100_000):
        s.append({"step": i})
    steps = [r["step"] for r in s.rows]
    assert 50 <= len(steps) <= 100
    gaps = {b - a for a, b in zip(steps, steps[1:])}
    assert len(gaps) == 1                       # evenly spaced
    assert steps[0] == 0


def test_timeline_thins_to_log_spacing_and_keeps_the_ends():
    tl = Timeline(capacity=20)
    for step in range(0, 100_001, 100):
        tl.add(Snapshot(step, 0.0, {}, {}))
    steps = tl.steps()
    assert len(steps) == 20
    assert steps[0] == 0 and steps[-1] == 100_000
    # early training stays represented: about half the snapshots in the first 10%
    assert sum(1 for s in steps if s <= 10_000) >= 8


def test_long_run_memory_is_bounded(ring):
    t = Trainer(playground(ring), ring, TrainConfig(batch_size=10, epochs=1500, max_snapshots=10,
                                                    eval_every=1, health_every=1, snapshot_every=1))
    t.start()
    assert wait_for(lambda: t.step_count >= 5000, timeout=60)
    s = t.state()
    t.stop()
    t.join(5)
    assert len(s.history) <= 1000 and len(s.evals) <= 500 and len(s.health) <= 300
    assert len(s.timeline) <= 10


def test_latest_weights_follow_a_live_run(ring):
    t = Trainer(playground(ring), ring, TrainConfig(batch_size=10, epochs=100_000))
    assert t.latest_weights().step == 0
    t.start()
    assert wait_for(lambda: t.step_count > 100)
    t.latest_weights()                      # ask; the thread copies between two steps
    assert wait_for(lambda: t.latest_weights().step > 100)
    snap = t.latest_weights()
    assert set(snap.weights) == set(t.model.state_dict())
    t.stop()
    t.join(5)


@pytest.mark.parametrize("preset,shape", [("playground", (2,)), ("deep-sigmoid", (2,))])
def test_evaluations_and_health_cover_the_whole_run(preset, shape):
    """A curve needs points: at least ~30 evaluations, and health rows to the end of the run
    (a slow measurement once pushed the next health row past the end of the run)."""
    t = Trainer(preset_spec(preset, shape, 2), ring_dataset(), TrainConfig(epochs=150, batch_size=10))
    t.start()
    assert t.join(60)
    s = t.state()
    assert s.status == "finished"
    # ~40 on a quiet machine (MIN_POINTS, within MAX_SHARE of training each); 12-18
    # before; the bar leaves room for a busy machine's noisier cost estimates
    assert len(s.evals) >= 25, [e["step"] for e in s.evals]
    assert len(s.health) >= 25
    assert s.health[-1]["step"] >= 0.9 * s.total_steps
    assert s.evals[-1]["step"] >= 0.9 * s.total_steps


def test_a_very_long_run_shows_its_first_points_at_once():
    """100,000 epochs: the curve still gets points in the first second of training (a
    floor of total_steps / 500 once spaced them 8,000 steps apart)."""
    t = Trainer(preset_spec("playground", (2,), 2), ring_dataset(), TrainConfig(epochs=100_000, batch_size=10))
    t.start()
    try:
        assert wait_for(lambda: t.state().step > 1500, 60)
        s = t.state()
        assert len(s.history) >= 5 and len(s.evals) >= 3, (len(s.history), len(s.evals))
    finally:
        t.stop()
        t.join(10)


def test_a_run_shorter_than_one_rate_window_reports_its_own_speed(ring):
    # 1 epoch of the ring at batch 32 ends long before the 0.25 s window of the running mean:
    # its progress line said "0 samples/s"
    t = Trainer(playground(ring), ring, TrainConfig(epochs=1, batch_size=32))
    t.start()
    assert t.join(10) and t.status == "finished"
    assert t.state().samples_per_s > 0
