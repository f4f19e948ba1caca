"""The backend contract, on worker processes and on Ray actors (the same tests run
against both): a run trains, pauses, steps and stops; a run that cannot be built says
so in one line; an ended run holds no worker and keeps its results; a killed or hung
worker ends only its own run, and calls into it keep their deadline. Then Ray's own:
runs are found by id from a second app process, and a killed actor ends its run. A
local Ray (2 CPUs, loopback, no dashboard) is started once for this module and shut
down after it; without Ray installed the Ray cases skip with the reason."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from conftest import ring_dataset, wait_for
from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.spec import NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.process_backend import ProcessBackend, WorkerGone
from dlviz.train.backend_choice import backend_name, make_backend
from dlviz.train.runs import RunRegistry

try:
    import ray  # noqa: F401 - only whether it is installed
    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False

NO_RAY = "Ray is not installed (optional: pip install -r requirements-ray.txt); the ray backend is untested"
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason=NO_RAY)
LONG = TrainConfig(batch_size=10, epochs=100_000)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for this module: 2 CPUs, small object store, bounded start; shut down after."""
    if not HAVE_RAY:
        pytest.skip(NO_RAY)
    from dlviz.train import ray_cluster
    if os.environ.get("RAY_ADDRESS"):
        pytest.skip("RAY_ADDRESS is set: these tests start their own local Ray")
    t0 = time.monotonic()
    ray_cluster.connect(num_cpus=2, object_store_bytes=80 * 2**20)
    print(f"local Ray started in {time.monotonic() - t0:.1f} s")
    yield ray.get_runtime_context().gcs_address
    ray_cluster.shutdown()
    assert not ray.is_initialized()


def _make(kind: str, timeout_s: float = 5.0):
    return ProcessBackend(timeout_s=timeout_s) if kind == "process" else make_backend("ray", timeout_s)


@pytest.fixture(params=["process", pytest.param("ray", marks=needs_ray)])
def kind(request):
    if request.param == "ray":
        request.getfixturevalue("local_ray")
    return request.param


def _pid(h) -> int:
    return h.pid


def _exists(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _actor_exists(run_id: str) -> bool:
    try:
        ray.get_actor("dlviz-run-" + run_id, namespace="dlviz")
        return True
    except ValueError:
        return False


# -- the backend contract, for worker processes and Ray actors alike -------------------------

def test_a_run_in_a_worker(kind, ring):
    h = _make(kind).submit(preset_spec("playground", (2,), 2), ring,
                           TrainConfig(batch_size=10, epochs=100_000, lr=0.03))
    pid = _pid(h)
    try:
        assert h.status == "idle" and _exists(pid)
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
    assert h.status == "closed" and wait_for(lambda: not _exists(pid), 10)
    with pytest.raises(UserError, match="closed"):
        h.state()


def test_a_run_that_cannot_be_built_reports_one_line(kind, ring):
    with pytest.raises(UserError, match="expects input"):
        _make(kind).submit(NetSpec((3,), 2, []), ring, TrainConfig())


def test_an_ended_run_costs_no_worker_and_keeps_its_results(kind, ring):
    reg = RunRegistry(_make(kind), max_live=2, keep=1)
    spec = preset_spec("playground", (2,), 2)
    a = reg.create(spec, ring, TrainConfig(epochs=1))
    a.handle.start()
    pid = a.handle._worker.pid
    assert a.handle.join(20)
    reg.tick()                                      # the upkeep harvests and ends the worker
    assert wait_for(lambda: not _exists(pid), 10)
    assert a.handle.status == "finished" and a.handle.state().final
    assert a.handle.snapshot(0).step == 0
    b = reg.create(spec, ring, TrainConfig(epochs=1))      # over keep=1: a is dropped
    reg.tick()
    assert reg.get(a.run_id) is None and reg.get(b.run_id) is b
    reg.stop_all()


# A hung actor (SIGSTOP) is test_calls_into_a_hung_worker_return_within_the_deadline[ray]'s
# case; here it cost 14 s of the suite (three actors started) for what SIGKILL already shows.
@pytest.mark.parametrize("kind, how", [
    ("process", "SIGKILL"), ("process", "SIGSTOP"),
    *[pytest.param("ray", how, marks=needs_ray) for how in ("SIGKILL", "ray.kill")]],
    indirect=["kind"])
def test_a_killed_or_hung_worker_ends_only_its_own_run(kind, ring, how):
    reg = RunRegistry(_make(kind, timeout_s=1.0), max_live=2)
    spec = preset_spec("playground", (2,), 2)
    victim = reg.create(spec, ring, LONG, owner="a")
    other = reg.create(spec, ring, LONG, owner="b")
    victim.handle.start()
    other.handle.start()
    # the upkeep starts queued runs too: a cluster may still be freeing the last test's CPUs
    reg.start_ticker(every_s=0.1)
    assert wait_for(lambda: victim.handle.state().step > 10, 30)
    assert wait_for(lambda: other.handle.status == "running", 30)
    pid = victim.handle._worker.pid
    if how == "ray.kill":
        ray.kill(victim.handle._worker._actor)
    else:
        os.kill(pid, getattr(signal, how))
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: victim.handle.phase == "ended", 10)
        took = time.monotonic() - t0
        s = victim.handle.state()                  # the page's view: a message, no exception
        assert s.status == "error" and "ended unexpectedly" in s.message
        assert victim.handle.status == "error" and not victim.handle.is_alive()
        assert wait_for(lambda: not _exists(pid), 10)
        # nobody else notices: the other run trains on, and a new Start works at once
        assert other.handle.status == "running"
        third = reg.create(spec, ring, LONG, owner="c")
        t1 = time.monotonic()
        third.handle.start()
        assert wait_for(lambda: third.handle.status == "running", 20)
        print(f"{kind} {how}: run ended {took:.2f} s after it; a new one ran "
              f"{time.monotonic() - t1:.2f} s after its Start")
    finally:
        reg.stop_all()
        if _exists(pid):
            os.kill(pid, signal.SIGKILL)


def test_calls_into_a_hung_worker_return_within_the_deadline(kind, ring):
    h = _make(kind, timeout_s=0.5).submit(preset_spec("playground", (2,), 2), ring, LONG)
    pid = _pid(h)
    try:
        os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(WorkerGone, match="did not answer"):
            h.state()
        with pytest.raises(WorkerGone):           # and at once from then on
            h.status
        assert time.monotonic() - t0 < 30        # a bound on hanging, not a timing claim
        assert wait_for(lambda: not _exists(pid), 10)     # the backend ended it
    finally:
        if _exists(pid):
            os.kill(pid, signal.SIGKILL)
        h.close()


def test_both_backends_train_to_the_same_model(local_ray):
    """Same seed, same data, one thread: the actor trains exactly what a worker process does."""
    spec, ds = preset_spec("playground", (2,), 2), ring_dataset()
    config = TrainConfig(batch_size=10, epochs=5, lr=0.03)
    finals = {}
    for kind in ("process", "ray"):
        h = _make(kind).submit(spec, ds, config)
        try:
            h.start()
            assert h.join(60)
            s = h.state()
            assert s.status == "finished"
            finals[kind] = (s.final, h.snapshot().weights)
        finally:
            h.close()
    (pm, pw), (rm, rw) = finals["process"], finals["ray"]
    assert pm["test_accuracy"] > 0.9 and pm == rm
    assert all(torch.equal(pw[k], rw[k]) for k in pw)


def test_an_ended_run_trains_again_under_its_id_after_a_reset(local_ray, ring):
    reg = RunRegistry(make_backend("ray"))
    entry = reg.create(preset_spec("playground", (2,), 2), ring, TrainConfig(epochs=1))
    try:
        for _ in range(2):                  # the second time, the same actor name again
            entry.handle.start()
            assert entry.handle.join(60)
            reg.tick()                      # harvested: its actor ends
            assert entry.handle.phase == "ended" and entry.handle.status == "finished"
            assert wait_for(lambda: not _actor_exists(entry.run_id), 10)
            entry.handle.reset()
    finally:
        reg.stop_all()


# -- the registry on the cluster ---------------------------------------------------------

SECOND_REPLICA = textwrap.dedent("""
    import json, sys
    from dlviz.train.backend_choice import make_backend
    from dlviz.train.runs import RunRegistry
    reg = RunRegistry(make_backend("ray"))
    entry = reg.get(sys.argv[1])
    if entry is None:
        print(json.dumps(None)); sys.exit(0)
    step = entry.handle.state().step
    entry.handle.step(3)                                 # controls work from here too
    print(json.dumps({"owner": entry.owner, "step": step, "status": entry.handle.status,
                      "input_shape": list(entry.spec.input_shape),
                      "n_train": len(entry.dataset.y_train), "epochs": entry.config.epochs,
                      "unknown": reg.get("no-such-run") is None}))
""")


def _second_replica(address: str, run_id: str) -> dict | None:
    # a fresh app process: Ray's settings that this one made for itself are not passed on
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    env.update(RAY_ADDRESS=address, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", SECOND_REPLICA, run_id], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_app_process_finds_the_run_by_its_id(local_ray, ring):
    reg = RunRegistry(make_backend("ray"), max_live=1)
    entry = reg.create(preset_spec("playground", (2,), 2), ring, LONG, owner="alice-browser-id")
    try:
        entry.handle.step(5)
        assert wait_for(lambda: entry.handle.state().step == 5, 30)
        seen = _second_replica(local_ray, entry.run_id)
        assert seen == {"owner": "alice-browser-id", "step": 5, "status": "paused",
                        "input_shape": [2], "n_train": 200, "epochs": 100_000, "unknown": True}
        assert wait_for(lambda: entry.handle.state().step == 8, 10)    # its Step of 3 arrived
        assert entry.handle.status == "paused"          # its leaving did not stop the run
    finally:
        reg.stop_all()
    assert wait_for(lambda: not _actor_exists(entry.run_id), 10)
    assert _second_replica(local_ray, entry.run_id) is None       # closed: gone everywhere


def test_a_run_watched_on_another_replica_is_not_stopped_as_idle(local_ray, ring):
    made = RunRegistry(make_backend("ray"), idle_s=1.0)
    other = RunRegistry(make_backend("ray"), idle_s=1.0)      # a second replica's registry
    entry = made.create(preset_spec("playground", (2,), 2), ring, LONG)
    try:
        entry.handle.start()
        assert wait_for(lambda: entry.handle.status == "running", 30)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:          # its page refreshes on the other replica only
            assert other.get(entry.run_id).handle.status == "running"
            time.sleep(0.2)
        made.tick()
        assert entry.handle.status == "running"        # seen elsewhere within idle_s
        time.sleep(1.5)                                # now nobody, anywhere, looks
        made.tick()
        assert wait_for(lambda: entry.handle.status == "stopped", 10)
        assert "nobody watching" in entry.handle.state().message
    finally:
        made.stop_all()
        other.stop_all()


def test_the_cap_counts_the_clusters_free_cpus(local_ray, ring):
    """max_live=1 is the app machine's setting; the cluster's 2 free CPUs decide instead."""
    reg = RunRegistry(make_backend("ray"), max_live=1)
    spec = preset_spec("playground", (2,), 2)
    runs = [reg.create(spec, ring, LONG, owner=f"o{i}") for i in range(3)]
    reg.start_ticker(every_s=0.1)      # the upkeep starts queued runs as CPUs free
    try:
        for e in runs:
            e.handle.start()
        assert wait_for(lambda: all(e.handle.status == "running" for e in runs[:2]), 30)
        assert runs[2].handle.phase == "queued" and reg.max_live == 2
        assert "trains 2 networks at a time" in runs[2].handle.state().message
        runs[0].handle.stop()
        assert wait_for(lambda: runs[2].handle.status == "running", 30)   # its CPU freed
    finally:
        reg.stop_all()


def test_the_cli_trains_on_ray_and_leaves_no_ray_behind(local_ray, tmp_path):
    def ray_heads():
        ps = subprocess.run(["ps", "-eo", "comm"], capture_output=True, text=True).stdout.split()
        return ps.count("gcs_server")
    before = ray_heads()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-m", "dlviz", "train", "--preset", "playground",
                          "--epochs", "2", "--backend", "ray", "--no-progress"], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == "ray" and result["status"] == "finished"
    assert result["test_accuracy"] > 0.9
    assert wait_for(lambda: ray_heads() == before, 15)      # its own local Ray has ended


# -- choosing the backend, with or without Ray ---------------------------------------------

def test_the_backend_is_chosen_by_name(monkeypatch, capsys):
    monkeypatch.delenv("DLVIZ_BACKEND", raising=False)
    assert backend_name() == "process"
    monkeypatch.setenv("DLVIZ_BACKEND", "Ray")
    assert backend_name() == "ray"
    monkeypatch.setenv("DLVIZ_BACKEND", "slurm")
    assert backend_name() == "process" and "DLVIZ_BACKEND='slurm'" in capsys.readouterr().err
    assert isinstance(make_backend("process"), ProcessBackend)
    with pytest.raises(UserError, match="unknown backend"):
        make_backend("slurm")


def test_without_ray_the_ray_backend_says_how_to_install_it(monkeypatch, ring):
    from dlviz.train import ray_cluster
    monkeypatch.setitem(sys.modules, "ray", None)          # import ray fails
    backend = make_backend("ray")                          # choosing it imports nothing yet
    with pytest.raises(UserError, match="pip install -r requirements-ray.txt"):
        backend.submit(preset_spec("playground", (2,), 2), ring, TrainConfig())
    with pytest.raises(UserError, match="needs Ray"):
        ray_cluster.ray_module()


def test_the_gpu_share_is_read_and_bounded(monkeypatch, capsys):
    from dlviz.train.ray_backend import gpu_fraction, wants_gpu
    monkeypatch.delenv("DLVIZ_RAY_GPU_FRACTION", raising=False)
    assert gpu_fraction() == 0.25
    monkeypatch.setenv("DLVIZ_RAY_GPU_FRACTION", "0.5")
    assert gpu_fraction() == 0.5
    for bad in ("0", "2", "nan", "half"):
        monkeypatch.setenv("DLVIZ_RAY_GPU_FRACTION", bad)
        assert gpu_fraction() == 0.25
    assert "DLVIZ_RAY_GPU_FRACTION" in capsys.readouterr().err
    assert wants_gpu(TrainConfig(device="cuda:1")) and not wants_gpu(TrainConfig(device="auto"))
