"""Contract: every attribution method on every preset model (and a few odd layer kinds).

Shapes, finiteness, no hook left behind (also after an error inside Captum),
the model's mode / requires_grad / grads as they were, clear UserErrors.
"""

import numpy as np
import pytest
import torch

from dlviz.build import build
from dlviz.errors import UserError
from dlviz.explain import (METHODS, attribute, available_methods, default_layer, default_methods,
                           layer_choices)
from dlviz.explain.params import resolve
from dlviz.presets import preset_spec
from dlviz.probe import hook_count
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec
from explain_models import seeded_input

ALL = ["saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "gradient_shap",
       "deeplift", "occlusion", "guided_backprop", "gradcam", "guided_gradcam", "layer_conductance"]
CONV_ONLY = {"gradcam", "guided_gradcam"}


def _odd_cnn():
    # residual blocks, batch norm, global average pooling, leaky ReLU and GELU (not in
    # DeepLift's rule table: it falls back to gradients), average pooling, dropout
    return NetSpec((3, 16, 16), 4, [
        L("conv2d", channels=8, kernel=3, padding=1, activation="leaky_relu"),
        L("batchnorm"),
        L("residual", channels=8, stride=1, activation="relu"),
        L("avgpool", kernel=2),
        L("residual", channels=12, stride=2, activation="gelu"),
        L("dropout", p=0.3),
        L("globalavgpool"),
        L("dense", units=6, activation="tanh"),
    ])


MODELS = {
    "playground-circle": preset_spec("playground", (2,), 2),
    "deep-sigmoid-circle": preset_spec("deep-sigmoid", (2,), 2),
    "playground-regression": preset_spec("playground", (2,), 1, "regression"),
    "playground-on-digits": preset_spec("playground", (1, 28, 28), 10),     # an MLP on pixels
    "lenet-digits": preset_spec("lenet", (1, 28, 28), 10),
    "vgg-shapes": preset_spec("vgg-shapes", (3, 32, 32), 8),
    "odd-cnn": _odd_cnn(),
}


def _flags(model):
    return ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()],
            [p.grad for p in model.parameters()])


def test_registry_is_complete_and_described():
    assert list(METHODS) == ALL
    for key, m in METHODS.items():
        assert m.key == key and m.label
        # one plain sentence: ends with a full stop, no second sentence inside
        assert m.explanation.endswith(".") and ". " not in m.explanation[:-1], key
        assert resolve(key, m.label, m.params, None) == {p.name: p.default for p in m.params}
        for p in m.params:
            if p.kind == "choice":
                assert p.default in p.choices
            else:
                assert p.min <= p.default <= p.max, (key, p.name)
    assert {k for k, m in METHODS.items() if m.needs_layer} == {"gradcam", "guided_gradcam",
                                                                 "layer_conductance"}
    assert {k for k, m in METHODS.items() if m.conv_only} == CONV_ONLY


@pytest.mark.parametrize("model_key", list(MODELS))
def test_every_method_on_every_model(model_key):
    spec = MODELS[model_key]
    net = build(spec, seed=0)
    net.model.train()                      # the caller's mode must survive; eval inside
    before = _flags(net.model)
    image = len(spec.input_shape) == 3
    has_conv = model_key in ("lenet-digits", "vgg-shapes", "odd-cnn")
    avail = available_methods(net)
    assert avail == [k for k in ALL if has_conv or k not in CONV_ONLY]
    assert set(default_methods(net)) <= set(avail) and "saliency" in default_methods(net)
    x = seeded_input(spec.input_shape)
    for key in avail:
        a = attribute(net, x, 1 if spec.outputs > 1 else None, key)
        assert a.method == key
        assert a.target == (1 if spec.outputs > 1 else 0)
        if a.in_input_space:
            assert a.values.shape == tuple(spec.input_shape), key
            assert a.map2d.shape == (tuple(spec.input_shape[1:]) if image else tuple(spec.input_shape))
        else:                                # conductance of a dense layer: one value per unit
            assert key == "layer_conductance" and a.values.ndim == 1 and a.map2d.shape == a.values.shape
        assert a.values.dtype == np.float32 and a.map2d.dtype == np.float32
        assert np.isfinite(a.values).all() and np.isfinite(a.map2d).all(), key
        assert a.seconds >= 0
        assert (a.layer is not None) == METHODS[key].needs_layer
        if key in ("integrated_gradients", "deeplift", "layer_conductance", "gradient_shap"):
            assert a.delta is not None and np.isfinite(a.delta)
        assert hook_count(net.model) == 0, key
        assert _flags(net.model) == before, key
    for key in set(ALL) - set(avail):
        with pytest.raises(UserError, match="needs a convolution layer"):
            attribute(net, x, 0, key)
    assert hook_count(net.model) == 0


@pytest.mark.parametrize("key", ALL)
def test_hooks_and_flags_survive_an_error_inside_captum(key):
    net = build(MODELS["lenet-digits"], seed=0)
    net.model.train()
    before = _flags(net.model)
    calls = {"n": 0}

    def broken(self_input):
        calls["n"] += 1
        raise RuntimeError("boom")

    # the head fails on every forward pass, after Captum has set its hooks
    net.model.output.forward = broken
    try:
        with pytest.raises(RuntimeError, match="boom"):
            attribute(net, seeded_input((1, 28, 28)), 3, key)
    finally:
        del net.model.output.forward
    assert calls["n"] >= 1
    assert hook_count(net.model) == 0
    assert _flags(net.model) == before
    # no attribute Captum hung on a module (DeepLift's input / output / input_ref) is left
    for m in net.model.modules():
        assert not {"input", "output", "input_ref"} & set(vars(m)), key
    # and the model still works normally
    assert attribute(net, seeded_input((1, 28, 28)), 3, key).map2d.shape == (28, 28)


def test_runs_in_eval_mode_deterministically_and_keeps_global_rng():
    net = build(MODELS["vgg-shapes"], seed=0)          # has dropout: train mode would be random
    net.model.train()
    x = seeded_input((3, 32, 32))
    state, np_state = torch.random.get_rng_state(), np.random.get_state()
    for key in ("saliency", "smoothgrad", "gradient_shap"):
        a, b = attribute(net, x, 2, key), attribute(net, x, 2, key)
        assert np.array_equal(a.values, b.values), key
    assert torch.equal(torch.random.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert net.model.training


def test_predicted_class_is_the_default_target():
    net = build(MODELS["lenet-digits"], seed=0)
    x = seeded_input((1, 28, 28))
    with torch.no_grad():
        pred = int(net.model.eval()(x[None]).argmax())
    assert attribute(net, x, None, "saliency").target == pred


def test_regression_ignores_the_target():
    net = build(MODELS["playground-regression"], seed=0)
    x = seeded_input((2,))
    a, b = attribute(net, x, 5, "integrated_gradients"), attribute(net, x, None, "integrated_gradients")
    assert a.target == b.target == 0
    assert np.array_equal(a.values, b.values)


def test_layer_choices_and_defaults():
    lenet = build(MODELS["lenet-digits"], seed=0)
    cams = layer_choices(lenet, "gradcam")
    assert cams == ["conv1", "conv1_relu", "maxpool1", "conv2", "conv2_relu", "maxpool2"]
    assert default_layer(lenet, "gradcam") == "conv2_relu"
    cond = layer_choices(lenet, "layer_conductance")
    assert cams[0] in cond and "dense1_relu" in cond and "flatten" not in cond and "output" not in cond
    assert layer_choices(lenet, "saliency") == [] and default_layer(lenet, "saliency") is None
    mlp = build(MODELS["playground-circle"], seed=0)
    assert layer_choices(mlp, "gradcam") == []
    assert default_layer(mlp, "layer_conductance") == "dense2_tanh"
    odd = build(MODELS["odd-cnn"], seed=0)
    assert default_layer(odd, "gradcam") == "res2"
    assert "dropout1" not in layer_choices(odd, "layer_conductance")
    x = seeded_input((1, 28, 28))
    for layer in cams:                          # every offered layer works
        for key in ("gradcam", "guided_gradcam", "layer_conductance"):
            a = attribute(lenet, x, 0, key, layer=layer)
            assert a.layer == layer and a.map2d.shape == (28, 28) and np.isfinite(a.map2d).all()
    dense = attribute(lenet, x, 0, "layer_conductance", layer="dense2_relu")
    assert not dense.in_input_space and dense.values.shape == (84,)
    assert hook_count(lenet.model) == 0


@pytest.mark.parametrize("call, message", [
    (dict(method="shap-magic"), "unknown attribution method 'shap-magic'"),
    (dict(method="integrated_gradients", params={"steps": 10}), "has no setting 'steps'"),
    (dict(method="integrated_gradients", params={"n_steps": 1}), "between 2 and 300"),
    (dict(method="integrated_gradients", params={"n_steps": 2.5}), "whole number"),
    (dict(method="integrated_gradients", params={"n_steps": "ten"}), "must be a number"),
    (dict(method="integrated_gradients", params={"baseline": "white"}), "must be one of zero, blur, min"),
    (dict(method="smoothgrad", params={"stdevs": float("nan")}), "finite"),
    (dict(method="occlusion", params={"window": 0}), "between 1 and 64"),
    (dict(method="gradcam", layer="dense1"), "cannot use layer 'dense1'"),
    (dict(method="gradcam", layer="nope"), "cannot use layer 'nope'"),
    (dict(method="saliency", layer="conv1"), "does not take a layer"),
    (dict(method="saliency", target=10), "from 0 to 9"),
    (dict(method="saliency", target=-1), "from 0 to 9"),
    (dict(method="saliency", target=True), "from 0 to 9"),
    (dict(method="saliency", x=torch.zeros(3, 28, 28)), "the model needs \\[1, 28, 28\\]"),
    (dict(method="saliency", x=torch.full((1, 28, 28), float("nan"))), "NaN"),
])
def test_bad_calls_are_user_errors_and_leave_no_hooks(call, message):
    net = build(MODELS["lenet-digits"], seed=0)
    args = dict(x=seeded_input((1, 28, 28)), target=3, params=None, layer=None) | call
    with pytest.raises(UserError, match=message):
        attribute(net, args["x"], args["target"], args["method"], args["params"], args["layer"])
    assert hook_count(net.model) == 0


def test_blur_baseline_needs_an_image():
    net = build(MODELS["playground-circle"], seed=0)
    with pytest.raises(UserError, match="blur baseline needs an image"):
        attribute(net, seeded_input((2,)), 0, "integrated_gradients", {"baseline": "blur"})
    assert hook_count(net.model) == 0


@pytest.mark.parametrize("baseline", ["zero", "blur", "min"])
def test_every_baseline(baseline):
    net = build(MODELS["vgg-shapes"], seed=0)
    for key in ("integrated_gradients", "deeplift", "layer_conductance"):
        a = attribute(net, seeded_input((3, 32, 32)), 1, key, {"baseline": baseline})
        assert np.isfinite(a.map2d).all() and np.abs(a.map2d).sum() > 0


def test_occlusion_window_larger_than_the_input_is_clipped():
    net = build(MODELS["playground-circle"], seed=0)
    a = attribute(net, seeded_input((2,)), 0, "occlusion", {"window": 8, "stride": 4})
    assert a.values.shape == (2,) and np.isfinite(a.values).all()
