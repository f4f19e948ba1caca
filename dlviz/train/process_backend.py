"""Runs in worker processes: training never competes with the web server for the GIL.

A small MLP step is mostly Python; in the server's process, a page redraw
(building Plotly figures) takes the GIL away from the trainer thread every
time it calls into torch, and measured training throughput fell by ~30%. In a
process of its own the trainer keeps one core to itself.

The child holds a ``Trainer`` and answers commands on a pipe; ``ProcessRun``
in the parent has the same methods as a ``Trainer`` (``RunHandle``). Weights
cross the pipe as safetensors bytes, never as pickled tensors.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from contextlib import contextmanager

from safetensors.torch import load as st_load

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train.backend import estimate
from dlviz.train.config import TrainConfig
from dlviz.train.history import Snapshot
from dlviz.train.state import TrainerState

_CTX = None


def _context():
    """forkserver with dlviz preloaded: a new run starts in ~0.1 s instead of the
    seconds a spawn takes to import torch; and no thread pool is ever forked."""
    global _CTX
    if _CTX is None:
        methods = mp.get_all_start_methods()
        _CTX = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            _CTX.set_forkserver_preload(["dlviz.train.trainer", "dlviz.data"])
    return _CTX


_MAIN_LOCK = threading.Lock()


@contextmanager
def _without_main_module():
    """Keep multiprocessing from re-importing ``__main__`` in the child.

    Under ``streamlit run`` (and AppTest) ``__main__`` is the app script; a
    child importing it would run the whole app. The worker needs nothing from
    it: its entry point lives in this module.
    """
    main = sys.modules.get("__main__")
    with _MAIN_LOCK:
        saved = {a: main.__dict__.pop(a) for a in ("__file__",) if main is not None and a in main.__dict__}
        spec = getattr(main, "__spec__", None)
        if main is not None:
            main.__spec__ = None
        try:
            yield
        finally:
            if main is not None:
                main.__dict__.update(saved)
                main.__spec__ = spec


class ProcessRun:
    """A Trainer in a child process, driven through a pipe (thread-safe)."""

    def __init__(self, spec: NetSpec, dataset: Dataset, config: TrainConfig):
        ctx = _context()
        self._conn, child = ctx.Pipe()
        self._lock = threading.Lock()
        self._proc = ctx.Process(target=_serve, args=(child, spec.to_dict(), dataset, config.to_dict()),
                                 daemon=True, name="dlviz-run")
        with _without_main_module():
            self._proc.start()
        child.close()
        self._closed = False
        try:
            ok, err = self._conn.recv()             # the child built its trainer (or could not)
        except (EOFError, OSError):
            ok, err = False, "the training process could not start"
        if not ok:
            self._proc.join(5)
            raise UserError(err)

    def _call(self, name: str, *args):
        with self._lock:
            if self._closed:
                raise UserError("this run has been closed")
            try:
                self._conn.send((name, args))
                ok, value = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._closed = True
                raise UserError("the training process has ended unexpectedly") from None
        if not ok:
            raise UserError(value)
        return value

    # -- RunHandle ------------------------------------------------------------
    def start(self, paused: bool = False) -> None:
        self._call("start", paused)

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def step(self, n: int = 1) -> None:
        self._call("step", n)

    def stop(self, reason: str = "stopped by user") -> None:
        if not self._closed:
            self._call("stop", reason)

    def reset(self) -> None:
        self._call("reset")

    def join(self, timeout: float | None = None) -> bool:
        return self._call("join", timeout)

    def is_alive(self) -> bool:
        return not self._closed and self._call("is_alive")

    @property
    def status(self) -> str:
        return "closed" if self._closed else self._call("status")

    def state(self) -> TrainerState:
        return self._call("state")

    def snapshot(self, step: int | None = None) -> Snapshot:
        return _unpack(self._call("snapshot", step))

    def latest_weights(self) -> Snapshot:
        return _unpack(self._call("latest_weights"))

    def close(self) -> None:
        """Stop training and end the child process."""
        if self._closed:
            return
        try:
            self._call("close")
        except UserError:
            pass
        self._closed = True
        self._conn.close()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()

    @property
    def pid(self) -> int | None:
        return self._proc.pid


def _unpack(packed) -> Snapshot:
    step, epoch, blob, metrics = packed
    return Snapshot(step, epoch, st_load(blob), metrics)


def _pack(s: Snapshot):
    from dlviz.bundle import weights_bytes
    return (s.step, s.epoch, weights_bytes(s.weights), s.metrics)


def _serve(conn, spec_dict: dict, dataset: Dataset, config_dict: dict) -> None:
    """The child: build the trainer, then answer commands until told to close."""
    import torch

    from dlviz.train.trainer import Trainer
    torch.set_num_threads(int(os.environ.get("DLVIZ_THREADS", "0")) or 1)
    try:
        trainer = Trainer(NetSpec.from_dict(spec_dict), dataset, TrainConfig.from_dict(config_dict))
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        conn.send((False, str(e)))
        return
    conn.send((True, None))
    calls = {
        "start": trainer.start, "pause": trainer.pause, "resume": trainer.resume,
        "step": trainer.step, "stop": trainer.stop, "reset": trainer.reset,
        "join": trainer.join, "is_alive": trainer.is_alive, "state": trainer.state,
        "status": lambda: trainer.status,
        "snapshot": lambda step: _pack(trainer.snapshot(step)),
        "latest_weights": lambda: _pack(trainer.latest_weights()),
    }
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            name, args = "close", ()          # the parent went away
        if name == "close":
            trainer.stop("closed")
            trainer.join(5)
            try:
                conn.send((True, None))
            except (OSError, BrokenPipeError):
                pass
            return
        try:
            conn.send((True, calls[name](*args)))
        except Exception as e:  # noqa: BLE001
            conn.send((False, str(e)))


class ProcessBackend:
    """Each run is a Trainer in its own worker process."""

    def warm_up(self) -> None:
        """Start the fork server now, so the first run does not wait for it."""
        ctx = _context()
        if ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver
            with _without_main_module():
                forkserver.ensure_running()

    def submit(self, spec: NetSpec, dataset: Dataset, config: TrainConfig) -> ProcessRun:
        estimate(spec, config.batch_size)
        return ProcessRun(spec, dataset, config)
