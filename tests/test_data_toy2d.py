import math

import numpy as np
import pytest
import torch

from dlviz.data import toy2d
from dlviz.data.features import FEATURES, featurize
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

CLASSIFY = ["circle", "xor", "gaussian", "spiral", "moons"]
REGRESS = ["plane", "multi-gaussian"]
ALL_FEATURES = tuple(FEATURES)


# ------------------------------------------------------------------ features

def test_feature_names_in_playground_order():
    assert list(FEATURES) == ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]


def test_featurize_by_hand():
    pts = torch.tensor([[1.0, 2.0], [-3.0, 0.5], [math.pi / 2, 0.0]])
    got = featurize(pts, ALL_FEATURES)
    want = torch.tensor([
        [1.0, 2.0, 1.0, 4.0, 2.0, math.sin(1.0), math.sin(2.0)],
        [-3.0, 0.5, 9.0, 0.25, -1.5, math.sin(-3.0), math.sin(0.5)],
        [math.pi / 2, 0.0, math.pi ** 2 / 4, 0.0, 0.0, 1.0, 0.0],
    ])
    assert got.dtype == torch.float32 and got.shape == (3, 7)
    torch.testing.assert_close(got, want)


def test_featurize_picks_columns_in_the_order_asked():
    pts = torch.tensor([[2.0, -1.0]])
    torch.testing.assert_close(featurize(pts, ("x1*x2", "x1")), torch.tensor([[-2.0, 2.0]]))


def test_featurize_works_on_a_numpy_grid():
    xx, yy = np.meshgrid(np.linspace(-6, 6, 5), np.linspace(-6, 6, 4))
    grid = np.stack([xx.ravel(), yy.ravel()], 1)             # float64 (20, 2)
    out = featurize(grid, ("x1", "x2^2"))
    assert out.shape == (20, 2) and out.dtype == torch.float32
    torch.testing.assert_close(out[:, 1], torch.tensor(yy.ravel() ** 2, dtype=torch.float32))


@pytest.mark.parametrize("names, pts", [(("x3",), torch.zeros(4, 2)), ((), torch.zeros(4, 2))])
def test_featurize_rejects_bad_names(names, pts):
    with pytest.raises(UserError):
        featurize(pts, names)


def test_featurize_rejects_bad_shape():
    with pytest.raises(ValueError):
        featurize(torch.zeros(4, 3), ("x1",))


# ------------------------------------------------------------------ datasets

@pytest.mark.parametrize("key", CLASSIFY + REGRESS)
def test_shapes_dtypes_and_ranges(key):
    d = toy2d.build(key, DatasetParams(features=ALL_FEATURES))
    n = toy2d.DEFAULT_SAMPLES
    assert d.key == key and len(d.x_train) + len(d.x_test) == n
    assert d.input_shape == (7,) and d.features == ALL_FEATURES
    for x, p, y in [(d.x_train, d.points_train, d.y_train), (d.x_test, d.points_test, d.y_test)]:
        assert x.dtype == torch.float32 and x.shape == (len(p), 7)
        assert p.dtype == torch.float32 and p.shape == (len(x), 2)
        assert p.abs().max() <= 7.0                            # Playground's plane: about [-6, 6]
        torch.testing.assert_close(x, featurize(p, ALL_FEATURES))
        if key in CLASSIFY:
            assert y.dtype == torch.int64 and y.shape == (len(x),)
            assert set(y.unique().tolist()) <= {0, 1}
        else:
            assert y.dtype == torch.float32 and y.shape == (len(x), 1)
    if key in CLASSIFY:
        assert d.task == "classification" and d.num_classes == 2
    else:
        assert d.task == "regression" and d.classes == () and d.output_size == 1


@pytest.mark.parametrize("key", CLASSIFY + REGRESS)
def test_deterministic_under_seed(key):
    a = toy2d.build(key, DatasetParams(seed=3, noise=0.3))
    b = toy2d.build(key, DatasetParams(seed=3, noise=0.3))
    c = toy2d.build(key, DatasetParams(seed=4, noise=0.3))
    for name in ("x_train", "y_train", "x_test", "y_test", "points_train"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.points_train, c.points_train)


def test_does_not_touch_global_rng():
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    toy2d.build("spiral", DatasetParams())
    assert torch.equal(torch.rand(3), before)


@pytest.mark.parametrize("n, frac, n_test", [(500, 0.2, 100), (101, 0.5, 50), (40, 0.1, 4)])
def test_test_fraction_and_n_samples(n, frac, n_test):
    d = toy2d.build("circle", DatasetParams(n_samples=n, test_fraction=frac))
    assert len(d.x_test) == n_test and len(d.x_train) == n - n_test


def test_split_is_shuffled():
    # the generators emit class 0 then class 1: an unshuffled split would be one class
    d = toy2d.build("gaussian", DatasetParams())
    assert 0.3 < d.y_test.float().mean() < 0.7


@pytest.mark.parametrize("key", ["circle", "gaussian", "spiral", "moons"])
def test_classes_balanced(key):
    d = toy2d.build(key, DatasetParams(n_samples=301))
    y = torch.cat([d.y_train, d.y_test])
    assert abs(int((y == 1).sum()) - int((y == 0).sum())) <= 1


def test_xor_roughly_balanced():
    d = toy2d.build("xor", DatasetParams(n_samples=2000))
    assert 0.45 < torch.cat([d.y_train, d.y_test]).float().mean() < 0.55


def test_circle_separable_by_radius_without_noise():
    d = toy2d.build("circle", DatasetParams(noise=0.0))
    r = torch.cat([d.points_train, d.points_test]).norm(dim=1)
    y = torch.cat([d.y_train, d.y_test])
    assert torch.equal(y, (r < 2.5).long())
    assert r[y == 1].max() <= 2.5 and r[y == 0].min() >= 3.5


def test_xor_separable_by_sign_without_noise():
    d = toy2d.build("xor", DatasetParams(noise=0.0))
    p = torch.cat([d.points_train, d.points_test])
    y = torch.cat([d.y_train, d.y_test])
    assert torch.equal(y, (p[:, 0] * p[:, 1] >= 0).long())
    assert p.abs().min() >= 0.3                               # Playground's padding off the axes


def test_gaussian_blobs_centred_on_diagonal():
    d = toy2d.build("gaussian", DatasetParams(n_samples=2000))
    p, y = d.points_train, d.y_train
    torch.testing.assert_close(p[y == 1].mean(0), torch.tensor([2.0, 2.0]), atol=0.15, rtol=0)
    torch.testing.assert_close(p[y == 0].mean(0), torch.tensor([-2.0, -2.0]), atol=0.15, rtol=0)


def test_label_noise_flips_some_circle_labels():
    p = DatasetParams(n_samples=2000, noise=1.0)
    d = toy2d.build("circle", p)
    r = d.points_train.norm(dim=1)
    wrong = (d.y_train != (r < 2.5).long()).float().mean()
    assert 0.01 < wrong < 0.5


def test_noise_spreads_spiral_and_moons():
    for key in ("spiral", "moons"):
        clean = toy2d.build(key, DatasetParams(noise=0.0))
        noisy = toy2d.build(key, DatasetParams(noise=1.0))
        assert not torch.allclose(clean.points_train, noisy.points_train), key


def test_spiral_without_noise_lies_on_its_curve():
    d = toy2d.build("spiral", DatasetParams(noise=0.0, n_samples=200))
    p = torch.cat([d.points_train, d.points_test])
    # r = 5 i / n and t = 1.75 * 2 pi i / n + delta  =>  t - delta = 0.7 pi r
    r = p.norm(dim=1)
    t = torch.atan2(p[:, 0], p[:, 1])                          # Playground: x = r sin t
    y = torch.cat([d.y_train, d.y_test])
    delta = torch.where(y == 1, 0.0, math.pi)
    off = torch.remainder(t - delta - 0.7 * math.pi * r + math.pi, 2 * math.pi) - math.pi
    assert off[r > 0.1].abs().max() < 1e-3


@pytest.mark.parametrize("key", REGRESS)
@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_regression_targets_finite_and_in_range(key, noise):
    d = toy2d.build(key, DatasetParams(noise=noise, n_samples=1000))
    y = torch.cat([d.y_train, d.y_test])
    assert torch.isfinite(y).all() and y.abs().max() <= 1.0
    assert y.std() > 0.1                                       # not constant


def test_plane_without_noise_is_the_plane():
    d = toy2d.build("plane", DatasetParams(noise=0.0))
    torch.testing.assert_close(d.y_train[:, 0], d.points_train.sum(1) / 12)


def test_multi_gaussian_follows_its_bumps():
    d = toy2d.build("multi-gaussian", DatasetParams(noise=0.0, n_samples=3000))
    p, y = d.points_train, d.y_train[:, 0]
    centres = torch.tensor([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    dist = torch.cdist(p, centres)                              # (N, 6)
    near, which = dist.min(1)
    # within 0.5 of a bump centre: that bump's sign, at least 0.75 in size
    close = near < 0.5
    assert close.sum() > 10
    assert torch.all(y[close] * signs[which[close]] >= 0.75)
    # farther than 2 from every centre: zero
    assert torch.all(y[near > 2.0] == 0)


def test_unknown_key():
    with pytest.raises(KeyError):
        toy2d.build("donut", DatasetParams())


def test_registry_builds_every_toy_key():
    from dlviz.data.registry import DATASETS
    for key in CLASSIFY + REGRESS:
        d = DATASETS[key].build(DatasetParams())
        assert d.input_shape == DATASETS[key].input_shape
        assert d.num_classes == DATASETS[key].num_classes
