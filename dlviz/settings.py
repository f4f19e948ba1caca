"""Operator settings, read from environment variables (documented in the README).

A class shares one server, so the limits that protect it are the operator's
to set, not a link's or a page's. Each value is typed and bounded here; a
malformed variable falls back to the default with a warning on stderr rather
than stopping the server.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                 # not on Linux
        return os.cpu_count() or 1


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        print(f"dlviz: {name}={raw!r} is not a whole number in [{lo}, {hi}]; using {default}",
              file=sys.stderr)
        return default
    return value


def _float(name: str, default: float, lo: float, hi: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not lo <= value <= hi:            # NaN fails too
        print(f"dlviz: {name}={raw!r} is not a number in [{lo:g}, {hi:g}]; using {default:g}",
              file=sys.stderr)
        return default
    return value


def _dirs(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    return tuple(os.path.realpath(os.path.expanduser(p)) for p in raw.split(os.pathsep) if p.strip())


@dataclass(frozen=True)
class Settings:
    max_live_runs: int          # runs training at once on this server; more wait in a queue
    runs_per_session: int       # live or queued runs one browser session may hold
    run_idle_s: float           # a live run nobody has looked at for this long is stopped
    keep_runs: int              # ended runs kept for their views, oldest dropped first
    kept_run_bytes: int         # snapshots kept in the server per run
    kept_total_bytes: int       # over all ended runs; the least recently seen go first
    worker_timeout_s: float     # a worker that does not answer within this is ended
    data_dirs: tuple[str, ...]  # server folders a link or page may train on (folder:/idx:)
    upload_ttl_s: float         # uploaded datasets are removed after this long


def settings() -> Settings:
    """The settings in force now (read afresh: tests set the variables)."""
    cores = _cores()
    return Settings(
        # one core stays with the web server and the pages; at least one run trains
        max_live_runs=_int("DLVIZ_MAX_LIVE_RUNS", max(1, cores - 1), 1, 256),
        runs_per_session=_int("DLVIZ_RUNS_PER_SESSION", 1, 1, 64),
        run_idle_s=_float("DLVIZ_RUN_IDLE_S", 600.0, 1.0, 7 * 86400.0),
        keep_runs=_int("DLVIZ_KEEP_RUNS", 64, 1, 10_000),
        kept_run_bytes=_int("DLVIZ_KEPT_RUN_MB", 64, 1, 4096) * 2**20,
        kept_total_bytes=_int("DLVIZ_KEPT_TOTAL_MB", 1024, 1, 65536) * 2**20,
        worker_timeout_s=_float("DLVIZ_WORKER_TIMEOUT_S", 5.0, 0.1, 600.0),
        data_dirs=_dirs("DLVIZ_DATA_DIRS"),
        upload_ttl_s=_float("DLVIZ_UPLOAD_TTL_S", 86400.0, 1.0, 365 * 86400.0),
    )
