"""A class on one server, in real browsers: eight students press Start together.

Each student is a browser context of its own (its own cookies, so its own
owner id). The server allows 2 live runs: the others wait in line, each page
says its place, and each queued run starts by itself when a slot frees. A
worker killed with SIGKILL ends only its own run, with a message on its
page. An idle page opens while the runs train; no page shows an exception.
"""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import replace

import pytest

try:
    from playwright.sync_api import expect
except ImportError:         # the `browser` fixture skips (or, in CI, fails) with the reason
    expect = None

from bench.class_load import children
from dlviz.workspace import default_workspace

from .conftest import serve_app, shot

EXCEPTION = '[data-testid="stException"]'
STUDENTS = 8
CAP = 1                 # the default on a 2-core server: one core for the server and the pages
PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"]'


@pytest.fixture(scope="module")
def class_url(tmp_path_factory):
    with serve_app(str(tmp_path_factory.mktemp("dlviz-class-cache")), "class-load",
                   DLVIZ_MAX_LIVE_RUNS=str(CAP), DLVIZ_WORKER_TIMEOUT_S="3") as url:
        yield url


def _workers(server_pid: int) -> list[int]:
    """The training workers: children of the server's forkserver (its children's children)."""
    return [w for child in children(server_pid) for w in children(child)]


def _status(page) -> str:
    """'queued' while the page says its place in line, else the progress line's first word."""
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text(re.compile(r"waiting: \d+\w\w in line")).or_(
        page.locator(PROGRESS)).first).to_be_visible(timeout=60_000)
    if re.search(r"waiting: \d+\w\w in line", main.inner_text()):
        return "queued"
    return page.locator(PROGRESS).first.inner_text().split("·")[0].strip().strip("*")


def test_eight_students_press_start_together(browser, class_url):
    ws = default_workspace()
    ws = replace(ws, config=ws.config.replace(epochs=100_000))      # runs that outlast the test
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(STUDENTS)]
    pages = []
    try:
        for ctx in contexts:
            ctx.set_default_timeout(60_000)
            pg = ctx.new_page()
            pg.goto(f"{class_url}/train?net={ws.to_url()}", wait_until="commit")
            pages.append(pg)
        for pg in pages:
            expect(pg.get_by_role("button", name="Start", exact=True)).to_be_enabled(timeout=60_000)
        t0 = time.monotonic()
        for pg in pages:                                   # as fast as eight hands can
            pg.get_by_role("button", name="Start", exact=True).click()
        print(f"8 Starts pressed within {time.monotonic() - t0:.2f} s")
        try:
            statuses = [_status(pg) for pg in pages]
        except AssertionError:
            for i, pg in enumerate(pages):
                print(shot(pg, f"FAILED-class-load-student{i}"))
            raise
        assert statuses.count("running") <= CAP, statuses
        waiting = [pg for pg, s in zip(pages, statuses) if s == "queued"]
        assert len(waiting) >= STUDENTS - CAP, statuses
        places = sorted(int(re.search(r"waiting: (\d+)\w\w in line", pg.locator(
            '[data-testid="stMain"]').inner_text()).group(1)) for pg in waiting)
        assert places == list(range(1, len(waiting) + 1)), places
        shot(waiting[-1], "class-load-queued")
        expect(pages[0].locator('[data-testid="stMain"]').first).to_be_visible()

        # an idle page opens while the runs train
        idle = browser.new_context().new_page()
        t0 = time.monotonic()
        idle.goto(class_url, wait_until="commit", timeout=60_000)
        expect(idle.get_by_role("heading", name="dlviz", exact=True)).to_be_visible(timeout=60_000)
        print(f"an idle Home page opened in {time.monotonic() - t0:.2f} s with {CAP} runs training")
        idle.context.close()

        # a student stops: the first in line starts by itself
        running = [pg for pg in pages if _status(pg) == "running"]
        first = next(pg for pg in waiting if "waiting: 1st in line" in pg.locator(
            '[data-testid="stMain"]').inner_text())
        t0 = time.monotonic()
        running[0].locator("[data-testid=stMain]").get_by_role("button", name="Stop", exact=True).click()
        expect(first.locator(PROGRESS).first).to_contain_text("running", timeout=60_000)
        print(f"the 1st in line was training {time.monotonic() - t0:.2f} s after a Stop")

        # a worker is killed: its page says so, nobody else notices
        workers = _workers(class_url.proc.pid)
        assert len(workers) >= 1, "no worker process found"
        victim_pid = max(workers)                       # the newest: the run that just started
        os.kill(victim_pid, signal.SIGKILL)
        expect(first.get_by_text(re.compile("ended unexpectedly")).first).to_be_visible(timeout=30_000)
        shot(first, "class-load-killed-worker")
        others = [pg for pg in pages if pg is not first]
        for pg in others:
            assert pg.locator(EXCEPTION).count() == 0
            assert "ended unexpectedly" not in pg.locator('[data-testid="stMain"]').inner_text()
        # the freed slot goes to the next in line: CAP runs train again, by themselves
        deadline = time.monotonic() + 60
        while sum(_status(pg) == "running" for pg in pages) < CAP and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sum(_status(pg) == "running" for pg in pages) == CAP, [_status(pg) for pg in pages]
        for pg in pages:
            assert pg.locator(EXCEPTION).count() == 0, pg.locator(EXCEPTION).first.inner_text()
    finally:
        for ctx in contexts:
            ctx.close()
