"""The Ray actor that owns one run's ``Trainer`` (it runs on a cluster node, never in the app).

``RayRun`` (``train/ray_backend.py``) drives it as ``ProcessRun`` drives its child: one
generic ``call`` answers ``(ok, value)`` for every ``RunHandle`` method, and weights
leave as safetensors bytes, never as pickled tensors. The actor is named and
detached (docs/ARCHITECTURE.md, "Runs on a Ray cluster"), so any app replica can
find it by the run id; it therefore also outlives the replica that made it, and
ends itself when nobody has called it for ``orphan_s`` (that replica crashed),
or a moment after ``close`` when other replicas still watch it.

Nothing here imports Ray: the backend wraps this class with ``ray.remote``.
"""

from __future__ import annotations

import os
import threading
import time

from dlviz.spec import NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.remote_run import pack

WATCH_EVERY_S = 0.5


class RunActor:
    """One run on the cluster. ``ready`` says whether the trainer could be built."""

    def __init__(self, spec_dict: dict, dataset, config_dict: dict, owner: str, orphan_s: float):
        import torch

        from dlviz.train.trainer import Trainer
        # one intra-op thread per run, as in a worker process (its one CPU of the cluster)
        torch.set_num_threads(int(os.environ.get("DLVIZ_THREADS", "0")) or 1)
        self._info = {"spec": spec_dict, "config": config_dict, "owner": owner}
        self._dataset = dataset
        self._orphan_s = orphan_s
        self._watchers = 0                   # other replicas that attached to this run
        self._last_call = time.monotonic()   # any call: a replica's upkeep still holds it
        self._last_seen = time.monotonic()   # a page looked at it (``touch``), any replica
        self._close_at: float | None = None
        self._trainer = None
        self._error = ""
        try:
            self._trainer = Trainer(NetSpec.from_dict(spec_dict), dataset,
                                    TrainConfig.from_dict(config_dict))
        except Exception as e:  # noqa: BLE001 - reported to the app as one line
            self._error = str(e) or type(e).__name__
        threading.Thread(target=self._watch, name="dlviz-run-watch", daemon=True).start()

    def ready(self) -> tuple[bool, str]:
        return self._trainer is not None, self._error

    def call(self, name: str, *args) -> tuple[bool, object]:
        """One ``RunHandle`` method of the trainer: (True, value) or (False, message)."""
        self._last_call = time.monotonic()
        t = self._trainer
        if t is None:
            return False, self._error
        calls = {
            "start": t.start, "pause": t.pause, "resume": t.resume, "step": t.step,
            "stop": t.stop, "reset": t.reset, "join": t.join, "is_alive": t.is_alive,
            "state": t.state, "status": lambda: t.status,
            "snapshot": lambda step: pack(t.snapshot(step)),
            "latest_weights": lambda: pack(t.latest_weights()),
            "pid": os.getpid,
        }
        if name not in calls:
            return False, f"unknown call {name!r}"
        try:
            return True, calls[name](*args)
        except Exception as e:  # noqa: BLE001 - the message goes back as a UserError
            return False, str(e)

    # -- the cluster-wide registry: what another replica needs to show this run ---------
    def info(self) -> dict:
        """Spec and config (as dicts), owner and dataset; counts the caller as a watcher."""
        self._last_call = time.monotonic()
        self._watchers += 1
        return {**self._info, "dataset": self._dataset}

    def touch(self) -> None:
        """A page of some replica looked at the run now."""
        self._last_seen = self._last_call = time.monotonic()

    def seen_ago(self) -> float:
        return time.monotonic() - self._last_seen

    def close(self, grace_s: float) -> bool:
        """Stop training. True: nobody else watches, kill the actor now; False: it ends
        itself after ``grace_s`` (other replicas harvest the results meanwhile)."""
        if self._trainer is not None:
            self._trainer.stop("closed")
            self._trainer.join(5)
        if self._watchers == 0:
            return True
        self._close_at = time.monotonic() + grace_s
        return False

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_EVERY_S)
            now = time.monotonic()
            if self._close_at is not None and now >= self._close_at:
                os._exit(0)
            if now - self._last_call > self._orphan_s:      # no replica holds this run any more
                if self._trainer is not None:
                    self._trainer.stop("stopped: no app server was watching it")
                    self._trainer.join(5)
                os._exit(0)
