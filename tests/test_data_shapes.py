import math

import numpy as np
import pytest
import torch

from dlviz.data import shapes
from dlviz.data.params import DatasetParams

K = len(shapes.CLASSES)


def _denormalise(d, x):
    mean = torch.tensor(d.norm_mean)[:, None, None]
    std = torch.tensor(d.norm_std)[:, None, None]
    return x * std + mean                                       # (N, 3, H, W) in [0, 1]


@pytest.fixture(scope="module")
def small():
    return shapes.build(DatasetParams(n_samples=800, seed=1))


def test_classes():
    assert K >= 6 and len(set(shapes.CLASSES)) == K


def test_shapes_dtypes_and_ranges(small):
    d = small
    assert d.key == "shapes" and d.task == "classification" and d.classes == shapes.CLASSES
    assert d.input_shape == (3, 32, 32) and d.is_image
    for x, y, m in [(d.x_train, d.y_train, d.masks_train), (d.x_test, d.y_test, d.masks_test)]:
        assert x.dtype == torch.float32 and x.shape == (len(y), 3, 32, 32)
        assert y.dtype == torch.int64 and y.min() >= 0 and y.max() < K
        assert m.dtype == torch.bool and m.shape == (len(y), 32, 32)
        img = _denormalise(d, x)
        assert img.min() >= -1e-5 and img.max() <= 1 + 1e-5
    assert len(d.norm_mean) == 3 and len(d.norm_std) == 3


def test_train_split_is_normalised(small):
    x = small.x_train
    torch.testing.assert_close(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-3, rtol=0)
    torch.testing.assert_close(x.std((0, 2, 3)), torch.ones(3), atol=1e-3, rtol=0)


def test_default_size():
    assert shapes.DEFAULT_SAMPLES == 6000


def test_deterministic_under_seed():
    p = DatasetParams(n_samples=160, seed=5)
    a, b = shapes.build(p), shapes.build(p)
    c = shapes.build(DatasetParams(n_samples=160, seed=6))
    for name in ("x_train", "y_train", "x_test", "y_test", "masks_train", "masks_test"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.norm_mean == b.norm_mean
    assert not torch.equal(a.x_train, c.x_train)
    assert not torch.equal(a.masks_train, c.masks_train)


def test_does_not_touch_global_rng():
    np.random.seed(0)
    before = np.random.random(3)
    np.random.seed(0)
    shapes.build(DatasetParams(n_samples=40))
    assert np.array_equal(np.random.random(3), before)


@pytest.mark.parametrize("n, frac, n_test", [(800, 0.2, 160), (100, 0.5, 50), (50, 0.1, 5)])
def test_test_fraction(n, frac, n_test):
    d = shapes.build(DatasetParams(n_samples=n, test_fraction=frac))
    assert len(d.y_test) == n_test and len(d.y_train) == n - n_test


def test_classes_balanced_in_each_split(small):
    for y in (small.y_train, small.y_test):
        counts = torch.bincount(y, minlength=K)
        assert counts.max() - counts.min() <= 1


def test_masks_non_empty_and_not_whole_image(small):
    area = small.masks_train.sum((1, 2))
    assert area.min() >= 20                                    # smallest: a triangle 11 px across
    assert area.max() < 32 * 32 // 2


def test_mask_is_exactly_the_drawn_shape_without_noise():
    d = shapes.build(DatasetParams(n_samples=200, noise=0.0, seed=2))
    img = _denormalise(d, d.x_train)                           # (N, 3, H, W)
    # the shape fits in a disc of radius `scale` around a centre at least
    # `scale` from every edge, so the corner pixel is always background
    bg = img[:, :, :1, :1]
    differs = (img - bg).abs().amax(1) > 1e-3                  # (N, H, W)
    assert torch.equal(differs, d.masks_train)


def test_render_paints_two_flat_colours_without_noise():
    rng = np.random.default_rng(0)
    labels = np.arange(64) % K
    images, masks, p = shapes.render(labels, rng, noise=0.0)
    want = np.where(masks[:, None], p["fg"][:, :, None, None], p["bg"][:, :, None, None])
    assert np.array_equal(images, want)
    assert np.all(np.linalg.norm(p["fg"] - p["bg"], axis=1) >= shapes.MIN_COLOUR_DIST)
    luma = np.array([0.299, 0.587, 0.114])
    assert np.all(np.abs((p["fg"] - p["bg"]) @ luma) >= shapes.MIN_LUMA_DIFF - 1e-6)


def test_noise_changes_background_but_not_masks():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    labels = np.arange(16) % K
    clean, m_clean, _ = shapes.render(labels, rng_a, noise=0.0)
    noisy, m_noisy, _ = shapes.render(labels, rng_b, noise=0.5)
    assert np.array_equal(m_clean, m_noisy)
    assert 0.05 < np.abs(noisy - clean).mean() < 0.2


def _one(name, scale, angle=0.0, cx=15.5, cy=15.5):
    k = np.array([shapes.CLASSES.index(name)])
    return shapes.draw_masks(k, np.array([cx]), np.array([cy]), np.array([scale]),
                             np.array([angle]), size=64)[0]    # 64 px: room for big shapes


@pytest.mark.parametrize("name", shapes.CLASSES)
def test_mask_area_grows_with_size(name):
    small, big = _one(name, 6.0).sum(), _one(name, 12.0).sum()
    assert small > 0 and 3.0 < big / small < 5.0              # area ~ scale^2


@pytest.mark.parametrize("name, area", [
    ("circle", math.pi), ("ring", math.pi * (1 - 0.5 ** 2)), ("square", 1.4 ** 2),
    ("triangle", 3 * math.sqrt(3) / 4), ("cross", 2 * 1.9 * 0.6 - 0.6 ** 2), ("bar", 1.9 * 0.6),
])
def test_mask_area_matches_geometry(name, area):
    scale = 20.0
    got = _one(name, scale, angle=0.3, cx=31.5, cy=31.5).sum() / scale ** 2
    assert got == pytest.approx(area, rel=0.05)


def test_masks_stay_inside_their_disc_and_the_image():
    rng = np.random.default_rng(0)
    labels = np.arange(400) % K
    _, masks, p = shapes.render(labels, rng, noise=0.0)
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    dist = np.hypot(cols[None] - p["cx"][:, None, None], rows[None] - p["cy"][:, None, None])
    assert np.all(dist[masks] <= np.repeat(p["scale"], masks.sum((1, 2))) + 1e-4)
    assert np.all(masks.sum((1, 2)) > 0)


def test_rotation_turns_the_shape():
    assert not np.array_equal(_one("square", 10, 0.0), _one("square", 10, math.pi / 4))
    assert np.array_equal(_one("circle", 10, 0.0), _one("circle", 10, 1.0))


def test_classes_differ_from_each_other():
    # same position, size and angle: every pair of classes draws different masks
    ms = [_one(name, 10.0, angle=0.2) for name in shapes.CLASSES]
    for i in range(K):
        for j in range(i + 1, K):
            iou = (ms[i] & ms[j]).sum() / (ms[i] | ms[j]).sum()
            assert iou < 0.85, (shapes.CLASSES[i], shapes.CLASSES[j], iou)


def test_registry_entry_matches():
    from dlviz.data.registry import DATASETS
    e = DATASETS["shapes"]
    d = e.build(DatasetParams(n_samples=40))
    assert d.input_shape == e.input_shape and d.num_classes == e.num_classes
