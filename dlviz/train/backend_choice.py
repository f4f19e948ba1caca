"""Which backend runs train on: worker processes (the app's default), Ray actors (a
cluster: docs/ARCHITECTURE.md, "Runs on a Ray cluster"; Ray imported only when chosen)
or threads of this process (tests, the CLI's default). ``DLVIZ_BACKEND`` names it for the
app, ``--backend`` for the CLI."""

from __future__ import annotations

import os
import sys

from dlviz.errors import UserError
from dlviz.train.backend import JobBackend, ThreadBackend

BACKENDS = ("process", "ray", "thread")     # DLVIZ_BACKEND, the CLI's --backend


def backend_name(default: str = "process") -> str:
    """``DLVIZ_BACKEND``, checked: an unknown name warns on stderr and gives ``default``."""
    raw = os.environ.get("DLVIZ_BACKEND", "").strip().lower()
    if not raw:
        return default
    if raw not in BACKENDS:
        print(f"dlviz: DLVIZ_BACKEND={raw[:40]!r} is not one of {', '.join(BACKENDS)}; using {default}",
              file=sys.stderr)
        return default
    return raw


def make_backend(name: str, timeout_s: float = 5.0, idle_s: float = 600.0) -> JobBackend:
    """Worker processes, Ray actors (imported only when chosen) or threads of this process."""
    if name == "ray":
        from dlviz.train.ray_backend import RayBackend
        return RayBackend(timeout_s=timeout_s, idle_s=idle_s)
    if name == "process":
        from dlviz.train.process_backend import ProcessBackend
        return ProcessBackend(timeout_s=timeout_s)
    if name == "thread":
        return ThreadBackend()
    raise UserError(f"unknown backend {name[:40]!r}; use one of {', '.join(BACKENDS)}")
