"""Divergence without NaN: a loss that explodes stops the run, a normal one never does."""

import json
import os
import subprocess
import sys

import torch

from dlviz.data import load_dataset
from dlviz.data.dataset import Dataset
from dlviz.presets import preset_spec
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.divergence import DIVERGE_FACTOR
from dlviz.train.trainer import Trainer

from conftest import ring_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def relu_mlp(task="classification", outputs=2):
    return NetSpec((2,), outputs, [LayerSpec("dense", units=32, activation="relu"),
                                   LayerSpec("dense", units=32, activation="relu")], task=task)


def run(spec, ds, **cfg) -> Trainer:
    t = Trainer(spec, ds, TrainConfig(**cfg))
    t.start()
    assert t.join(60)
    return t


def _finite(snap):
    return all(torch.isfinite(v).all() for v in snap.weights.values() if v.is_floating_point())


def test_lr_10_explodes_and_stops_within_a_few_steps():
    ds = ring_dataset(n_train=400)
    t = run(relu_mlp(), ds, optimizer="sgd", lr=10.0, momentum=0.9, batch_size=10, epochs=50)
    s = t.state()
    assert s.status == "diverged", s.message
    assert s.step <= 10                       # within a few steps, not 2000
    assert "grew from" in s.message and "learning rate 10" in s.message and "try 1" in s.message
    # the weights kept are from before the loss left its starting range
    assert _finite(t.snapshot()) and t.snapshot().step < s.step
    assert s.final == {}                      # no "finished" evaluation of exploded weights


def test_regression_explosion_is_caught_before_it_overflows():
    ds = load_dataset("plane")
    spec = preset_spec("playground", ds.input_shape, ds.output_size, ds.task)
    t = run(spec, ds, optimizer="sgd", lr=10.0, momentum=0.0, epochs=20)
    s = t.state()
    assert s.status == "diverged" and "grew from" in s.message and "learning rate" in s.message
    assert s.step <= 10


def test_normal_runs_do_not_trigger():
    ds = ring_dataset()
    for spec, cfg in [(relu_mlp(), dict(optimizer="adam", lr=0.01)),
                      (preset_spec("playground", (2,), 2), dict(optimizer="sgd", lr=0.3))]:
        t = run(spec, ds, batch_size=10, epochs=20, **cfg)
        assert t.state().status == "finished", t.state().message


def test_tiny_regression_loss_does_not_trigger_on_noise():
    # unlearnable targets of size 0.01 and a zeroed output layer: the starting
    # loss is ~2e-4, and batch noise lifts the loss hundreds of times above it,
    # yet it stays tiny; the floor keeps the limit at an absolute 10
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g)
    y = 0.01 * torch.randn(300, 1, generator=g)
    ds = Dataset("tiny", "regression", (2,), (), x[:200], y[:200], x[200:], y[200:])
    spec = NetSpec((2,), 1, [LayerSpec("dense", units=32, activation="relu")], task="regression")
    t = Trainer(spec, ds, TrainConfig(optimizer="adam", lr=0.05, batch_size=4, epochs=20))
    with torch.no_grad():
        t.model.output.weight.zero_()
        t.model.output.bias.zero_()
    t.start()
    assert t.join(60)
    s = t.state()
    assert s.status == "finished", s.message
    losses = [h["train_loss"] for h in s.history]
    assert losses[0] < 1e-3
    assert max(losses) > DIVERGE_FACTOR * losses[0]      # relative growth a bare 100x would flag


def test_cli_reports_diverged():
    env = {**os.environ, "PYTHONPATH": ROOT, "DLVIZ_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "dlviz", "train", "--preset", "playground",
                        "--dataset", "plane", "--optimizer", "sgd", "--momentum", "0", "--lr", "10",
                        "--epochs", "20", "--no-progress"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["status"] == "diverged" and result["diverged"] is True
    assert "learning rate 10" in result["message"]
