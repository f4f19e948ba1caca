"""Run registry: lookup by id, the cap on live runs, idle runs stop themselves."""

import time

import pytest

from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.backend import ThreadBackend, estimate
from dlviz.train.config import TrainConfig
from dlviz.train.runs import RunRegistry


def test_cap_idle_stop_and_lookup(ring):
    reg = RunRegistry(max_live=2, idle_s=0.2)
    spec = preset_spec("playground", (2,), 2)
    long = TrainConfig(epochs=100_000, batch_size=10)
    a = reg.create(spec, ring, long)
    b = reg.create(spec, ring, long)
    a.handle.start()
    b.handle.start()
    with pytest.raises(UserError, match="already trains 2 networks"):
        reg.create(spec, ring, long)
    assert reg.get(a.run_id) is a and reg.get("nope") is None
    time.sleep(0.3)
    reg.get(b.run_id)                 # b is being watched, a is not
    stopped = reg.reap()
    assert stopped == [a.run_id]
    assert a.handle.join(5)
    assert "nobody watching" in a.handle.state().message
    assert b.handle.is_alive()
    c = reg.create(spec, ring, long)   # a's slot is free again
    reg.stop_all()
    assert not b.handle.is_alive() and c.handle.status == "idle"


def test_backend_refuses_oversized_runs_before_allocating(ring):
    wide = NetSpec((3, 128, 128), 2, [LayerSpec("conv2d", channels=64, kernel=3, padding=1),
                                      LayerSpec("globalavgpool")])
    with pytest.raises(UserError, match="GiB limit"):
        estimate(wide, batch_size=1024)
    with pytest.raises(UserError, match="expects input"):
        ThreadBackend().submit(preset_spec("playground", (3,), 2), ring, TrainConfig())
