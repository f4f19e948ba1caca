"""Dataset registry: a key -> entry, plus ``folder:PATH``, ``idx:PATH`` and ``csv:PATH``.

The UI and the CLI list ``DATASETS``; specs and bundles store only keys.
Built datasets are cached in memory per (key, params): building the image
sets takes a second or two, and every page rerun asks for the same one.

Adding a dataset is one ``DatasetEntry`` in ``DATASETS`` (a 2-D set: one
``Toy2D`` in ``toy2d.TOYS``; a bundled real table: one ``RealTable`` in
``real.TABLES``). ``tests/test_contracts_data.py`` checks every entry: it builds
with the declared shape and classes, is the same for a seed, and its default
preset builds on it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Callable

from dlviz.data import digits, drawn_points, folder, idx, real, shapes, shapes_biased, tabular, toy2d
from dlviz.data.dataset import Dataset
from dlviz.data.features import FEATURES
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError
from dlviz.spec import fmt_whole, is_number, is_whole


@dataclass(frozen=True)
class DatasetEntry:
    key: str
    description: str
    task: str                        # "classification" | "regression"
    input_shape: tuple[int, ...]     # with the default features
    num_classes: int                 # 0 for regression
    default_samples: int
    build: Callable[[DatasetParams], Dataset]
    default_preset: str = "playground"   # a key of dlviz.presets.PRESETS that fits this data


def _toy(t: toy2d.Toy2D) -> DatasetEntry:
    return DatasetEntry(t.key, t.description, t.task, (2,), t.num_classes, toy2d.DEFAULT_SAMPLES,
                        functools.partial(toy2d.build, t.key), "playground")


def _table(t: real.RealTable) -> DatasetEntry:
    return DatasetEntry(t.key, t.description, "classification" if t.classes else "regression",
                        (t.inputs,), t.classes, t.rows, functools.partial(real.build_table_set, t.key),
                        "tabular-mlp")


DATASETS: dict[str, DatasetEntry] = {
    e.key: e
    for e in [
        *(_toy(t) for t in toy2d.TOYS.values()),
        DatasetEntry("digits", "28x28 grayscale handwritten-looking digits 0-9, rendered offline",
                     "classification", (1, 28, 28), 10, digits.DEFAULT_SAMPLES, digits.build, "lenet"),
        DatasetEntry("shapes", "32x32 RGB shapes on noisy backgrounds, with ground-truth masks",
                     "classification", (3, 32, 32), len(shapes.CLASSES), shapes.DEFAULT_SAMPLES,
                     shapes.build, "vgg-shapes"),
        DatasetEntry(shapes_biased.KEY, "32x32 RGB shapes with a biased training set: every training "
                     "square is red (the bias lesson)", "classification", (3, 32, 32),
                     len(shapes.CLASSES), shapes_biased.DEFAULT_SAMPLES, shapes_biased.build, "vgg-shapes"),
        DatasetEntry("real-digits", "8x8 grayscale real handwritten digits 0-9 (1,797, UCI via "
                     "scikit-learn)", "classification", (1, 8, 8), 10, 1797, real.build_digits,
                     "digits8-cnn"),
        *(_table(t) for t in real.TABLES.values()),
    ]
}

# Datasets read from the user's disk: "folder:PATH" (class sub-folders, or a zip),
# "idx:PATH" (MNIST-format IDX files) and "csv:PATH" (a table, one row per sample).
PATH_LOADERS: dict[str, Callable[[str, DatasetParams], Dataset]] = {
    "folder": folder.load,
    "idx": idx.load,
    "csv": tabular.load,
}
# the preset ``python -m dlviz train --dataset KIND:PATH`` uses when none is named
PATH_DEFAULT_PRESETS = {"folder": "playground", "idx": "playground", "csv": "tabular-mlp"}
# Datasets held in the key itself: "drawn:CODE" (2-D points clicked on the Build page,
# see drawn_points.py); nothing is read from disk, so a link may carry one anywhere.
INLINE_LOADERS: dict[str, Callable[[str, DatasetParams], Dataset]] = {
    drawn_points.PREFIX: drawn_points.load,
}


def default_preset(key: str) -> str:
    """The preset that fits the dataset ``key`` (a registry key or ``kind:PATH``)."""
    prefix, sep, _ = key.partition(":")
    if sep:
        return PATH_DEFAULT_PRESETS.get(prefix, "playground")
    entry = DATASETS.get(key)
    return entry.default_preset if entry else "playground"


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
    _check_params(params, key)
    prefix, sep, path = key.partition(":")
    if sep:
        if prefix in INLINE_LOADERS:
            return _with_params(INLINE_LOADERS[prefix](path, params), params)
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


# Bounds on every dataset setting, checked before anything is built. The Build
# page offers 100-2,000 points for the 2-D sets and 500-20,000 images; a link, a
# bundle or the CLI may ask for more, up to what 30 students' datasets can
# share one server's memory with.
MIN_SAMPLES = 10
MAX_SAMPLES_2D = 20_000                 # a 2-D point costs a few bytes per feature
MAX_SAMPLES_IMAGES = 60_000             # MNIST's size; folder: and idx: sets cap their own bytes
MAX_IMAGE_BYTES = 512 * 2**20           # float32 inputs of one built-in image set, train + test
MAX_SEED = 2**31 - 1                    # the pages' seed inputs; numpy and torch take any of these


def max_samples(key: str) -> int:
    """The largest ``n_samples`` the dataset ``key`` may be built with on this server."""
    entry = DATASETS.get(key)
    if entry is None:                   # folder:PATH, idx:PATH (or an unknown key)
        return MAX_SAMPLES_IMAGES
    if len(entry.input_shape) == 1:
        return MAX_SAMPLES_2D
    sample_bytes = 4
    for side in entry.input_shape:
        sample_bytes *= side
    return min(MAX_SAMPLES_IMAGES, MAX_IMAGE_BYTES // sample_bytes)


def _check_params(p: DatasetParams, key: str = "") -> None:
    """Every field of ``p`` typed and bounded (for dataset ``key``); raises ``UserError``
    naming the field. Pure checks: nothing is built."""
    _check_samples(p.n_samples, key)
    if p.noise is not None and not _fraction_ok(p.noise, 0.0, 1.0):
        raise _bad("noise", f"must be a number from 0 to 1, got {p.noise!r:.40}")
    if not _fraction_ok(p.test_fraction, 0.0, 1.0) or p.test_fraction in (0, 1):
        raise _bad("test_fraction", f"must be a number between 0 and 1, got {p.test_fraction!r:.40}")
    if not is_whole(p.seed) or not 0 <= p.seed <= MAX_SEED:
        raise _bad("seed", f"must be a whole number from 0 to {MAX_SEED}, got {_shown(p.seed)}")
    _check_features(p.features)
    _check_target_column(p.target_column)
    lo, hi = folder.MIN_IMAGE_SIZE, folder.MAX_IMAGE_SIZE
    if p.image_size is not None and (not is_whole(p.image_size) or not lo <= p.image_size <= hi):
        raise _bad("image_size", f"must be a whole number from {lo} to {hi}, got {_shown(p.image_size)}")


check_params = _check_params            # for a shared link's settings, before anything is built


def _check_samples(n, key: str) -> None:
    if n is None:
        return
    if not is_whole(n):
        raise _bad("n_samples", f"must be a whole number, got {n!r:.40}")
    if n < MIN_SAMPLES:
        raise _bad("n_samples", f"must be at least {MIN_SAMPLES}, got {n}")
    hi = max_samples(key)
    if n > hi:
        what = key if key in DATASETS else "a dataset from files" if ":" in key else "a dataset"
        raise _bad("n_samples", f"{_shown(n)} is over the limit of {hi:,} for {what} on this server")


def _check_features(features) -> None:
    if not isinstance(features, (tuple, list)) or not all(isinstance(f, str) for f in features):
        raise _bad("features", f"must be a list of feature names, got {features!r:.60}")
    bad = [f for f in features if f not in FEATURES]
    if bad or not features:
        raise _bad("features", f"has an unknown input feature {bad[0][:40] if bad else '(none chosen)'}; "
                               f"choose from: {', '.join(FEATURES)}")
    repeated = [f for i, f in enumerate(features) if f in features[:i]]
    if repeated:
        raise _bad("features", f"lists {repeated[0]} twice")


MAX_COLUMN_NAME_CHARS = 200


def _check_target_column(name) -> None:
    if name is None:
        return
    if not isinstance(name, str) or not 0 < len(name) <= MAX_COLUMN_NAME_CHARS or "\0" in name:
        raise _bad("target_column", f"must be a column name of 1 to {MAX_COLUMN_NAME_CHARS} "
                                    f"characters, got {name!r:.40}")


def _fraction_ok(v, lo: float, hi: float) -> bool:
    return is_number(v) and lo <= v <= hi


def _shown(v) -> str:
    return fmt_whole(v) if is_whole(v) else f"{v!r:.40}"


def _bad(name: str, problem: str) -> UserError:
    return UserError(f"dataset setting '{name}' {problem}")


@functools.lru_cache(maxsize=16)
def _cached(key: str, params: DatasetParams) -> Dataset:
    return _with_params(DATASETS[key].build(params), params)


@functools.lru_cache(maxsize=4)
def _cached_path(prefix: str, path: str, mtime: float, params: DatasetParams) -> Dataset:
    # mtime is part of the key so that editing the folder is picked up
    return _with_params(PATH_LOADERS[prefix](path, params), params)


def _with_params(ds: Dataset, params: DatasetParams) -> Dataset:
    """The dataset carrying the settings it was built with (the tensors are shared)."""
    return ds if ds.params == params else dataclasses.replace(ds, params=params)


def _mtime(path: str) -> float:
    return os.stat(path).st_mtime
