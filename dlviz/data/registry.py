"""Dataset registry: a key -> builder, plus ``folder:PATH`` and ``idx:PATH``.

The UI and the CLI list ``DATASETS``; specs and bundles store only keys.
Built datasets are cached in memory per (key, params): building the image
sets takes a second or two, and every page rerun asks for the same one.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable

from dlviz.data import digits, folder, idx, shapes, toy2d
from dlviz.data.dataset import Dataset
from dlviz.data.features import FEATURES
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError


@dataclass(frozen=True)
class DatasetEntry:
    key: str
    description: str
    task: str                        # "classification" | "regression"
    input_shape: tuple[int, ...]     # with the default features
    num_classes: int                 # 0 for regression
    default_samples: int
    build: Callable[[DatasetParams], Dataset]


def _toy(key: str, description: str, task: str, classes: int) -> DatasetEntry:
    return DatasetEntry(key, description, task, (2,), classes, toy2d.DEFAULT_SAMPLES,
                        functools.partial(toy2d.build, key))


DATASETS: dict[str, DatasetEntry] = {
    e.key: e
    for e in [
        _toy("circle", "2-D: a disc of one class inside a ring of the other", "classification", 2),
        _toy("xor", "2-D: four quadrants, opposite corners share a class", "classification", 2),
        _toy("gaussian", "2-D: two Gaussian blobs", "classification", 2),
        _toy("spiral", "2-D: two interleaved spirals (hard for shallow nets)", "classification", 2),
        _toy("moons", "2-D: two interleaving half circles", "classification", 2),
        _toy("plane", "2-D regression: a tilted plane", "regression", 0),
        _toy("multi-gaussian", "2-D regression: a sum of Gaussian bumps", "regression", 0),
        DatasetEntry("digits", "28x28 grayscale handwritten-looking digits 0-9, rendered offline",
                     "classification", (1, 28, 28), 10, digits.DEFAULT_SAMPLES, digits.build),
        DatasetEntry("shapes", "32x32 RGB shapes on noisy backgrounds, with ground-truth masks",
                     "classification", (3, 32, 32), len(shapes.CLASSES), shapes.DEFAULT_SAMPLES,
                     shapes.build),
    ]
}

# Datasets read from the user's disk: "folder:PATH" (class sub-folders, or a zip)
# and "idx:PATH" (MNIST-format IDX files).
PATH_LOADERS: dict[str, Callable[[str, DatasetParams], Dataset]] = {
    "folder": folder.load,
    "idx": idx.load,
}


def dataset_keys() -> list[str]:
    return list(DATASETS) + [f"{p}:PATH" for p in PATH_LOADERS]


def load_dataset(key: str, params: DatasetParams | None = None, **overrides) -> Dataset:
    """Build (or fetch from the cache) the dataset named by ``key``.

    Raises ``UserError`` with one clear line for an unknown key, a bad feature
    name or an unreadable path.
    """
    params = params or DatasetParams()
    if overrides:
        params = DatasetParams(**{**params.__dict__, **overrides})
    _check_params(params)
    prefix, sep, path = key.partition(":")
    if sep:
        if prefix not in PATH_LOADERS:
            raise UserError(f"unknown dataset kind '{prefix}:'; use one of "
                            + ", ".join(f"{p}:PATH" for p in PATH_LOADERS))
        full = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(full):
            raise UserError(f"dataset path not found: {path}")
        return _cached_path(prefix, full, _mtime(full), params)
    if key not in DATASETS:
        raise UserError(f"unknown dataset '{key}'; choose one of: {', '.join(dataset_keys())}")
    return _cached(key, params)


def _check_params(p: DatasetParams) -> None:
    if not 0.0 < p.test_fraction < 1.0:
        raise UserError(f"test fraction must be between 0 and 1, got {p.test_fraction}")
    if p.n_samples is not None and p.n_samples < 10:
        raise UserError(f"need at least 10 samples, got {p.n_samples}")
    if p.noise is not None and not 0.0 <= p.noise <= 1.0:
        raise UserError(f"noise must be between 0 and 1, got {p.noise}")
    bad = [f for f in p.features if f not in FEATURES]
    if bad or not p.features:
        raise UserError(f"unknown input feature {bad[0] if bad else '(none chosen)'}; "
                        f"choose from: {', '.join(FEATURES)}")


@functools.lru_cache(maxsize=16)
def _cached(key: str, params: DatasetParams) -> Dataset:
    return DATASETS[key].build(params)


@functools.lru_cache(maxsize=4)
def _cached_path(prefix: str, path: str, mtime: float, params: DatasetParams) -> Dataset:
    # mtime is part of the key so that editing the folder is picked up
    return PATH_LOADERS[prefix](path, params)


def _mtime(path: str) -> float:
    return os.stat(path).st_mtime
