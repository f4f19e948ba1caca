"""The synthetic digits dataset and the on-disk array cache."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from dlviz.data import cache, digits
from dlviz.data.params import DatasetParams

N = 200          # small: every test builds in well under a second


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Every test gets its own cache folder; nothing is written to ~/.cache."""
    d = tmp_path / "cache"
    monkeypatch.setenv("DLVIZ_CACHE_DIR", str(d))
    return d


def _build(**kw) -> digits.Dataset:
    return digits.build(DatasetParams(**{"n_samples": N, **kw}))


def _raw(ds) -> torch.Tensor:
    """Undo the normalisation: images back in [0, 1]."""
    return ds.x_train * ds.norm_std[0] + ds.norm_mean[0]


# --------------------------------------------------------------------------- contract

def test_shapes_dtypes_and_metadata():
    ds = _build(test_fraction=0.25)
    assert ds.key == "digits" and ds.task == "classification"
    assert ds.input_shape == (1, 28, 28)
    assert ds.classes == tuple("0123456789") == digits.CLASSES
    assert ds.x_train.shape == (150, 1, 28, 28) and ds.x_test.shape == (50, 1, 28, 28)
    assert ds.y_train.shape == (150,) and ds.y_test.shape == (50,)
    assert ds.x_train.dtype == ds.x_test.dtype == torch.float32
    assert ds.y_train.dtype == ds.y_test.dtype == torch.int64
    assert len(ds.norm_mean) == len(ds.norm_std) == 1
    assert digits.DEFAULT_SAMPLES == 12000


def test_normalised_with_train_statistics():
    ds = _build()
    raw = _raw(ds)
    assert raw.min() >= -1e-5 and raw.max() <= 1 + 1e-5
    # white digit on black: mostly dark, some saturated ink
    assert 0.05 < ds.norm_mean[0] < 0.4
    assert (raw > 0.9).float().mean() > 0.03
    assert abs(ds.x_train.mean().item()) < 1e-4
    assert abs(ds.x_train.std().item() - 1.0) < 1e-3


def test_digit_is_centred_like_mnist():
    ds = _build(noise=0.0)
    img = _raw(ds)[:, 0]                                   # (N, 28, 28)
    mass = img.sum((1, 2))
    coords = torch.arange(28, dtype=torch.float32)
    cy = (img.sum(2) * coords).sum(1) / mass
    cx = (img.sum(1) * coords).sum(1) / mass
    assert (cy - 13.5).abs().mean() < 1.5 and (cx - 13.5).abs().mean() < 1.5
    # the border stays mostly empty: the digit lives in the middle ~20px
    border = torch.cat([img[:, :2].flatten(1), img[:, -2:].flatten(1),
                        img[:, :, :2].flatten(1), img[:, :, -2:].flatten(1)], 1)
    assert border.mean() < 0.02


@pytest.mark.parametrize("n", [200, 203])
def test_classes_balanced_in_each_split(n):
    ds = _build(n_samples=n)
    for y in (ds.y_train, ds.y_test):
        counts = torch.bincount(y, minlength=10)
        assert counts.max() - counts.min() <= 1
    assert len(ds.y_train) + len(ds.y_test) == n


def test_defaults_are_documented_values(monkeypatch):
    seen = {}
    real = digits.generate

    def fake_generate(n, n_test, noise, seed, fonts=()):
        seen.update(n=n, n_test=n_test, noise=noise)
        return real(20, 4, noise, seed, fonts)              # record, but render only 20

    monkeypatch.setattr(digits, "generate", fake_generate)
    digits.build(DatasetParams())
    assert seen == {"n": 12000, "n_test": 2400, "noise": digits.DEFAULT_NOISE}


# --------------------------------------------------------------------------- randomness

def test_deterministic_under_seed(tmp_path, monkeypatch):
    a = _build(seed=3)
    # a fresh cache folder, so the second build renders again rather than reading a file
    monkeypatch.setenv("DLVIZ_CACHE_DIR", str(tmp_path / "other"))
    b = _build(seed=3)
    c = _build(seed=4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_leaves_global_rng_alone():
    torch.manual_seed(0)
    np.random.seed(0)
    before = (torch.rand(1), np.random.rand())
    torch.manual_seed(0)
    np.random.seed(0)
    digits.generate(50, 10, 0.1, seed=1, fonts=tuple(digits.find_fonts()))
    assert (torch.rand(1), np.random.rand()) == before


def test_images_of_one_class_differ_without_pixel_noise(monkeypatch):
    # one font (4 stroke templates per digit): any two equal images would show
    # that the distortion was not applied
    monkeypatch.setattr(digits, "find_fonts", lambda: [])
    ds = _build(noise=0.0)
    threes = _raw(ds)[ds.y_train == 3].flatten(1)          # (k, 784)
    assert len(threes) >= 10
    dist = torch.cdist(threes, threes)
    off_diag = dist[~torch.eye(len(threes), dtype=torch.bool)]
    # distortion alone makes every pair of images clearly different
    assert off_diag.min() > 1.0


def test_noise_changes_pixels_not_shapes():
    # each random stage has its own RNG stream: the noise level leaves the digits alone
    fonts = tuple(digits.find_fonts())
    clean = digits.generate(100, 20, 0.0, 0, fonts)["x_train"].astype(float)
    noisy = digits.generate(100, 20, 0.3, 0, fonts)["x_train"].astype(float)
    to_self = np.abs(noisy - clean).mean()
    to_other = np.abs(noisy - np.roll(clean, 1, axis=0)).mean()
    assert to_self > 5                                     # the noise is visible...
    assert to_self < 0.5 * to_other                        # ...on the same digit


# --------------------------------------------------------------------------- fonts

def test_works_with_only_pillows_default_font(monkeypatch):
    monkeypatch.setattr(digits, "find_fonts", lambda: [])
    ds = _build(noise=0.0)
    assert digits.glyph_templates(()).shape[:3] == (1, len(digits._STROKES), 10)
    assert ds.extra["fonts"] == ["load_default"]
    assert ds.x_train.shape == (160, 1, 28, 28)
    assert _raw(ds).flatten(1).max(1).values.min() > 0.5   # every image has ink


def test_unusable_font_files_are_skipped(tmp_path):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"not a font")
    templates = digits.glyph_templates((str(bad),))
    assert templates.shape[0] == 1                         # only load_default survived


# --------------------------------------------------------------------------- cache

def _counting(arrays):
    calls = []

    def builder():
        calls.append(1)
        return arrays

    return builder, calls


def test_cache_round_trip(cache_dir):
    arrays = {"a": np.arange(12, dtype=np.uint8).reshape(3, 4), "b": np.array([1.5, -2.0])}
    builder, calls = _counting(arrays)
    first = cache.cached_arrays("demo", {"k": 1}, builder)
    second = cache.cached_arrays("demo", {"k": 1}, builder)
    assert len(calls) == 1
    assert list(cache_dir.glob("demo-*.npz")) == [cache.cache_path("demo", {"k": 1})]
    for out in (first, second):
        assert set(out) == {"a", "b"}
        assert np.array_equal(out["a"], arrays["a"]) and out["a"].dtype == np.uint8
        assert np.array_equal(out["b"], arrays["b"])
    assert not list(cache_dir.glob("*.tmp"))               # the temp file was moved, not left


def test_cache_key_separates_entries():
    builder, calls = _counting({"a": np.zeros(2)})
    cache.cached_arrays("demo", {"k": 1}, builder)
    cache.cached_arrays("demo", {"k": 2}, builder)
    cache.cached_arrays("other", {"k": 1}, builder)
    assert len(calls) == 3
    assert cache.cache_path("demo", {"x": 1, "y": 2}) == cache.cache_path("demo", {"y": 2, "x": 1})


@pytest.mark.parametrize("content", ["garbage", "truncated", "pickled"])
def test_corrupt_cache_file_is_rebuilt(cache_dir, content):
    arrays = {"a": np.arange(5)}
    builder, calls = _counting(arrays)
    cache.cached_arrays("demo", {}, builder)
    path = cache.cache_path("demo", {})
    if content == "garbage":
        path.write_bytes(b"\x00not an npz")
    elif content == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    else:                                                  # object arrays need pickle: refused
        np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.warns(RuntimeWarning, match="unreadable cache"):
        out = cache.cached_arrays("demo", {}, builder)
    assert len(calls) == 2 and np.array_equal(out["a"], arrays["a"])
    cache.cached_arrays("demo", {}, builder)               # the file was repaired
    assert len(calls) == 2


def test_unwritable_cache_dir_only_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DLVIZ_CACHE_DIR", str(blocker / "sub"))   # cannot mkdir under a file
    builder, calls = _counting({"a": np.ones(3)})
    with pytest.warns(RuntimeWarning, match="could not write"):
        out = cache.cached_arrays("demo", {}, builder)
    assert np.array_equal(out["a"], np.ones(3))


def test_builder_must_return_arrays():
    with pytest.raises(TypeError):
        cache.cached_arrays("demo", {}, lambda: {"a": [1, 2]})


def test_digits_build_reads_the_cache_file(cache_dir, monkeypatch):
    calls = []
    real = digits.generate

    def counting_generate(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(digits, "generate", counting_generate)
    a = _build(seed=7)
    files = list(cache_dir.glob("digits-*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as npz:     # uint8 images, before normalising
        assert npz["x_train"].dtype == np.uint8 and npz["x_train"].shape == (160, 28, 28)
        assert npz["y_train"].dtype == np.int64
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # a clean hit: no rebuild warning
        b = _build(seed=7)
    assert len(calls) == 1
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.norm_mean == b.norm_mean and a.norm_std == b.norm_std
    _build(seed=8)                                         # other params: another file
    assert len(calls) == 2
