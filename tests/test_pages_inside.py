"""AppTest: the Inside page for every preset -- one input through every layer,
what a unit responds to, learning over time -- and uploads good and bad."""

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tests.test_pages import PRESET_DATA, app, no_exceptions, train_to_the_end, workspace_for

from dlviz.presets import PRESETS


def trained_app(preset: str, epochs: int = 1):
    ws = workspace_for(preset)
    ws = replace(ws, config=ws.config.replace(epochs=epochs))
    at = app(ws)
    at.run()
    train_to_the_end(at)
    at.switch_page("app_pages/inside.py").run()
    no_exceptions(at)
    return at


def captions(at) -> list[str]:
    return [c for im in at.get("image") for c in im.captions]


def png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_view_of_the_inside_page_renders(preset):
    at = trained_app(preset)
    shown = [m.value for m in at.markdown]
    if PRESET_DATA[preset] in ("digits", "shapes", "real-digits"):
        # every conv / pool / activation layer with maps is drawn as one mosaic
        assert sum("maps of" in m for m in shown) >= 3
        assert at.expander                                  # the convolution explainer
        assert any("the sum above gives" in s.value for s in at.success)
    else:
        assert any(m.startswith("**dense1**") for m in shown)
    assert at.get("plotly_chart")                           # output probabilities, unit strips
    at.toggle(key="inside_in_wrong").set_value(True).run()
    no_exceptions(at)
    at.segmented_control(key="inside_view").set_value("What a unit responds to").run()
    no_exceptions(at)
    assert any("excite" in m.value for m in at.markdown)
    if PRESET_DATA[preset] in ("digits", "shapes", "real-digits"):
        at.button(key="inside_vis").click().run()
        no_exceptions(at)
        assert any("activation maximisation" in c for c in captions(at))
    at.segmented_control(key="inside_view").set_value("Learning over time").run()
    no_exceptions(at)
    assert len(at.get("plotly_chart")) == 2                 # distributions + PCA
    has_conv = PRESET_DATA[preset] in ("digits", "shapes", "real-digits")
    assert any(c.startswith("first-layer filters at step") for c in captions(at)) == has_conv
    at.segmented_control(key="inside_dist_kind").set_value("gradients").run()
    no_exceptions(at)


def test_conv_explainer_arithmetic_matches_the_layer_and_uploads_are_converted():
    at = trained_app("lenet")
    at.selectbox(key="inside_conv_layer").set_value("conv2").run()
    at.number_input(key="inside_conv_ch_conv2").set_value(3).run()
    at.number_input(key="inside_conv_row_conv2").set_value(0).run()     # a border position
    no_exceptions(at)
    assert any("conv2 output at map 3, row 0" in s.value for s in at.success)
    assert not at.error
    # an upload: a big RGB photo-like image becomes one 28x28 grayscale input
    at.segmented_control(key="inside_in_source").set_value("Upload an image").run()
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    at.file_uploader(key="inside_in_upload").set_value(("photo.png", png(photo), "image/png")).run()
    no_exceptions(at)
    assert "what the model sees" in captions(at)
    assert any("28x28" in c.value for c in at.caption)
    # dark ink on light paper: the page offers to invert it, and starts with it on
    paper = np.full((280, 280), 235, dtype=np.uint8)
    paper[60:220, 110:170] = 20
    at.file_uploader(key="inside_in_upload").set_value(("ink.png", png(paper), "image/png")).run()
    no_exceptions(at)
    invert = [t for t in at.toggle if t.key.startswith("inside_in_invert_ink.png")]
    assert len(invert) == 1 and invert[0].value is True
    assert any("inverted" in c.value for c in at.caption)
    # a bad file: one message, and the page (and the run) carry on
    at.file_uploader(key="inside_in_upload").set_value(("notes.png", b"not an image", "image/png")).run()
    no_exceptions(at)
    assert any("not a supported image" in e.value for e in at.error)
    assert at.select_slider                                  # the timeline is still there
