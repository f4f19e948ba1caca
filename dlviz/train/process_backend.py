"""Runs in worker processes: training never competes with the web server for the GIL.

A small MLP step is mostly Python; in the server's process, a page redraw
(building Plotly figures) takes the GIL away from the trainer thread every
time it calls into torch, and measured training throughput fell by ~30%. In a
process of its own the trainer keeps one core to itself.

The child holds a ``Trainer`` and answers commands on a pipe; ``ProcessRun``
in the parent implements ``RunHandle`` (``train/backend.py``) as a ``Trainer``
does. Weights cross the pipe as safetensors bytes, never as pickled tensors.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec
from dlviz.train.backend import estimate
from dlviz.train.config import TrainConfig
from dlviz.train.remote_run import RemoteRun, WorkerGone, pack  # noqa: F401 (WorkerGone: its old home)

_CTX = None


def _context():
    """forkserver with dlviz preloaded: a new run starts in ~0.1 s instead of the
    seconds a spawn takes to import torch; and no thread pool is ever forked."""
    global _CTX
    _install_prep()
    if _CTX is None:
        methods = mp.get_all_start_methods()
        _CTX = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            # torch._dynamo: the first optimizer of a process imports it (1.3 s measured);
            # imported once in the fork server, every worker starts with it
            _CTX.set_forkserver_preload(["dlviz.train.trainer", "dlviz.data", "torch._dynamo"])
    return _CTX


WORKER_NAME = "dlviz-run"


def _prep_without_main(get_preparation_data):
    """Keep multiprocessing from re-importing ``__main__`` in a worker.

    Under ``streamlit run`` (and AppTest) ``__main__`` is the app script; a
    child importing it would run the whole app. The worker needs nothing from
    it: its entry point lives in this module. Streamlit swaps
    ``sys.modules["__main__"]`` at every script run of every session, so
    hiding its ``__file__`` around ``start()`` races with a class's concurrent
    sessions (measured: workers that ran app.py and died). Instead the
    preparation data of dlviz workers, and only theirs, leaves the main module out.
    """
    def prepare(name):
        d = get_preparation_data(name)
        if name == WORKER_NAME:
            d.pop("init_main_from_path", None)
            d.pop("init_main_from_name", None)
        return d
    prepare.dlviz = True
    return prepare


def _install_prep() -> None:
    from multiprocessing import spawn
    if not getattr(spawn.get_preparation_data, "dlviz", False):
        spawn.get_preparation_data = _prep_without_main(spawn.get_preparation_data)


START_TIMEOUT_S = 60.0      # building a trainer copies the dataset into the child


class ProcessRun(RemoteRun):
    """A Trainer in a child process, driven through a pipe (thread-safe).

    Every call has a deadline (``timeout_s``): a worker that was killed, or that
    stopped answering (``SIGSTOP``, swapped out, stuck), raises ``WorkerGone``
    within that time and is ended, so no page and no registry lock ever waits
    on it longer. See docs/ARCHITECTURE.md, "A class on one server".
    """

    def __init__(self, spec: NetSpec, dataset: Dataset, config: TrainConfig, timeout_s: float = 5.0):
        ctx = _context()
        self.timeout_s = timeout_s
        self._conn, child = ctx.Pipe()
        self._lock = threading.Lock()
        self._proc = ctx.Process(target=_serve, args=(child, spec.to_dict(), dataset, config.to_dict()),
                                 daemon=True, name=WORKER_NAME)
        self._proc.start()
        child.close()
        self._closed = False
        self._gone = ""
        try:
            ready = self._conn.poll(max(START_TIMEOUT_S, timeout_s))
            ok, err = self._conn.recv() if ready else (False, "the training process did not start in time")
        except (EOFError, OSError):
            self._proc.join(2)
            print(f"dlviz: a worker process ended before it was ready (exit code {self._proc.exitcode})",
                  file=sys.stderr)
            ok, err = False, None
        if not ok:
            self._end_process()
            if err is None:
                raise WorkerGone("its process could not start")
            raise UserError(err)

    def _call(self, name: str, *args):
        if self._gone:
            raise WorkerGone(self._gone)
        # another call stuck on this worker holds the lock: it ends the worker at
        # its own deadline, so waiting longer than one deadline is never needed
        if not self._lock.acquire(timeout=self.timeout_s):
            raise WorkerGone(self._gone or "it is not answering")
        try:
            if self._gone:
                raise WorkerGone(self._gone)
            if self._closed:
                raise UserError("this run has been closed")
            try:
                self._conn.send((name, args))
                if not self._conn.poll(self.timeout_s):
                    self._lose(f"it did not answer within {self.timeout_s:g} s")
                ok, value = self._conn.recv()
            except (EOFError, OSError):
                self._lose("it was killed, or ran out of memory")
        finally:
            self._lock.release()
        if not ok:
            raise UserError(value)
        return value

    def _lose(self, why: str):
        """The worker is dead or hung: end it for good and say so (called holding the lock)."""
        self._gone = why
        self._closed = True
        self._end_process(wait=False)
        raise WorkerGone(why) from None

    def _end_process(self, wait: bool = True) -> None:
        try:
            self._conn.close()
        except OSError:
            pass
        if wait:
            self._proc.join(2)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(2)

    @property
    def process_alive(self) -> bool:
        """Whether the worker process exists (no pipe call: safe on a hung worker)."""
        return not self._gone and self._proc.is_alive()

    def close(self) -> None:
        """Stop training and end the child process."""
        if self._closed:
            return
        try:
            self._call("close")
        except UserError:
            pass
        with self._lock:
            self._closed = True
        self._end_process()

    @property
    def pid(self) -> int | None:
        return self._proc.pid


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
        "snapshot": lambda step: pack(trainer.snapshot(step)),
        "latest_weights": lambda: pack(trainer.latest_weights()),
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


def ask_in_worker(fn, *args, timeout_s: float = START_TIMEOUT_S):
    """``fn(*args)`` in a short-lived worker process, its result returned: for what must
    not run in the server, such as a question that initialises CUDA (``gpu_memory``).
    ``fn`` must be a module-level function; its result is pickled back."""
    ctx = _context()
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_answer, args=(child, fn, args), daemon=True, name=WORKER_NAME)
    proc.start()
    child.close()
    try:
        if not conn.poll(timeout_s):
            raise UserError("a worker process did not answer in time")
        ok, value = conn.recv()
    except (EOFError, OSError):
        raise UserError("a worker process ended before it answered") from None
    finally:
        conn.close()
        proc.join(2)
        if proc.is_alive():
            proc.kill()
            proc.join(2)
    if not ok:
        raise UserError(value)
    return value


def _answer(conn, fn, args) -> None:
    try:
        conn.send((True, fn(*args)))
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        conn.send((False, f"{type(e).__name__}: {e}"))


def _warm_meta_device() -> None:
    import torch
    with torch.device("meta"):
        torch.nn.Linear(2, 2)(torch.empty(1, 2))
        torch.nn.Conv2d(1, 1, 3)(torch.empty(1, 1, 5, 5))


class ProcessBackend:
    """Each run is a Trainer in its own worker process."""

    def warm_up(self) -> None:
        """Start the fork server now, so the first run does not wait for it; and, in a
        thread, the server's first forward on the meta device (``estimate``, which
        checks every run before it is queued, imports torch's decompositions then:
        ~0.8 s that the first Start click used to wait for)."""
        ctx = _context()
        if ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver
            forkserver.ensure_running()
        threading.Thread(target=_warm_meta_device, name="dlviz-warm-meta", daemon=True).start()

    def __init__(self, timeout_s: float = 5.0):
        self.timeout_s = timeout_s

    def submit(self, spec: NetSpec, dataset: Dataset, config: TrainConfig) -> ProcessRun:
        estimate(spec, config.batch_size)
        return ProcessRun(spec, dataset, config, self.timeout_s)
