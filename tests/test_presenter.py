"""Presenter mode (dlviz/ui/presenter.py): the switch in the link, pages drawn in it,
and the font scale that charts and picture labels read (dlviz/plots/style.py)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import numpy as np
from streamlit.testing.v1 import AppTest

from dlviz.plots import style
from dlviz.plots.architecture import architecture_figure
from dlviz.plots.curves import loss_figure
from dlviz.plots.feature_maps import feature_mosaic
from dlviz.plots.images import prediction_mosaic, sample_grid
from dlviz.plots.pil_draw import message_image
from dlviz.spec import analyse
from dlviz.ui import presenter
from dlviz.workspace import default_workspace

SCALED_FONT = round(style.FONT["size"] * presenter.SCALE)       # 12 px -> 19 px


def app(present: str | None = None, ws=None) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = (ws or default_workspace()).to_url()
    if present is not None:
        at.query_params[presenter.PARAM] = present
    return at


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart_font_sizes(at: AppTest) -> list[int]:
    return [json.loads(c.proto.spec)["layout"]["font"]["size"] for c in at.get("plotly_chart")]


def editor_box(at: AppTest, kind: str, suffix: str):
    """The layer editor's widget keyed ``L<version>_<suffix>`` (the version grows with each
    structural change)."""
    found = [w for w in getattr(at, kind) if (w.key or "").startswith("L") and w.key.endswith(suffix)]
    assert found, f"no {kind} ending in {suffix}"
    return found[0]


def query(at: AppTest, name: str):
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


# -- the switch and the link ---------------------------------------------------------------

def test_the_link_turns_presenter_mode_on_and_the_switch_writes_it_back():
    at = app("1")
    at.run()
    no_exceptions(at)
    assert at.session_state[presenter.KEY] is True
    assert at.toggle(key=presenter.TOGGLE_KEY).value is True
    assert query(at, presenter.PARAM) == "1"
    assert query(at, "net")                                   # the network's link part is kept
    at.toggle(key=presenter.TOGGLE_KEY).set_value(False).run()
    no_exceptions(at)
    assert at.session_state[presenter.KEY] is False
    assert presenter.PARAM not in at.query_params
    assert query(at, "net")
    at.toggle(key=presenter.TOGGLE_KEY).set_value(True).run()
    assert query(at, presenter.PARAM) == "1"


def test_the_mode_survives_a_page_switch():
    at = app("1")
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert at.session_state[presenter.KEY] is True
    assert query(at, presenter.PARAM) == "1" and query(at, "net")


def test_off_by_default_and_a_bad_value_is_off_with_a_message():
    at = app()
    at.run()
    assert at.session_state[presenter.KEY] is False
    assert presenter.PARAM not in at.query_params
    assert not at.toast                                       # no parameter: nothing to say
    bad = app("x" * 5000)
    bad.run()
    no_exceptions(bad)
    assert bad.session_state[presenter.KEY] is False
    assert any("should be 1 or 0" in t.value for t in bad.toast)
    assert "xxxxxxxxx" not in " ".join(t.value for t in bad.toast)     # cut, not echoed whole


# -- pages in presenter mode ----------------------------------------------------------------

def test_build_page_in_presenter_mode_has_tabs_and_larger_chart_text():
    at = app("1")
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert [t.label for t in at.tabs][:2] == ["Data", "Network"]
    sizes = chart_font_sizes(at)                 # the dataset's scatter and the architecture
    assert sizes and all(s == SCALED_FONT for s in sizes), sizes
    assert editor_box(at, "number_input", "_0_units").value == 4   # the editor is drawn, and editable
    editor_box(at, "number_input", "_0_units").set_value(6).run()
    no_exceptions(at)
    assert "dense 6, tanh" in list(at.dataframe[0].value["what"])


def test_build_page_without_presenter_mode_is_unchanged():
    at = app()
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert not [t for t in at.tabs if t.label in ("Data", "Network")]
    assert chart_font_sizes(at) and set(chart_font_sizes(at)) == {style.FONT["size"]}


def test_train_page_renders_in_presenter_mode():
    at = app("1")
    at.run()
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    assert at.button(key="t_start")
    assert chart_font_sizes(at) and set(chart_font_sizes(at)) == {SCALED_FONT}


def test_layer_kinds_and_activations_have_hover_help():
    at = app()
    at.run()
    at.switch_page("app_pages/build.py").run()
    assert "Keeps positive values" in editor_box(at, "selectbox", "_0_activation").help   # relu
    assert "Max pooling" in at.selectbox(key="dlviz_new_kind").help
    assert "units (neurons)" in editor_box(at, "number_input", "_0_units").help


# -- the font scale ---------------------------------------------------------------------------

def test_font_scale_is_one_outside_a_script_run_and_scoped_inside_font_scaled():
    assert style.font_scale() == 1.0                      # no Streamlit script run here
    assert presenter.current_scale() == 1.0
    with style.font_scaled(presenter.SCALE):
        assert style.px(10) == 16 and style.px(12) == SCALED_FONT
    assert style.px(10) == 10


def test_a_scale_set_in_one_thread_is_not_seen_in_another():
    # why plots also ask a source (the session's state) and do not rely on the ContextVar
    # alone: a fragment's timed rerun runs on a fresh script thread
    seen = []
    with style.font_scaled(2.0):
        t = threading.Thread(target=lambda: seen.append(style.font_scale()))
        t.start()
        t.join()
        assert style.font_scale() == 2.0
    assert seen == [1.0]


def test_charts_grow_their_text_and_margins_but_keep_their_plot_area():
    plain = loss_figure([{"step": 1, "train_loss": 0.5}], [], "classification")
    with style.font_scaled(presenter.SCALE):
        big = loss_figure([{"step": 1, "train_loss": 0.5}], [], "classification")
    assert big.layout.font.size == SCALED_FONT > plain.layout.font.size
    assert big.layout.legend.font.size >= 16
    plot_area = lambda f: f.layout.height - f.layout.margin.t - f.layout.margin.b   # noqa: E731
    assert plot_area(big) == plot_area(plain)
    report = analyse(default_workspace().spec)
    with style.font_scaled(presenter.SCALE):
        sizes = [a.font.size for a in architecture_figure(report).layout.annotations]
    assert min(sizes) >= 16


def test_picture_labels_are_at_least_16_px_in_presenter_mode():
    imgs = np.zeros((4, 28, 28, 1), np.uint8)
    y = np.array([0, 1, 2, 3])
    classes = ["zero", "one", "two", "three"]
    with style.font_scaled(presenter.SCALE):
        assert style.px(10) >= 16                         # the smallest label size any picture uses
        big_mosaic = prediction_mosaic(imgs, y, y[::-1], classes, cols=4)
        big_maps = feature_mosaic(np.random.default_rng(0).normal(size=(4, 6, 6)))
        big_grid = sample_grid(imgs, y, classes, per_class=2)
        big_msg = message_image("no images")
    small_mosaic = prediction_mosaic(imgs, y, y[::-1], classes, cols=4)
    small_maps = feature_mosaic(np.random.default_rng(0).normal(size=(4, 6, 6)))
    small_grid = sample_grid(imgs, y, classes, per_class=2)
    # room for the larger text: caption lines, the label band above maps, the names column
    assert big_mosaic.size[1] > small_mosaic.size[1]
    assert big_maps.image.size[1] > small_maps.image.size[1]
    assert big_grid.size[0] > small_grid.size[0]
    assert big_msg.size[1] >= 16 + 16


def test_the_scale_reaches_figures_built_in_a_page_script_run():
    # no ContextVar is set by the app: the page's figures get the scale from the source
    # presenter registers, which reads this session's state
    ws = replace(default_workspace())
    at = app("1", ws)
    at.run()
    at.switch_page("app_pages/build.py").run()
    assert style.FONT_SCALE.get() is None
    assert set(chart_font_sizes(at)) == {SCALED_FONT}


def test_train_page_in_presenter_mode_shows_the_curves_as_a_view_of_their_own():
    from tests.conftest import wait_for
    from dlviz.ui.state import registry
    base = default_workspace()
    at = app("1", replace(base, config=base.config.replace(epochs=2)))
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    run_id = query(at, "run")
    assert wait_for(lambda: registry().get(run_id).handle.status == "finished", 60)
    at.run()                    # the first redraw of the ended run: still pictures
    at.run()                    # its settle redraw (the browser's fragment timer): figures
    no_exceptions(at)
    view = at.segmented_control(key="train_view")
    assert view.options[0] == "Curves" and view.value == "Curves"
    assert len(at.get("plotly_chart")) == 2         # the loss and accuracy curves, nothing else
    view.set_value("What the model sees").run()
    no_exceptions(at)
    assert len(at.get("plotly_chart")) == 2         # the boundary and the network, no curves
    at.segmented_control(key="train_view").set_value("Curves").run()
    at.toggle(key=presenter.TOGGLE_KEY).set_value(False).run()      # off: curves above the views again
    no_exceptions(at)
    assert "Curves" not in at.segmented_control(key="train_view").options
    assert len(at.get("plotly_chart")) == 4
