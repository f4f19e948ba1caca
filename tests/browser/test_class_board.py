"""A class board in real browsers: a teacher and three students on one server.

The teacher opens a class and reads its code off the page; each student is a
browser context of its own (its own cookie, so its own owner), joins with the
code, and trains: two from a shared link on the Train page, one by following
the XOR lesson. The teacher's board lists the three runs with their accuracy,
live, and no page shows an exception.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest

try:
    from playwright.sync_api import expect
except ImportError:         # the `browser` fixture skips (or, in CI, fails) with the reason
    expect = None

from dlviz.workspace import default_workspace

from .conftest import serve_app, shot

EXCEPTION = '[data-testid="stException"]'
MAIN = '[data-testid="stMain"]'
NAMES = ["Ada", "Bo", "seat 3"]


@pytest.fixture(scope="module")
def board_url(tmp_path_factory):
    with serve_app(str(tmp_path_factory.mktemp("dlviz-board-cache")), "class-board",
                   DLVIZ_MAX_LIVE_RUNS="3") as url:
        yield url


def _join(page, url: str, code: str, name: str) -> None:
    page.goto(f"{url}/board", wait_until="commit")
    page.get_by_label("Class code").fill(code.lower())          # typed as a student would
    page.get_by_label("Your name or seat").fill(name)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator(MAIN).get_by_text(f"as {name}")).to_be_visible(timeout=60_000)


def _start(page) -> None:
    start = page.locator(MAIN).get_by_role("button", name="Start", exact=True)
    expect(start).to_be_enabled(timeout=60_000)
    start.click()
    try:
        # the progress line (other text may say "finished" too, e.g. the closed Head start box)
        progress = page.locator(MAIN).locator('[data-testid="stProgress"]').filter(has_text="samples/s")
        expect(progress).to_contain_text("finished", timeout=90_000)
    except AssertionError:
        print(f"screenshot of the unfinished run: {shot(page, 'FAILED-class-board-start')}")
        raise


def test_teacher_board_lists_three_students_runs_with_accuracy(browser, board_url):
    ws = default_workspace()
    ws = replace(ws, dataset="circle", config=ws.config.replace(epochs=40))    # a second or two each
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(4)]
    try:
        for ctx in contexts:
            ctx.set_default_timeout(60_000)
        teacher, *students = [ctx.new_page() for ctx in contexts]
        teacher.goto(f"{board_url}/board", wait_until="commit")
        teacher.get_by_role("button", name="Open a class").click()
        code_box = teacher.locator(MAIN).get_by_text(re.compile(r"^[A-HJ-NP-Z2-9]{5}$"))
        expect(code_box).to_be_visible(timeout=60_000)
        code = code_box.inner_text().strip()
        expect(teacher.locator(MAIN).get_by_text("Nobody has joined yet")).to_be_visible()

        for page, name in zip(students, NAMES):
            _join(page, board_url, code, name)
        # a student's page has no board: no other student, no teacher's controls
        for i, page in enumerate(students):
            assert page.get_by_role("button", name="Close the class").count() == 0
            others = [n for j, n in enumerate(NAMES) if j != i]
            assert not any(page.locator(MAIN).get_by_text(n, exact=True).count() for n in others)

        for page in students[:2]:
            page.goto(f"{board_url}/train?net={ws.to_url()}", wait_until="commit")
            _start(page)
        # the third follows a lesson: its link sets up XOR without a hidden layer
        lesson = students[2]
        lesson.goto(f"{board_url}/lessons?lesson=xor", wait_until="commit")
        expect(lesson.locator(MAIN).get_by_text("Step 1 of 3")).to_be_visible(timeout=60_000)
        lesson.locator(MAIN).get_by_role("button", name="Open the Train page").click()
        _start(lesson)
        lesson.get_by_role("link", name="Lessons").first.click()
        expect(lesson.locator(MAIN).get_by_text("one straight line cannot separate XOR").first
               ).to_be_visible(timeout=60_000)
        shot(lesson, "class-board-lesson-in-progress")

        # the board, live: three names, three accuracies, a thumbnail each
        main = teacher.locator(MAIN)
        for name in NAMES:
            expect(main.get_by_text(name, exact=True)).to_be_visible(timeout=30_000)
        expect(main.get_by_text(re.compile(r"^\d{1,3}%$"))).to_have_count(3, timeout=30_000)
        expect(main.locator('[data-testid="stImage"]')).to_have_count(3, timeout=30_000)
        # the server trains one run at a time on two cores (the others queue): the last
        # student's run may still be going when the first accuracies show
        deadline = time.monotonic() + 90
        while main.inner_text().count("finished") < 3 and time.monotonic() < deadline:
            teacher.wait_for_timeout(500)
        text = main.inner_text()
        assert text.count("finished") == 3, text
        shot(teacher, "class-board-three-students")
        for page in [teacher, *students]:
            assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()
    finally:
        for ctx in contexts:
            ctx.close()
