"""The live Train page's controls: each click's effect is there at once.

Stop reports "stopped" before the final whole-set evaluation (which then fills in
``final``); the registry harvests such a run only once its figures are in; a click
costs one script run (no st.rerun after it); the timeline slider keeps its widget
while a live run adds snapshots; health norms in one foreach call equal the
per-tensor ones."""

import threading
from dataclasses import replace

import pytest
import torch
from torch import nn

from conftest import wait_for
from dlviz.presets import preset_spec
from dlviz.train import health as H
from dlviz.train import trainer as trainer_module
from dlviz.train.config import TrainConfig
from dlviz.train.runs import RunRegistry
from dlviz.train.trainer import Trainer

LONG = TrainConfig(epochs=100_000, batch_size=10)


@pytest.fixture
def held_final_evaluation(monkeypatch):
    """The final whole-set evaluation waits until the test sets the event; returns
    (started: set when it began, release: set to let it go on)."""
    started, release = threading.Event(), threading.Event()
    real = trainer_module.evaluate

    def held(*args, **kwargs):
        started.set()
        assert release.wait(20), "the test never released the final evaluation"
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "evaluate", held)
    yield started, release
    release.set()


def test_a_stopped_run_says_stopped_before_its_final_evaluation(ring, held_final_evaluation):
    started, release = held_final_evaluation
    t = Trainer(preset_spec("playground", (2,), 2), ring, LONG)
    t.start()
    assert wait_for(lambda: t.step_count > 5)
    t.stop()
    assert started.wait(10)
    # the evaluation is held: the run already says stopped, its final figures not yet
    assert t.status == "stopped" and t.state().status == "stopped"
    assert t.state().final == {} and t.is_alive()
    release.set()
    assert t.join(10)
    s = t.state()
    assert s.status == "stopped" and 0.0 <= s.final["test_accuracy"] <= 1.0
    assert s.timeline[-1]["step"] == s.step         # the final snapshot, at the last step


def test_a_finished_run_reports_the_end_with_its_final_figures(ring):
    t = Trainer(preset_spec("playground", (2,), 2), ring, TrainConfig(epochs=2, batch_size=50))
    seen = []
    t.start()
    while not seen or seen[-1][0] != "finished":
        s = t.state()
        seen.append((s.status, dict(s.final)))
    assert all("test_accuracy" in final for status, final in seen if status == "finished")
    assert t.join(10)


def test_the_registry_keeps_a_stopping_run_live_until_its_final_figures_are_in(ring, held_final_evaluation):
    started, release = held_final_evaluation
    reg = RunRegistry(max_live=2)
    e = reg.create(preset_spec("playground", (2,), 2), ring, LONG)
    e.handle.start()
    reg.start_ticker(every_s=0.02)
    try:
        assert wait_for(lambda: e.handle.state().step > 5)
        e.handle.stop()
        assert started.wait(10)
        assert wait_for(lambda: e.handle.status == "stopped")
        for _ in range(5):                     # several ticks see it stopped: none harvests
            reg.tick()
        assert e.handle.phase == "live" and e.handle.state().final == {}
        release.set()
        assert wait_for(lambda: e.handle.phase == "ended", 10)
        assert "test_accuracy" in e.handle.state().final
    finally:
        release.set()
        reg.stop_all()


# -- health norms -------------------------------------------------------------------------

def _reference_norms(model, names):
    """The per-tensor computation the foreach one replaced."""
    mods = dict(model.named_children())
    w, g = [], []
    for n in names:
        ps = list(mods[n].parameters())
        w.append(torch.sqrt(sum((p.detach() ** 2).sum() for p in ps)))
        g.append(torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in ps if p.grad is not None)
                            or torch.zeros(())))
    return torch.stack(w), torch.stack(g)


def test_foreach_health_norms_equal_the_per_tensor_ones():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 2))
    names = ["0", "2", "4"]
    model(torch.randn(7, 1, 4, 4)).square().sum().backward()
    model[4].bias.grad = None                  # a tensor without a gradient counts as none
    w, g = H.param_norms(model, names)
    rw, rg = _reference_norms(model, names)
    assert w.shape == g.shape == (3,)
    torch.testing.assert_close(w, rw)
    torch.testing.assert_close(g, rg)
    assert g[2] > 0                            # the layer's weight gradient is still counted
    tensors = H.LayerTensors(model, names)
    before, (w_before, _) = tensors.copies(), tensors.norms()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.01)
    ratio = tensors.update_ratios(before, w_before)
    torch.testing.assert_close(ratio, torch.full((3,), 0.01), rtol=1e-4, atol=1e-6)
    # the copies did not follow the update; the views did
    assert not torch.equal(before[0], model[0].weight)


def test_foreach_grad_norms_are_zero_before_any_backward():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    w, g = H.param_norms(model, ["0", "1"])
    assert (w > 0).all() and torch.equal(g, torch.zeros(2))


# -- the page -----------------------------------------------------------------------------

def _train_page(monkeypatch, epochs=100_000):
    """The Train page in AppTest, with a count of its full script runs."""
    from tests.test_pages import app, workspace_for
    from dlviz.ui import state
    runs = []
    real = state.workspace

    def counted():
        runs.append(1)
        return real()

    ws = workspace_for("playground")
    ws = replace(ws, config=ws.config.replace(epochs=epochs))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    monkeypatch.setattr(state, "workspace", counted)
    at.run()
    return at, runs


def _run_id(at):
    q = at.query_params["run"]
    return q[0] if isinstance(q, list) else q


def test_start_and_stop_are_drawn_by_the_script_run_their_click_starts(monkeypatch):
    at, runs = _train_page(monkeypatch)
    per_run = len(runs)
    assert per_run >= 1
    runs.clear()
    at.button(key="t_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(runs) == per_run                        # one script run, no st.rerun after Start
    assert not at.button(key="t_pause").disabled      # ...and it drew the buttons for the new run
    assert not at.button(key="t_stop").disabled
    assert "**running**" in at.get("progress")[0].proto.text
    from dlviz.ui.state import registry
    run_id = _run_id(at)
    runs.clear()
    at.button(key="t_pause").click().run()
    assert len(runs) == per_run
    assert at.button(key="t_pause").label == "Resume" and not at.button(key="t_step").disabled
    runs.clear()
    at.button(key="t_stop").click().run()
    assert len(runs) == per_run
    assert registry().get(run_id).handle.status == "stopped"
    assert "**stopped**" in at.get("progress")[0].proto.text
    assert at.button(key="t_stop").disabled


def test_the_timeline_slider_keeps_its_widget_while_a_live_run_adds_snapshots(monkeypatch):
    at, _ = _train_page(monkeypatch, epochs=2000)     # a snapshot every few hundred steps
    at.button(key="t_start").click().run()
    from dlviz.ui.state import registry
    handle = registry().get(_run_id(at)).handle
    try:
        keys, counts = set(), set()
        assert wait_for(lambda: len(handle.state().timeline) >= 2, 30)
        for _ in range(2):
            at.run()
            sliders = [s for s in at.select_slider if s.key.startswith("train_timeline_")]
            assert len(sliders) == 1
            keys.add(sliders[0].key)
            counts.add(len(sliders[0].options))
            assert sliders[0].value == -1               # at "now": it follows the run
            n = len(handle.state().timeline)
            assert wait_for(lambda: len(handle.state().timeline) > n, 30)
        assert len(counts) > 1                          # the options did change...
        assert len(keys) == 1                           # ...and the widget stayed the same
    finally:
        handle.stop()


# -- the confusion matrix while running ---------------------------------------------------

def test_confusion_picture_colours_the_diagonal_and_counts_nothing_when_empty():
    import io

    import numpy as np
    from PIL import Image

    from dlviz.plots.confusion import confusion_png
    from dlviz.plots.style import BLUE

    m = np.array([[50, 0, 0], [0, 40, 10], [0, 0, 30]])
    rgb = np.asarray(Image.open(io.BytesIO(confusion_png(m, ["a", "b", "c"]))).convert("RGB")).astype(int)
    blue = np.array([int(BLUE[i:i + 2], 16) for i in (1, 3, 5)])
    close_to_blue = (np.abs(rgb - blue).sum(-1) < 30).sum()
    assert close_to_blue > 500                       # the full-share diagonal cells are blue
    empty = np.asarray(Image.open(io.BytesIO(confusion_png(np.zeros((3, 3), int), ["a", "b", "c"]))))
    assert (np.abs(empty[..., :3].astype(int) - blue).sum(-1) < 30).sum() == 0


def _started_train_page(preset: str):
    """The Train page of a long run of ``preset`` just started: (AppTest, its run's handle)."""
    from tests.test_pages import app, workspace_for
    from dlviz.ui.state import registry
    ws = workspace_for(preset)
    ws = replace(ws, config=ws.config.replace(epochs=100_000))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    return at, registry().get(_run_id(at)).handle


def test_a_running_image_run_draws_its_confusion_matrix_as_a_picture(monkeypatch):
    at, handle = _started_train_page("lenet")
    try:
        assert wait_for(lambda: handle.state().step > 0, 60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert "**running**" in at.get("progress")[0].proto.text
        charts = [c for c in at.get("plotly_chart") if "confusion" in str(c.proto.id)]
        assert charts == []                          # no Plotly heatmap while running...
        assert len(at.get("image")) >= 2             # ...the mosaic and the matrix
        at.button(key="t_pause").click().run()
        assert handle.status == "paused"
        assert "**paused**" in at.get("progress")[0].proto.text
        assert not [m for m in at.markdown if m.value == "`None`"]     # no stray value on the page
        # the Pause click's own run keeps the pictures (mounting figures delayed its answer)...
        assert not any("confusion" in str(c.proto.id) for c in at.get("plotly_chart"))
        at.run()                                     # ...the next redraw makes them interactive
        assert any("confusion" in str(c.proto.id) for c in at.get("plotly_chart"))
    finally:
        handle.stop()


def test_a_step_click_is_drawn_by_the_script_run_it_starts(monkeypatch):
    at, runs = _train_page(monkeypatch)
    at.button(key="t_start").click().run()
    at.button(key="t_pause").click().run()
    from dlviz.ui.state import registry
    handle = registry().get(_run_id(at)).handle
    try:
        before = handle.state().step
        at.button(key="t_step").click().run()
        assert handle.state().step == before + 1
        assert f"step {before + 1:,}/" in at.get("progress")[0].proto.text
    finally:
        handle.stop()


def test_a_stop_is_drawn_with_the_pictures_and_the_next_redraw_brings_the_figures():
    at, handle = _started_train_page("playground")
    try:
        assert wait_for(lambda: handle.state().step > 0, 60)
        at.run()
        assert "**running**" in at.get("progress")[0].proto.text
        assert not [c for c in at.get("plotly_chart") if "boundary" in str(c.proto.id)]
        at.button(key="t_stop").click().run()
        assert wait_for(lambda: not handle.is_alive(), 30)
        assert not at.exception, [e.value for e in at.exception]
        # the Stop click's own run: still the pictures, and one more redraw is due
        assert not [c for c in at.get("plotly_chart") if "boundary" in str(c.proto.id)]
        assert at.session_state["train_settling"] == _run_id(at)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert [c for c in at.get("plotly_chart") if "boundary" in str(c.proto.id)]
        assert "train_settling" not in at.session_state
    finally:
        handle.stop()
