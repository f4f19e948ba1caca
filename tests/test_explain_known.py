"""Known answers on models small enough to work out by hand."""

import numpy as np
import pytest
import torch

from dlviz.build import build
from dlviz.explain import attribute, deletion_curve, make_baseline, mask_share, spearman
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec

W = torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])     # (2 classes, 3 features)
B = torch.tensor([0.1, -0.2])
X = torch.tensor([2.0, -1.0, 0.5])


@pytest.fixture
def linear():
    # no hidden layer: output = W x + b
    net = build(NetSpec((3,), 2, []))
    with torch.no_grad():
        net.model.output.weight.copy_(W)
        net.model.output.bias.copy_(B)
    return net


@pytest.mark.parametrize("target", [0, 1])
def test_linear_model_gradients_are_the_weights(linear, target):
    w, x = W[target].numpy(), X.numpy()
    close = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(attribute(linear, X, target, "saliency").values, np.abs(w), **close)
    np.testing.assert_allclose(attribute(linear, X, target, "input_x_gradient").values, x * w, **close)
    np.testing.assert_allclose(attribute(linear, X, target, "guided_backprop").values, w, **close)
    # noise does not change a constant gradient
    np.testing.assert_allclose(attribute(linear, X, target, "smoothgrad").values, np.abs(w), **close)
    # with a zero baseline, IG and DeepLIFT of a linear model are exactly x * w
    ig = attribute(linear, X, target, "integrated_gradients", {"baseline": "zero", "n_steps": 5})
    np.testing.assert_allclose(ig.values, x * w, **close)
    assert abs(ig.delta) < 1e-5
    np.testing.assert_allclose(attribute(linear, X, target, "deeplift").values, x * w, **close)
    # occluding one feature (set to 0) removes exactly its term w_i x_i
    occ = attribute(linear, X, target, "occlusion", {"window": 1, "stride": 1})
    np.testing.assert_allclose(occ.values, x * w, **close)
    # the baseline "min" is every feature at x's minimum: IG = (x - min) * w
    ig_min = attribute(linear, X, target, "integrated_gradients", {"baseline": "min"})
    np.testing.assert_allclose(ig_min.values, (x - x.min()) * w, **close)


def test_gradient_shap_without_noise_on_a_linear_model(linear):
    # baselines zero and min; each sample's attribution is (x - b) * w: the mean lies between
    a = attribute(linear, X, 0, "gradient_shap", {"stdevs": 0.0, "n_samples": 50})
    w, x = W[0].numpy(), X.numpy()
    lo, hi = np.minimum(x * w, (x - x.min()) * w), np.maximum(x * w, (x - x.min()) * w)
    assert ((a.values >= lo - 1e-5) & (a.values <= hi + 1e-5)).all()
    assert a.delta < 1e-4                     # completeness holds exactly per sample


def _tanh_mlp():
    net = build(NetSpec((4,), 3, [L("dense", units=6, activation="tanh"),
                                  L("dense", units=5, activation="tanh")]), seed=3)
    return net


@pytest.mark.parametrize("baseline", ["zero", "min"])
def test_integrated_gradients_sum_to_the_output_difference(baseline):
    net = _tanh_mlp()
    x = torch.tensor([0.8, -1.2, 0.3, 2.0])
    a = attribute(net, x, 2, "integrated_gradients", {"n_steps": 100, "baseline": baseline})
    with torch.no_grad():
        b = make_baseline(x[None], baseline)
        diff = float(net.model(x[None])[0, 2] - net.model(b)[0, 2])
    total = float(a.values.sum())
    # Captum's delta is exactly the gap: sum(attributions) - (f(x) - f(b))
    assert abs(total - diff - a.delta) < 1e-5
    # and on a smooth model with 100 steps the gap is tiny next to the difference
    assert abs(a.delta) <= 1e-3 * abs(diff) + 1e-6
    assert abs(diff) > 1e-3                    # the check is not vacuous


def test_integrated_gradients_completeness_on_a_relu_cnn():
    net = build(NetSpec((1, 12, 12), 3, [L("conv2d", channels=4, kernel=3, padding=1, activation="relu"),
                                         L("maxpool", kernel=2), L("flatten"),
                                         L("dense", units=8, activation="relu")]), seed=1)
    x = torch.randn(1, 12, 12, generator=torch.Generator().manual_seed(5))
    a = attribute(net, x, 1, "integrated_gradients", {"n_steps": 300})
    with torch.no_grad():
        diff = float(net.model(x[None])[0, 1] - net.model(torch.zeros(1, 1, 12, 12))[0, 1])
    assert abs(float(a.values.sum()) - diff - a.delta) < 1e-4
    assert abs(a.delta) < 0.05 * abs(diff) + 1e-4


def test_gradcam_of_a_one_by_one_conv_is_the_scaled_activation():
    # conv 1x1 (weight 1, bias 0) -> ReLU -> global average -> output = [2, -1] * mean
    net = build(NetSpec((1, 6, 6), 2, [L("conv2d", channels=1, kernel=1, padding=0, activation="relu"),
                                       L("globalavgpool")]))
    with torch.no_grad():
        net.model.conv1.weight.fill_(1.0)
        net.model.conv1.bias.zero_()
        net.model.output.weight.copy_(torch.tensor([[2.0], [-1.0]]))
        net.model.output.bias.zero_()
    x = torch.randn(1, 6, 6, generator=torch.Generator().manual_seed(0))
    relu = x[0].clamp(min=0).numpy()
    # Grad-CAM: weight = mean over positions of d score / d A = w_t / 36; map = weight * A
    for target, w in ((0, 2.0), (1, -1.0)):
        a = attribute(net, x, target, "gradcam", layer="conv1_relu")
        np.testing.assert_allclose(a.map2d, w / 36 * relu, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(a.values[0], a.map2d, rtol=1e-6)   # broadcast over channels


def test_deletion_curve_of_a_linear_regression():
    # output = 4 a + 3 b + 2 c + 1 d at x = 1: deleting (zeroing) in map order
    net = build(NetSpec((4,), 1, [], task="regression"))
    with torch.no_grad():
        net.model.output.weight.copy_(torch.tensor([[4.0, 3.0, 2.0, 1.0]]))
        net.model.output.bias.zero_()
    x = torch.ones(4)
    best = deletion_curve(net, x, 0, np.array([4.0, 3.0, 2.0, 1.0]), steps=4)
    np.testing.assert_allclose(best.fractions, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(best.probs, [10, 6, 3, 1, 0], atol=1e-5)
    assert best.auc == pytest.approx(0.25 * (10 / 2 + 6 + 3 + 1 + 0 / 2))
    worst = deletion_curve(net, x, 0, np.array([1.0, 2.0, 3.0, 4.0]), steps=4)
    np.testing.assert_allclose(worst.probs, [10, 9, 7, 4, 0], atol=1e-5)
    assert best.auc < worst.auc


def test_mask_share_arithmetic():
    m = np.array([[1.0, -2.0], [3.0, 4.0]])
    k = np.array([[True, True], [False, False]])
    s = mask_share(m, k)                       # |.| mass: 3 of 10 inside, on half the area
    assert (s.share, s.area) == pytest.approx((0.3, 0.5)) and s.ratio == pytest.approx(0.6)
    p = mask_share(m, k, mode="positive")      # positive mass: 1 of 8 inside
    assert (p.share, p.area, p.ratio) == pytest.approx((0.125, 0.5, 0.25))
    assert mask_share(np.zeros((2, 2)), k).share == 0.0


def test_spearman():
    a = np.arange(10.0)
    assert spearman(a, a * 3 + 1) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.ones(10)) == 0.0                 # a constant map ranks nothing
    # ties share their mean rank: [0, 1, 1, 2] vs [0, 1, 2, 3] -> rho = 0.9487
    assert spearman(np.array([0, 1, 1, 2.0]), np.arange(4.0)) == pytest.approx(0.9486833)
