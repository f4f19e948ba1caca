"""Layer values are the model's real values; the drawings show them faithfully."""

import numpy as np
import pytest
import torch

from dlviz.build import build
from dlviz.inside import layer_values, module_kind
from dlviz.plots.colour_scale import to_rgb
from dlviz.plots.feature_maps import HIGHLIGHT, enlarge, feature_mosaic
from dlviz.plots.unit_values import probabilities_figure, units_strip_figure
from dlviz.presets import PRESETS
from dlviz.probe import hook_count


def _net(preset, shape, outputs=10, task="classification"):
    return build(PRESETS[preset].spec(shape, outputs, task), seed=0)


@pytest.mark.parametrize("preset,shape", [("lenet", (1, 28, 28)), ("vgg-shapes", (3, 32, 32)),
                                          ("deep-sigmoid", (2,))])
def test_values_equal_a_manual_forward_module_by_module(preset, shape):
    net = _net(preset, shape)
    net.model.train()                          # layer_values must switch to eval and back
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    vals = layer_values(net, x)
    assert [v.name for v in vals] == net.module_names
    h = x.unsqueeze(0)
    net.model.eval()
    with torch.no_grad():
        for v, (name, module) in zip(vals, net.model.named_children()):
            h = module(h)                      # (1, ...) the manual forward, one module at a time
            assert v.shape == tuple(h.shape[1:])
            np.testing.assert_allclose(v.values, h[0].numpy(), rtol=1e-5, atol=1e-6)
            assert v.vmin == pytest.approx(float(h.min())) and v.vmax == pytest.approx(float(h.max()))
            assert v.kind == module_kind(name, module)
    out = vals[-1]
    assert out.kind == "output"
    np.testing.assert_allclose(out.probs, torch.softmax(h[0], 0).numpy(), rtol=1e-5, atol=1e-7)
    assert out.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert hook_count(net.model) == 0
    assert net.model.training is False        # restored to what it was before the call (eval here)


def test_training_flag_restored_and_kinds_named():
    net = _net("lenet", (1, 28, 28))
    net.model.train()
    vals = layer_values(net, torch.zeros(1, 28, 28))
    assert net.model.training
    kinds = {v.name: v.kind for v in vals}
    assert kinds["conv1"] == "conv" and kinds["conv1_relu"] == "activation"
    assert kinds["maxpool1"] == "pool" and kinds["flatten"] == "flatten"
    assert kinds["dense1"] == "dense" and kinds["output"] == "output"
    assert [v.group for v in vals if v.name.startswith("conv1")] == [0, 0]
    assert vals[0].is_map and not vals[-1].is_map


def test_regression_output_is_the_value():
    net = _net("playground", (2,), outputs=1, task="regression")
    x = torch.tensor([0.3, -1.2])
    out = layer_values(net, x)[-1]
    with torch.no_grad():
        expected = net.model.eval()(x[None])[0]
    np.testing.assert_allclose(out.probs, expected.numpy(), rtol=1e-6)


def test_a_batch_of_one_is_accepted_and_a_wrong_shape_is_not():
    net = _net("playground", (2,), outputs=2)
    assert len(layer_values(net, torch.zeros(1, 2))) == len(net.module_names)
    with pytest.raises(ValueError, match="expected one input of shape"):
        layer_values(net, torch.zeros(3))


def test_no_hook_left_when_the_forward_raises():
    net = _net("lenet", (1, 28, 28))

    def boom(x):
        raise RuntimeError("boom")

    net.model.conv2.forward = boom             # an error in the middle of the forward pass
    net.model.train()
    with pytest.raises(RuntimeError, match="boom"):
        layer_values(net, torch.zeros(1, 28, 28))
    assert hook_count(net.model) == 0
    assert net.model.training


# -- drawings ----------------------------------------------------------------------------

def test_mosaic_cells_show_each_map_on_one_shared_scale():
    g = torch.Generator().manual_seed(0)
    maps = torch.randn(10, 6, 5, generator=g).numpy()
    maps[3] *= 5                               # one strong map
    mi = feature_mosaic(maps, cols=4, scale=3)
    assert len(mi.cells) == 10 and mi.zoom == 3 and mi.shared
    px = np.asarray(mi.image)
    m = np.abs(maps).max()
    expected = to_rgb(maps, -m, m)             # one scale for every map
    for c, (x0, y0, x1, y1) in enumerate(mi.cells):
        assert (x1 - x0, y1 - y0) == (5 * 3, 6 * 3)
        # every map pixel is drawn as a zoom x zoom block of its colour
        np.testing.assert_array_equal(px[y0:y1:3, x0:x1:3], expected[c])
        assert mi.channel_at((x0 + x1) / 2, (y0 + y1) / 2) == c
    np.testing.assert_allclose(mi.ranges[:, 0], maps.reshape(10, -1).min(1))
    assert mi.vmin == pytest.approx(maps.min()) and mi.vmax == pytest.approx(maps.max())
    assert "one colour scale" in mi.caption and "10 maps of 6×5" in mi.caption
    assert mi.channel_at(0, 0) is None


def test_mosaic_per_map_scale_and_highlight():
    maps = np.stack([np.linspace(0, s, 16, dtype=np.float32).reshape(4, 4) for s in (1.0, 100.0)])
    mi = feature_mosaic(maps, shared=False, highlight=1, labels=False)
    px = np.asarray(mi.image)
    for c, (x0, y0, x1, y1) in enumerate(mi.cells):
        # each map's largest value gets the full colour whatever its size
        np.testing.assert_array_equal(px[y1 - 1, x1 - 1], to_rgb(np.float32(1), 0, 1))
    x0, y0, x1, y1 = mi.cells[1]
    assert tuple(px[y0 - 3, x0]) == HIGHLIGHT
    assert tuple(np.asarray(feature_mosaic(maps, labels=False).image)[y0 - 3, x0]) != HIGHLIGHT
    assert "own range" in mi.caption


def test_enlarge_and_empty_mosaic():
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 4
    img = enlarge(a, size=120, title="conv1 · map 0", box=(-1, -1, 2, 2))
    assert img.mode == "RGB" and img.width >= 120 and img.height > 120
    assert feature_mosaic(np.zeros((0, 4, 4))).cells == []
    with pytest.raises(ValueError):
        enlarge(np.zeros(5))


def test_unit_strip_and_probabilities_carry_the_values():
    v = np.array([-2.0, 0.0, 0.5, 3.0])
    fig = units_strip_figure(v, "dense1", highlight=2)
    np.testing.assert_array_equal(fig.data[0].y, v)
    assert fig.data[0].marker.cmin == -3.0 and fig.data[0].marker.cmax == 3.0
    p = np.array([0.1, 0.7, 0.2])
    fig = probabilities_figure(p, ["a", "b", "c"], true=2)
    np.testing.assert_array_equal(fig.data[0].x, p)
    assert list(fig.data[0].y) == ["a", "b", "c (true)"]
    assert "prediction: b" in fig.layout.title.text and "true c" in fig.layout.title.text
    fig = probabilities_figure([1.25])
    assert "1.25" in fig.layout.title.text
    fig.to_json()


def test_fast_layout_has_base_layouts_look_and_never_shares_state():
    import plotly.graph_objects as go

    from dlviz.plots.fast_layout import styled_layout
    from dlviz.plots.style import base_layout
    margin = dict(l=48, r=12, t=28, b=30)
    ref = base_layout(go.Figure(), height=150, legend_top=False, margin=margin).layout.to_plotly_json()
    assert styled_layout(height=150, legend_top=False, margin=margin) == ref
    a = styled_layout(height=150, legend_top=False, margin=margin, xaxis=dict(range=[0, 1]))
    assert a["xaxis"]["range"] == [0, 1] and a["xaxis"]["gridcolor"] == ref["xaxis"]["gridcolor"]
    b = styled_layout(height=150, legend_top=False, margin=margin)
    assert "range" not in b["xaxis"]                       # the cached style was not changed
