"""Your own data, drawn: a digit on the Inside page's canvas, points on the Build page's plane.

The canvas is streamlit-drawable-canvas (Fabric.js): it draws on its
``canvas.upper-canvas`` element, so the mouse moves go there, as a person's
would. Every stroke end sends the picture back and the page reruns.
"""

from __future__ import annotations

import re

try:
    from playwright.sync_api import Page, expect
except ImportError:         # the `browser` fixture skips (or, in CI, fails) with the reason
    Page = expect = None

from .conftest import shot
from .test_app_browser import ERROR, EXCEPTION, assert_no_error, choose, main_progress, open_page, settle, train_small_digits_run

CANVAS = "canvas.upper-canvas"          # the Fabric.js layer that takes the mouse


def stroke(page: Page, canvas, points: list[tuple[float, float]]) -> None:
    """One pen stroke through ``points`` (canvas pixels), pressed from the first to the last."""
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def first_mosaic_src(main) -> str:
    """The src of the first layer's maps (the images after the input, the probabilities)."""
    return main.locator('[data-testid="stImage"] img').nth(2).get_attribute("src") or ""


def test_draw_a_seven_and_watch_the_maps_change(page: Page, app_url: str):
    main = train_small_digits_run(page, app_url)

    open_page(page, "Inside", "Inside the network")
    main.get_by_text("Draw", exact=True).click()
    settle(page)
    canvas = main.locator(CANVAS).first
    expect(canvas).to_be_visible()
    expect(main.get_by_text("Nothing drawn yet.")).to_be_visible()

    # a 7, stroke by stroke: the top bar, then the long diagonal
    stroke(page, canvas, [(70, 60), (140, 58), (210, 60)])
    expect(main.get_by_text("your drawing", exact=True)).to_be_visible(timeout=30_000)
    settle(page)
    assert_no_error(page, "inside, after the first stroke")
    expect(main.get_by_text(re.compile(r"Output at step [1-9]"))).to_be_visible()
    expect(main.get_by_text("6 maps of 28x28").first).to_be_visible()
    after_bar = first_mosaic_src(main)
    assert after_bar

    stroke(page, canvas, [(210, 60), (170, 140), (130, 230)])
    for _ in range(60):                   # the rerun after the stroke redraws every map
        page.wait_for_timeout(500)
        if first_mosaic_src(main) not in ("", after_bar):
            break
    settle(page)
    assert first_mosaic_src(main) != after_bar, "the maps did not change after the second stroke"
    assert_no_error(page, "inside, after the second stroke")
    expect(main.get_by_text(re.compile(r"cropped to \d+x\d+ around the strokes"))).to_be_visible()
    shot(page, "inside-drawn-seven")

    # -- Explain: the same canvas; the attributions are of the drawing
    open_page(page, "Explain", "Explain a prediction")
    main.get_by_text("Draw", exact=True).click()
    settle(page)
    canvas = main.locator(CANVAS).first
    expect(canvas).to_be_visible()
    stroke(page, canvas, [(70, 60), (140, 58), (210, 60), (170, 140), (130, 230)])
    expect(main.get_by_text("your drawing", exact=True)).to_be_visible(timeout=30_000)
    for label in ("Saliency", "Integrated Gradients"):
        expect(main.get_by_text(label, exact=True).first).to_be_visible(timeout=60_000)
    settle(page, 60_000)
    assert_no_error(page, "explain, a drawn 7")
    shot(page, "explain-drawn-seven")


def test_click_twenty_points_and_train_on_them(page: Page, app_url: str):
    page.goto(f"{app_url}/build")
    expect(page.get_by_role("heading", name="Build", exact=True)).to_be_visible()
    settle(page)
    main = page.locator('[data-testid="stMain"]')
    choose(page, "Dataset", "your own points")
    canvas = main.locator(CANVAS).first
    expect(canvas).to_be_visible()
    expect(main.get_by_text(re.compile(r"0 so far, at least 4"))).to_be_visible()

    def click(x: float, y: float) -> None:
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        settle(page)

    # ten of class 0 on the left, ten of class 1 on the right (the canvas is 320 px: the plane's [-6, 6])
    for i in range(10):
        click(70 + 12 * (i % 3), 80 + 17 * i)
    main.get_by_text("class 1", exact=True).first.click()
    settle(page)
    for i in range(10):
        click(250 - 12 * (i % 3), 80 + 17 * i)
    expect(main.get_by_text("20 points you drew: 10 of class 0, 10 of class 1").first).to_be_visible()
    assert_no_error(page, "build, twenty points")
    shot(page, "build-twenty-points")

    # a click on a point removes it (the canvas is remounted without it); another click puts it back
    old = canvas.element_handle()
    click(70, 80)
    page.wait_for_function("e => !e.isConnected", arg=old)
    expect(canvas).to_be_visible()
    expect(main.get_by_text("19 points you drew: 9 of class 0, 10 of class 1").first).to_be_visible()
    main.get_by_text("class 0", exact=True).first.click()
    settle(page)
    click(70, 80)
    expect(main.get_by_text("20 points you drew: 10 of class 0, 10 of class 1").first).to_be_visible()

    # the link holds the points: opening it rebuilds the same dataset
    box = main.get_by_role("textbox", name="Link to this network and its training settings")
    expect(box).to_have_value(re.compile(r"net="))
    link = box.input_value()
    page.goto(link)
    settle(page)
    expect(main.get_by_text("20 points you drew: 10 of class 0, 10 of class 1").first).to_be_visible()
    expect(main.get_by_role("combobox", name="Dataset", exact=True)).to_have_value(re.compile("^your own points"))

    open_page(page, "Train", "Train")
    main.get_by_role("button", name="Start", exact=True).click()
    expect(main_progress(page)).to_contain_text("finished", timeout=90_000)
    assert page.locator(EXCEPTION).count() == 0 and main.locator(ERROR).count() == 0
