"""Runs in worker processes behave like in-process trainers and clean up after themselves."""


import pytest
import torch

from conftest import wait_for
from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.spec import NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.process_backend import ProcessBackend
from dlviz.train.runs import RunRegistry


def test_a_run_in_a_worker_process(ring):
    h = ProcessBackend().submit(preset_spec("playground", (2,), 2), ring,
                                TrainConfig(batch_size=10, epochs=100_000, lr=0.03))
    try:
        assert h.status == "idle" and h.pid is not None
        h.step(3)
        assert wait_for(lambda: h.state().step == 3)
        assert h.status == "paused"
        h.resume()
        assert wait_for(lambda: h.state().step > 200)
        h.latest_weights()
        assert wait_for(lambda: h.latest_weights().step > 200)
        w = h.latest_weights().weights
        assert set(w) == {"dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias",
                          "output.weight", "output.bias"}
        assert all(isinstance(t, torch.Tensor) and torch.isfinite(t).all() for t in w.values())
        h.stop()
        assert h.join(10)
        s = h.state()
        assert s.status == "stopped" and s.history
        assert h.snapshot(0).step == 0
    finally:
        h.close()
    assert h.status == "closed" and not h._proc.is_alive()
    with pytest.raises(UserError, match="closed"):
        h.state()


def test_a_run_that_cannot_be_built_reports_one_line(ring):
    with pytest.raises(UserError, match="expects input"):
        ProcessBackend().submit(NetSpec((3,), 2, []), ring, TrainConfig())


def test_registry_closes_worker_processes(ring):
    reg = RunRegistry(ProcessBackend(), max_live=2, keep=1)
    spec = preset_spec("playground", (2,), 2)
    a = reg.create(spec, ring, TrainConfig(epochs=1))
    a.handle.start()
    assert a.handle.join(20)
    b = reg.create(spec, ring, TrainConfig(epochs=1))      # a has ended: over keep=1, dropped
    assert reg.get(a.run_id) is None
    assert wait_for(lambda: not a.handle._proc.is_alive(), 10)
    reg.stop_all()
    assert wait_for(lambda: not b.handle._proc.is_alive(), 10)
