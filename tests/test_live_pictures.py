"""The running run's 2-D views as pictures, and curves thinned to what a chart can show."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.plots.curves import MAX_POINTS, accuracy_figure, loss_figure, thinned
from dlviz.plots.live_pictures import BOUNDARY_PX, boundary_png, network_png
from dlviz.plots.style import BLUE, ORANGE
from dlviz.presets import PRESETS
from dlviz.views.plane import boundary_values, neuron_maps, plane_grid
from dlviz.views.weights import dense_weights


def _png(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB"))


def _net_and_grid(dataset: str):
    ds = load_dataset(dataset)
    net = build(PRESETS["playground"].spec(ds.input_shape, ds.output_size, ds.task), "cpu", seed=0)
    net.model.eval()
    grid = plane_grid(ds.points_train.numpy(), resolution=40)
    return ds, net, grid, boundary_values(net.model, grid, ds.features, ds.task)


def test_boundary_picture_shows_the_output_and_both_classes_of_points():
    ds, _, grid, values = _net_and_grid("circle")
    args = (grid.xs, grid.ys, values, ds.points_train.numpy(), ds.y_train.numpy(),
            ds.points_test.numpy(), ds.y_test.numpy(), ds.task, list(ds.classes))
    rgb = _png(boundary_png(*args))
    assert rgb.shape == (BOUNDARY_PX, BOUNDARY_PX, 3)

    def near(colour: str) -> int:          # pixels close to a class colour: the points
        c = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(rgb.astype(int) - c).sum(axis=2) < 40).sum())
    assert near(ORANGE) > 200 and near(BLUE) > 200
    # without the test points fewer dark outlines are drawn
    dark = lambda a: int((a.sum(axis=2) < 200).sum())                          # noqa: E731
    assert dark(_png(boundary_png(*args, show_test=False))) < dark(rgb)


def test_network_picture_has_a_tile_per_unit_and_changes_with_the_weights():
    ds, net, grid, values = _net_and_grid("circle")
    layers = [(l.name, l.maps) for l in neuron_maps(net.model, net.layer_modules, grid, ds.features)]
    weights = dense_weights(net.model, net.layer_modules)
    kw = dict(task=ds.task, num_classes=ds.num_classes, input_names=list(ds.features))
    a = _png(network_png(layers, weights, values, **kw))
    assert a.shape[1] > a.shape[0] > 100                       # wider than tall, as the figure
    flipped = [(name, -maps) for name, maps in layers]
    b = _png(network_png(flipped, weights, values, **kw))
    assert a.shape == b.shape and (a != b).any()
    assert network_png([], []).startswith(b"\x89PNG")       # nothing to draw: still a picture


def test_curves_draw_at_most_max_points_and_always_the_newest():
    n = 5 * MAX_POINTS
    history = [{"step": i + 1, "epoch": i / 10, "train_loss": 1 / (i + 1)} for i in range(n)]
    evals = [{"step": 10 * i + 1, "epoch": i, "test_loss": 1 / (i + 1), "train_accuracy": 0.5,
              "test_accuracy": min(1.0, i / 100)} for i in range(n)]
    fig = loss_figure(history, evals)
    train, test = fig.data
    assert len(train.x) <= MAX_POINTS and train.x[-1] == n and train.x[0] == 1
    assert len(test.x) <= MAX_POINTS and test.mode == "lines"       # too many for markers
    acc = accuracy_figure(evals)
    assert acc.data[1].y[-1] == 1.0 and len(acc.data[1].y) <= MAX_POINTS
    few = loss_figure(history[:20], evals[:20])
    assert len(few.data[0].x) == 20 and few.data[1].mode == "lines+markers"
    s, v = thinned(np.arange(10), np.arange(10) * 2, max_points=4)
    assert list(s) == [0, 3, 6, 9] and list(v) == [0, 6, 12, 18]


def test_train_page_shows_pictures_while_running_and_figures_once_paused():
    """Running, the curves, the boundary and the network are pictures (redrawn in place
    twice a second); paused, the interactive figures come back. The curves' captions
    give the newest test figures either way."""
    from dataclasses import replace

    from tests.conftest import wait_for
    from tests.test_pages import app, no_exceptions

    from dlviz.ui.state import registry
    from dlviz.workspace import default_workspace

    ws = default_workspace()
    ws = replace(ws, config=ws.config.replace(epochs=100_000))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    entry = registry().get(at.session_state["dlviz_run"])
    try:
        assert wait_for(lambda: entry.handle.state().step > 0, 30)
        at.run()
        no_exceptions(at)
        assert len(at.get("image")) == 4             # loss, accuracy, boundary, network
        assert not at.get("plotly_chart")
        assert wait_for(lambda: entry.handle.state().evals, 30)
        at.run()
        captions = " ".join(c.value for c in at.caption)
        assert re.search(r"accuracy against training step · test \d+\.\d% at step [\d,]+", captions), captions
        assert re.search(r"loss against training step · test [\d.e+-]+ at step [\d,]+", captions), captions
        at.button(key="t_pause").click().run()
        assert wait_for(lambda: entry.handle.status == "paused", 10)
        at.run()
        no_exceptions(at)
        assert not at.get("image")
        assert len(at.get("plotly_chart")) == 4      # loss, accuracy, boundary, network
        assert "accuracy against training step · test" in " ".join(c.value for c in at.caption)
    finally:
        entry.handle.stop()
        entry.handle.join(5)


# -- the curves as pictures (a running run's loss and accuracy charts) ---------------------

def _picture(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _where(rgb: np.ndarray, hex_colour: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels of exactly this colour."""
    c = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return np.nonzero((np.abs(rgb - c).sum(axis=2) == 0))


def test_curve_pictures_draw_both_curves_up_to_the_newest_step():
    from dlviz.plots import curve_pictures as cp
    from dlviz.plots.curves import HEIGHT
    from dlviz.plots.line_picture import SCALE
    from dlviz.plots.style import TEST_COLOUR, TRAIN_COLOUR

    history = [{"step": s, "epoch": s / 40, "train_loss": 0.7 * np.exp(-s / 300) + 0.01} for s in range(0, 2001, 10)]
    evals = [{"step": s, "epoch": s / 40, "test_loss": 0.72 * np.exp(-s / 300) + 0.02,
              "train_accuracy": 1 - 0.5 * np.exp(-s / 200), "test_accuracy": 1 - 0.5 * np.exp(-s / 150)}
             for s in range(0, 2001, 100)]
    loss = _picture(cp.loss_png(history, evals))
    assert loss.shape == (HEIGHT * SCALE, cp.WIDTH * SCALE, 3)      # as tall as the figure
    rows, cols = _where(loss, TRAIN_COLOUR)
    t_rows, t_cols = _where(loss, TEST_COLOUR)
    assert len(cols) > 500 and len(t_cols) > 200          # both curves (and their legend samples)
    # the newest step is drawn at the right end of the x axis (98% of it: 2% room for markers)
    plot_right = (cp.WIDTH - 16) * SCALE
    assert plot_right * 0.95 < cols.max() <= plot_right
    # a falling loss: the curve's left end is higher on the picture than its right end
    left_rows, right_rows = rows[cols < cols.min() + 40], rows[cols > cols.max() - 40]
    assert left_rows.min() < right_rows.min() - 100
    acc = _picture(cp.accuracy_png(evals))
    a_rows, a_cols = _where(acc, TEST_COLOUR)
    # the newest test accuracy (~1.0) sits on the 100% line, near the top of the plot area
    top = 36 * SCALE
    assert a_rows[a_cols > a_cols.max() - 10].min() < top + 0.1 * cp.PLOT_HEIGHT * SCALE


def test_curve_pictures_say_when_there_is_nothing_to_draw():
    from dlviz.plots import curve_pictures as cp
    from dlviz.plots.style import TEST_COLOUR, TRAIN_COLOUR

    for png in (cp.loss_png([], []), cp.accuracy_png([{"step": 5, "test_loss": 0.3}])):
        rgb = _picture(png)
        assert not len(_where(rgb, TRAIN_COLOUR)[0]) and not len(_where(rgb, TEST_COLOUR)[0])
        assert (rgb < 200).any()                          # the message's text


def test_curve_picture_of_a_blown_up_loss_is_on_a_log_axis():
    """An exponentially growing loss is a straight line on a log axis (as loss_figure's)."""
    from dlviz.plots import curve_pictures as cp
    from dlviz.plots.line_picture import SCALE
    from dlviz.plots.style import TRAIN_COLOUR

    history = [{"step": s, "train_loss": 0.5 * 10 ** (s / 10)} for s in range(0, 61)]
    rows, cols = _where(_picture(cp.loss_png(history, [])), TRAIN_COLOUR)
    curve = rows > 36 * SCALE + 10                       # not the legend's sample
    rows, cols = rows[curve], cols[curve]
    fit = np.polyfit(cols, rows, 1)
    residual = np.abs(np.polyval(fit, cols) - rows)
    assert np.percentile(residual, 90) < 6                  # straight: within a line's width
    assert fit[0] < 0                                       # rising (rows grow downwards)


def test_nice_ticks_are_round_and_cover_the_range():
    from dlviz.plots.line_picture import nice_ticks

    assert nice_ticks(0, 2381) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(0, 0.8) == [0, 0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(0, 1e-3)[-1] == pytest.approx(1e-3)
    assert nice_ticks(3, 3) == [3]


def _health_rows() -> list[dict]:
    """Health rows of two weighted layers and one tanh layer, as the trainer records them."""
    return [{"step": s, "layers": {"dense1": {"weight_norm": 1.0, "grad_norm": 0.5 / (1 + s), "update_ratio": 3e-3},
                                   "output": {"weight_norm": 1.0, "grad_norm": 0.2 / (1 + s), "update_ratio": 5e-2},
                                   "dense1_tanh": {"saturated": min(1.0, s / 100)}}}
            for s in range(0, 101, 10)]


def test_health_pictures_draw_a_line_per_layer_and_the_healthy_band():
    from dlviz.plots.health_pictures import WIDTH, health_png, units_png
    from dlviz.plots.line_picture import SCALE
    from dlviz.plots.style import line_colour

    ratio = _picture(health_png(_health_rows(), "update_ratio"))
    assert ratio.shape[1] == WIDTH * SCALE
    for i in range(2):                                     # dense1 and output, each its colour
        assert len(_where(ratio, line_colour(i))[0]) > 100
    band_rows, _ = _where(ratio, "#e1f3ee")                 # the healthy range's fill
    assert len(band_rows) > 1000
    # dense1 (3e-3) runs inside the band, output (5e-2) above it (looked at on the right
    # of the plot, where the legend, packed to the left, never reaches)
    right = int(0.8 * ratio.shape[1])
    d_rows, d_cols = _where(ratio, line_colour(0))
    o_rows, o_cols = _where(ratio, line_colour(1))
    assert band_rows.min() < np.median(d_rows[d_cols > right]) < band_rows.max()
    assert np.median(o_rows[o_cols > right]) < band_rows.min()
    units = _picture(units_png(_health_rows()))
    assert len(_where(units, line_colour(0))[0]) > 100      # the tanh layer's saturated share
    with pytest.raises(ValueError):
        health_png(_health_rows(), "nonsense")


def test_train_page_layer_health_is_pictures_while_running():
    from dataclasses import replace

    from tests.conftest import wait_for
    from tests.test_pages import app, no_exceptions

    from dlviz.ui.state import registry
    from dlviz.workspace import default_workspace

    ws = default_workspace()
    at = app(replace(ws, config=ws.config.replace(epochs=100_000)))
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    entry = registry().get(at.session_state["dlviz_run"])
    try:
        assert wait_for(lambda: entry.handle.state().health, 30)
        at.segmented_control(key="train_view").set_value("Layer health").run()
        no_exceptions(at)
        assert len(at.get("image")) == 5                   # two curves + three health charts
        assert not at.get("plotly_chart")
        at.button(key="t_pause").click().run()
        assert wait_for(lambda: entry.handle.status == "paused", 10)
        at.run()
        no_exceptions(at)
        assert len(at.get("plotly_chart")) == 5 and not at.get("image")
    finally:
        entry.handle.stop()
        entry.handle.join(5)


def test_train_page_neither_fades_stale_elements_nor_glides_its_progress_bars():
    """Redrawn every 0.48 s, Streamlit's 1 s stale fade and 0.5 s progress-bar glide never
    finished and kept the browser animating: the Train page turns both off."""
    from tests.test_pages import app, no_exceptions

    from dlviz.ui.run_views import LIVE_CSS
    from dlviz.workspace import default_workspace

    at = app(default_workspace())
    at.run()
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    styles = [h.proto.body for h in at.get("html")]
    assert any(LIVE_CSS in body for body in styles), styles
    assert '[data-stale="true"]' in LIVE_CSS and "transition:none" in LIVE_CSS
    assert any('[data-testid="stProgress"] * { transition: none' in body for body in styles), styles
