"""Builder: names, Captum-safe activations, parameter counts equal to the analysis."""

import pytest
import torch
from torch import nn

from dlviz.build import build, count_params
from dlviz.presets import PRESETS
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.backend import estimate


def all_kinds_spec():
    return NetSpec((3, 16, 16), 4, [
        LayerSpec("conv2d", channels=8, kernel=3, padding=1, activation="relu"),
        LayerSpec("batchnorm"),
        LayerSpec("residual", channels=8, activation="gelu"),
        LayerSpec("residual", channels=12, stride=2, activation="leaky_relu"),
        LayerSpec("maxpool", kernel=2),
        LayerSpec("avgpool", kernel=2, stride=1),
        LayerSpec("dropout", p=0.1),
        LayerSpec("flatten"),
        LayerSpec("dense", units=16, activation="tanh"),
        LayerSpec("residual", activation="sigmoid"),
        LayerSpec("batchnorm"),
        LayerSpec("dense", units=8, activation="linear"),
        LayerSpec("activation", activation="gelu"),
    ])


def preset_specs():
    for key, p in PRESETS.items():
        shape = (1, 28, 28) if key == "lenet" else (3, 32, 32) if p.needs_image else (2,)
        yield p.spec(shape, 10 if p.needs_image else 2)


@pytest.mark.parametrize("spec", [all_kinds_spec(), *preset_specs()], ids=lambda s: s.name or "all-kinds")
def test_built_model_matches_analysis(spec):
    net = build(spec, seed=0)
    assert count_params(net.model) == net.report.total_params
    x = torch.randn(3, *spec.input_shape)
    assert net.model(x).shape == (3, spec.outputs)
    # shapes of every module group agree with the analytic inference
    out = x
    for group, rep in zip(net.layer_modules, net.report.layers):
        for name in group:
            out = net.model.get_submodule(name)(out)
        assert tuple(out.shape[1:]) == rep.output_shape, rep.name


def test_meta_estimate_allocates_nothing_and_agrees():
    spec = all_kinds_spec()
    report = estimate(spec, batch_size=32)
    assert report.total_params == count_params(build(spec, "meta").model)
    assert all(p.is_meta for p in build(spec, "meta").model.parameters())


def test_names_are_stable_and_human():
    spec = PRESETS["lenet"].spec((1, 28, 28), 10)
    names = build(spec, "meta").module_names
    assert names == ["conv1", "conv1_relu", "maxpool1", "conv2", "conv2_relu", "maxpool2",
                     "flatten", "dense1", "dense1_relu", "dense2", "dense2_relu", "output"]


def test_every_activation_is_its_own_module_instance():
    net = build(all_kinds_spec(), "meta")
    acts = [m for m in net.model.modules()
            if isinstance(m, (nn.ReLU, nn.GELU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid))]
    assert len(acts) == len({id(m) for m in acts})
    assert len(acts) >= 8
    assert not any(getattr(m, "inplace", False) for m in acts)


def test_seed_makes_weights_reproducible_without_touching_global_rng():
    spec = PRESETS["playground"].spec((2,), 2)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build(spec, seed=5).model.state_dict()
    after = torch.rand(1)
    b = build(spec, seed=5).model.state_dict()
    c = build(spec, seed=6).model.state_dict()
    assert torch.equal(before, after)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_mlp_preset_adapts_to_images_and_cnn_refuses_vectors():
    from dlviz.errors import UserError
    spec = PRESETS["playground"].spec((1, 28, 28), 10)
    assert spec.layers[0].kind == "flatten"
    assert build(spec).model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    lenet_rgb = PRESETS["lenet"].spec((3, 32, 32), 6)
    assert build(lenet_rgb).model(torch.randn(2, 3, 32, 32)).shape == (2, 6)
    with pytest.raises(UserError, match="needs image data"):
        PRESETS["lenet"].spec((2,), 2)
