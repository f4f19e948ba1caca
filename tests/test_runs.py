"""Run registry: lookup, a fair queue behind an atomic cap, per-owner limits, upkeep."""

import threading

import pytest

from conftest import wait_for
from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.backend import ThreadBackend, estimate
from dlviz.train.config import TrainConfig
from dlviz.train.managed_run import ordinal
from dlviz.train.runs import RunRegistry, SessionLimit

LONG = TrainConfig(epochs=100_000, batch_size=10)


@pytest.fixture
def spec():
    return preset_spec("playground", (2,), 2)


def test_cap_holds_under_concurrent_starts_and_the_queue_drains_in_order(ring, spec):
    reg = RunRegistry(max_live=2)
    entries, barrier = [None] * 8, threading.Barrier(8)

    def press_start(i):
        barrier.wait()
        e = reg.create(spec, ring, LONG, owner=f"student{i}")
        e.handle.start()
        entries[i] = e

    threads = [threading.Thread(target=press_start, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert reg.live_count() == 2 and reg.queued_count() == 6
        training = [e for e in entries if e.handle.status == "running"]
        queued = sorted((e for e in entries if e.handle.status == "queued"),
                        key=lambda e: e.handle.queue_place)
        assert len(training) == 2 and len(queued) == 6
        assert [e.handle.queue_place for e in queued] == [1, 2, 3, 4, 5, 6]
        assert "waiting: 1st in line" in queued[0].handle.state().message
        assert "2 networks at a time" in queued[0].handle.state().message
        # a freed slot goes to the first in line, by the upkeep alone
        training[0].handle.stop()
        assert training[0].handle.join(10)
        reg.tick()
        assert wait_for(lambda: queued[0].handle.status == "running", 10)
        assert queued[1].handle.status == "queued" and queued[1].handle.queue_place == 1
        assert reg.live_count() == 2
    finally:
        reg.stop_all()


def test_one_run_per_owner_and_stopping_frees_the_place(ring, spec):
    reg = RunRegistry(max_live=4, per_owner=1)
    a = reg.create(spec, ring, LONG, owner="alice")
    a.handle.start()
    with pytest.raises(SessionLimit, match="limit on this server is 1"):
        reg.create(spec, ring, LONG, owner="alice")
    b = reg.create(spec, ring, LONG, owner="bob")      # someone else is not affected
    a.handle.stop()
    assert a.handle.join(10)
    c = reg.create(spec, ring, LONG, owner="alice")
    assert [e.run_id for e in reg.runs_of("alice")] == [a.run_id, c.run_id]
    assert reg.runs_of("bob") == [b] and reg.runs_of("") == []
    reg.stop_all()


def test_a_queued_run_stopped_leaves_the_queue(ring, spec):
    reg = RunRegistry(max_live=1)
    a, b, c = (reg.create(spec, ring, LONG, owner=o) for o in "abc")
    for e in (a, b, c):
        e.handle.start()
    assert b.handle.queue_place == 1 and c.handle.queue_place == 2
    b.handle.stop()
    assert b.handle.status == "stopped" and "before it started" in b.handle.state().message
    reg.dispatch()
    assert c.handle.queue_place == 1 and reg.queued_count() == 1
    reg.stop_all()


def test_idle_runs_stop_and_ended_runs_keep_their_results(ring, spec):
    reg = RunRegistry(max_live=2, idle_s=0.3)
    a = reg.create(spec, ring, LONG)
    b = reg.create(spec, ring, LONG)
    a.handle.start()
    b.handle.start()
    reg.start_ticker(every_s=0.05)
    try:
        # b is watched, a is not: only the upkeep thread acts, no page calls reap
        assert wait_for(lambda: reg.get(b.run_id) is not None and a.handle.phase == "ended", 10)
        assert "nobody watching" in a.handle.state().message
        assert a.handle.status == "stopped" and b.handle.status == "running"
        s = a.handle.state()
        assert s.history and s.timeline
        first, last = a.handle.snapshot(0), a.handle.snapshot()
        assert first.step == 0 and last.step == s.timeline[-1]["step"] > 0
        assert a.handle.latest_weights().step == last.step
    finally:
        reg.stop_all()


def test_ended_runs_are_dropped_past_the_count_and_byte_budget(ring, spec):
    reg = RunRegistry(max_live=4, keep=2)
    short = TrainConfig(epochs=2, batch_size=50)
    runs = []
    for _ in range(3):
        e = reg.create(spec, ring, short)
        e.handle.start()
        assert e.handle.join(10)
        reg.tick()
        runs.append(e)
    assert reg.peek(runs[0].run_id) is None and reg.peek(runs[2].run_id) is runs[2]
    reg.kept_total_bytes = 1
    reg.tick()
    assert reg.peek(runs[1].run_id) is None     # over the byte budget: the oldest goes first


def test_snapshots_kept_within_the_run_budget(ring, spec):
    reg = RunRegistry(max_live=1, kept_run_bytes=1)    # room for the first and the last only
    e = reg.create(spec, ring, TrainConfig(epochs=20, batch_size=20, max_snapshots=20))
    e.handle.start()
    assert e.handle.join(20)
    reg.tick()
    steps = [t["step"] for t in e.handle.state().timeline]
    assert steps[0] == 0 and len(steps) == 2
    assert e.handle.snapshot(steps[-1]).step == steps[-1]


def test_reset_goes_back_to_step_zero_and_start_queues_again(ring, spec):
    reg = RunRegistry(max_live=1)
    e = reg.create(spec, ring, TrainConfig(epochs=2, batch_size=50))
    e.handle.start()
    assert e.handle.join(10)
    reg.tick()
    w0 = e.handle.snapshot(0).weights
    e.handle.reset()
    s = e.handle.state()
    assert s.status == "idle" and s.step == 0 and not s.history
    assert e.handle.snapshot(0).weights is w0
    e.handle.start()
    assert e.handle.join(10) and e.handle.status == "finished"
    reg.stop_all()


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]


def test_backend_refuses_oversized_runs_before_allocating(ring):
    wide = NetSpec((3, 128, 128), 2, [LayerSpec("conv2d", channels=64, kernel=3, padding=1),
                                      LayerSpec("globalavgpool")])
    with pytest.raises(UserError, match="GiB limit"):
        estimate(wide, batch_size=1024)
    with pytest.raises(UserError, match="expects input"):
        ThreadBackend().submit(preset_spec("playground", (3,), 2), ring, TrainConfig())
    with pytest.raises(UserError, match="expects input"):           # refused before it queues
        RunRegistry().create(preset_spec("playground", (3,), 2), ring, TrainConfig())


def test_upkeep_survives_a_broken_job(ring, spec, capsys):
    reg = RunRegistry()
    reg.on_tick.append(lambda: 1 / 0)
    reg.tick()
    assert "upkeep job failed" in capsys.readouterr().err

