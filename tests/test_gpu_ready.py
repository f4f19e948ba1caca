"""The GPU path's logic, checked on the CPU: deferred loss reads, precision, GPU memory
admission, running out of memory, the GPU bench (docs/ARCHITECTURE.md, "Training on a
GPU"). What only a GPU can show is in tests/test_cuda.py."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

from dlviz.data import DatasetParams, load_dataset
from dlviz.errors import UserError
from dlviz.presets import PRESETS
from dlviz.spec import analyse
from dlviz.train import gpu_memory as G
from dlviz.train.config import TrainConfig
from dlviz.train.divergence import DivergenceWatch
from dlviz.train.loss_reads import LossReads
from dlviz.train.precision import autocast_for, check_precision
from dlviz.train.recording import RecordingSchedule
from dlviz.train.runs import RunRegistry
from dlviz.train.trainer import Trainer

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def circle():
    ds = load_dataset("circle")
    return PRESETS["playground"].spec(ds.input_shape, ds.output_size, ds.task), ds


def _run(spec, ds, cfg, deferred, record_every=0):
    t = Trainer(spec, ds, cfg, deferred_losses=deferred)
    if record_every:                # rows at fixed steps, not where timing puts them
        t._loop.schedule._every["record"] = record_every
    t.start()
    assert t.join(120)
    return t


# -- deferred loss reads ------------------------------------------------------------------
def test_loss_reads_deferred_give_the_same_floats_in_the_same_order():
    losses = [torch.tensor(v) for v in (0.9, 0.7, 0.65, 0.5, 0.45, 0.4, 0.41)]
    now, later = LossReads(CPU, DivergenceWatch()), LossReads(CPU, DivergenceWatch(), deferred=True, every=3)
    assert not now.deferred and later.deferred
    for step, loss in enumerate(losses, 1):
        assert now.read(step, loss) is None
        later.keep(step, loss)
        if later.full:
            assert later.flush() is None
            assert later.n == step                # the read happened here, not before
    assert later.n == 6                             # the 7th waits in the buffer
    assert later.flush() is None
    assert now.take_mean() == later.take_mean()     # bit for bit
    assert now.take_mean() is None


def test_loss_reads_deferred_name_the_step_that_diverged():
    r = LossReads(CPU, DivergenceWatch(), deferred=True, every=8)
    for step, v in enumerate([0.5, 0.4, float("nan"), 0.3], 1):
        r.keep(step, torch.tensor(v))
    what, step, value = r.flush()
    assert (what, step) == ("not finite", 3) and math.isnan(value)
    assert r.n == 2                                 # the losses before it count, not after


def test_deferred_training_ends_with_the_same_weights_and_losses(circle):
    spec, ds = circle
    cfg = TrainConfig(lr=0.03, batch_size=10, epochs=4, device="cpu", eval_every=7,
                      health_every=11, snapshot_every=13)
    a, b = _run(spec, ds, cfg, False, record_every=3), _run(spec, ds, cfg, True, record_every=3)
    sa, sb = a.state(), b.state()
    assert sa.status == sb.status == "finished" and sa.step == sb.step == 160
    wa, wb = a.snapshot().weights, b.snapshot().weights
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert len(sa.history) == 54 and sa.history == sb.history      # the same floats, bit for bit
    assert [e["step"] for e in sa.evals] == [e["step"] for e in sb.evals]
    assert sa.final == sb.final


def test_deferred_training_still_stops_a_diverging_run(circle):
    spec, ds = circle
    cfg = TrainConfig(optimizer="sgd", lr=10.0, momentum=0.99, batch_size=10, epochs=5, device="cpu")
    a, b = _run(spec, ds, cfg, False), _run(spec, ds, cfg, True)
    assert a.status == b.status == "diverged"
    assert b.state().message == a.state().message    # the same step named, the same weights kept
    assert "learning rate 10 is probably too high" in b.state().message
    assert a.step_count <= b.step_count <= a.step_count + 32     # seen at most DEFER_EVERY late
    assert b.snapshot().step == a.snapshot().step


def test_deferred_training_pauses_steps_and_stops(circle):
    spec, ds = circle
    t = Trainer(spec, ds, TrainConfig(batch_size=10, epochs=50, device="cpu"), deferred_losses=True)
    t.step(3)
    deadline = time.monotonic() + 30
    while t.step_count < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert t.status == "paused" and t.step_count == 3
    assert t._loop.losses.pending == 0              # read before resting: a pause shows its steps
    t.resume()
    time.sleep(0.2)
    t.stop()
    assert t.join(60)
    s = t.state()
    assert s.status == "stopped" and s.history[-1]["step"] == s.step > 3


def test_note_steps_is_the_mean_of_as_many_note_step_calls():
    cfg = TrainConfig()
    one, many = RecordingSchedule(cfg, 100), RecordingSchedule(cfg, 100)
    one.note_step(0.01)
    many.note_step(0.01)
    for _ in range(32):
        one.note_step(0.002)
    many.note_steps(0.002, 32)
    assert many.step_time == pytest.approx(one.step_time, rel=1e-12)


# -- precision ---------------------------------------------------------------------------------
def test_precision_is_validated_and_old_settings_are_float32():
    assert TrainConfig.from_dict({"lr": 0.1}).precision == "float32"
    assert TrainConfig().replace(precision="bf16").precision == "bf16"
    with pytest.raises(UserError, match="'precision' must be one of float32, bf16"):
        TrainConfig().replace(precision="fp16")
    with pytest.raises(UserError, match="must be text"):
        TrainConfig.from_dict({"precision": 16})


def test_bf16_is_refused_where_the_device_cannot(monkeypatch):
    check_precision("bf16", CPU)
    with pytest.raises(UserError, match="not offered on device 'mps'"):
        check_precision("bf16", torch.device("mps"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Old GPU")
    with pytest.raises(UserError, match=r"this GPU \(Old GPU\) does not support bf16"):
        check_precision("bf16", torch.device("cuda"))


def test_bf16_on_the_cpu_runs_in_bfloat16_and_learns_as_float32(circle):
    spec, ds = circle
    with autocast_for("bf16", CPU):
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16
    cfg = TrainConfig(lr=0.03, batch_size=10, epochs=40, device="cpu")
    f32, bf16 = _run(spec, ds, cfg, None), _run(spec, ds, cfg.replace(precision="bf16"), None)
    assert f32.status == bf16.status == "finished"
    assert all(w.dtype == torch.float32 for w in bf16.snapshot().weights.values())  # weights stay float32
    assert abs(f32.state().final["test_accuracy"] - bf16.state().final["test_accuracy"]) <= 0.05
    assert bf16.state().final["test_accuracy"] > 0.9


def test_cli_train_says_its_precision(capsys):
    from dlviz.cli import main
    assert main(["train", "--preset", "playground", "--epochs", "1", "--device", "cpu",
                 "--precision", "bf16", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["precision"] == "bf16" and out["status"] == "finished"


# -- GPU memory ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits", DatasetParams(n_samples=600))
    return PRESETS["lenet"].spec(ds.input_shape, ds.output_size, ds.task), ds


def test_gpu_estimate_counts_weights_optimizer_data_and_activations(digits):
    spec, ds = digits
    report = analyse(spec)
    p, slack = report.total_params, G.ALLOCATOR_SLACK
    adam = G.estimate_run(report, ds, TrainConfig(batch_size=512))
    sgd = G.estimate_run(report, ds, TrainConfig(optimizer="sgd", momentum=0.0, batch_size=512))
    assert adam.weights == int(4 * p * 4 * slack) and sgd.weights == int(4 * p * 2 * slack)
    n_tr, n_te = len(ds.y_train), len(ds.y_test)
    row = 28 * 28 * 4 + 8                         # float32 pixels, int64 label
    assert adam.data == int(((n_tr + min(256, n_tr)) * row + min(256, n_te) * row) * slack)
    assert adam.context == G.CONTEXT_BYTES
    assert adam.total == adam.weights + adam.data + adam.activations + adam.context
    small = G.estimate_run(report, ds, TrainConfig(batch_size=8))
    assert small.activations < adam.activations   # 8 rows: the evaluation batch is the peak
    assert small.activations == int(min(1024, n_tr) * report.activation_bytes * slack)
    bf16 = G.estimate_run(report, ds, TrainConfig(batch_size=512, precision="bf16"))
    assert bf16.weights > adam.weights            # autocast's bf16 weight copies
    assert adam.describe().startswith(f"{adam.total / 2**20:.0f} MiB (weights and optimizer ")


def test_gpu_budget_from_the_environment(monkeypatch):
    monkeypatch.delenv(G.BUDGET_ENV, raising=False)
    assert G.budget_from_env() is None
    monkeypatch.setenv(G.BUDGET_ENV, "2048")
    assert G.budget_from_env() == 2048 * 2**20
    assert G.GpuAdmission().budget("cuda:0") == 2048 * 2**20    # no GPU asked
    for bad in ("-1", "0", "1.5", "lots", "99999999999"):
        monkeypatch.setenv(G.BUDGET_ENV, bad)
        with pytest.raises(UserError, match=G.BUDGET_ENV):
            G.budget_from_env()


def test_cpu_runs_need_no_gpu_memory(circle):
    spec, ds = circle
    assert G.cuda_device_of(TrainConfig(device="cpu")) is None
    assert G.GpuAdmission(budget=1).need(spec, ds, TrainConfig(device="cpu")) is None
    assert RunRegistry().gpu is None or torch.cuda.is_available()     # AUTO: only with CUDA


def _fake_gpu(mib_each: dict[int, int], budget_mib: int) -> G.GpuAdmission:
    """Runs whose seed is in ``mib_each`` 'need' that many MiB of a fake cuda:0 (they
    train on the CPU); other seeds are CPU runs."""
    def estimate(spec, ds, config):
        return G.GpuEstimate(mib_each[config.seed] * 2**20, 0, 0, 0)
    return G.GpuAdmission(budget=budget_mib * 2**20, estimate=estimate,
                          device_of=lambda c: "cuda:0" if c.seed in mib_each else None)


def _wait(pred, s=30.0):
    deadline = time.monotonic() + s
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pred()


def test_registry_refuses_a_gpu_run_that_could_never_fit(circle):
    spec, ds = circle
    reg = RunRegistry(gpu=_fake_gpu({1: 300}, budget_mib=200))
    with pytest.raises(UserError, match="more than the 0.20 GiB .*try a smaller batch size"):
        reg.create(spec, ds, TrainConfig(seed=1, device="cpu"))
    assert reg.live_count() == 0


def test_registry_queues_gpu_runs_until_memory_frees_and_cpu_runs_pass(circle):
    spec, ds = circle
    reg = RunRegistry(max_live=4, gpu=_fake_gpu({1: 120, 2: 120, 3: 10}, budget_mib=200))
    cfg = TrainConfig(batch_size=10, epochs=100_000, device="cpu")
    first, second, third = (reg.create(spec, ds, cfg.replace(seed=s)) for s in (1, 2, 3))
    cpu_run = reg.create(spec, ds, cfg.replace(seed=7))
    try:
        first.handle.start(paused=True)
        assert _wait(lambda: first.handle.status == "paused")
        second.handle.start()
        third.handle.start()                      # it would fit, but waits its turn behind the second
        cpu_run.handle.start(paused=True)
        assert _wait(lambda: cpu_run.handle.status == "paused")     # a CPU run is not held up
        assert second.handle.status == third.handle.status == "queued"
        msg = second.handle.state().message
        assert msg.startswith("waiting for GPU memory") and "0.12 GiB" in msg and "1 running run" in msg
        assert "earlier run" in third.handle.state().message
        first.handle.stop()
        for _ in range(200):                      # the ticker's work: harvest, then dispatch
            reg.tick()
            if second.handle.status in ("running", "paused") and third.handle.status != "queued":
                break
            time.sleep(0.05)
        assert second.handle.status == "running" and third.handle.status == "running"
    finally:
        reg.stop_all()


# -- out of memory --------------------------------------------------------------------------------
def test_a_run_out_of_memory_ends_alone_and_can_train_again(circle):
    spec, ds = circle
    cfg = TrainConfig(batch_size=10, epochs=20, device="cpu")
    doomed, other = Trainer(spec, ds, cfg), Trainer(spec, ds, cfg)
    calls = []

    def run_out(module, inputs):                  # the 5th step asks for too much memory
        calls.append(module.training)             # (evaluations run in eval mode)
        if sum(calls) == 5:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 TiB")
    hook = doomed.model.register_forward_pre_hook(run_out)
    other.start()
    doomed.start()
    assert doomed.join(60) and other.join(120)
    s = doomed.state()
    assert s.status == "error" and s.step == 4
    assert s.message == ("ran out of memory at step 5 (batch size 10): try a smaller batch "
                         "size or a smaller network")
    assert doomed._x is None and not doomed.optimizer.state    # what it held is given back
    snap = doomed.snapshot()                                    # the views still have weights
    assert snap.step <= 4 and all(w.device.type == "cpu" for w in snap.weights.values())
    assert all(p.device.type == "cpu" for p in doomed.model.parameters())
    assert other.status == "finished"
    hook.remove()
    doomed.reset()
    doomed.start()
    assert doomed.join(120) and doomed.status == "finished"


# -- the bench ----------------------------------------------------------------------------------
def test_gpu_bench_smoke_run_on_the_cpu(capsys):
    from bench.gpu_train import main
    assert main(["--device", "cpu", "--seconds", "0.3", "--presets", "lenet", "--samples", "300",
                 "--batch-size", "32", "--precisions", "float32", "--parallel", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["case"] for r in results] == ["trainer_vs_bare", "parallel"]
    vs, par = results
    assert vs["ratio"] > 0 and vs["bare_samples_per_s"] > 0 and vs["trainer_samples_per_s"] > 0
    assert {"preset", "precision", "batch_size", "device", "device_name", "date"} <= set(vs)
    assert par["runs"] == 2 and len(par["samples_per_s_each"]) == 2 and par["total_samples_per_s"] > 0
    assert any(line.startswith("| ") and "trainer_vs_bare" in line for line in lines)


# -- the Train page ---------------------------------------------------------------------------
def test_the_train_page_offers_precision_only_where_a_gpu_trains(monkeypatch):
    from streamlit.testing.v1 import AppTest

    import dlviz.train.device as device
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert "t_precision" not in [s.key for s in at.selectbox]          # no GPU: no choice
    monkeypatch.setattr(device, "available_devices", lambda: ["cpu", "cuda"])
    at.run()
    assert not at.exception
    box = at.selectbox(key="t_precision")
    assert list(box.options) == ["float32", "bf16"] and box.value == "float32"
    box.select("bf16").run()
    assert not at.exception
    from dlviz.ui.state import WS_KEY
    assert at.session_state[WS_KEY].config.precision == "bf16"       # the workspace trains in bf16


def test_a_run_that_cannot_be_set_up_in_memory_says_so_in_one_line(circle, monkeypatch):
    """Running out of memory while the data moves to the device (another run holds the
    GPU) refuses the run with one message, at creation and at a Reset."""
    from dlviz.errors import UserError
    from dlviz.train import trainer as trainer_module

    spec, ds = circle
    cfg = TrainConfig(batch_size=10, epochs=2, device="cpu")
    real = trainer_module.EvalSets.draw

    def full(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setattr(trainer_module.EvalSets, "draw", full)
    with pytest.raises(UserError) as e:
        Trainer(spec, ds, cfg)
    assert str(e.value).startswith("not enough memory on cpu to set this run up")
    assert "\n" not in str(e.value) and "Tried to allocate" not in str(e.value)
    monkeypatch.setattr(trainer_module.EvalSets, "draw", real)
    t = Trainer(spec, ds, cfg)
    monkeypatch.setattr(trainer_module.EvalSets, "draw", full)
    t._x = None                                    # as after running out of memory mid-run
    with pytest.raises(UserError, match="not enough memory"):
        t.reset()
    assert t._x is None
