"""Presenter mode and the layer editor on a 1024x768 projector, in a real browser: no
exception, text enlarged, and every box of the layer editor wide enough to read and type
in, with no label broken inside a word (dlviz/ui/presenter.py, dlviz/ui/layer_editor.py)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:         # the `browser` fixture skips (or, in CI, fails) with the reason
    Page = expect = None

from dlviz.data import DatasetParams
from dlviz.workspace import default_workspace

from .conftest import shot
from .test_app_browser import assert_no_error, settle

PROJECTOR = {"width": 1024, "height": 768}
MIN_BOX_PX = 48             # a number box narrower than this showed as an empty sliver
EDITOR = ".st-key-layer_editor"


def lenet_link() -> str:
    """LeNet on digits: conv rows of five settings, the widest rows the editor has."""
    ws = replace(default_workspace(), dataset="digits", params=DatasetParams(n_samples=600))
    return ws.with_preset("lenet", (1, 28, 28), 10, "classification").to_url()


def open_build(page: Page, app_url: str, present: bool) -> None:
    page.set_viewport_size(PROJECTOR)
    page.goto(f"{app_url}/build?net={lenet_link()}" + ("&present=1" if present else ""))
    expect(page.get_by_role("heading", name="Build", exact=True)).to_be_visible()
    # the editor itself, drawn after the title: on a busy machine the script run can still
    # be going when settle()'s first look finds no 'Running...' widget yet
    expect(page.locator(EDITOR).first.locator("input").first).to_be_attached(timeout=60_000)
    settle(page)
    assert_no_error(page, "the Build page")


def editor_layout(page: Page) -> dict:
    """Each editor box's width, and each label's text, lines and overflow, as drawn."""
    return page.locator(EDITOR).first.evaluate("""root => {
        const boxes = [...root.querySelectorAll('input')].filter(i => i.type !== 'checkbox')
            .map(i => ({label: i.getAttribute('aria-label'), width: i.getBoundingClientRect().width,
                        visible: i.offsetParent !== null}));
        const labels = [...root.querySelectorAll('[data-testid="stWidgetLabel"] p')].map(p => {
            const cs = getComputedStyle(p);
            const line = parseFloat(cs.lineHeight) || 1.6 * parseFloat(cs.fontSize);
            return {text: p.innerText, lines: Math.round(p.getBoundingClientRect().height / line),
                    overflow: p.scrollWidth > p.clientWidth + 1};
        });
        return {boxes, labels};
    }""")


def check_editor(page: Page, where: str) -> None:
    layout = editor_layout(page)
    assert len(layout["boxes"]) >= 15, f"{where}: the editor's boxes were not found: {layout}"
    narrow = [b for b in layout["boxes"] if not b["visible"] or b["width"] < MIN_BOX_PX]
    assert not narrow, f"{where}: boxes too narrow to read (< {MIN_BOX_PX} px): {narrow}"
    broken = [l for l in layout["labels"] if l["overflow"] or (l["lines"] > 1 and " " not in l["text"])]
    assert not broken, f"{where}: labels broken inside a word or spilling out: {broken}"


def type_channels(page: Page, value: int) -> None:
    """Type into the first conv row's "channels" box, as a person does."""
    box = page.locator(EDITOR).get_by_label("channels", exact=True).first
    box.click()
    box.fill(str(value))
    box.press("Enter")
    settle(page)


@pytest.mark.parametrize("present", [True, False], ids=["presenter", "plain"])
def test_layer_editor_at_1024x768(page: Page, app_url: str, present: bool):
    open_build(page, app_url, present)
    root_px = float(page.evaluate("getComputedStyle(document.documentElement).fontSize").rstrip("px"))
    if present:
        assert root_px >= 20, f"presenter mode's text is not enlarged: root font {root_px} px"
        expect(page.locator('[data-testid="stSidebar"]')).to_have_attribute("data-collapsed", "true")
        page.get_by_role("tab", name="Network").click()
        settle(page)
    else:
        assert root_px == 16
    check_editor(page, "presenter mode" if present else "1024 px, sidebar open")

    # editable: the first conv's 6 channels become 8, and the diagram's first map says so
    chart = page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').last
    expect(chart).to_contain_text("6x28x28")
    type_channels(page, 8)
    assert_no_error(page, "after editing a layer")
    expect(chart).to_contain_text("8x28x28")
    check_editor(page, "after the edit")
    if present:
        sizes = chart.locator("text").evaluate_all(
            "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize)).filter(s => s > 0)")
        assert sizes and min(sizes) >= 16, f"chart text below 16 px in presenter mode: {sorted(sizes)[:5]}"
    shot(page, f"build-1024-{'presenter' if present else 'plain'}")


def test_presenter_mode_is_kept_in_the_link_and_switched_off_in_the_sidebar(page: Page, app_url: str):
    open_build(page, app_url, present=True)
    assert re.search(r"[?&]present=1\b", page.url), page.url
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    switch = page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode", exact=True)
    expect(switch).to_be_visible()
    switch.click()
    settle(page)
    expect(page).not_to_have_url(re.compile(r"present=1"))
    assert float(page.evaluate("getComputedStyle(document.documentElement).fontSize").rstrip("px")) == 16
    assert "net=" in page.url
