"""Tables -> a ``Dataset``: pick the target, prepare each column, note what was done.

Used by ``csv:PATH`` (``load``) and by the tables that ship with scikit-learn
(``real.py``). Every column is one of:

- numeric: missing values filled with the training mean, then standardised with
  the training mean and std (the test rows never shape the statistics);
- categorical text (at most ``MAX_CATEGORIES`` values): one-hot encoded, one
  input per category named ``column=value``; missing values get the training
  rows' most common category;
- left out, with the reason: no values, one value in every row (constant), a
  different text in every row or a row number (an identifier), too many
  categories.

The target decides the task: text, or whole numbers with at most
``MAX_INTEGER_CLASSES`` values, is classification; other numbers regression
(standardised, so the loss is in units of the target's std; the mean and std
are in ``extra``). Rows without a target are dropped and counted. Every step is
a line in ``Dataset.extra["notes"]``; ``extra["columns"]`` has one record per
column. Everything is bounded before the input tensor is allocated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from dlviz.data.csv_file import read_csv
from dlviz.data.dataset import Dataset
from dlviz.data.folder import stratified_split
from dlviz.data.labels import dataset_label
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

MIN_ROWS = 10                    # the registry's smallest sample count: a train and a test part
MAX_CATEGORIES = 50              # distinct texts of one categorical input column
MAX_CLASSES = 100                # distinct target values, as for folder datasets
MAX_INTEGER_CLASSES = 20         # a whole-number target with at most this many values: classes
MAX_INPUTS = 2_000               # network inputs after one-hot encoding
MAX_TENSOR_BYTES = 256 * 2**20   # float32 inputs, train + test
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "missing"})   # lower-cased
NAMES_SHOWN = 8                  # columns listed by name in one note


@dataclass(frozen=True)
class Column:
    """One column of a table: numbers (float64, NaN where missing) or texts (None where
    missing), shape (N,) either way."""
    name: str
    values: np.ndarray           # float64 (N,) or object (N,)

    @property
    def numeric(self) -> bool:
        return self.values.dtype.kind == "f"

    @property
    def missing(self) -> np.ndarray:                     # bool (N,)
        return np.isnan(self.values) if self.numeric else np.equal(self.values, None)

    def take(self, idx: np.ndarray) -> "Column":
        return Column(self.name, self.values[idx])


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")      # 52,000 or 1,234.5


def column_from_texts(name: str, texts) -> Column:
    """A column from CSV fields: numeric if every present value is a finite number
    (``52,000`` counts: a thousands separator in a quoted field)."""
    raw = [_THOUSANDS.match(t) and t.replace(",", "") or t for t in (t.strip() for t in texts)]
    gone = [t.lower() in MISSING for t in raw]
    try:
        nums = np.array(["nan" if g else t for t, g in zip(raw, gone)], dtype=np.float64)
        if np.isfinite(nums[~np.array(gone, dtype=bool)]).all():
            return Column(name, nums)
    except ValueError:
        pass                      # some value is not a number: a text column
    return Column(name, np.array([None if g else t for t, g in zip(raw, gone)], dtype=object))


def load(path: str, params: DatasetParams) -> Dataset:
    """``csv:PATH``: the file's columns; the target is ``params.target_column`` (else the
    last column)."""
    table = read_csv(path)
    columns = [column_from_texts(h, col) for h, col in zip(table.header, zip(*table.rows))]
    notes = ["read as Latin-1 (the file is not UTF-8)"] if table.encoding != "utf-8" else []
    ds = build_table(f"csv:{path}", table.name, columns, params, notes=notes)
    ds.extra["label"] = dataset_label(ds.key)      # not the server's path (Dataset.summary)
    return ds


def build_table(key: str, source: str, columns: list[Column], params: DatasetParams,
                class_names: dict | None = None, notes: list[str] | None = None,
                description: str = "") -> Dataset:
    """The dataset of ``columns`` (all of length N) predicting ``params.target_column``.

    ``class_names`` maps target values to shown names (e.g. 0 -> "malignant");
    ``source`` names the table in messages and notes."""
    notes = list(notes or [])
    target = _target_column(source, columns, params.target_column)
    inputs = [c for c in columns if c.name != target.name]
    # on the whole file: dropping rows (no target, a subset) leaves gaps in a row number
    row_numbers = {c.name for c in inputs if c.numeric and _is_row_number(c.values)}
    keep = np.flatnonzero(~target.missing)
    if len(keep) == 0:
        raise UserError(f"{source}: the target column '{target.name}' has no values")
    if len(keep) < len(target.values):
        notes.append(f"dropped {_rows(len(target.values) - len(keep))} without a value in "
                     f"'{target.name}'")
    if params.n_samples is not None and params.n_samples < len(keep):
        rng = np.random.default_rng([params.seed, 2])
        keep = np.sort(rng.choice(keep, params.n_samples, replace=False))
        notes.append(f"a random subset of {len(keep):,} rows (the sample count)")
    if len(keep) < MIN_ROWS:
        raise UserError(f"{source}: {_rows(len(keep))} with a target value; at least {MIN_ROWS} "
                        "are needed to train and to test")
    target = target.take(keep)
    inputs = [c.take(keep) for c in inputs]

    task, y, classes, target_note = _prepare_target(source, target, class_names)
    if task == "classification":
        train, test = stratified_split(y, params.test_fraction, params.seed)
    else:
        train, test = _random_split(len(y), params.test_fraction, params.seed)
    extra: dict = {"target": target.name, "notes": notes, "columns": []}
    if task == "regression":
        mean, std = float(y[train].mean()), float(y[train].std()) or 1.0
        y = ((y - mean) / std).astype(np.float32)[:, None]                 # (N, 1)
        extra.update(target_mean=mean, target_std=std)
        target_note += f", standardised (train mean {mean:.4g}, std {std:.4g})"
    notes.insert(0, target_note)

    plans = [_ROW_NUMBER if c.name in row_numbers else _plan(c, train) for c in inputs]
    width = sum(len(p.names) for p in plans)
    _check_size(source, width, len(y))
    x = np.zeros((len(y), width), dtype=np.float32)                        # (N, F)
    at = 0
    for p, c in zip(plans, inputs):
        x[:, at:at + len(p.names)] = p.encode(c.values)
        at += len(p.names)
        extra["columns"].append({"column": c.name, "kind": p.kind, "missing": p.missing,
                                 "inputs": list(p.names), "note": p.note})
    notes.extend(_summary_notes(plans, inputs))
    names = tuple(n for p in plans for n in p.names)
    extra["input_columns"] = tuple(c.name for p, c in zip(plans, inputs) for _ in p.names)

    y_t = torch.from_numpy(y if task == "regression" else y.astype(np.int64))
    xt = torch.from_numpy(x)
    what = f"{len(classes)} classes" if task == "classification" else "regression"
    return Dataset(
        key=key, task=task, input_shape=(width,), classes=classes,
        x_train=xt[torch.from_numpy(train)], y_train=y_t[torch.from_numpy(train)],
        x_test=xt[torch.from_numpy(test)], y_test=y_t[torch.from_numpy(test)],
        description=description or (f"{len(y):,} rows of {source}: {width} inputs from "
                                     f"{len(inputs)} columns, target '{target.name}' ({what})"),
        feature_names=names, extra=extra)


# -- the target ------------------------------------------------------------------

def _target_column(source: str, columns: list[Column], wanted: str | None) -> Column:
    names = [c.name for c in columns]
    if wanted is None:
        wanted = names[-1]
    if wanted not in names:
        shown = ", ".join(f"'{n}'" for n in names[:20]) + (", ..." if len(names) > 20 else "")
        raise UserError(f"{source}: no column named '{wanted[:100]}' to predict; the columns "
                        f"are: {shown}")
    if len(columns) < 2:
        raise UserError(f"{source}: only one column ('{wanted}'); a table needs the column to "
                        "predict and at least one column to learn from")
    return columns[names.index(wanted)]


def _prepare_target(source: str, target: Column, class_names: dict | None
                    ) -> tuple[str, np.ndarray, tuple[str, ...], str]:
    """(task, y, class names, note): y int labels (N,), or float64 (N,) for regression."""
    v = target.values
    whole = target.numeric and bool(np.all(v == np.round(v)))
    values = np.unique(v)
    if target.numeric and not (whole and len(values) <= MAX_INTEGER_CLASSES):
        return "regression", v.astype(np.float64), (), f"target '{target.name}': numbers, regression"
    if len(values) > MAX_CLASSES:
        raise UserError(f"{source}: the target column '{target.name}' has {len(values):,} different "
                        f"values; the limit is {MAX_CLASSES} classes (a number to predict needs a "
                        "column of numbers only)")
    shown = [_shown_value(u) for u in values]
    if len(values) < 2:
        raise UserError(f"{source}: the target column '{target.name}' has one class only "
                        f"('{shown[0]}'); a classifier needs at least 2")
    classes = tuple(str(class_names.get(u, s)) if class_names else s for u, s in zip(values, shown))
    y = np.unique(v, return_inverse=True)[1].astype(np.int64).reshape(-1)    # (N,) class index
    listed = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    return "classification", y, classes, f"target '{target.name}': {len(classes)} classes ({listed})"


def _shown_value(u) -> str:
    if isinstance(u, (float, np.floating)):
        return str(int(u)) if float(u).is_integer() else f"{float(u):g}"
    return str(u)[:60]


def _random_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng([seed, 1]).permutation(n)
    k = min(max(int(np.floor(n * test_fraction + 0.5)), 1), n - 1)
    return perm[k:], perm[:k]


# -- the input columns -----------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """What becomes of one input column: its inputs' names and how to fill them."""
    kind: str                    # numeric | categorical | empty | constant | identifier | many
    names: tuple[str, ...]       # () for a column left out
    missing: int
    note: str
    mean: float = 0.0
    std: float = 1.0
    categories: tuple = ()
    fill: object = None          # the value missing entries take

    def encode(self, values: np.ndarray) -> np.ndarray:
        """(N,) column -> float32 (N, len(names))."""
        if self.kind == "numeric":
            v = np.where(np.isnan(values), self.fill, values)
            return ((v - self.mean) / self.std)[:, None]
        if self.kind == "categorical":
            filled = np.where(np.equal(values, None), self.fill, values)
            return (filled[:, None] == np.array(self.categories, dtype=object)[None, :]).astype(np.float32)
        return np.zeros((len(values), 0), dtype=np.float32)


def _plan(c: Column, train: np.ndarray) -> _Plan:
    missing = c.missing
    n_missing = int(missing.sum())
    present = c.values[~missing]
    if len(present) == 0:
        return _Plan("empty", (), n_missing, "no values: left out")
    uniq = np.unique(present)
    if len(uniq) == 1:
        return _Plan("constant", (), n_missing,
                     f"the same value ({_shown_value(uniq[0])}) in every row: left out")
    if c.numeric:
        return _numeric_plan(c, train, missing, n_missing)
    if len(uniq) == len(present) >= MIN_ROWS:
        return _Plan("identifier", (), n_missing, "a different text in every row (an identifier): left out")
    if len(uniq) > MAX_CATEGORIES:
        return _Plan("many", (), n_missing,
                     f"{len(uniq):,} different texts (over {MAX_CATEGORIES} categories): left out")
    tr = c.values[train]
    tr = tr[~np.equal(tr, None)]
    cats, counts = np.unique(tr if len(tr) else present, return_counts=True)
    fill = cats[int(np.argmax(counts))]
    categories = tuple(uniq)      # every value of the column: a category seen only in test still has its input
    note = f"one-hot encoded, {len(categories)} categories"
    if n_missing:
        note += f"; {n_missing:,} missing filled with the most common ('{_shown_value(fill)}')"
    return _Plan("categorical", tuple(f"{c.name}={_shown_value(k)}" for k in categories), n_missing,
                 note, categories=categories, fill=fill)


def _numeric_plan(c: Column, train: np.ndarray, missing: np.ndarray, n_missing: int) -> _Plan:
    v = c.values
    tr = v[train][~missing[train]]
    if len(tr) == 0:
        tr = v[~missing]
    mean, std = float(tr.mean()), float(tr.std())
    if not std > 1e-12:
        return _Plan("constant", (), n_missing, "the same value in every training row: left out")
    note = f"standardised (train mean {mean:.4g}, std {std:.4g})"
    if n_missing:
        note += f"; {n_missing:,} missing filled with the train mean"
    return _Plan("numeric", (c.name,), n_missing, note, mean=mean, std=std, fill=mean)


_ROW_NUMBER = _Plan("identifier", (), 0, "numbers the rows (an identifier): left out")


def _is_row_number(v: np.ndarray) -> bool:
    """1, 2, 3, ... (or from any start) in file order: a row number, not a measurement."""
    return len(v) >= MIN_ROWS and bool(np.all(np.diff(v) == 1))


def _check_size(source: str, width: int, rows: int) -> None:
    if width == 0:
        raise UserError(f"{source}: no column left to learn from; each was left out (no values, "
                        "one value in every row, an identifier, or too many categories)")
    if width > MAX_INPUTS:
        raise UserError(f"{source}: {width:,} inputs after one-hot encoding; the limit on a shared "
                        f"server is {MAX_INPUTS:,}")
    if rows * width * 4 > MAX_TENSOR_BYTES:
        raise UserError(f"{source}: {rows:,} rows x {width:,} inputs need "
                        f"{rows * width * 4 / 2**20:,.0f} MiB; the limit is "
                        f"{MAX_TENSOR_BYTES // 2**20} MiB (set a sample count to use a subset)")


def _summary_notes(plans: list[_Plan], inputs: list[Column]) -> list[str]:
    """A few lines instead of one per column: 30 standardised columns are one note."""
    out = []
    numeric = [c.name for p, c in zip(plans, inputs) if p.kind == "numeric"]
    if numeric:
        out.append(f"standardised with the training mean and std: {_names(numeric)}")
    cats = [f"{c.name} ({len(p.categories)})" for p, c in zip(plans, inputs) if p.kind == "categorical"]
    if cats:
        out.append(f"one-hot encoded (categories): {_names(cats)}")
    filled = [f"{c.name} {p.missing:,}" for p, c in zip(plans, inputs) if p.names and p.missing]
    if filled:
        out.append(f"missing values filled (numbers: train mean; text: most common): {_names(filled)}")
    for p, c in zip(plans, inputs):
        if not p.names:
            out.append(f"left out '{c.name}': {p.note.removesuffix(': left out')}")
    return out


def _names(names: list[str]) -> str:
    more = len(names) - NAMES_SHOWN
    return ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n:,} rows"
