"""Runs as Ray actors: the trainings go where a cluster's cores and GPUs are.

``DLVIZ_BACKEND=ray`` makes the server's backend a ``RayBackend``: each run is
a named, detached ``RunActor`` (``train/ray_actor.py``) in the ``dlviz``
namespace that owns its ``Trainer``; ``RayRun`` implements ``RunHandle``
(``train/backend.py``) over actor calls, each with a deadline, as ``ProcessRun``
does over a pipe. A killed actor, or a lost node, raises ``WorkerGone``: the
registry ends that run with status ``error`` ("ended unexpectedly"). Because
actors are found by name, a second app replica reattaches to a run by its id
(``attach``); the registry's cap counts the cluster's free CPUs
(``capacity``). See docs/ARCHITECTURE.md, "Runs on a Ray cluster".
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import threading
import time

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train import ray_cluster
from dlviz.train.backend import estimate
from dlviz.train.config import TrainConfig
from dlviz.train.remote_run import RemoteRun, WorkerGone
from dlviz.train.ray_actor import WATCH_EVERY_S, RunActor

ACTOR_PREFIX = "dlviz-run-"
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")     # what secrets.token_urlsafe makes
START_TIMEOUT_S = 60.0        # placing the actor, importing torch there, copying the dataset
CLOSE_GRACE_S = 3.0           # a closed run another replica watches stays readable this long
GPU_FRACTION_DEFAULT = 0.25   # four runs share one GPU
MAX_KNOWN_ACTORS = 4096       # actor handles this replica keeps for touch / seen_ago
_REMOTE = None                # RunActor as a Ray actor class, made on first use


def gpu_fraction() -> float:
    """``DLVIZ_RAY_GPU_FRACTION``: the share of one GPU a cuda run asks for, in (0, 1]."""
    raw = os.environ.get("DLVIZ_RAY_GPU_FRACTION", "").strip()
    if not raw:
        return GPU_FRACTION_DEFAULT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.01 <= value <= 1.0:                # NaN fails too
        print(f"dlviz: DLVIZ_RAY_GPU_FRACTION={raw[:40]!r} is not a number in [0.01, 1]; "
              f"using {GPU_FRACTION_DEFAULT}", file=sys.stderr)
        return GPU_FRACTION_DEFAULT
    return value


def wants_gpu(config: TrainConfig) -> bool:
    return config.device.lower().startswith("cuda")


def _errors():
    ray = ray_cluster.ray_module()
    return ray, ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError


class RayRun(RemoteRun):
    """A ``RunActor`` on the cluster, driven by actor calls (thread-safe: no state but flags).

    ``made_here``: this replica created the actor, so ``close`` ends it; a run
    attached from another replica only forgets the actor when closed."""

    def __init__(self, actor, run_id: str, timeout_s: float = 5.0, made_here: bool = True):
        self._actor = actor
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.made_here = made_here
        self._closed = False
        self._gone = ""

    def _call(self, name: str, *args):
        if self._gone:
            raise WorkerGone(self._gone)
        if self._closed:
            raise UserError("this run has been closed")
        ray, Timeout, ActorError = _errors()
        try:
            ok, value = ray.get(self._actor.call.remote(name, *args), timeout=self.timeout_s)
        except Timeout:
            self._lose(f"it did not answer within {self.timeout_s:g} s")
        except ActorError:
            self._lose("it was killed, or its node was lost")
        if not ok:
            raise UserError(value)
        return value

    def _lose(self, why: str):
        """The actor is dead or hung: end it for good and say so."""
        self._gone = why
        self._closed = True
        ray = ray_cluster.ray_module()
        try:
            ray.kill(self._actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        raise WorkerGone(why) from None

    @property
    def process_alive(self) -> bool:
        """False once the actor is known to be lost (no call: safe on a hung actor)."""
        return not self._gone and not self._closed

    @property
    def pid(self) -> int:
        """The actor's process id on its node (tests kill it)."""
        return self._call("pid")

    def close(self) -> None:
        """Stop training; end the actor if this replica made it and nobody else watches."""
        if self._closed:
            return
        self._closed = True
        if self._gone or not self.made_here:
            return
        ray, Timeout, ActorError = _errors()
        try:
            kill_now = ray.get(self._actor.close.remote(CLOSE_GRACE_S), timeout=self.timeout_s + 5)
        except (Timeout, ActorError):
            kill_now = True
        if kill_now:
            ray.kill(self._actor, no_restart=True)


def actor_name(run_id: str) -> str:
    return ACTOR_PREFIX + run_id


class RayBackend:
    """Each run is a named, detached Ray actor (see the module docstring).

    The registry gives a run's id and owner to ``submit`` (``names_runs``), asks
    ``attach`` for an id it does not know, and ``capacity`` for its cap."""

    names_runs = True

    def __init__(self, timeout_s: float = 5.0, idle_s: float = 600.0, num_cpus: int | None = None):
        self.timeout_s = timeout_s
        self.idle_s = idle_s            # an actor no replica has called for this long ends itself
        self.num_cpus = num_cpus        # a local instance's CPUs (None: the machine's)
        self.gpu_fraction = gpu_fraction()
        self._actors: dict[str, object] = {}    # run id -> actor handle, newest last (bounded)
        self._actors_lock = threading.Lock()

    def warm_up(self) -> None:
        """Start or join the cluster now, so the first Start does not wait for it."""
        ray_cluster.connect(self.num_cpus)

    def _actor_class(self):
        global _REMOTE
        if _REMOTE is None:
            _REMOTE = ray_cluster.ray_module().remote(RunActor)
        return _REMOTE

    def submit(self, spec: NetSpec, dataset: Dataset, config: TrainConfig,
               run_id: str | None = None, owner: str = "") -> RayRun:
        estimate(spec, config.batch_size)
        if run_id is None:
            run_id = secrets.token_urlsafe(9)
        if not RUN_ID.match(run_id):
            raise UserError("a run id is 1 to 64 letters, digits, '-' or '_'")
        ray_cluster.connect(self.num_cpus)
        ray, Timeout, ActorError = _errors()
        options = dict(name=actor_name(run_id), namespace=ray_cluster.NAMESPACE, lifetime="detached",
                       max_restarts=0, max_task_retries=0, num_cpus=1,
                       num_gpus=self.gpu_fraction if wants_gpu(config) else 0)
        actor = self._create(options, spec.to_dict(), dataset, config.to_dict(), owner, self.idle_s)
        try:
            ok, err = ray.get(actor.ready.remote(), timeout=START_TIMEOUT_S)
        except Timeout:
            ray.kill(actor, no_restart=True)
            need = f"a CPU and {self.gpu_fraction:g} GPU" if wants_gpu(config) else "a free CPU"
            raise UserError(f"the cluster did not place this run within {START_TIMEOUT_S:.0f} s "
                            f"(it needs {need})") from None
        except ActorError as e:             # e.g. dlviz missing on the node: say what it said
            cause = next((line for line in str(e).splitlines() if "Error" in line), "")[:200]
            raise WorkerGone(f"its actor died while starting{': ' + cause if cause else ''}") from None
        if not ok:
            ray.kill(actor, no_restart=True)
            raise UserError(err)
        self._remember(run_id, actor)
        return RayRun(actor, run_id, self.timeout_s, made_here=True)

    def _create(self, options: dict, *args):
        """The named actor; a name still held by this run's previous, closing actor (another
        replica watched it: ``CLOSE_GRACE_S``) frees within moments, so wait for it."""
        end = time.monotonic() + CLOSE_GRACE_S + 2 * WATCH_EVERY_S
        while True:
            try:
                return self._actor_class().options(**options).remote(*args)
            except ValueError:              # the name is taken
                if time.monotonic() > end:
                    raise UserError("this run is still training on the cluster; stop it first") from None
                time.sleep(0.2)

    # -- the registry on the cluster ---------------------------------------------------
    def attach(self, run_id: str) -> dict | None:
        """A run another replica made, by its id: {"handle", "spec", "dataset", "config",
        "owner"}; None when no such run lives on the cluster."""
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            return None
        ray_cluster.connect(self.num_cpus)
        ray, Timeout, ActorError = _errors()
        try:
            actor = ray.get_actor(actor_name(run_id), namespace=ray_cluster.NAMESPACE)
            info = ray.get(actor.info.remote(), timeout=self.timeout_s)
        except ValueError:                       # no actor by that name
            return None
        except (Timeout, ActorError):
            return None
        try:
            spec, config = NetSpec.from_dict(info["spec"]), TrainConfig.from_dict(info["config"])
        except UserError:
            return None
        self._remember(run_id, actor)
        return {"handle": RayRun(actor, run_id, self.timeout_s, made_here=False), "spec": spec,
                "config": config, "dataset": info["dataset"], "owner": str(info["owner"])}

    def _remember(self, run_id: str, actor) -> None:
        with self._actors_lock:
            self._actors.pop(run_id, None)
            self._actors[run_id] = actor
            while len(self._actors) > MAX_KNOWN_ACTORS:
                self._actors.pop(next(iter(self._actors)))

    def _actor(self, run_id: str):
        actor = self._actors.get(run_id)
        if actor is None:
            ray = ray_cluster.ray_module()
            actor = ray.get_actor(actor_name(run_id), namespace=ray_cluster.NAMESPACE)
            self._remember(run_id, actor)
        return actor

    def touch(self, run_id: str) -> None:
        """Tell the run's actor that a page looked at it (fire and forget: no wait)."""
        try:
            self._actor(run_id).touch.remote()
        except Exception:  # noqa: BLE001 - a run that is gone is found out by the upkeep
            pass

    def seen_ago(self, run_id: str) -> float | None:
        """Seconds since any replica's page looked at the run (None: unknown or gone)."""
        ray, Timeout, ActorError = _errors()
        try:
            return float(ray.get(self._actor(run_id).seen_ago.remote(), timeout=self.timeout_s))
        except (ValueError, Timeout, ActorError):
            return None

    def capacity(self) -> tuple[int, int]:
        """(runs that fit now, runs the whole cluster holds): one CPU each."""
        ray_cluster.connect(self.num_cpus)
        free, total = ray_cluster.free_resources()
        return int(free.get("CPU", 0.0) + 1e-9), max(1, int(total.get("CPU", 1.0) + 1e-9))

    def shutdown(self) -> None:
        """Disconnect (a local instance this process started ends with its actors)."""
        ray_cluster.shutdown()
