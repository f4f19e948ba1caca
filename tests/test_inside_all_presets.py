"""Every Inside view over every preset: no exception escapes, no hook is left, figures build."""

import numpy as np
import pytest
import torch
from torch import nn

from dlviz.build import build
from dlviz.inside import (conv_arithmetic_text, explain_conv, layer_distributions, layer_values,
                          penultimate, project_pca, representation_at, top_activating,
                          visualise_unit)
from dlviz.plots.conv_explainer import conv_explainer_image
from dlviz.plots.distributions import distribution_figure
from dlviz.plots.feature_maps import enlarge, feature_mosaic
from dlviz.plots.representation import representation_figure
from dlviz.plots.unit_values import probabilities_figure, units_strip_figure
from dlviz.presets import PRESETS
from dlviz.probe import hook_count

SHAPES = {"playground": (2,), "deep-sigmoid": (2,), "lenet": (1, 28, 28), "vgg-shapes": (3, 32, 32),
          "digits8-cnn": (1, 8, 8), "tabular-mlp": (30,)}
CASES = [(key, "classification") for key in PRESETS] + [("playground", "regression")]


def test_every_preset_has_a_shape_here():
    assert set(SHAPES) == set(PRESETS)


@pytest.mark.parametrize("key,task", CASES, ids=[f"{k}-{t}" for k, t in CASES])
def test_every_view_over_a_preset(key, task):
    shape = SHAPES[key]
    k = 1 if task == "regression" else 4
    classes = () if task == "regression" else tuple(f"c{i}" for i in range(k))
    net = build(PRESETS[key].spec(shape, k, task), seed=0)
    model = net.model
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, *shape, generator=g)
    y = x.flatten(1)[:, :1] if task == "regression" else torch.randint(0, k, (24,), generator=g)

    # one input through every layer
    vals = layer_values(net, x[0])
    assert hook_count(model) == 0
    for v in vals:
        if v.is_map:
            mi = feature_mosaic(v.values, highlight=0)
            assert len(mi.cells) == v.shape[0]
            enlarge(v.values[0], title=f"{v.name} · map 0")
        elif v.kind == "output":
            probabilities_figure(v.probs, classes, true=0 if classes else None).to_json()
        else:
            units_strip_figure(v.values, v.name).to_json()

    # the convolution explainer on every conv layer, at a corner
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            a = explain_conv(net, name, x[0], m.out_channels - 1, 0, 0)
            assert a.total == pytest.approx(a.layer_output, abs=1e-4)
            conv_arithmetic_text(a)
            conv_explainer_image(a)
    assert hook_count(model) == 0

    # what a unit responds to, on every layer that has units
    for v in vals:
        if v.kind in ("flatten",):
            continue
        idx, resp = top_activating(net, v.name, v.shape[0] - 1, x, k=5, batch=10)
        assert len(idx) == 5 and np.all(np.diff(resp) <= 0)
    if len(shape) == 3:
        for name in ("conv1_relu", penultimate(net), "output"):
            img = visualise_unit(net, name, 0, steps=4)
            assert img.shape == (shape[1], shape[2], 3)
    assert hook_count(model) == 0

    # over time: two snapshots, distributions and the representation
    w0 = {kk: v.clone() for kk, v in model.state_dict().items()}
    w1 = {kk: v * 1.1 if v.is_floating_point() else v for kk, v in w0.items()}
    dists = layer_distributions(net, [(0, w0), (100, w1)], x, y, bins=12)
    for kinds in dists.values():
        for s in kinds.values():
            np.testing.assert_allclose(s.counts.sum(axis=1), s.totals)
            distribution_figure(s).to_json()
    assert any(s.counts.shape == (2, 12) for kinds in dists.values() for s in kinds.values())
    feats = [representation_at(net, w, x) for w in (w0, w1)]
    proj = project_pca(feats)
    labels = y.numpy().ravel()
    representation_figure(proj.coords[1], labels, classes, 100, proj.x_range, proj.y_range,
                          proj.explained[1], penultimate(net)).to_json()
    assert hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())
    for kk, v in model.state_dict().items():
        assert torch.equal(v, w0[kk])                       # nothing here changed the model
