"""AppTest: every page renders for every preset; runs start, progress, and reattach."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import wait_for

from dlviz.data import DatasetParams
from dlviz.presets import PRESETS
from dlviz.spec import LayerSpec, NetSpec
from dlviz.workspace import Workspace, default_workspace

PRESET_DATA = {"playground": "spiral", "deep-sigmoid": "circle", "lenet": "digits",
               "vgg-shapes": "shapes", "digits8-cnn": "real-digits", "tabular-mlp": "breast-cancer"}


def app(ws: Workspace | None = None, run: str | None = None) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=60)
    if ws is not None:
        at.query_params["net"] = ws.to_url()
    if run:
        at.query_params["run"] = run
    return at


def workspace_for(preset: str) -> Workspace:
    from dlviz.data import load_dataset
    params = DatasetParams(n_samples=600) if PRESETS[preset].needs_image else DatasetParams()
    ds = load_dataset(PRESET_DATA[preset], params)
    ws = default_workspace().with_preset(preset, ds.input_shape, ds.output_size, ds.task)
    from dataclasses import replace
    return replace(ws, dataset=PRESET_DATA[preset], params=params)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def train_to_the_end(at: AppTest) -> str:
    """Press Start on the Train page of ``at`` and wait until the run has finished;
    returns its id."""
    from dlviz.ui.state import registry
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    run_id = at.session_state["dlviz_run"]
    assert wait_for(lambda: registry().get(run_id).handle.status == "finished", 120)
    return run_id


def test_home_page_runs():
    at = app()
    at.run()
    no_exceptions(at)
    assert at.title[0].value == "dlviz"
    # every step of the tour, lessons and the class board included, has its heading
    headings = [m.value for m in at.main.markdown if m.value.startswith("#### ")]
    assert headings == ["#### 1. Build", "#### 2. Train", "#### 3. Look inside", "#### 4. Explain",
                        "#### 5. Compare", "#### Learn", "#### Teach"], headings


@pytest.mark.parametrize("preset", list(PRESETS))
def test_build_and_train_pages_render_each_preset(preset):
    at = app(workspace_for(preset))
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert at.selectbox(key="build_preset").value == preset
    table = at.dataframe[0].value
    assert list(table["layer"])[-1].endswith("output")
    assert at.get("plotly_chart")            # architecture diagram (and the scatter for 2-D)
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    assert not at.button(key="t_start").disabled


def test_invalid_network_shows_message_and_disables_start():
    bad = NetSpec((2,), 2, [LayerSpec("conv2d", channels=4)])
    from dataclasses import replace
    ws = replace(default_workspace(), spec=bad, preset="")
    at = app(ws)
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert any("layer 1 conv2d: needs an image input" in e.value for e in at.error)
    at.switch_page("app_pages/train.py").run()
    assert at.button(key="t_start").disabled
    assert any("network is invalid" in e.value for e in at.error)


def test_start_shows_progress_and_a_new_session_reattaches():
    from dataclasses import replace
    ws = default_workspace()
    ws = replace(ws, config=ws.config.replace(epochs=3000))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    no_exceptions(at)
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    assert run_id

    def progressed() -> bool:                # the run has taken steps (no fixed sleep:
        at.run()                             # a busy machine may start it late)
        text = at.get("progress")[0].proto.text
        return "running" in text and "step 0/" not in text

    assert wait_for(progressed, 60, every=0.2), at.get("progress")[0].proto.text
    # another browser with the link watches: it sees the run, and its controls are off
    other = app(ws, run=run_id)
    other.run()
    other.switch_page("app_pages/train.py").run()
    no_exceptions(other)
    assert "step" in other.get("progress")[0].proto.text
    assert any("watching" in i.value for i in other.info)
    assert all(other.button(key=k).disabled for k in ("t_pause", "t_stop", "t_reset", "t_step"))
    # a refresh is a new session with the same URL and the same browser (its cookie,
    # modelled here by the id it holds): it finds the run again, and controls it
    again = app(ws, run=run_id)
    again.session_state["dlviz_browser_id"] = at.session_state["dlviz_browser_id"]
    again.run()
    again.switch_page("app_pages/train.py").run()
    no_exceptions(again)
    assert "step" in again.get("progress")[0].proto.text
    assert not any("watching" in i.value for i in again.info)
    again.button(key="t_stop").click().run()
    from dlviz.ui.state import registry
    assert registry().get(run_id).handle.status == "stopped"


def test_damaged_link_gets_a_message_and_the_default_network():
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = "garbage"
    at.run()
    no_exceptions(at)
    assert any("could not be used" in w.value for w in at.warning)


def test_train_page_draws_the_untrained_network_before_start():
    """Before Start: the decision boundary and neuron maps of the weights the run will
    start from; a new seed redraws them."""
    at = app(default_workspace())
    at.run()
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 2                       # boundary + network view
    boundary = charts[0].proto.spec
    at.number_input(key="t_seed").set_value(7).run()
    no_exceptions(at)
    assert at.get("plotly_chart")[0].proto.spec != boundary    # other initial weights
    # the preview's weights are the run's step-0 weights (same seed, same build)
    from dlviz.build import build
    from dlviz.ui.run_views import PREVIEW_KEY
    (ident, net), = at.session_state[PREVIEW_KEY].items()
    ws = default_workspace()
    ref = build(ws.spec, "cpu", seed=7).model.state_dict()
    assert ident[1] == 7
    assert all((net.model.state_dict()[k] == v).all() for k, v in ref.items())


def test_an_ended_image_run_counts_the_whole_test_set_as_its_accuracy_does():
    """'970/1000 right' beside a test accuracy over 2,400 disagreed: an ended run's
    mosaic caption and confusion matrix count every test image."""
    from dataclasses import replace
    ws = workspace_for("lenet")
    ws = replace(ws, params=DatasetParams(n_samples=6000), config=ws.config.replace(epochs=1))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    from conftest import wait_for
    from dlviz.ui.state import registry
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    assert wait_for(lambda: registry().get(run_id).handle.status == "finished", 120)
    at.run()
    no_exceptions(at)
    s = registry().get(run_id).handle.state()
    n_test = 1200                                  # 6,000 samples, a fifth for testing: over 1,000
    right = round(s.final["test_accuracy"] * n_test)
    captions = [im.caption for i in at.get("image") for im in i.proto.imgs]
    assert any(f"{right:,}/{n_test:,} test images right" in c for c in captions), captions
