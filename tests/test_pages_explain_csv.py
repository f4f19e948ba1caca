"""AppTest: the Explain page names a CSV table's columns on its attribution bars, a one-hot
column's parts summed into one bar."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from tests.test_data_tabular import _csv_workspace, write
from tests.test_pages import app, no_exceptions, train_to_the_end

from dlviz.data import DatasetParams, load_dataset
from dlviz.explain.features import by_source_column


def table(n=60, seed=0) -> str:
    """age and income (numbers), colour (3 values), label: whether age + income is large."""
    rng = np.random.default_rng(seed)
    rows = ["age,colour,income,label"]
    for _ in range(n):
        age, income = rng.integers(20, 70), rng.integers(20, 90) * 1000
        colour = ("red", "green", "blue")[rng.integers(3)]
        rows.append(f"{age},{colour},{income},{'yes' if age + income / 1000 > 90 else 'no'}")
    return "\n".join(rows) + "\n"


def bar_labels(at) -> list[list[str]]:
    out = []
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        bars = [t for t in fig.get("data", []) if t.get("type") == "bar" and t.get("orientation") == "h"]
        out += [list(t["y"]) for t in bars]
    return out


def test_summing_one_hot_parts_per_source_column(tmp_path):
    ds = load_dataset(f"csv:{write(tmp_path, table())}", DatasetParams(target_column="label"))
    assert ds.input_names == ("age", "colour=blue", "colour=green", "colour=red", "income")
    values, names = by_source_column(ds, [1.0, 0.5, -0.25, 2.0, 3.0])
    assert names == ("age", "colour (sum of 3)", "income")
    assert values.tolist() == [1.0, 2.25, 3.0]


def test_explain_page_bars_name_the_csv_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("DLVIZ_DATA_DIRS", str(tmp_path))
    ws = _csv_workspace(write(tmp_path, table()), "label")
    ws = replace(ws, config=ws.config.replace(epochs=3))
    at = app(ws)
    at.run()
    train_to_the_end(at)
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    labels = bar_labels(at)
    assert labels, "no attribution bars drawn"
    assert ["age", "colour (sum of 3)", "income"] in labels, labels
    assert not any(any(n.startswith("feature ") for n in ls) for ls in labels)
