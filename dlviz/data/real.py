"""Real datasets that ship inside scikit-learn's wheel: no download, ever.

- ``real-digits``: the 1,797 handwritten digits of UCI's optical recognition
  set, 8x8 grayscale (values 0-16, scaled to 0-255 and normalised like every
  image set), as images (1, 8, 8) so that CNNs and Grad-CAM work on them;
- tables through ``tabular.build_table`` (standardised like a CSV file, with
  its notes): breast cancer diagnosis (569 x 30), wine cultivars (178 x 13),
  iris (150 x 4) and diabetes progression (442 x 10, regression).

``params.n_samples`` takes a seeded subset (at most every row); noise and a
target column do not apply (a real set has its own labels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from dlviz.data.dataset import Dataset
from dlviz.data.folder import normalise_images, stratified_split
from dlviz.data.params import DatasetParams
from dlviz.data.tabular import Column, build_table


def _sklearn_datasets():
    # imported when a real set is built: scikit-learn (and SciPy) add about a second
    # to the start of every page otherwise
    from sklearn import datasets
    return datasets


def build_digits(params: DatasetParams) -> Dataset:
    """The real 8x8 digits: x float32 (N, 1, 8, 8) normalised, y int64 (N,)."""
    bunch = _sklearn_datasets().load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)             # (1797, 8, 8)
    y = bunch.target.astype(np.int64)
    idx = _subset(len(y), params)
    x, y = x[idx], y[idx]
    train, test = stratified_split(y, params.test_fraction, params.seed)
    x = torch.from_numpy(x[:, None])                                       # (N, 1, 8, 8)
    x_train, x_test, mean, std = normalise_images(x[torch.from_numpy(train)], x[torch.from_numpy(test)])
    return Dataset(
        key="real-digits", task="classification", input_shape=(1, 8, 8),
        classes=tuple(str(c) for c in range(10)),
        x_train=x_train, y_train=torch.from_numpy(y[train]),
        x_test=x_test, y_test=torch.from_numpy(y[test]),
        description=f"{len(y):,} real handwritten digits, 8x8 grayscale (UCI, shipped with scikit-learn)",
        norm_mean=mean, norm_std=std)


@dataclass(frozen=True)
class RealTable:
    """One of scikit-learn's bundled tables and what its target is called."""
    key: str
    loader: str                  # the sklearn.datasets function
    target: str                  # the name the target column gets
    description: str
    rows: int
    inputs: int
    classes: int                 # 0: regression
    class_names: Callable[[object], dict] | None = None   # bunch -> {label value: name}


def _named_classes(bunch) -> dict:
    return {float(i): str(n) for i, n in enumerate(bunch.target_names)}


TABLES: dict[str, RealTable] = {t.key: t for t in [
    RealTable("breast-cancer", "load_breast_cancer", "diagnosis",
              "569 breast tumour biopsies, 30 measurements; malignant or benign (real, tabular)",
              569, 30, 2, _named_classes),
    RealTable("wine", "load_wine", "cultivar",
              "178 Italian wines, 13 chemical measurements; which of 3 cultivars (real, tabular)",
              178, 13, 3, _named_classes),
    RealTable("iris", "load_iris", "species",
              "Fisher's 150 iris flowers, 4 measurements; which of 3 species (real, tabular)",
              150, 4, 3, _named_classes),
    RealTable("diabetes", "load_diabetes", "progression",
              "442 diabetes patients, 10 baseline values; disease progression a year later "
              "(real, tabular regression)", 442, 10, 0),
]}


def build_table_set(key: str, params: DatasetParams) -> Dataset:
    """A bundled table as a dataset: x float32 (N, inputs) standardised, y by task."""
    t = TABLES[key]
    bunch = getattr(_sklearn_datasets(), t.loader)()
    data = np.asarray(bunch.data, dtype=np.float64)                         # (rows, inputs)
    columns = [Column(str(name), data[:, j].copy()) for j, name in enumerate(bunch.feature_names)]
    columns.append(Column(t.target, np.asarray(bunch.target, dtype=np.float64)))
    params = replace(params, target_column=t.target,
                     n_samples=None if params.n_samples is None else min(params.n_samples, t.rows))
    return build_table(key, key, columns, params,
                       class_names=t.class_names(bunch) if t.class_names else None,
                       description=t.description)


def _subset(n: int, params: DatasetParams) -> np.ndarray:
    """Row indices: every row, or a seeded subset of ``params.n_samples`` in file order."""
    if params.n_samples is None or params.n_samples >= n:
        return np.arange(n)
    rng = np.random.default_rng([params.seed, 2])
    return np.sort(rng.choice(n, params.n_samples, replace=False))
