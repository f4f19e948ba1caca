"""A new user's sequence on a fresh server, in a real browser (issue 11): spiral, then
digits (the sample count follows the dataset, and says so), train, refresh, train again
with another learning rate, Compare shows both runs named by what differs, Inside at an
early step, and Explain announces that step (with a way back to the end).

Along the way: no Deploy button, and nothing fetched from outside the server (the page
icon used to come from a font server). One live run per browser, one on this machine:
each run finishes before the next starts.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:         # the `browser` fixture skips (or, in CI, fails) with the reason
    Page = expect = None

from .conftest import serve_app, shot
from .test_app_browser import ERROR, EXCEPTION, assert_no_error, choose, main_progress, nav, open_page, settle

RUN_S = 240                 # a 1-epoch lenet run on a busy 2-core machine, with room to spare
LOCAL = ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory):
    with serve_app(str(tmp_path_factory.mktemp("dlviz-new-user-cache")), "new-user") as url:
        yield url


def _slider(page: Page, label: str):
    """The value shown on the slider labelled ``label`` (expect() polls it: the page may
    still be redrawing after the change that moved it)."""
    box = page.locator('[data-testid="stMain"] [data-testid="stSlider"]').filter(has_text=label).first
    return box.locator('[data-testid="stSliderThumbValue"]')


def _choose(page: Page, label: str, option: str) -> None:
    """``choose``, once more if the first try typed into a list that was still being drawn."""
    try:
        choose(page, label, option)
    except AssertionError:
        page.keyboard.press("Escape")
        choose(page, label, option)


def _run_id(page: Page) -> str | None:
    return parse_qs(urlparse(page.url).query).get("run", [None])[0]


def _train(page: Page, lr: str | None = None) -> None:
    """Set the training settings (1 epoch, and ``lr``), press Start, wait for the end."""
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("Training settings").click()
    epochs = main.get_by_label("Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    settle(page)
    if lr is not None:
        box = main.get_by_label("Learning rate")
        box.fill(lr)
        box.press("Enter")
        settle(page)
        expect(box).to_have_value(lr)
    before = _run_id(page)
    main.get_by_role("button", name="Start", exact=True).click()
    # a new run: the address names it (until then the page may still show the last run's "finished")
    page.wait_for_function("old => new URL(location.href).searchParams.get('run') !== old", arg=before,
                           timeout=60_000)
    expect(main_progress(page).or_(main.locator(ERROR)).or_(main.locator(EXCEPTION)).first) \
        .to_be_visible(timeout=60_000)
    assert_no_error(page, "train, after Start")
    expect(main_progress(page)).to_contain_text("finished", timeout=RUN_S * 1000)
    settle(page)
    assert_no_error(page, "train, finished")


def test_a_new_user_sequence(page: Page, fresh_url: str):
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).hostname not in LOCAL and urlparse(r.url).scheme in ("http", "https") else None)
    page.goto(fresh_url)
    expect(page.get_by_role("heading", name="dlviz", exact=True)).to_be_visible()
    settle(page)
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)      # client.toolbarMode
    main = page.locator('[data-testid="stMain"]')

    # -- Build: spiral, then digits; the sample count follows the dataset and says so
    nav(page, "Build")
    _choose(page, "Dataset", "spiral")
    expect(_slider(page, "Samples")).to_have_text("500")
    expect(_slider(page, "Noise")).to_have_text("0.10")                    # spiral's own noise
    _choose(page, "Dataset", "digits")
    expect(main.get_by_text(re.compile(r"Samples: 12,000, the default for digits, not the 500 of spiral")))\
        .to_be_visible(timeout=120_000)
    expect(_slider(page, "Samples")).to_have_text("12000")
    expect(main.get_by_text(re.compile(r"9,600 train"))).to_be_visible()
    _choose(page, "Preset", "lenet")
    main.get_by_role("button", name="Use preset").click()
    settle(page)
    # the sidebar names the network the page shows (it was drawn before the page changed it)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("lenet on digits")
    assert_no_error(page, "build, lenet on digits")
    shot(page, "new-user-build-digits")

    # -- Train, refresh, train again with another learning rate
    nav(page, "Train")
    _train(page)
    shot(page, "new-user-train-first")
    page.reload()
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    settle(page)
    expect(main_progress(page)).to_contain_text("finished")               # reattached after the refresh
    _train(page, lr="0.0050")
    shot(page, "new-user-train-second")

    # -- Compare: both runs (the refresh dropped neither), named by what differs
    open_page(page, "Compare", "Compare two runs")
    expect(main.get_by_text("you have one so far")).to_have_count(0)
    heads = main.locator('[data-testid="stMarkdownContainer"]').filter(has_text=re.compile(r"^(left|right):"))
    expect(heads).to_have_count(2, timeout=60_000)
    left, right = heads.nth(0).inner_text(), heads.nth(1).inner_text()
    assert "lr 0.002" in left and "lr 0.005" in right, (left, right)
    assert left.split(":", 1)[1].split("·")[0] == right.split(":", 1)[1].split("·")[0]   # same network and data
    settle(page, 60_000)
    assert_no_error(page, "compare")
    shot(page, "new-user-compare")

    # -- Inside at an early step: the banner says it is not the end of training
    open_page(page, "Inside", "Inside the network")
    expect(main.get_by_text(re.compile(r"Output at step [1-9]"))).to_be_visible(timeout=60_000)
    expect(main.get_by_text("not the end of training")).to_have_count(0)
    main.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")                                      # the first snapshot after 0
    expect(main.get_by_text(re.compile(r"Output at step [1-9]\d*$"))).to_be_visible(timeout=60_000)
    settle(page, 60_000)
    banner = main.get_by_text(re.compile(r"Step [\d,]+ of [\d,]+, not the end of training"))
    expect(banner).to_be_visible()
    early = int(re.search(r"Step ([\d,]+) of", banner.inner_text()).group(1).replace(",", ""))
    assert_no_error(page, "inside, early step")
    shot(page, "new-user-inside-early")

    # -- Explain opens on that step, and announces it
    open_page(page, "Explain", "Explain a prediction")
    expect(main.get_by_text(re.compile(rf"Step {early:,} of [\d,]+, not the end of training"))).to_be_visible(
        timeout=60_000)
    expect(main.get_by_text(f"Prediction (step {early:,})")).to_be_visible()
    settle(page, 60_000)
    assert_no_error(page, "explain, early step")
    shot(page, "new-user-explain-early")
    main.get_by_role("button", name="Back to the end").click()
    settle(page, 60_000)
    expect(main.get_by_text("not the end of training")).to_have_count(0)
    expect(main.get_by_text(re.compile(r"Prediction \(step [\d,]+\)"))).not_to_have_text(
        f"Prediction (step {early:,})")
    assert_no_error(page, "explain, back at the end")
    shot(page, "new-user-explain-end")

    assert not outside, f"the app fetched from outside the server: {outside[:5]}"
