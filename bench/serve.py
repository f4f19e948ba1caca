"""The app served on loopback for a benchmark: start, wait until healthy, stop.

Shared by the benchmarks that drive a real browser (page_paint, live_page,
class_load). The server runs in a process group of its own (server, fork
server, training workers), so stopping it ends them all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def start_app(env: dict | None = None, log=subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free 127.0.0.1 port with ``env`` (default: this
    environment and DLVIZ_THREADS=1); returns the process and its URL, not yet healthy."""
    port = free_port()
    env = env if env is not None else {**os.environ, "DLVIZ_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float = 60.0) -> None:
    """Until the server answers its health check; RuntimeError if it exits or times out."""
    end = time.monotonic() + timeout_s
    while not healthy(url):
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        if time.monotonic() > end:
            raise RuntimeError(f"streamlit not healthy after {timeout_s:.0f} s")
        time.sleep(0.25)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (server, forkserver, workers), SIGKILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + 10
    while time.monotonic() < end:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)              # anyone of the group still there?
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
