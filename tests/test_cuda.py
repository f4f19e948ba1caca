"""Training on an NVIDIA GPU: the same results as on the CPU, no host sync per step, runs
sharing one GPU (docs/ARCHITECTURE.md, "Training on a GPU"). Every test here needs CUDA
and is skipped, saying so, without it; the logic they rest on is checked on the CPU in
tests/test_gpu_ready.py. Run: python -m pytest tests/test_cuda.py -m cuda -v
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.explain.attribute import attribute
from dlviz.presets import PRESETS
from dlviz.spec import analyse
from dlviz.train import gpu_memory as G
from dlviz.train.config import TrainConfig
from dlviz.train.device import pick_device
from dlviz.train.trainer import Trainer

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs an NVIDIA GPU (CUDA): torch.cuda.is_available() is False here"),
]


def _setup(preset: str):
    ds = load_dataset(PRESETS[preset].dataset)
    return PRESETS[preset].spec(ds.input_shape, ds.output_size, ds.task), ds


def _train(spec, ds, cfg: TrainConfig, deferred=None) -> Trainer:
    t = Trainer(spec, ds, cfg, deferred_losses=deferred)
    t.start()
    assert t.join(600), "the run did not end in 10 minutes"
    return t


@pytest.fixture(scope="module")
def lenet():
    return _setup("lenet")


def test_auto_picks_the_gpu():
    assert pick_device("auto").type == "cuda"
    assert G.cuda_device_of(TrainConfig()) == "cuda:0"


@pytest.mark.parametrize("preset, cfg, noise", [
    ("playground", TrainConfig(lr=0.03, batch_size=10, epochs=30), 0.05),
    ("lenet", TrainConfig(lr=0.002, batch_size=64, epochs=2), 0.03),   # CUDA draws other batches
])
def test_the_same_seed_reaches_the_same_accuracy_as_on_the_cpu(preset, cfg, noise):
    spec, ds = _setup(preset)
    cpu = _train(spec, ds, cfg.replace(device="cpu")).state()
    gpu = _train(spec, ds, cfg.replace(device="cuda")).state()
    assert cpu.status == gpu.status == "finished", gpu.message
    assert gpu.device.startswith("cuda")
    assert abs(cpu.final["test_accuracy"] - gpu.final["test_accuracy"]) <= noise
    assert gpu.final["test_accuracy"] > 0.8


def test_snapshots_and_attributions_of_gpu_weights_equal_the_cpu_copy(lenet, monkeypatch):
    spec, ds = lenet
    t = _train(spec, ds, TrainConfig(lr=0.002, batch_size=256, epochs=1, device="cuda"))
    snap = t.snapshot()
    live = t.model.state_dict()
    assert all(w.device.type == "cpu" for w in snap.weights.values())
    assert all(torch.equal(snap.weights[k], live[k].cpu()) for k in live)
    # float32 convolutions (cuDNN allows TF32 by default; cuBLAS matmuls do not)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    on_cpu, on_gpu = build(spec, "cpu"), build(spec, "cuda")
    on_cpu.model.load_state_dict(snap.weights)
    on_gpu.model.load_state_dict(snap.weights)
    x = ds.x_test[0]
    a = attribute(on_cpu, x, None, "integrated_gradients")
    b = attribute(on_gpu, x, None, "integrated_gradients")
    assert a.target == b.target
    assert np.abs(a.values - b.values).max() <= 1e-3 * np.abs(a.values).max()


def test_no_host_sync_inside_a_step(lenet, monkeypatch):
    """DLVIZ_SYNC_DEBUG=1 runs each step's batch, forward, backward and update under
    torch.cuda.set_sync_debug_mode("error"): any host sync there fails the run."""
    spec, ds = lenet
    monkeypatch.setenv("DLVIZ_SYNC_DEBUG", "1")
    cfg = TrainConfig(lr=0.002, batch_size=256, epochs=1, device="cuda")
    try:
        t = _train(spec, ds, cfg)
        assert t._loop.losses.deferred
        assert t.status == "finished", t.state().message
        # the control: reading every loss at once is a sync per step, and the mode sees it
        control = _train(spec, ds, cfg, deferred=False)
        assert control.status == "error" and "synchroniz" in control.state().message
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_bf16_reaches_the_same_accuracy(lenet):
    if not torch.cuda.is_bf16_supported():
        pytest.skip(f"{torch.cuda.get_device_name()} does not support bf16")
    spec, ds = lenet
    cfg = TrainConfig(lr=0.002, batch_size=128, epochs=2, device="cuda")
    f32, bf16 = _train(spec, ds, cfg).state(), _train(spec, ds, cfg.replace(precision="bf16")).state()
    assert f32.status == bf16.status == "finished", bf16.message
    assert abs(f32.final["test_accuracy"] - bf16.final["test_accuracy"]) <= 0.03


def test_memory_estimate_is_within_a_factor_of_what_a_run_allocates(lenet):
    spec, ds = lenet
    cfg = TrainConfig(lr=0.002, batch_size=512, epochs=1, device="cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    t = _train(spec, ds, cfg)
    measured = torch.cuda.max_memory_allocated() - base
    est = G.estimate_run(analyse(spec), ds, cfg)
    tensors = est.total - est.context
    assert t.status == "finished"
    assert measured <= est.total, f"measured {measured:,} B, estimated {est.describe()}"
    assert tensors <= 4 * measured, f"measured {measured:,} B, estimated {est.describe()}"


def test_the_budget_is_a_share_of_the_gpu_asked_in_a_worker(monkeypatch):
    monkeypatch.delenv(G.BUDGET_ENV, raising=False)
    total = torch.cuda.get_device_properties(0).total_memory
    assert G.GpuAdmission().budget("cuda:0") == pytest.approx(total * G.BUDGET_SHARE, rel=0.01)


def test_two_runs_share_one_gpu_through_the_process_backend(lenet):
    from dlviz.train.process_backend import ProcessBackend
    spec, ds = lenet
    backend = ProcessBackend(timeout_s=60.0)
    cfg = TrainConfig(lr=0.002, batch_size=256, epochs=2, device="cuda")
    runs = [backend.submit(spec, ds, cfg.replace(seed=i)) for i in range(2)]
    try:
        for r in runs:
            r.start()
        for r in runs:
            assert r.join(600)
        states = [r.state() for r in runs]
        assert [s.status for s in states] == ["finished", "finished"], [s.message for s in states]
        assert all(s.device.startswith("cuda") and s.final["test_accuracy"] > 0.8 for s in states)
    finally:
        for r in runs:
            r.close()


def test_a_run_out_of_gpu_memory_ends_alone(lenet):
    spec, ds = lenet
    cfg = TrainConfig(lr=0.002, batch_size=256, epochs=2, device="cuda")
    doomed, other = Trainer(spec, ds, cfg), Trainer(spec, ds, cfg)
    steps = []

    def ask_too_much(module, inputs):             # the 3rd step asks for 1 TiB
        steps.append(module.training)
        if sum(steps) == 3:
            torch.empty(2**40, dtype=torch.uint8, device="cuda")
    doomed.model.register_forward_pre_hook(ask_too_much)
    other.start()
    doomed.start()
    assert doomed.join(600) and other.join(600)
    assert doomed.status == "error"
    assert doomed.state().message.startswith("ran out of GPU memory at step 3 (batch size 256)")
    assert all(p.device.type == "cpu" for p in doomed.model.parameters())
    assert other.status == "finished" and other.state().final["test_accuracy"] > 0.8
