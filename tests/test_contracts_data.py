"""Every dataset in the registry keeps the same contract: adding one is one entry, and
this file checks it (declared shape and classes, seeded, bounded, described, and a
default preset that builds on it)."""

from __future__ import annotations

import pytest
import torch

from dlviz.build import build
from dlviz.data import DATASETS, PATH_LOADERS, DatasetParams
from dlviz.data.registry import MAX_IMAGE_BYTES, PATH_DEFAULT_PRESETS, default_preset, max_samples
from dlviz.presets import PRESETS, preset_spec
from dlviz.spec import analyse

KEYS = list(DATASETS)
SMALL = 200                      # samples for the seeded checks (a 2-D set's minimum is 10)


@pytest.fixture(scope="module")
def built():
    """Each dataset built once with its defaults (the image sets take a second or two)."""
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = DATASETS[key].build(DatasetParams())
        return cache[key]
    return get


@pytest.mark.parametrize("key", KEYS)
def test_builds_with_the_declared_shape_task_and_classes(built, key):
    entry, ds = DATASETS[key], built(key)
    assert ds.key == key
    assert ds.task == entry.task
    assert ds.input_shape == entry.input_shape
    assert ds.num_classes == entry.num_classes
    assert len(ds.x_train) + len(ds.x_test) == entry.default_samples
    assert len(ds.x_train) > 0 and len(ds.x_test) > 0
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == entry.input_shape
        assert torch.isfinite(x).all()
        assert len(y) == len(x)
        if entry.task == "classification":
            assert y.dtype == torch.int64 and y.ndim == 1
            assert 0 <= int(y.min()) and int(y.max()) < entry.num_classes
        else:
            assert y.dtype == torch.float32 and tuple(y.shape[1:]) == (1,)
    if entry.task == "classification":
        assert len(set(ds.classes)) == entry.num_classes            # names differ
        assert len(torch.unique(ds.y_train)) == entry.num_classes   # every class is trained on
    else:
        assert ds.classes == ()
    if len(entry.input_shape) == 1 and ds.input_names:
        assert len(ds.input_names) == entry.input_shape[0]          # one name per input


@pytest.mark.parametrize("key", KEYS)
def test_deterministic_for_a_seed(key):
    build_ = DATASETS[key].build                                    # not the registry's cache
    p = DatasetParams(n_samples=SMALL, seed=5)
    a, b, c = build_(p), build_(p), build_(DatasetParams(n_samples=SMALL, seed=6))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert a.x_train.shape != c.x_train.shape or not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("key", KEYS)
def test_sizes_are_bounded(built, key):
    entry, ds = DATASETS[key], built(key)
    n = len(ds.x_train) + len(ds.x_test)
    assert entry.default_samples <= max_samples(key)
    assert n <= max_samples(key)
    assert (ds.x_train.numel() + ds.x_test.numel()) * 4 <= MAX_IMAGE_BYTES
    # a smaller sample count gives at most that many samples
    small = entry.build(DatasetParams(n_samples=SMALL))
    assert len(small.x_train) + len(small.x_test) <= SMALL


@pytest.mark.parametrize("key", KEYS)
def test_has_a_description(built, key):
    entry = DATASETS[key]
    assert entry.description.strip() and "\n" not in entry.description
    assert built(key).description.strip()


@pytest.mark.parametrize("key", KEYS)
def test_default_preset_builds_on_it(built, key):
    ds = built(key)
    name = default_preset(key)
    assert name == DATASETS[key].default_preset and name in PRESETS
    spec = preset_spec(name, ds.input_shape, ds.output_size, ds.task)
    analyse(spec)                                                   # raises on a shape mismatch
    net = build(spec, "cpu", seed=0)
    net.model.eval()
    with torch.no_grad():
        out = net.model(ds.x_test[:2])
    assert tuple(out.shape) == (2, ds.output_size)


def test_every_preset_names_a_registered_dataset():
    for p in PRESETS.values():
        assert p.dataset in DATASETS, p.key


def test_every_path_kind_has_a_default_preset():
    assert set(PATH_DEFAULT_PRESETS) == set(PATH_LOADERS)
    assert all(p in PRESETS for p in PATH_DEFAULT_PRESETS.values())
    assert default_preset("csv:/any/table.csv") == "tabular-mlp"
