"""Views compute the model's real values over the plane and on data, and leave no hooks."""

import numpy as np
import pytest
import torch
from torch import nn

from dlviz.build import build
from dlviz.data.features import featurize
from dlviz.presets import PRESETS
from dlviz.probe import hook_count
from dlviz.spec import LayerSpec, NetSpec
from dlviz.views import (boundary_values, confusion_matrix, dense_weights, denormalise,
                         first_conv_filters, neuron_maps, plane_grid, predict_proba)


def linear(weight, bias) -> nn.Sequential:
    """A one-layer model with hand-set weights: outputs = weight @ x + bias."""
    w = torch.tensor(weight, dtype=torch.float32)
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return nn.Sequential(layer)


# -- plane grid ----------------------------------------------------------------------

def test_plane_grid_is_square_and_covers_the_data_with_a_margin():
    pts = np.array([[-1.0, 0.0], [3.0, 1.0], [0.0, 2.0]])
    g = plane_grid(pts, resolution=11, margin=0.1)
    assert g.xs.shape == g.ys.shape == (11,) and g.points.shape == (121, 2)
    assert g.points.dtype == np.float32
    # widest side 4 -> half-side 2 * 1.1, centred on the box centre (1, 1)
    assert np.allclose([g.xs[0], g.xs[-1]], [1 - 2.2, 1 + 2.2], atol=1e-6)
    assert np.allclose([g.ys[0], g.ys[-1]], [1 - 2.2, 1 + 2.2], atol=1e-6)
    # row i*G + j is (xs[j], ys[i])
    assert np.allclose(g.points[3 * 11 + 7], [g.xs[7], g.ys[3]])


def test_plane_grid_accepts_tensors_and_a_single_point():
    g = plane_grid(torch.zeros(1, 2), resolution=5)
    assert g.xs[0] < 0 < g.xs[-1]


# -- boundary values -----------------------------------------------------------------

def test_two_class_boundary_is_p_class1():
    # logits (0, 2*x1 - x2 + 0.5): p(class 1) = sigmoid(2*x1 - x2 + 0.5)
    model = linear([[0, 0], [2, -1]], [0, 0.5])
    g = plane_grid(np.array([[-2, -2], [2, 2]]), resolution=9)
    v = boundary_values(model, g, ["x1", "x2"], "classification")
    assert v.shape == (9, 9)
    x1, x2 = np.meshgrid(g.xs, g.ys)
    assert np.allclose(v, 1 / (1 + np.exp(-(2 * x1 - x2 + 0.5))), atol=1e-6)


def test_k_class_boundary_is_the_argmax_and_features_are_applied():
    # inputs (x1^2, x2): logits (x1^2 - 1, x2, 0.2)
    model = linear([[1, 0], [0, 1], [0, 0]], [-1, 0, 0.2])
    g = plane_grid(np.array([[-2, -2], [2, 2]]), resolution=13)
    v = boundary_values(model, g, ["x1^2", "x2"], "classification")
    x1, x2 = np.meshgrid(g.xs, g.ys)
    expected = np.stack([x1 ** 2 - 1, x2, np.full_like(x1, 0.2)]).argmax(0)
    assert np.array_equal(v, expected.astype(np.float32))


def test_regression_boundary_is_the_output():
    model = linear([[1, 2]], [0.5])
    g = plane_grid(np.array([[0, 0], [1, 3]]), resolution=7)
    v = boundary_values(model, g, ["x1", "x2"], "regression")
    x1, x2 = np.meshgrid(g.xs, g.ys)
    assert np.allclose(v, x1 + 2 * x2 + 0.5, atol=1e-5)


def test_views_run_in_eval_mode_and_restore_the_training_flag():
    model = nn.Sequential(nn.Dropout(0.9), *linear([[0, 0], [1, 0]], [0, 0]))
    model.train()
    g = plane_grid(np.array([[-1, -1], [1, 1]]), resolution=5)
    a = boundary_values(model, g, ["x1", "x2"], "classification")
    b = boundary_values(model, g, ["x1", "x2"], "classification")
    assert np.array_equal(a, b)              # dropout off: deterministic
    assert model.training
    model.eval()
    boundary_values(model, g, ["x1", "x2"], "classification")
    assert not model.training


# -- neuron maps ----------------------------------------------------------------------

def test_neuron_maps_equal_a_manual_forward():
    feats = ["x1", "x2", "x1*x2"]
    net = build(PRESETS["playground"].spec((3,), 2), seed=0)
    g = plane_grid(np.array([[-3, -3], [3, 3]]), resolution=8)
    layers = neuron_maps(net.model, net.layer_modules, g, feats)
    assert [l.name for l in layers] == ["input", "dense1", "dense2"]
    assert [l.maps.shape for l in layers] == [(3, 8, 8), (4, 8, 8), (2, 8, 8)]
    x = featurize(g.points, feats)
    x1, x2 = np.meshgrid(g.xs, g.ys)
    assert np.allclose(layers[0].maps[2], x1 * x2, atol=1e-5)
    with torch.no_grad():
        h1 = torch.tanh(net.model.dense1(x))                   # (G*G, 4)
        h2 = torch.tanh(net.model.dense2(h1))
    assert np.allclose(layers[1].maps[3], h1[:, 3].reshape(8, 8).numpy(), atol=1e-6)
    assert np.allclose(layers[2].maps[1], h2[:, 1].reshape(8, 8).numpy(), atol=1e-6)
    assert hook_count(net.model) == 0


def test_neuron_maps_of_a_layer_without_activation_are_its_linear_output():
    spec = NetSpec((2,), 2, [LayerSpec("dense", units=3, activation="linear")])
    net = build(spec, seed=1)
    g = plane_grid(np.array([[-1, -1], [1, 1]]), resolution=4)
    layers = neuron_maps(net.model, net.layer_modules, g, ["x1", "x2"])
    with torch.no_grad():
        h = net.model.dense1(torch.as_tensor(g.points))
    assert np.allclose(layers[1].maps, h.T.reshape(3, 4, 4).numpy(), atol=1e-6)


def test_no_hook_is_left_after_an_error():
    net = build(PRESETS["playground"].spec((2,), 2), seed=0)
    net.model.train()
    g = plane_grid(np.array([[-1, -1], [1, 1]]), resolution=4)
    with pytest.raises(RuntimeError):
        neuron_maps(net.model, net.layer_modules, g, ["x1", "x2", "x1^2"])   # 3 inputs into 2
    assert hook_count(net.model) == 0
    assert net.model.training


# -- predictions -----------------------------------------------------------------------

def test_predict_proba_is_the_softmax_in_batches():
    model = linear([[1, 0], [0, 1], [1, 1]], [0, 0, -1])
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    p = predict_proba(model, x, batch=7)
    assert p.shape == (20, 3)
    assert np.allclose(p, torch.softmax(model(x), 1).detach().numpy(), atol=1e-6)
    assert np.allclose(p.sum(1), 1, atol=1e-6)
    assert predict_proba(model, x[:0]).shape == (0, 3)


def test_confusion_matrix_counts_rows_true_columns_predicted():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], 3)


def test_denormalise_inverts_the_normalisation():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(5, 3, 4, 6), dtype=np.uint8)     # (N, C, H, W)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    m = torch.tensor(mean).reshape(1, 3, 1, 1)
    s = torch.tensor(std).reshape(1, 3, 1, 1)
    x = (torch.from_numpy(pixels).float() / 255 - m) / s
    out = denormalise(x, mean, std)
    assert out.dtype == np.uint8 and out.shape == (5, 4, 6, 3)
    assert np.array_equal(out, pixels.transpose(0, 2, 3, 1))
    # out-of-range values clip instead of wrapping around
    clipped = denormalise(torch.full((1, 1, 2, 2), 100.0), (0.5,), (0.2,))
    assert (clipped == 255).all()


# -- weights -------------------------------------------------------------------------

def test_weights_of_the_first_conv_and_of_every_dense_layer():
    lenet = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)
    f = first_conv_filters(lenet.model)
    assert f.shape == (6, 1, 5, 5)
    assert np.array_equal(f, lenet.model.conv1.weight.detach().numpy())
    assert [w.shape for w in dense_weights(lenet.model, lenet.layer_modules)] == \
        [(120, 400), (84, 120), (10, 84)]
    mlp = build(PRESETS["playground"].spec((2,), 2), seed=0)
    assert first_conv_filters(mlp.model) is None
    ws = dense_weights(mlp.model, mlp.layer_modules)
    assert [w.shape for w in ws] == [(4, 2), (2, 4), (2, 2)]
    assert np.array_equal(ws[-1], mlp.model.output.weight.detach().numpy())
