"""The convolution explainer's arithmetic gives the layer's real output."""

import numpy as np
import pytest
import torch

from dlviz.build import build
from dlviz.inside import conv_arithmetic_text, explain_conv
from dlviz.plots.conv_explainer import conv_explainer_image
from dlviz.presets import PRESETS
from dlviz.probe import capture, hook_count
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec


def _positions(h, w):
    # corners and edges (windows reaching into the padding) plus interior points
    return [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, 0), (0, w // 2),
            (h // 2, w // 2), (1, w - 2)]


def _strided_residual_net():
    spec = NetSpec((2, 13, 11), 3, [
        L("conv2d", channels=4, kernel=3, stride=2, padding=1, activation="tanh"),
        L("residual", channels=5, stride=2, activation="relu"),
        L("conv2d", channels=3, kernel=2, stride=1, padding=0, activation="relu"),
        L("flatten")])
    return build(spec, seed=3)


CASES = [
    ("lenet", lambda: build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0), (1, 28, 28),
     ["conv1", "conv2"]),
    ("vgg", lambda: build(PRESETS["vgg-shapes"].spec((3, 32, 32), 8), seed=0), (3, 32, 32),
     ["conv1", "conv4", "conv6"]),
    ("strided+residual", _strided_residual_net, (2, 13, 11),
     ["conv1", "res1.conv1", "res1.conv2", "res1.skip", "conv2"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_arithmetic_equals_the_layer_output(case):
    _, make, shape, convs = case
    net = make()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), capture(net.model, convs) as probe:     # the layers' own outputs
        net.model.eval()(x[None])
    for name in convs:
        out = probe.outputs[name][0]                               # (Cout, Ho, Wo)
        cout, ho, wo = out.shape
        for k, (r, c) in enumerate(_positions(ho, wo)):
            ch = (3 * k + 1) % cout
            a = explain_conv(net, name, x, ch, r, c)
            assert a.total == pytest.approx(a.layer_output, abs=1e-4), (name, ch, r, c)
            assert a.layer_output == pytest.approx(float(out[ch, r, c]), abs=1e-6)
            assert a.total == pytest.approx(a.products.sum() + a.bias)
            np.testing.assert_allclose(a.products, a.patch * a.kernel)
            conv = dict(net.model.named_modules())[name]
            np.testing.assert_allclose(a.kernel, conv.weight[ch].detach().double().numpy())
    assert hook_count(net.model) == 0


def test_patch_is_the_input_window_with_zero_padding():
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)
    x = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(5)) + 3   # no zeros inside
    a = explain_conv(net, "conv1", x, 0, 0, 0)                    # 5x5, padding 2: corner window
    assert (a.top, a.left) == (-2, -2) and a.input_name == "input"
    assert np.all(a.patch[0, :2, :] == 0) and np.all(a.patch[0, :, :2] == 0)
    np.testing.assert_allclose(a.patch[0, 2:, 2:], x[0, :3, :3].double().numpy())
    b = explain_conv(net, "conv1", x, 0, 10, 12)                  # interior
    np.testing.assert_allclose(b.patch[0], x[0, 8:13, 10:15].double().numpy())
    c = explain_conv(net, "conv2", x, 4, 9, 9)                    # deeper: reads maxpool1
    assert c.input_name == "maxpool1" and c.patch.shape == (6, 5, 5)
    with torch.no_grad(), capture(net.model, ["maxpool1"]) as probe:
        net.model.eval()(x[None])
    np.testing.assert_allclose(c.patch, probe.outputs["maxpool1"][0, :, 9:14, 9:14].double().numpy())


def test_text_shows_the_sums_and_the_output():
    net = build(PRESETS["vgg-shapes"].spec((3, 32, 32), 8), seed=0)
    x = torch.randn(3, 32, 32)
    a = explain_conv(net, "conv2", x, 3, 0, 31)
    text = conv_arithmetic_text(a)
    assert "conv2, map 3 at (row 0, col 31)" in text and "zero padding" in text
    assert f"the layer's output there: {a.layer_output:.3f}" in text
    assert "sum over 16 channels" in text and "the other" in text      # 16 > 12 channels listed
    one = explain_conv(build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0), "conv1",
                       torch.randn(1, 28, 28), 2, 7, 7)
    t1 = conv_arithmetic_text(one)
    assert t1.count("\n  input row ") == 5 and f"{one.total:.3f}" in t1
    img = conv_explainer_image(a)
    assert img.mode == "RGB" and img.width > 3 * 3 * 30
    conv_explainer_image(one, in_channel=0)


def test_bad_requests_name_what_is_available():
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)
    with pytest.raises(ValueError, match="convolutions: conv1, conv2"):
        explain_conv(net, "dense1", torch.zeros(1, 28, 28), 0, 0, 0)
    with pytest.raises(ValueError, match="outside"):
        explain_conv(net, "conv2", torch.zeros(1, 28, 28), 0, 10, 0)
    assert hook_count(net.model) == 0


def test_no_hook_left_when_the_forward_raises():
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)

    def boom(x):
        raise RuntimeError("boom")

    net.model.maxpool2.forward = boom           # after conv2, so conv2's hook has fired
    with pytest.raises(RuntimeError, match="boom"):
        explain_conv(net, "conv2", torch.zeros(1, 28, 28), 0, 0, 0)
    assert hook_count(net.model) == 0
