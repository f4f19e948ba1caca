"""Joining a Ray cluster, or starting a local one: the only place that imports Ray.

Ray is optional (``requirements-ray.txt``): it is imported on first use, and a
missing install is one clear message. With ``RAY_ADDRESS`` set the app joins
that cluster; without it a local instance is started on loopback, dashboard
off, with a small object store, bounded in time, and shut down by whoever
started it (``shutdown``). See docs/ARCHITECTURE.md, "Runs on a Ray cluster".
"""

from __future__ import annotations

import os
import sys
import threading

from dlviz.errors import UserError

NAMESPACE = "dlviz"
CONNECT_TIMEOUT_S = 60.0
LOCAL_OBJECT_STORE_BYTES = 128 * 2**20   # datasets and snapshots pass through it; it spills to disk
ADDRESS_MAX_CHARS = 300

_lock = threading.Lock()
_owner = None      # (thread, halt event) of the thread that started or joined Ray


def ray_module():
    """``import ray``, or one line saying how to install it."""
    host = os.environ.get("RAY_ADDRESS", "").strip().removeprefix("ray://").rsplit(":", 1)[0]
    if "ray" not in sys.modules and host in ("", "127.0.0.1", "localhost"):
        # a local instance, or a head on loopback: Ray's own switch for a one-machine
        # "cluster" (read when Ray is imported); without it Ray binds, and looks for a
        # loopback head at, the machine's network address
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if "ray" not in sys.modules and host and "RAY_AUTH_MODE" not in os.environ and (
            os.environ.get("RAY_AUTH_TOKEN") or os.path.exists(os.path.expanduser("~/.ray/auth_token"))):
        # joining a cluster with this machine's token: Ray's rule for `ray start`, which a
        # driver does not apply by itself (it would connect without the token, refused)
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError:
        raise UserError("the ray backend needs Ray: pip install -r requirements-ray.txt") from None
    return ray


def cluster_address() -> str | None:
    """``RAY_ADDRESS``, checked (None: start a local instance)."""
    raw = os.environ.get("RAY_ADDRESS", "").strip()
    if not raw:
        return None
    if len(raw) > ADDRESS_MAX_CHARS or any(c.isspace() for c in raw):
        raise UserError(f"RAY_ADDRESS must be one address like 10.0.0.5:6379, got {raw[:40]!r}")
    return raw


def connect(num_cpus: int | None = None, object_store_bytes: int = LOCAL_OBJECT_STORE_BYTES) -> None:
    """Join ``RAY_ADDRESS`` or start a local instance, once per process (idempotent).

    ``num_cpus`` bounds a local instance (default: the machine's cores); it is
    ignored for an existing cluster, whose nodes say what they have."""
    global _owner
    ray = ray_module()
    with _lock:
        if ray.is_initialized():
            return
        address = cluster_address()
        kwargs = dict(namespace=NAMESPACE, log_to_driver=False, configure_logging=False,
                      ignore_reinit_error=True)
        if address is None:
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            kwargs.update(address="local", num_cpus=num_cpus, include_dashboard=False,
                          object_store_memory=object_store_bytes,
                          # the actors import dlviz from this checkout (same machine)
                          runtime_env={"env_vars": {"PYTHONPATH": root}})
        else:
            kwargs.update(address=address)
        done, halt = threading.Event(), threading.Event()
        failed: list[BaseException] = []

        def own():
            # Ray ties the local instance's processes to the thread that starts them
            # (PR_SET_PDEATHSIG): a page's script thread ends after each run, so one
            # thread of ours starts it, lives as long as it, and shuts it down
            try:
                ray.init(**kwargs)
            except BaseException as e:  # noqa: BLE001 - reported below as one line
                failed.append(e)
                done.set()
                return
            done.set()
            halt.wait()
            ray.shutdown()

        owner = threading.Thread(target=own, name="dlviz-ray-owner", daemon=True)
        owner.start()
        # bounded in time: ray.init itself has no deadline for a cluster that never answers
        if not done.wait(CONNECT_TIMEOUT_S):
            raise UserError(f"Ray did not start within {CONNECT_TIMEOUT_S:.0f} s"
                            + (f" (RAY_ADDRESS={address})" if address else ""))
        if failed:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise UserError(f"could not start or join {where}: {str(failed[0]).splitlines()[0][:200]}")
        _owner = (owner, halt)


def shutdown(timeout_s: float = 30.0) -> None:
    """Disconnect; a local instance this process started ends with all its actors."""
    global _owner
    with _lock:
        if _owner is None:
            return
        owner, halt = _owner
        halt.set()
        owner.join(timeout_s)
        _owner = None


def started_here() -> bool:
    """Whether this process started (or joined) Ray and has not shut it down."""
    return _owner is not None


def free_resources() -> tuple[dict, dict]:
    """(available, total) resources of the whole cluster, e.g. {"CPU": 3.0, "GPU": 0.5}."""
    ray = ray_module()
    return ray.available_resources(), ray.cluster_resources()
