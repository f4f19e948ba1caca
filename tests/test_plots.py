"""Figures take plain arrays, have the right kind and size, and survive empty inputs."""

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from dlviz.plots import (accuracy_figure, architecture_figure, boundary_figure, confusion_figure,
                         dataset_figure, filters_mosaic, health_figure, loss_figure,
                         network_figure, prediction_mosaic, sample_grid, units_figure)
from dlviz.plots import images as I
from dlviz.plots.style import BLUE, ORANGE
from dlviz.presets import preset_spec
from dlviz.spec import analyse

RNG = np.random.default_rng(0)


def history(n=50):
    return [{"step": 10 * i + 1, "epoch": i / 5, "train_loss": 1 / (i + 1), "lr": 0.01} for i in range(n)]


def evals(n=10, task="classification"):
    rows = []
    for i in range(n):
        r = {"step": 50 * i + 1, "epoch": i, "train_loss": 1 / (i + 1), "test_loss": 1.2 / (i + 1)}
        if task == "classification":
            r.update(train_accuracy=0.5 + i / 40, test_accuracy=0.5 + i / 50)
        rows.append(r)
    return rows


def health(n=6):
    return [{"step": 100 * i + 1, "layers": {
        "dense1": {"weight_norm": 2.0 + i, "grad_norm": 0.1 / (i + 1), "update_ratio": 1e-3},
        "dense2": {"weight_norm": 1.0, "grad_norm": 0.0, "update_ratio": 3e-5},
        "output": {"weight_norm": 0.5, "grad_norm": 0.05, "update_ratio": 2e-2},
        "dense1_relu": {"dead": i / 10},
        "dense2_tanh": {"saturated": 0.2}}} for i in range(n)]


def annotation_texts(fig):
    return " ".join(a.text or "" for a in fig.layout.annotations)


# -- curves ----------------------------------------------------------------------------

def test_loss_and_accuracy_figures():
    fig = loss_figure(history(), evals(), "classification")
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["train loss", "test loss"]
    assert list(fig.data[0].x) == [r["step"] for r in history()]
    assert fig.layout.uirevision and fig.layout.height <= 300
    assert "epoch" in fig.data[0].hovertemplate
    acc = accuracy_figure(evals())
    assert [t.name for t in acc.data] == ["train accuracy", "test accuracy"]
    assert acc.layout.yaxis.range[0] == 0 and acc.layout.yaxis.range[1] >= 1


@pytest.mark.parametrize("make", [
    lambda: loss_figure([], [], "classification"),
    lambda: loss_figure(None, None, "regression"),
    lambda: accuracy_figure([]),
    lambda: health_figure([], "grad_norm"),
    lambda: units_figure([]),
])
def test_no_numbers_yet_gives_a_waiting_figure(make):
    fig = make()
    assert len(fig.data) == 0
    assert "waiting for the first numbers" in annotation_texts(fig)


def test_partial_inputs_do_not_raise():
    assert len(loss_figure(history(3), [], "regression").data) == 1      # history before any eval
    assert len(loss_figure([], evals(2), "classification").data) == 1
    reg = accuracy_figure(evals(3, "regression"))                         # no accuracy to show
    assert len(reg.data) == 0 and "regression" in annotation_texts(reg)
    nan = [{"step": 1, "epoch": 0, "train_loss": float("nan"), "lr": 0.1}]
    assert len(loss_figure(nan, [], "classification").data) == 0


# -- health ------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["weight_norm", "grad_norm", "update_ratio"])
def test_health_figure_has_one_log_line_per_weighted_layer(metric):
    fig = health_figure(health(), metric)
    assert [t.name for t in fig.data] == ["dense1", "dense2", "output"]
    assert fig.layout.yaxis.type == "log"
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    if metric == "update_ratio":
        assert len(bands) == 1 and (bands[0].y0, bands[0].y1) == (1e-4, 1e-2)
    else:
        assert not bands
    if metric == "grad_norm":                    # 0 cannot sit on a log axis: a gap instead
        assert all(v is None for v in fig.data[1].y)


def test_health_figure_rejects_an_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        health_figure(health(), "loss")


def test_units_figure_has_one_line_per_activation_layer():
    fig = units_figure(health())
    assert [t.name for t in fig.data] == ["dense1_relu (dead)", "dense2_tanh (saturated)"]
    assert list(fig.layout.yaxis.range) == [0, 1.02]
    no_acts = [{"step": 1, "layers": {"dense1": {"weight_norm": 1.0, "grad_norm": 1.0,
                                                  "update_ratio": 1e-3}}}]
    assert len(units_figure(no_acts).data) == 0


# -- plane -------------------------------------------------------------------------------

def plane_data(k=2, n=60):
    pts = RNG.normal(size=(n, 2)) * 3
    y = RNG.integers(0, k, n) if k else RNG.normal(size=(n, 1))
    return pts[:40], y[:40], pts[40:], y[40:]


@pytest.mark.parametrize("task,k", [("classification", 2), ("classification", 4), ("regression", 0)])
def test_boundary_figure_draws_the_grid_under_the_points(task, k):
    g = 30
    xs, ys = np.linspace(-9, 9, g), np.linspace(-9, 9, g)
    values = RNG.random((g, g)) if k == 2 else RNG.integers(0, max(k, 1), (g, g)).astype(float)
    classes = [f"c{i}" for i in range(k)]
    fig = boundary_figure(xs, ys, values, *plane_data(k), task, classes)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 1 and np.asarray(heat[0].z).shape == (g, g)
    assert fig.layout.yaxis.scaleanchor == "x"
    outlined = [t for t in fig.data if isinstance(t, go.Scatter) and t.marker.line.color == "#2a2f36"]
    assert outlined                                              # test points (and their key)
    hidden = boundary_figure(xs, ys, values, *plane_data(k), task, classes, show_test=False)
    assert not [t for t in hidden.data if isinstance(t, go.Scatter) and t.marker.line.color == "#2a2f36"]


def test_dataset_figure_colours_two_classes_orange_and_blue():
    fig = dataset_figure(*plane_data(2), "classification", ["a", "b"])
    colours = {t.name: t.marker.color for t in fig.data if t.showlegend is not False}
    assert colours["a"] == ORANGE and colours["b"] == BLUE
    assert fig.layout.yaxis.scaleanchor == "x"
    dataset_figure(np.zeros((0, 2)), [], np.zeros((0, 2)), [], "classification", ["a", "b"])


# -- network view --------------------------------------------------------------------------

def network_inputs(units=(2, 4, 2), g=12, outputs=2):
    layers = [(n, RNG.normal(size=(u, g, g))) for n, u in zip(["input", "dense1", "dense2", "dense3"], units)]
    weights = [RNG.normal(size=(b, a)) for a, b in zip(units, units[1:])] + [RNG.normal(size=(outputs, units[-1]))]
    return layers, weights, RNG.random((g, g))


def lines(fig):
    return [s for s in fig.layout.shapes if s.type == "line"]


def test_network_figure_draws_one_line_per_weight_and_a_tile_per_unit():
    layers, weights, out = network_inputs()
    fig = network_figure(layers, weights, out, input_names=["x1", "x2"])
    assert len(lines(fig)) == 2 * 4 + 4 * 2 + 2                  # + one line per unit to the output
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 1 and len(pictures(fig)) == 2 + 4 + 2   # neuron tiles are pictures
    assert all(np.asarray(h.z).shape == (12, 12) for h in heat)
    # colour gives the sign: weights[0][b, a] joins input a to dense1 unit b (first lines drawn)
    w = weights[0]
    first = lines(fig)[:8]
    expected = [BLUE if w[b, a] >= 0 else ORANGE for a in range(2) for b in range(4)]
    assert [s.line.color for s in first] == expected
    widths = [s.line.width for s in lines(fig)]
    assert max(widths) > 3 * min(widths)                          # width follows |w|
    assert "x1" in annotation_texts(fig) and "dense2" in annotation_texts(fig)


def test_network_figure_shows_at_most_8_units_per_layer():
    layers, weights, out = network_inputs(units=(3, 12, 10))
    fig = network_figure(layers, weights, out)
    assert len([t for t in fig.data if isinstance(t, go.Heatmap)]) == 1 and len(pictures(fig)) == 3 + 8 + 8
    assert len(lines(fig)) == 3 * 8 + 8 * 8 + 8
    assert "+4 more" in annotation_texts(fig) and "+2 more" in annotation_texts(fig)


def output_tile(fig):
    return [t for t in fig.data if isinstance(t, go.Heatmap)][-1]


def test_network_figure_for_many_classes_regression_and_no_output():
    layers, weights, out = network_inputs(outputs=5)
    k5 = network_figure(layers, weights, np.zeros((12, 12)))
    assert len(lines(k5)) == 18
    assert (output_tile(k5).zmin, output_tile(k5).zmax) == (-0.5, 4.5)   # 5 classes, read from weights
    layers, weights, out = network_inputs(outputs=1)
    reg = network_figure(layers, weights, out * 3 - 1)
    assert len(lines(reg)) == 18
    assert output_tile(reg).zmin == -output_tile(reg).zmax               # regression: around 0
    layers, weights, out = network_inputs(outputs=2)
    two = network_figure(layers, weights, out)
    assert (output_tile(two).zmin, output_tile(two).zmax) == (0, 1)      # p(class 1)
    assert len(lines(network_figure(layers, weights[:2], None))) == 16
    assert len(network_figure([], [], None).data) == 0


def test_network_figure_rejects_weights_that_do_not_fit():
    layers, weights, out = network_inputs()
    with pytest.raises(ValueError, match="weights\\[1\\]"):
        network_figure(layers, [weights[0], weights[0]], out)


# -- images ---------------------------------------------------------------------------------

def digits(n, c=1, size=8):
    return RNG.integers(0, 256, size=(n, size, size, c), dtype=np.uint8)


def test_prediction_mosaic_marks_exactly_the_wrong_ones():
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 7, 2, 3, 9, 5])
    img = prediction_mosaic(digits(6), y_true, y_pred, [str(i) for i in range(10)], cols=6, scale=3)
    a = np.asarray(img)
    tile = 8 * 3 + 2 * I.BORDER
    for i in range(6):
        x0, y0 = I.GAP + i * (tile + I.GAP), I.GAP
        outer = tuple(a[y0, x0 + tile // 2])                       # outermost border row
        inner = tuple(a[y0 + I.BORDER - 1, x0 + tile // 2])         # ring next to the image
        if y_true[i] != y_pred[i]:
            assert outer == I.WRONG and inner == I.WRONG
        else:
            assert outer == I.WHITE and inner == I.RIGHT


def test_prediction_mosaic_layout_and_edges():
    img = prediction_mosaic(digits(20, c=3, size=32), np.arange(20) % 8, np.arange(20) % 8,
                            ["circle", "ring", "square", "triangle", "cross", "star", "crescent", "bar"])
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    assert img.width == 8 * (32 * 3 + 2 * I.BORDER + I.GAP) + I.GAP
    assert prediction_mosaic(digits(0), [], [], ["a"]).size[0] > 0


def test_sample_grid_has_a_row_per_class():
    labels = np.array([0, 1, 1, 2, 0, 2, 2, 2])
    img = sample_grid(digits(8), labels, ["zero", "one", "two"], per_class=4, scale=2)
    gap = 2
    assert img.height == 3 * (16 + gap) + gap
    one_row = sample_grid(digits(3), [0, 0, 0], ["only"], per_class=8, scale=3)
    assert one_row.height == 24 + 2 * 3
    # a class with fewer samples leaves empty cells, not copies
    a = np.asarray(one_row)
    assert tuple(a[12, one_row.width - 5]) == I.EMPTY


@pytest.mark.parametrize("shape", [(6, 1, 5, 5), (16, 3, 3, 3), (32, 16, 3, 3), (1, 1, 1, 1)])
def test_filters_mosaic_sizes(shape):
    img = filters_mosaic(RNG.normal(size=shape), scale=12)
    o, _, k, _ = shape
    cols = min(o, 8)
    assert img.size == (cols * (k * 12 + 2 + 4) + 4, -(-o // cols) * (k * 12 + 2 + 4) + 4)


def test_filters_mosaic_is_symmetric_around_zero():
    f = np.zeros((2, 1, 2, 2))
    f[0, 0, 0, 0], f[0, 0, 1, 1] = 1.0, -1.0                         # one filter; the other is 0
    a = np.asarray(filters_mosaic(f, scale=1))
    assert tuple(a[5, 5]) == (8, 119, 189)                           # +max: blue
    assert tuple(a[6, 6]) == (245, 147, 34)                          # -max: orange
    assert tuple(a[5, 6]) == (255, 255, 255)                         # 0: white
    rgb = np.asarray(filters_mosaic(np.zeros((1, 3, 2, 2)), scale=1))
    assert tuple(rgb[5, 5]) == (128, 128, 128)                       # 0 in RGB: mid-grey


# -- confusion and architecture ---------------------------------------------------------------

def test_confusion_figure_counts_and_diagonal():
    m = np.array([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    fig = confusion_figure(m, ["a", "b", "c"])
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (3, 3)
    assert np.asarray(heat.text)[1, 1] == "7" and np.asarray(heat.text)[0, 2] == "·"
    assert np.allclose(np.asarray(heat.z).sum(1), 1)                  # colour = row share
    assert len([s for s in fig.layout.shapes if s.type == "rect"]) == 3
    assert fig.layout.yaxis.autorange == "reversed"                  # row 0 at the top
    assert len(confusion_figure(np.zeros((2, 2), int), ["a", "b"]).data) == 0


@pytest.mark.parametrize("key,shape,outputs,label", [
    ("playground", (2,), 2, "dense 4"),
    ("lenet", (1, 28, 28), 10, "6x28x28"),
    ("vgg-shapes", (3, 32, 32), 8, "64x4x4"),
])
def test_architecture_figure_has_a_box_per_layer(key, shape, outputs, label):
    report = analyse(preset_spec(key, shape, outputs))
    fig = architecture_figure(report)
    boxes = [s for s in fig.layout.shapes if s.type == "rect" and s.fillcolor != "white"]
    assert len(boxes) == len(report.layers) + 1                       # + the input
    hover = fig.data[0]
    assert len(hover.x) == len(report.layers) + 1
    assert f"{report.layers[-1].params:,} parameters" in hover.hovertext[-1]
    assert label in annotation_texts(fig)
    heights = [b.y1 - b.y0 for b in boxes]
    if key == "lenet":                    # 28x28 maps are taller than 14x14, pooled ones shorter
        assert heights[1] > heights[2] > heights[4]


def pictures(fig):
    return [t for t in fig.data if t.type == "image"]


def test_neuron_tiles_are_pictures_with_the_diverging_colours():
    import base64
    import io

    from PIL import Image

    from dlviz.plots.network_view import network_figure
    from dlviz.plots.png import diverging_rgb
    g = np.linspace(-1, 1, 12)
    maps = np.stack([np.tile(g, (12, 1)), -np.tile(g, (12, 1))])      # (2, 12, 12): left-right ramps
    fig = network_figure([("input", maps), ("dense1", maps)], [np.ones((2, 2)), np.ones((2, 2))],
                         np.zeros((12, 12)), task="classification", num_classes=2)
    images = [t for t in fig.data if t.type == "image"]
    assert len(images) == 4                       # 2 inputs + 2 hidden units; the output stays a heatmap
    png = Image.open(io.BytesIO(base64.b64decode(images[0].source.split(",", 1)[1])))
    rgb = np.asarray(png)
    assert rgb.shape == (12, 12, 3)
    assert (rgb == diverging_rgb(maps[0], -1, 1)).all()
    # -1 is orange, +1 blue, 0 white: the style's diverging scale
    assert tuple(rgb[0, 0]) == (0xf5, 0x93, 0x22) and tuple(rgb[0, -1]) == (0x08, 0x77, 0xbd)
    assert tuple(diverging_rgb(np.zeros((1, 1)), -1, 1)[0, 0]) == (255, 255, 255)
    assert len(fig.to_json()) < 40_000


def test_warm_up_imports_pandas_whole_before_any_page_can_half_import_it():
    # Plotly peeks at sys.modules for pandas; a half-imported one broke a page (plots/warm.py)
    import subprocess
    import sys
    code = ("import sys; import dlviz.plots.warm as w; assert 'pandas' not in sys.modules; "
            "w.warm_up(); assert hasattr(sys.modules['pandas'], 'Series')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
