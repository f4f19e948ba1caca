"""csv:PATH: messy files parse, each column is prepared with a note, and every bad file
gets one exact message."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from dlviz.data import DatasetParams, csv_file, load_dataset, tabular
from dlviz.data.access import NOT_ALLOWED, check_dataset_access
from dlviz.errors import UserError

MESSY = '''id,name,age,colour,const,comment,income,label
1,"Smith, J",34,red,7,,"52,000",yes
2,"Doe, A",,blue,7,a,48000,no
3,"Roe, B",45,red,7,b,61000,yes
4,"Poe, C",23,green,7,c,NA,no

5,"Moe, D",52,,7,d,75000,yes
6,"Loe, E",31,blue,7,e,39000,no
7,"Koe, F",40,red,7,f,58000,yes
8,"Joe, G",29,green,7,g,41000,no
9,"Hoe, H",61,red,7,h,80000,yes
10,"Goe, I",38,blue,7,i,50000,
11,"Foe, K",27,blue,7,j,45000,no
12,"Eoe, L",44,red,7,k,66000,yes
'''


def write(tmp_path, text, name="t.csv") -> str:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(p)


def load(path, **params):
    return tabular.load(path, DatasetParams(**params))


def message(path, **params) -> str:
    with pytest.raises(UserError) as e:
        load(path, **params)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.fixture
def messy(tmp_path):
    return load(write(tmp_path, MESSY), test_fraction=0.25)


def test_quoted_commas_and_thousands_separators(tmp_path):
    t = csv_file.read_csv(write(tmp_path, MESSY))
    assert t.header[:3] == ("id", "name", "age")
    assert t.rows[0][1] == "Smith, J" and len(t.rows) == 12            # the blank line skipped
    col = tabular.column_from_texts("income", [r[6] for r in t.rows])
    assert col.numeric and col.values[0] == 52000.0 and np.isnan(col.values[3])


def test_each_column_is_prepared_with_a_note(messy):
    ds = messy
    assert ds.task == "classification" and ds.classes == ("no", "yes")
    assert ds.feature_names == ("age", "colour=blue", "colour=green", "colour=red", "income")
    assert ds.input_shape == (5,)
    kinds = {c["column"]: c["kind"] for c in ds.extra["columns"]}
    assert kinds == {"id": "identifier", "name": "identifier", "age": "numeric",
                     "colour": "categorical", "const": "constant", "comment": "identifier",
                     "income": "numeric"}
    missing = {c["column"]: c["missing"] for c in ds.extra["columns"]}
    assert missing["age"] == 1 and missing["colour"] == 1 and missing["income"] == 1
    notes = ds.extra["notes"]
    assert notes[0] == "target 'label': 2 classes (no, yes)"
    assert "dropped 1 row without a value in 'label'" in notes
    assert "left out 'const': the same value (7) in every row" in notes
    assert "left out 'name': a different text in every row (an identifier)" in notes
    assert "left out 'id': numbers the rows (an identifier)" in notes
    assert "one-hot encoded (categories): colour (3)" in notes
    assert any(n.startswith("missing values filled") and "age 1" in n for n in notes)
    assert len(ds.x_train) + len(ds.x_test) == 11


def test_statistics_come_from_the_training_rows_only(tmp_path):
    rows = "\n".join(f"{i * 1.5 + (i % 3)},{'a' if i % 2 else 'b'}" for i in range(100))
    ds = load(write(tmp_path, "x,y\n" + rows), test_fraction=0.3, seed=2)
    x = ds.x_train[:, 0]
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std(unbiased=False)) - 1) < 1e-4
    assert abs(float(ds.x_test[:, 0].mean())) > 1e-4                  # not re-centred on test


def test_missing_values_are_filled_with_train_statistics(tmp_path):
    rows = [f"{v},{c},{'p' if i % 2 else 'q'}" for i, (v, c) in
            enumerate(zip([1, 2, "", 4, 5, 6, "NA", 8, 9, 10, 11, 12],
                          ["r", "r", "g", "", "r", "g", "r", "r", "?", "g", "r", "b"]))]
    ds = load(write(tmp_path, "v,c,t\n" + "\n".join(rows)))
    x = torch.cat([ds.x_train, ds.x_test])
    assert torch.isfinite(x).all()
    onehot = x[:, 1:]
    assert torch.all(onehot.sum(1) == 1)                               # filled: one category each
    record = {c["column"]: c for c in ds.extra["columns"]}
    assert record["v"]["missing"] == 2 and record["c"]["missing"] == 2
    assert "most common ('r')" in record["c"]["note"]


def test_semicolons_tabs_and_latin1(tmp_path):
    rows = "\n".join(f"{i * 0.7:.1f};{'x' if i % 2 else 'y'}" for i in range(12))
    ds = load(write(tmp_path, "a;b\n" + rows))
    assert ds.classes == ("x", "y")
    rows = "\n".join(f"{i * 0.5}\t{i % 3}\tcaf\xe9{i % 2}" for i in range(12))
    ds = load(write(tmp_path, ("a\tb\tc\n" + rows).encode("latin-1")), target_column="b")
    assert ds.classes == ("0", "1", "2")
    assert "read as Latin-1 (the file is not UTF-8)" in ds.extra["notes"]
    assert ds.feature_names == ("a", "c=caf\xe90", "c=caf\xe91")


def test_a_continuous_target_is_regression_in_standard_units(tmp_path):
    rows = "\n".join(f"{i * 0.5},{3.7 * i + 100.25}" for i in range(50))
    ds = load(write(tmp_path, "x,price\n" + rows))
    assert ds.task == "regression" and ds.classes == () and ds.y_train.shape[1:] == (1,)
    assert abs(float(ds.y_train.mean())) < 1e-5
    assert ds.extra["target_std"] > 1 and ds.extra["notes"][0].startswith("target 'price': numbers, regression")


def test_small_whole_number_target_is_classes(tmp_path):
    rows = "\n".join(f"{i * 0.1},{i % 3}" for i in range(30))
    ds = load(write(tmp_path, "x,grade\n" + rows))
    assert ds.task == "classification" and ds.classes == ("0", "1", "2")


def test_target_column_and_seeded_subset(tmp_path):
    path = write(tmp_path, MESSY)
    ds = load(path, target_column="colour")
    assert ds.classes == ("blue", "green", "red") and "label=yes" in ds.feature_names
    a, b = load(path, n_samples=10, seed=3), load(path, n_samples=10, seed=3)
    assert len(a.x_train) + len(a.x_test) == 10 and torch.equal(a.x_train, b.x_train)


# -- one exact message per bad file -----------------------------------------------------

def ten(line: str) -> str:
    return "\n".join([line] * 10)


BAD = [
    ("empty", b"", "t.csv: the file is empty"),
    ("blank lines only", b"\n\n  \n", "t.csv: the file is empty"),
    ("header only", b"a,b,c\n", "t.csv: a header line but no data rows"),
    ("one row", b"a,b\n1,2\n", "t.csv: 1 row with a target value; at least 10 are needed to train "
                              "and to test"),
    ("ragged", b"a,b,c\n1,2,3\n4,5\n", "t.csv: line 3 has 2 values, the header has 3 columns "
                                       "(every row needs one value per column)"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
     "t.csv: this is not a CSV text file (it holds binary data); save the table as CSV "
     "(comma-separated values) first"),
    ("one class", ("x,y\n" + ten("1,yes") + "\n2,yes").encode(),
     "t.csv: the target column 'y' has one class only ('yes'); a classifier needs at least 2"),
    ("only a target", ("y\n" + ten("1")).encode(),
     "t.csv: only one column ('y'); a table needs the column to predict and at least one column "
     "to learn from"),
    ("no target values", ("x,y\n" + ten("1,")).encode(), "t.csv: the target column 'y' has no values"),
    ("same names", b"a,a\n1,2\n", "t.csv: columns 1 and 2 are both named 'a'; column names must differ"),
    ("nothing to learn from", ("k,y\n" + ten("7,a") + "\n7,b").encode(),
     "t.csv: no column left to learn from; each was left out (no values, one value in every row, "
     "an identifier, or too many categories)"),
]


@pytest.mark.parametrize("name, data, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_files_get_one_exact_message(tmp_path, name, data, expected):
    assert message(write(tmp_path, data)) == expected


def test_a_missing_target_column_lists_the_columns(tmp_path):
    assert message(write(tmp_path, MESSY), target_column="price") == (
        "t.csv: no column named 'price' to predict; the columns are: 'id', 'name', 'age', "
        "'colour', 'const', 'comment', 'income', 'label'")


def test_an_identifier_target_is_too_many_classes(tmp_path):
    rows = "\n".join(f"{i},name{i}" for i in range(150))
    assert message(write(tmp_path, "x,who\n" + rows)) == (
        "t.csv: the target column 'who' has 150 different values; the limit is 100 classes "
        "(a number to predict needs a column of numbers only)")


def test_bounds_on_bytes_rows_columns_and_categories(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_file, "MAX_BYTES", 100)
    assert message(write(tmp_path, "a,b\n" + ten("1,2") * 5)) == (
        "t.csv: larger than 100 bytes, the limit for a table on a shared server")
    monkeypatch.setattr(csv_file, "MAX_BYTES", 50_000_000)
    monkeypatch.setattr(csv_file, "MAX_ROWS", 15)
    assert message(write(tmp_path, "a,b\n" + "\n".join(f"{i},{i % 2}" for i in range(16)))) == (
        "t.csv: more than 15 data rows; the limit on a shared server")
    monkeypatch.setattr(csv_file, "MAX_CELLS", 20)
    assert message(write(tmp_path, "a,b,c\n" + ten("1,2,3"))) == (
        "t.csv: more than 20 values (3 columns x 7 rows so far); the limit on a shared server")
    monkeypatch.setattr(csv_file, "MAX_CELLS", 2_000_000)
    monkeypatch.setattr(csv_file, "MAX_COLUMNS", 3)
    assert message(write(tmp_path, "a,b,c,d\n1,2,3,4\n")) == (
        "t.csv: 4 columns; the limit on a shared server is 3")
    # a text column with more categories than the limit is left out, with a note
    monkeypatch.setattr(tabular, "MAX_CATEGORIES", 3)
    rows = "\n".join(f"k{i % 5},{i * 0.3:.1f},{i % 2}" for i in range(12))
    ds = load(write(tmp_path, "c,x,y\n" + rows))
    assert ds.feature_names == ("x",)
    assert any(n.startswith("left out 'c': ") and "over 3 categories" in n for n in ds.extra["notes"])
    monkeypatch.setattr(tabular, "MAX_INPUTS", 2)
    rows = "\n".join(f"{'abc'[i % 3]},{i * 0.5},{i % 2}" for i in range(12))
    assert message(write(tmp_path, "c,x,y\n" + rows)) == (
        "t.csv: 4 inputs after one-hot encoding; the limit on a shared server is 2")


def test_a_field_over_csvs_limit_is_one_message(tmp_path):
    assert message(write(tmp_path, "a,b\n1," + "x" * 200_000 + "\n")).startswith(
        "t.csv: line 2 cannot be read as CSV (field larger than field limit")


# -- through the registry, the CLI, a link and the access check ------------------------------

def test_registry_and_link_settings(tmp_path):
    from dlviz.data.registry import check_params
    from dlviz.workspace import Workspace, adapt_to_dataset, default_workspace
    path = write(tmp_path, MESSY)
    ds = load_dataset(f"csv:{path}", DatasetParams(target_column="label"))
    assert ds.key == f"csv:{path}" and ds.input_shape == (5,)
    with pytest.raises(UserError, match="dataset setting 'target_column' must be a column name"):
        check_params(DatasetParams(target_column=""), f"csv:{path}")
    with pytest.raises(UserError, match="dataset setting 'target_column'"):
        check_params(DatasetParams(target_column=5), f"csv:{path}")
    ws = adapt_to_dataset(default_workspace(), ds.key, DatasetParams(target_column="label"),
                          ds.input_shape, ds.output_size, ds.task)
    assert Workspace.from_url(ws.to_url()).params.target_column == "label"


def test_a_csv_path_from_a_link_obeys_the_access_rules(tmp_path):
    path = write(tmp_path, MESSY)
    check_dataset_access(f"csv:{path}", [str(tmp_path)])
    for key in (f"csv:{path}", "csv:/etc/passwd", "csv:/no/such.csv", "csv:"):
        with pytest.raises(UserError) as e:
            check_dataset_access(key, [str(tmp_path / "uploads")])
        assert str(e.value) == NOT_ALLOWED


def separable_csv(tmp_path, n=240) -> str:
    rng = np.random.default_rng(0)
    lines = ["row,age,colour,score,outcome"]
    for i in range(n):
        age = rng.uniform(20, 70)
        colour = rng.choice(["red", "green", "blue"])
        score = rng.normal()
        good = (age > 45) != (colour == "red")
        lines.append(f"{i + 1},{age:.1f},{colour},{score:.3f},{'good' if good else 'bad'}")
    return write(tmp_path, "\n".join(lines), "people.csv")


def test_cli_trains_a_fitting_mlp_on_a_csv(tmp_path, capsys):
    from dlviz.cli import main
    path = separable_csv(tmp_path)
    assert main(["train", "--dataset", f"csv:{path}", "--target-column", "outcome", "--epochs", "80",
                 "--no-progress"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out.strip().splitlines()[-1])
    assert result["preset"] == "tabular-mlp" and result["dataset"] == f"csv:{path}"
    assert result["test_accuracy"] >= 0.9
    # what was done to the columns is said on stderr, one note a line
    assert "note: left out 'row': numbers the rows (an identifier)" in out.err, out.err
    assert "note: one-hot encoded (categories): colour (3)" in out.err, out.err


def test_cli_unknown_target_column_is_one_line(tmp_path, capsys):
    from dlviz.cli import main
    path = separable_csv(tmp_path)
    assert main(["train", "--dataset", f"csv:{path}", "--target-column", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: people.csv: no column named 'nope' to predict") and "\n" not in err


def test_attributions_name_the_csv_columns(tmp_path):
    from dlviz.build import build
    from dlviz.explain.features import feature_attributions
    from dlviz.presets import preset_spec
    ds = load_dataset(f"csv:{separable_csv(tmp_path)}")
    net = build(preset_spec("tabular-mlp", ds.input_shape, ds.output_size, ds.task), "cpu", seed=0)
    fa = feature_attributions(net, ds, ds.x_test[0], target=1)
    assert fa.names == ("age", "colour=blue", "colour=green", "colour=red", "score")
    assert fa.columns == ("age", "colour", "colour", "colour", "score")
    assert list(fa.by_column()) == ["age", "colour", "score"]
    assert fa.values.shape == (5,) and np.isfinite(fa.values).all() and np.abs(fa.values).sum() > 0
    assert fa.by_column()["colour"] == pytest.approx(float(fa.values[1:4].sum()), abs=1e-6)
    assert {n for n, _ in fa.ranked()} == set(fa.names)
    with pytest.raises(UserError, match="this dataset's rows have 5 inputs"):
        feature_attributions(net, ds, torch.zeros(4))


# -- the Build page: a table from a link, its target picker and notes --------------------------

def _open_build_link(ws):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = ws.to_url()
    at.run()
    messages = [m.value for m in (*at.warning, *at.error)]    # a link's message: where it lands
    at.switch_page("app_pages/build.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, messages + [m.value for m in (*at.warning, *at.error)]


def _csv_workspace(path, target):
    from dlviz.workspace import adapt_to_dataset, default_workspace
    params = DatasetParams(target_column=target)
    ds = load_dataset(f"csv:{path}", params)
    return adapt_to_dataset(default_workspace(), ds.key, params, ds.input_shape, ds.output_size, ds.task)


def test_build_page_offers_the_columns_and_shows_the_notes(tmp_path, monkeypatch):
    monkeypatch.setenv("DLVIZ_DATA_DIRS", str(tmp_path))
    path = write(tmp_path, MESSY)
    at, messages = _open_build_link(_csv_workspace(path, "colour"))
    assert messages == []
    picker = at.selectbox(key="build_target")
    assert picker.options == ["id", "name", "age", "colour", "const", "comment", "income", "label"]
    assert picker.value == "colour"
    assert at.selectbox(key="build_dataset").value == "your table (CSV)"
    text = " ".join(c.value for c in at.caption)
    assert "left out 'const': the same value (7) in every row" in text
    picker.set_value("label").run()
    assert not at.exception
    assert "target 'label': 2 classes (no, yes)" in " ".join(c.value for c in at.caption)


def test_build_page_refuses_a_csv_path_outside_the_allowed_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("DLVIZ_DATA_DIRS", raising=False)
    path = write(tmp_path, MESSY)
    at, messages = _open_build_link(_csv_workspace(path, "label"))
    assert len(messages) == 1 and NOT_ALLOWED in messages[0], messages
    # nothing read from the file is shown: not its column names (the word, not "coloured")
    assert not any(re.search(r"\bcolour\b", str(getattr(e, "value", "")))
                   for e in (*at.caption, *at.markdown))
    assert at.selectbox(key="build_dataset").value != "your table (CSV)"


def test_build_page_asks_for_a_table_before_there_is_one():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/build.py").run()
    at.selectbox(key="build_dataset").set_value("your table (CSV)").run()
    assert not at.exception and not at.error
    assert any("Upload a .csv table" in i.value for i in at.info)


def test_a_table_is_named_by_its_file_never_by_the_servers_path(tmp_path):
    from dlviz.data.labels import dataset_label
    from dlviz.ui.uploads import store_upload
    path = store_upload(MESSY.encode(), str(tmp_path), suffix=".patients.csv")
    assert dataset_label(f"csv:{path}") == "table patients.csv"
    ds = load_dataset(f"csv:{path}", DatasetParams(target_column="label"))
    assert ds.summary().startswith("table patients.csv: ") and str(tmp_path) not in ds.summary()
    assert dataset_label("circle") == "circle"
