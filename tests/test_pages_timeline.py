"""AppTest: the timeline slider on the Train page and the Compare page."""

from dataclasses import replace

from tests.conftest import wait_for
from tests.test_pages import app, no_exceptions

from dlviz.workspace import default_workspace


def slider(at, key):
    """The timeline slider drawn under ``key`` (its widget key also names its options)."""
    found = [s for s in at.select_slider if s.key.startswith(key + "_")]
    assert len(found) == 1, [s.key for s in at.select_slider]
    return found[0]


def _finished_run(at, ws) -> str:
    at.button(key="t_start").click().run()
    from dlviz.ui.state import registry
    run_id = at.session_state["dlviz_run"]
    assert wait_for(lambda: registry().get(run_id).handle.status == "finished", 60)
    at.run()            # the first redraw of a finished run: still the pictures
    at.run()            # the next one (the page's timer): the interactive figures
    return run_id


def test_timeline_shows_the_boundary_at_any_snapshot_and_compare_shows_two_runs():
    ws = default_workspace()
    ws = replace(ws, config=ws.config.replace(epochs=20))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    first = _finished_run(at, ws)
    tl = slider(at, "train_timeline")
    steps = tl.options
    assert len(steps) > 10 and steps[0].startswith("step 0 ")
    assert any("decision boundary at step 800" in c.value for c in at.caption)   # 20 epochs x 40 steps
    boundary_end = at.get("plotly_chart")[2].proto.spec
    tl.set_value(0).run()                 # back to the initial weights
    no_exceptions(at)
    assert any("decision boundary at step 0" in c.value for c in at.caption)
    assert at.get("plotly_chart")[2].proto.spec != boundary_end
    # the position survives a page switch
    at.switch_page("app_pages/build.py").run()
    at.switch_page("app_pages/train.py").run()
    assert slider(at, "train_timeline").value == 0
    # a second run: the first is kept, and Compare shows both at one step
    second = _finished_run(at, ws)
    assert second != first
    at.switch_page("app_pages/compare.py").run()
    no_exceptions(at)
    assert len(at.selectbox(key="cmp_a").options) == 2
    cmp = slider(at, "compare_timeline")
    cmp.set_value(0).run()
    no_exceptions(at)
    assert sum("decision boundary at step 0" in c.value for c in at.caption) == 2
    # Inside and Explain offer both runs, the current one chosen
    for page, key in (("inside", "inside_run"), ("explain", "explain_run")):
        at.switch_page(f"app_pages/{page}.py").run()
        no_exceptions(at)
        assert len(at.selectbox(key=key).options) == 2
        assert at.selectbox(key=key).value == second


def test_compare_page_explains_itself_without_two_runs():
    at = app()
    at.run()
    at.switch_page("app_pages/compare.py").run()
    no_exceptions(at)
    assert any("Train two networks" in i.value for i in at.info)
