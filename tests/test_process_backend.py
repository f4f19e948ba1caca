"""Runs in worker processes behave like in-process trainers and clean up after themselves."""


import os
import signal
import time

import pytest
import torch

from conftest import wait_for
from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.spec import NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.process_backend import ProcessBackend, WorkerGone
from dlviz.train.runs import RunRegistry

LONG = TrainConfig(batch_size=10, epochs=100_000)


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


def _worker(entry):
    return entry.handle._worker


def test_an_ended_run_costs_no_process_and_keeps_its_results(ring):
    reg = RunRegistry(ProcessBackend(), max_live=2, keep=1)
    spec = preset_spec("playground", (2,), 2)
    a = reg.create(spec, ring, TrainConfig(epochs=1))
    a.handle.start()
    proc = _worker(a)._proc
    assert a.handle.join(20)
    reg.tick()                                      # the upkeep harvests and ends the worker
    assert wait_for(lambda: not proc.is_alive(), 10)
    assert a.handle.status == "finished" and a.handle.state().final
    assert a.handle.snapshot(0).step == 0
    b = reg.create(spec, ring, TrainConfig(epochs=1))      # over keep=1: a is dropped
    reg.tick()
    assert reg.get(a.run_id) is None and reg.get(b.run_id) is b
    reg.stop_all()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP])
def test_a_killed_or_hung_worker_ends_only_its_own_run(ring, sig):
    reg = RunRegistry(ProcessBackend(timeout_s=1.0), max_live=2)
    spec = preset_spec("playground", (2,), 2)
    victim = reg.create(spec, ring, LONG, owner="a")
    other = reg.create(spec, ring, LONG, owner="b")
    victim.handle.start()
    other.handle.start()
    assert wait_for(lambda: victim.handle.state().step > 10)
    proc = _worker(victim)._proc
    os.kill(proc.pid, sig)
    reg.start_ticker(every_s=0.1)
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: victim.handle.phase == "ended", 10)
        took = time.monotonic() - t0
        s = victim.handle.state()                  # the page's view: a message, no exception
        assert s.status == "error" and "ended unexpectedly" in s.message
        assert victim.handle.status == "error" and not victim.handle.is_alive()
        assert wait_for(lambda: not proc.is_alive(), 10)
        # nobody else notices: the other run trains on, and a new Start works at once
        assert other.handle.status == "running"
        third = reg.create(spec, ring, LONG, owner="c")
        third.handle.start()
        assert wait_for(lambda: third.handle.status == "running", 10)
        print(f"{sig!r}: run ended {took:.2f} s after the signal")
    finally:
        reg.stop_all()
        if sig == signal.SIGSTOP and proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)


def test_calls_into_a_hung_worker_return_within_the_deadline(ring):
    h = ProcessBackend(timeout_s=0.5).submit(preset_spec("playground", (2,), 2), ring, LONG)
    try:
        os.kill(h.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(WorkerGone, match="did not answer"):
            h.state()
        with pytest.raises(WorkerGone):           # and at once from then on
            h.status
        assert time.monotonic() - t0 < 30        # a bound on hanging, not a timing claim
        assert wait_for(lambda: not h._proc.is_alive(), 10)
    finally:
        h.close()
