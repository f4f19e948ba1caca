"""A digit drawn on a canvas becomes the model's input as an upload would (drawn_image.py)."""

import re

import numpy as np
import pytest
import torch

from dlviz.data.drawn_image import EMPTY_CANVAS, canvas_ink, centred_crop, prepare_drawing
from dlviz.errors import UserError

MEAN, STD = (0.13,), (0.31,)          # light-on-dark training digits (a dark mean)


def canvas(side=280, transparent=False, background=0, ink=255):
    """An (H, W, 4) canvas picture as the component sends it."""
    c = np.zeros((side, side, 4), np.uint8)
    c[..., :3] = background
    c[..., 3] = 0 if transparent else 255
    return c


def draw_one(c, rows=(40, 240), cols=(190, 210), colour=255):
    """A "1": a vertical bar 200 px tall, 20 px wide, right of the canvas's centre."""
    c[rows[0]:rows[1], cols[0]:cols[1], :3] = colour
    c[rows[0]:rows[1], cols[0]:cols[1], 3] = 255
    return c


def ink_rows_cols(shown):
    g = shown[..., 0].astype(int)                     # (28, 28): the grey the model sees
    rows = np.nonzero(g.max(1) > 128)[0]
    cols = np.nonzero(g.max(0) > 128)[0]
    return g, rows, cols


@pytest.mark.parametrize("transparent, background, colour", [
    (False, 0, 255),        # the app's canvas: white strokes on black
    (True, 0, 0),           # black strokes on a transparent canvas: ink is where paint is
    (False, 255, 0),        # black on white (a painted light background)
])
def test_a_drawn_one_becomes_a_centred_vertical_stroke_of_digit_size(transparent, background, colour):
    c = draw_one(canvas(transparent=transparent, background=background), colour=colour)
    p = prepare_drawing(c, (1, 28, 28), MEAN, STD)
    assert p.x.shape == (1, 28, 28) and p.x.dtype == torch.float32 and p.shown.shape == (28, 28, 3)
    g, rows, cols = ink_rows_cols(p.shown)
    # the training digits' size: the longer side 20 px of 28 (rows 4 .. 23), centred
    assert rows[0] == 4 and rows[-1] == 23 and len(rows) == 20
    assert cols[0] >= 12 and cols[-1] <= 15 and 1 <= len(cols) <= 3   # a thin stroke in the middle
    assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 0.5
    # polarity: white digit on black, as the training images
    assert g[rows[0]:rows[-1] + 1, cols[0]].min() > 200
    assert g[:, :8].max() == 0 and g[:2].max() == 0 and g[-2:].max() == 0
    # normalised like the training data: background (0 grey) is -mean/std
    assert float(p.x[0, 0, 0]) == pytest.approx(-MEAN[0] / STD[0], abs=1e-5)
    assert float(p.x.max()) > (0.8 - MEAN[0]) / STD[0]
    assert "cropped" in p.note and "28x28" in p.note


def test_the_drawing_size_and_place_do_not_matter():
    small = prepare_drawing(draw_one(canvas(), rows=(10, 60), cols=(10, 16)), (1, 28, 28), MEAN, STD)
    big = prepare_drawing(draw_one(canvas()), (1, 28, 28), MEAN, STD)
    _, rs, cs = ink_rows_cols(small.shown)
    _, rb, cb = ink_rows_cols(big.shown)
    assert (rs[0], rs[-1]) == (rb[0], rb[-1]) == (4, 23)
    assert abs(cs.mean() - cb.mean()) <= 0.5


def test_a_model_trained_on_dark_ink_on_light_paper_gets_it_inverted():
    p = prepare_drawing(draw_one(canvas()), (1, 28, 28), (0.87,), (0.3,))
    g = p.shown[..., 0]
    assert g[0, 0] == 255 and g[14, 13:15].min() < 60          # dark stroke on white


def test_any_input_size_and_channels_go_through_the_upload_path():
    p = prepare_drawing(draw_one(canvas()), (1, 8, 8), (0.3,), (0.4,))   # the 8x8 real digits
    assert p.x.shape == (1, 8, 8)
    p3 = prepare_drawing(draw_one(canvas()), (3, 32, 32))
    assert p3.x.shape == (3, 32, 32) and np.array_equal(p3.shown[..., 0], p3.shown[..., 2])


def test_the_centre_of_mass_is_centred():
    c = canvas()
    c[50:250, 100:120, :] = 255                               # the bar ...
    c[50:70, 120:200, :] = 255                                # ... with a top arm to the right: a "7"
    crop = centred_crop(canvas_ink(c))
    a = np.asarray(crop, np.float32)
    ys, xs = np.nonzero(a)
    w = a[ys, xs]
    centre = ((w * ys).sum() / w.sum(), (w * xs).sum() / w.sum())
    assert crop.size[0] == crop.size[1] == round(200 * 28 / 20)
    assert centre == pytest.approx((crop.size[1] / 2, crop.size[0] / 2), abs=1.0)


@pytest.mark.parametrize("picture", [canvas(), canvas(transparent=True), canvas(background=255)])
def test_an_empty_canvas_gives_a_clear_message(picture):
    with pytest.raises(UserError, match="the canvas is empty: draw a digit"):
        prepare_drawing(picture, (1, 28, 28), MEAN, STD)
    assert "draw a digit" in EMPTY_CANVAS


@pytest.mark.parametrize("picture, words", [
    (None, "got nothing"),
    (np.zeros((10, 10), np.uint8), "(10, 10)"),
    (np.zeros((10, 10, 4), np.float32), "float32"),
    (np.zeros((3000, 10, 4), np.uint8), "at most 2048x2048"),
])
def test_a_bad_picture_is_refused(picture, words):
    with pytest.raises(UserError, match=re.escape(words)):
        prepare_drawing(picture, (1, 28, 28), MEAN, STD)


def test_a_flat_model_is_told_it_does_not_take_images():
    with pytest.raises(UserError, match="not an image"):
        prepare_drawing(draw_one(canvas()), (2,))


def test_drawing_is_offered_for_grey_images_only():
    from dlviz.data import load_dataset
    from dlviz.data.params import DatasetParams
    from dlviz.ui.draw_input import drawable

    assert drawable(load_dataset("digits", DatasetParams(n_samples=600)))
    assert not drawable(load_dataset("shapes", DatasetParams(n_samples=600)))      # RGB: a note instead
    assert not drawable(load_dataset("circle"))


def test_the_inside_page_offers_a_canvas_that_starts_empty():
    from tests.test_pages_inside import trained_app
    from tests.test_pages import no_exceptions

    at = trained_app("lenet")
    source = at.segmented_control(key="inside_in_source")
    assert "Draw" in source.options
    source.set_value("Draw").run()
    no_exceptions(at)
    assert any(c.value == "Nothing drawn yet." for c in at.caption)
    assert not at.error
