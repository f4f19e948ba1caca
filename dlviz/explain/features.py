"""Per-feature attributions of a vector input, labelled with the dataset's column names.

A table's input is a vector whose entries have names (``age``, ``colour=red``
after one-hot encoding, see ``dlviz/data/tabular.py``); a 2-D set's are its
features (``x1``, ``x1^2``). ``feature_attributions`` runs one attribution
method (``attribute``) on one row and returns the values with those names, plus
the sum per source column, so that a one-hot encoded column reads as one bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dlviz.build import BuiltNet
from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.explain.attribute import attribute


@dataclass(frozen=True)
class FeatureAttribution:
    method: str
    target: int
    names: tuple[str, ...]        # one per input entry, e.g. ("age", "colour=red", "colour=blue")
    columns: tuple[str, ...]      # the source column of each entry, e.g. ("age", "colour", "colour")
    values: np.ndarray            # float32 (F,), signed: what each entry added to output ``target``
    delta: float | None           # the method's convergence delta, where it has one

    def by_name(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.values)}

    def by_column(self) -> dict[str, float]:
        """Summed per source column, in the table's order (a one-hot column is one value)."""
        out: dict[str, float] = {}
        for c, v in zip(self.columns, self.values):
            out[c] = out.get(c, 0.0) + float(v)
        return out

    def ranked(self, per_column: bool = False) -> list[tuple[str, float]]:
        """(name, value) pairs, largest magnitude first."""
        pairs = (self.by_column() if per_column else self.by_name()).items()
        return sorted(pairs, key=lambda p: -abs(p[1]))


def input_names(ds: Dataset) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, source columns) of a vector dataset's inputs; ``input i`` when it has none."""
    if ds.is_image:
        raise UserError("per-feature attributions are for tables and 2-D data; this dataset "
                        "holds images (use an attribution map)")
    width = ds.input_shape[0]
    names = tuple(ds.input_names) if len(ds.input_names) == width else \
        tuple(f"input {i}" for i in range(width))
    columns = tuple(ds.extra.get("input_columns", ()))
    return names, (columns if len(columns) == width else names)


def feature_attributions(net: BuiltNet, ds: Dataset, x: torch.Tensor, target: int | None = None,
                         method: str = "integrated_gradients",
                         params: dict | None = None) -> FeatureAttribution:
    """Attributions of one input row ``x`` (F,) of ``ds`` for output ``target`` (None: the
    predicted class), each named by its column. Raises ``UserError`` for an image dataset,
    a row of the wrong width, or a method or setting ``attribute`` refuses."""
    names, columns = input_names(ds)
    x = torch.as_tensor(x, dtype=torch.float32)
    if tuple(x.shape) != (len(names),):
        raise UserError(f"the row has shape {list(x.shape)}; this dataset's rows have "
                        f"{len(names)} inputs")
    a = attribute(net, x, target, method, params)
    values = np.asarray(a.values, dtype=np.float32).reshape(-1)                 # (F,)
    return FeatureAttribution(method, a.target, names, columns, values, a.delta)


def by_source_column(ds: Dataset, values) -> tuple[np.ndarray, tuple[str, ...]]:
    """A vector input's values (F,) summed per source column -> (K,) and the K column names,
    in the table's order: one bar per CSV column, a one-hot column's parts added up (named
    "colour (sum of 3)"). Without one-hot columns: one value per input, as given."""
    names, columns = input_names(ds)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(v) != len(names):
        return v, tuple(f"input {i + 1}" for i in range(len(v)))
    order = list(dict.fromkeys(columns))
    index = {c: i for i, c in enumerate(order)}
    sums, parts = np.zeros(len(order)), np.zeros(len(order), dtype=int)
    for c, x in zip(columns, v):
        sums[index[c]] += x
        parts[index[c]] += 1
    return sums, tuple(c if n == 1 else f"{c} (sum of {n})" for c, n in zip(order, parts))
