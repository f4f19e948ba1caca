"""Fixtures for real-browser tests: the app in a subprocess, headless Chromium via Playwright.

Playwright's own browser download does not work here, so Chromium is the Debian
package, found on PATH and passed as ``executable_path`` (docs/ARCHITECTURE.md). Without a
browser the tests skip; with ``CI`` set they fail, because in CI a missing
browser means the environment is broken, not that the tests do not apply.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_TIMEOUT_S = 60


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


@contextmanager
def serve_app(cache_dir: str, name: str = "browser-test", **env_extra: str):
    """``streamlit run app.py`` on a free local port, with ``env_extra`` set (e.g. the
    DLVIZ_* limits); yields the URL (and the server process as ``.proc`` of the
    returned string's owner below). Its log is test-output/streamlit-<name>.log."""
    OUTPUT.mkdir(exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = OUTPUT / f"streamlit-{name}.log"
    env = dict(os.environ, DLVIZ_THREADS="1", **env_extra)
    env.setdefault("DLVIZ_CACHE_DIR", cache_dir)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with code {proc.returncode} before serving; "
                            f"see {log_path}:\n{log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after {STARTUP_TIMEOUT_S} s; see {log_path}")
            time.sleep(0.25)
        yield Served(url, proc)
    finally:
        _kill_group(proc)


class Served(str):
    """The app's URL, with its server process attached."""

    def __new__(cls, url: str, proc: subprocess.Popen):
        s = super().__new__(cls, url)
        s.proc = proc
        return s


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app served with the default settings, shared by the browser tests."""
    with serve_app(str(tmp_path_factory.mktemp("dlviz-browser-cache"))) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never Playwright's own download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed (pip install playwright)")
    exe = shutil.which("chromium")
    if exe is None:
        _unavailable("no `chromium` on PATH (apt-get install chromium chromium-driver)")
    pw = sync_playwright().start()
    try:
        # launch() gives the browser a fresh temporary profile of its own and deletes it on close
        try:
            b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        except Exception as e:  # noqa: BLE001 - any launch failure means "no usable browser"
            _unavailable(f"chromium at {exe} did not start: {e}")
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # keep each phase's report on the test item, so that `page` can see a failure at teardown
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture
def page(browser, request):
    """A fresh browser context (1400x1000, 30 s timeouts); a failing test leaves a screenshot."""
    from playwright.sync_api import expect  # imported here: without playwright, `browser` skips

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    # expect() has its own 5 s default; on 2 busy cores (trainer, server, Chromium) a live
    # page can take longer than that to redraw
    expect.set_options(timeout=20_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                print(f"screenshot of the failure: {shot(pg, 'FAILED-' + request.node.name)}")
            except Exception as e:  # noqa: BLE001 - a failed screenshot must not hide the failure
                print(f"no screenshot of the failure: {e}")
        context.close()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot to test-output/screenshots/<name>.png and return its path.

    Streamlit scrolls inside its own container, not the document, so Playwright's
    ``full_page`` alone sees one viewport; the viewport is stretched to the content's
    height for the shot and put back afterwards.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
            .map(e => e.scrollHeight))""")
    tall = size is not None and height > size["height"]
    if tall:
        page.set_viewport_size({"width": size["width"], "height": min(int(height), 8000)})
        page.wait_for_timeout(400)          # let Plotly charts re-lay themselves out
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if tall:
            page.set_viewport_size(size)
    return path
