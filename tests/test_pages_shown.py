"""AppTest: every number on screen right, every change visible -- the pages' side (issue 11).

A new user's trips: a sample count carried from spiral to digits, a Preset box
naming a preset the network no longer is, a refused file whose message vanished
at the next click, methods reset by a change of input source, a past moment of
training shown as if it were the trained model, two runs with the same name, a
test sample numbered from 0 in a box counting from 1.
"""

import json
from dataclasses import replace

from tests.conftest import wait_for
from tests.test_pages import app, no_exceptions, workspace_for
from tests.test_pages_timeline import slider

from dlviz.ui.state import registry
from dlviz.workspace import default_workspace


def _ws(at):
    return at.session_state["dlviz_workspace"]


def _infos(at) -> list[str]:
    return [i.value for i in at.info]


def _finish(at) -> str:
    """Start the Train page's run and wait for it to finish; its id."""
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    no_exceptions(at)
    run_id = at.session_state["dlviz_run"]
    assert wait_for(lambda: registry().get(run_id).handle.status == "finished", 120)
    at.run()
    return run_id


def _no_session_state_warnings(at) -> None:
    # a widget given both a default and a session-state value makes Streamlit warn on the page
    assert not [w.value for w in at.warning if "Session State" in w.value]


# -- values that change silently --------------------------------------------------------------------

def test_the_sample_count_follows_the_dataset_and_says_so():
    at = app()
    at.run()
    at.switch_page("app_pages/build.py").run()
    at.selectbox(key="build_dataset").set_value("spiral").run()
    no_exceptions(at)
    # spiral's own noise (0.1) is shown and kept, not replaced by the slider's 0
    assert at.slider(key="build_noise").value == 0.1
    assert _ws(at).params.noise == 0.1
    at.slider(key="build_samples").set_value(1500).run()
    assert _ws(at).params.n_samples == 1500
    at.selectbox(key="build_dataset").set_value("digits").run()
    no_exceptions(at)
    _no_session_state_warnings(at)
    assert at.slider(key="build_samples_img").value == 12_000            # was 500 -> 400/100 images
    assert _ws(at).params.n_samples == 12_000
    assert any("Samples: 12,000, the default for digits, not the 1,500 of spiral" in i for i in _infos(at))
    # the sidebar names the dataset the page now shows (drawn before the page, it said spiral)
    assert any("on **digits**" in c.value for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]
    at.run()                                                               # the note stays while digits does
    assert any("not the 1,500 of spiral" in i for i in _infos(at))
    assert any("9,600 train / 2,400 test" in c.value for c in at.caption), [c.value for c in at.caption]
    at.selectbox(key="build_dataset").set_value("shapes").run()
    assert at.slider(key="build_samples_img").value == 6_000              # shapes' default, not 12,000
    at.selectbox(key="build_dataset").set_value("circle").run()
    assert at.slider(key="build_samples").value == 500 and at.slider(key="build_noise").value == 0.0


def test_a_links_settings_outside_the_sliders_are_shown_as_they_are():
    """A link may hold 5,000 points (the limit is 20,000) or a test share of 0.07: the
    sliders' ranges grow to show them, instead of failing or moving them."""
    from dlviz.data import DatasetParams
    ws = replace(default_workspace(), dataset="spiral",
                 params=DatasetParams(n_samples=5000, test_fraction=0.07, noise=0.33))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert at.slider(key="build_samples").value == 5000
    assert abs(at.slider(key="build_test").value - 0.07) < 1e-9
    assert _ws(at).params == ws.params


def test_the_preset_box_says_custom_once_the_network_is_edited():
    at = app()
    at.run()
    at.switch_page("app_pages/build.py").run()
    assert at.selectbox(key="build_preset").value == "playground"
    units = next(n for n in at.number_input if n.key.endswith("_0_units"))
    units.set_value(units.value + 2).run()
    no_exceptions(at)
    _no_session_state_warnings(at)
    assert _ws(at).preset == ""
    assert at.selectbox(key="build_preset").value == "custom"            # as the sidebar says
    assert any("**custom**" in c.value for c in at.sidebar.caption)
    assert at.button(key="build_use_preset").disabled
    at.selectbox(key="build_preset").set_value("deep-sigmoid").run()
    assert any("still **custom**" in c.value for c in at.caption)         # picked, not used yet
    at.button(key="build_use_preset").click().run()
    assert _ws(at).preset == "deep-sigmoid" and at.selectbox(key="build_preset").value == "deep-sigmoid"


def test_a_refused_network_file_keeps_its_message_and_the_network():
    at = app()
    at.run()
    at.switch_page("app_pages/build.py").run()
    before = _ws(at).spec
    big = {"input_shape": [2], "outputs": 2, "layers": [{"kind": "dense", "units": 100000, "activation": "tanh"}]}
    at.file_uploader(key="build_load").set_value(("big.json", json.dumps(big).encode(), "application/json")).run()
    no_exceptions(at)
    msg = "units 100,000 is over the limit of 1,024 on this server"
    assert any(msg in e.value and "unchanged" in e.value for e in at.error), [e.value for e in at.error]
    assert _ws(at).spec == before                                          # neither loaded nor clamped
    at.slider(key="build_test").set_value(0.3).run()                      # any other click
    assert any(msg in e.value for e in at.error)                           # the message is still there


def test_explain_keeps_the_chosen_methods_when_the_input_source_changes():
    ws = workspace_for("lenet")
    at = app(replace(ws, config=ws.config.replace(epochs=1)))
    at.run()
    _finish(at)
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    at.multiselect(key="explain_methods").set_value(["saliency", "occlusion"]).run()
    at.slider(key="explain_opacity").set_value(0.4).run()
    window = next(n for n in at.number_input if n.key.startswith("explain_p_occlusion_window"))
    window.set_value(6).run()
    at.segmented_control(key="explain_in_source").set_value("Upload an image").run()   # the page stops early
    no_exceptions(at)
    at.segmented_control(key="explain_in_source").set_value("Test sample").run()
    no_exceptions(at)
    _no_session_state_warnings(at)
    assert at.multiselect(key="explain_methods").value == ["saliency", "occlusion"]     # not the defaults
    assert at.slider(key="explain_opacity").value == 0.4
    assert next(n for n in at.number_input if n.key.startswith("explain_p_occlusion_window")).value == 6
    # the settings' ranges are in their labels, not only in a hover
    assert "(1 to 64)" in at.number_input(key="explain_p_occlusion_window_img").label
    # several methods: the raw attributions come as a zip, and the button says so
    assert any(".zip of 2 .npy" in b.proto.label for b in at.get("download_button"))


# -- moments of training that are not announced -----------------------------------------------------

def test_a_past_moment_is_announced_on_every_page_with_a_way_back():
    ws = default_workspace()
    at = app(replace(ws, dataset="spiral", config=ws.config.replace(epochs=5)))
    at.run()
    run_id = _finish(at)
    end = registry().get(run_id).handle.state().step
    at.switch_page("app_pages/inside.py").run()
    assert not any("not the end of training" in i for i in _infos(at))
    slider(at, "inside_timeline").set_value(0).run()
    no_exceptions(at)
    banner = f"Step 0 of {end:,}**, not the end of training"
    assert any(banner in i for i in _infos(at)), _infos(at)
    # the position is shared: Explain opens on step 0, and says so
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    assert any(banner in i for i in _infos(at)), _infos(at)
    assert any(m.value == "**Prediction** (step 0)" for m in at.markdown)
    at.button(key="explain_timeline_to_end").click().run()
    no_exceptions(at)
    assert not any("not the end of training" in i for i in _infos(at))
    assert any(m.value == f"**Prediction** (step {end:,})" for m in at.markdown)
    # a 2-D model's explanations talk about its features, not pixels
    words = " ".join(c.value for c in at.caption).lower()
    assert "feature" in words and "pixel" not in words and "patch" not in words, words


# -- numbers that disagree --------------------------------------------------------------------------

def test_a_test_sample_is_counted_from_one_as_the_box_counts():
    ws = default_workspace()
    at = app(replace(ws, dataset="spiral", config=ws.config.replace(epochs=2)))
    at.run()
    _finish(at)
    at.switch_page("app_pages/inside.py").run()
    no_exceptions(at)
    box = next(n for n in at.number_input if n.key.startswith("inside_in_k_"))
    assert box.value == 1 and box.label == "Sample (1 to 100)"
    shown = [c.value for c in at.caption]
    assert any(c.startswith("test sample 1 of 100: true class") for c in shown), shown
    assert not any("#0" in c for c in shown)


# -- runs: labels by what differs, and kept over a refresh -----------------------------------------

def test_compare_names_two_runs_by_what_differs_and_keeps_them_over_a_refresh():
    ws = default_workspace()
    ws = replace(ws, dataset="spiral", config=ws.config.replace(epochs=2))
    at = app(ws)
    at.run()
    first = _finish(at)
    # a refresh: a new session of the same browser (its cookie id), the link's network
    again = app(replace(ws, config=ws.config.replace(lr=0.1)))
    again.session_state["dlviz_browser_id"] = at.session_state["dlviz_browser_id"]
    again.run()
    second = _finish(again)
    assert second != first
    again.switch_page("app_pages/compare.py").run()
    no_exceptions(again)
    options = again.selectbox(key="cmp_a").options
    assert len(options) == 2, options                                   # the first run survived the refresh
    assert any("lr 0.03" in o for o in options) and any("lr 0.1" in o for o in options), options
    heads = [m.value for m in again.markdown if m.value.startswith("**left:**") or m.value.startswith("**right:**")]
    assert len(heads) == 2 and "lr 0.03" in heads[0] and "lr 0.1" in heads[1], heads
