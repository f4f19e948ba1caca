"""What a new user does, in a real browser: open the app, build a network, train it live,
refresh the page mid-run, stop the run.

Streamlit draws widgets by label and tags elements with ``data-testid``; the tests find
things the way a person does (by label, role and visible text) and wait for the app's
status widget to go away before they look.
"""

from __future__ import annotations

import re

try:
    from playwright.sync_api import Page, expect
except ImportError:         # the `browser` fixture skips (or, in CI, fails) with the reason
    Page = expect = None

from .conftest import shot

EXCEPTION = '[data-testid="stException"]'
ERROR = '[data-testid="stAlertContentError"]'           # st.error: none is expected in this flow
STATUS = '[data-testid="stStatusWidget"]'
STEP = re.compile(r"step ([\d,]+)/([\d,]+)")
LONG_RUN_EPOCHS = 2000          # long enough that the run is still going when we press Stop


# -- helpers --------------------------------------------------------------------------------

def settle(page: Page, timeout_ms: int = 30_000) -> None:
    """Wait until the script run has finished (the 'Running...' status widget is gone)."""
    page.locator('[data-testid="stApp"]').wait_for()
    page.wait_for_timeout(300)              # let a rerun that was just triggered show itself
    expect(page.locator(STATUS)).to_have_count(0, timeout=timeout_ms)


def assert_no_error(page: Page, where: str) -> None:
    errors = page.locator(EXCEPTION)
    if errors.count():
        raise AssertionError(f"{where}: the app shows an exception:\n{errors.first.inner_text()[:2000]}")
    alerts = page.locator(ERROR)
    if alerts.count():
        raise AssertionError(f"{where}: the app shows an error: {alerts.first.inner_text()[:1000]}")
    text = page.locator('[data-testid="stApp"]').inner_text()
    assert "Traceback" not in text, f"{where}: a traceback is on the page:\n{text[:2000]}"


def nav(page: Page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True).click()
    # the page's title, or the exception that stopped the page from drawing it
    expect(page.get_by_role("heading", name=name, exact=True).or_(page.locator(EXCEPTION)).first) \
        .to_be_visible()
    settle(page)
    assert_no_error(page, f"the {name} page")


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` by typing it and pressing Enter."""
    box = page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label, exact=True)
    box.click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    settle(page)
    expect(box).to_have_value(re.compile("^" + re.escape(option)))


def main_progress(page: Page):
    # the sidebar has a progress bar of its own; the main one carries the samples/s text
    return page.locator('[data-testid="stMain"] [data-testid="stProgress"]').filter(has_text="samples/s")


def read_progress(page: Page) -> tuple[str, int, int]:
    """(status, step, total steps) from the main progress text, e.g. '**running** · ... step 1,234/8,000'."""
    text = main_progress(page).inner_text(timeout=10_000)
    m = STEP.search(text)
    assert m, f"no 'step N/M' in the progress text: {text!r}"
    status = text.split("·")[0].strip().strip("*").strip()
    return status, int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def loss_last_step(page: Page, tries: int = 20) -> float:
    """The step of the newest test loss the loss chart shows, from its caption ("loss against
    training step · test 0.12 at step 1,234"; while running the chart is a picture), or -1
    if no try found it."""
    caption = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]') \
        .filter(has_text="loss against training step").first
    for _ in range(tries):
        m = re.search(r"at step ([\d,]+)", caption.inner_text(timeout=10_000))
        if m:
            return int(m.group(1).replace(",", ""))
        page.wait_for_timeout(100)
    return -1


# -- tests ----------------------------------------------------------------------------------

def test_home_page(page: Page, app_url: str):
    page.goto(app_url)
    expect(page.get_by_role("heading", name="dlviz", exact=True)).to_be_visible()
    settle(page)
    for name in ("Home", "Build", "Train"):
        expect(page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True)) \
            .to_be_visible()
    assert_no_error(page, "home")
    shot(page, "home")


def test_build_train_refresh_stop(page: Page, app_url: str):
    page.goto(app_url)
    expect(page.get_by_role("heading", name="dlviz", exact=True)).to_be_visible()
    settle(page)

    # -- Build: dataset, preset, layer table, charts
    nav(page, "Build")
    main = page.locator('[data-testid="stMain"]')
    expect(main.locator('[data-testid="stSelectbox"]').filter(has_text="Dataset")).to_be_visible()
    expect(main.locator('[data-testid="stSelectbox"]').filter(has_text="Preset")).to_be_visible()
    expect(main.get_by_role("button", name="Use preset")).to_be_visible()
    expect(main.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    expect(main.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
    assert_no_error(page, "build")
    shot(page, "build")

    choose(page, "Dataset", "spiral")
    choose(page, "Preset", "playground")
    main.get_by_role("button", name="Use preset").click()
    settle(page)
    expect(main.get_by_text(re.compile(r"[\d,]+ parameters")).first).to_be_visible()
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_contain_text("playground")
    expect(sidebar).to_contain_text("spiral")
    assert_no_error(page, "build after 'Use preset'")

    # -- Train: a long run, so that it is still going after the refresh
    nav(page, "Train")
    expect(main.get_by_text("Press Start")).to_be_visible()
    main.get_by_text("Training settings").click()
    epochs = main.get_by_label("Epochs")
    epochs.fill(str(LONG_RUN_EPOCHS))
    epochs.press("Enter")
    settle(page)
    expect(epochs).to_have_value(str(LONG_RUN_EPOCHS))
    main.get_by_role("button", name="Start", exact=True).click()
    expect(main_progress(page).or_(main.locator(ERROR)).or_(main.locator(EXCEPTION)).first).to_be_visible()
    assert_no_error(page, "train, after Start")
    expect(main_progress(page)).to_contain_text("running")
    # running: the curves and the 2-D views are pictures, redrawn in place
    expect(main.locator('[data-testid="stImage"] img').nth(3)).to_be_visible()

    # the live view redraws twice a second: the step count and the loss curve must grow
    steps, points = [], []          # progress text's step, loss chart's last x
    for _ in range(5):
        status, step, total = read_progress(page)
        assert status == "running", f"the run is {status!r} at step {step}/{total}, expected running"
        steps.append(step)
        points.append(loss_last_step(page))
        page.wait_for_timeout(1000)
    grew = sum(b > a for a, b in zip(steps, steps[1:]))
    assert grew >= 2 and steps == sorted(steps), f"the live view did not redraw with new steps: {steps}"
    drawn = [p for p in points if p >= 0]     # -1: no caption read
    assert len(set(drawn)) >= 3 and drawn == sorted(drawn), \
        f"the loss chart was not redrawn at least twice with new points: last steps {points}"
    assert_no_error(page, "train, live")
    shot(page, "train-live")

    # -- refresh: the URL holds the run, and the page reattaches to it
    assert "run=" in page.url, f"no ?run= in the URL: {page.url}"
    before = steps[-1]
    page.reload()
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    expect(main_progress(page)).to_be_visible()
    status, step, _ = read_progress(page)
    assert status in ("running", "finished"), f"after a refresh the run is {status!r}"
    assert step >= before > 0, f"after a refresh the run is at step {step}, before it was at {before}"
    expect(main.get_by_text("Press Start")).to_have_count(0)
    assert "run=" in page.url
    assert_no_error(page, "train, after refresh")
    shot(page, "train-after-refresh")

    # -- Stop
    main.get_by_role("button", name="Stop", exact=True).click()
    expect(main_progress(page)).to_contain_text("stopped", timeout=15_000)
    settle(page)
    _, stopped_at, _ = read_progress(page)
    page.wait_for_timeout(1200)
    assert read_progress(page)[1] == stopped_at, "the step count still moves after Stop"
    expect(main.get_by_role("button", name="Stop", exact=True)).to_be_disabled()
    assert_no_error(page, "train, after Stop")
    shot(page, "train-stopped")


def open_page(page: Page, link: str, heading: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading, exact=True).or_(page.locator(EXCEPTION)).first) \
        .to_be_visible()
    settle(page, 60_000)
    assert_no_error(page, f"the {link} page")


def train_small_digits_run(page: Page, app_url: str):
    """LeNet on 600 digits for 2 epochs, from a link, trained to the end; returns the main area."""
    from dataclasses import replace

    from dlviz.data import DatasetParams, load_dataset
    from dlviz.workspace import default_workspace
    params = DatasetParams(n_samples=600)
    ds = load_dataset("digits", params)
    ws = default_workspace().with_preset("lenet", ds.input_shape, ds.output_size, ds.task)
    ws = replace(ws, dataset="digits", params=params, config=ws.config.replace(epochs=2))
    page.goto(f"{app_url}/train?net={ws.to_url()}")
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    settle(page)
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("button", name="Start", exact=True).click()
    expect(main_progress(page)).to_contain_text("finished", timeout=90_000)
    return main


def test_inside_and_explain_after_a_digits_run(page: Page, app_url: str, tmp_path):
    main = train_small_digits_run(page, app_url)

    # -- Inside: every layer with maps as one mosaic image, at the end and at step 0
    open_page(page, "Inside", "Inside the network")
    expect(main.get_by_text("6 maps of 28x28").first).to_be_visible()
    assert main.locator('[data-testid="stImage"]').count() >= 7      # input, enlarged map, 6 mosaics
    expect(main.get_by_text(re.compile(r"Output at step [1-9]"))).to_be_visible()
    shot(page, "inside")
    main.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    page.keyboard.press("Home")
    expect(main.get_by_text("Output at step 0", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    assert_no_error(page, "inside at step 0")

    # -- Explain: the default methods side by side, then a file that is not an image
    open_page(page, "Explain", "Explain a prediction")
    for label in ("Saliency", "Integrated Gradients", "Grad-CAM · conv2_relu"):
        expect(main.get_by_text(label, exact=True).first).to_be_visible(timeout=30_000)
    shot(page, "explain")
    main.get_by_text("Upload an image", exact=True).click()
    settle(page)
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"this is text, not a picture")
    main.locator('input[type="file"]').first.set_input_files(str(notes))
    expect(main.locator(ERROR)).to_contain_text("notes.png: not a supported image", timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    # the server's upload limit (.streamlit/config.toml, 50 MB) is enforced by the browser
    big = tmp_path / "huge.png"
    big.write_bytes(b"\0" * (51 * 2**20))
    main.locator('input[type="file"]').first.set_input_files(str(big))
    expect(main.get_by_text("huge.png")).to_be_visible(timeout=30_000)      # listed, marked refused
    settle(page)
    # the server never got it: the message is still the one about the previous file
    expect(main.locator(ERROR)).to_contain_text("notes.png")
    assert "huge.png" not in main.locator(ERROR).inner_text()
    assert page.locator(EXCEPTION).count() == 0
    shot(page, "explain-bad-upload")
