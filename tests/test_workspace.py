import pytest

from dlviz.data import DatasetParams
from dlviz.errors import UserError
from dlviz.spec_link import encode_url_json
from dlviz.workspace import Workspace, default_workspace


def test_url_round_trip_keeps_everything():
    ws = default_workspace().with_preset("lenet", (1, 28, 28), 10, "classification")
    from dataclasses import replace
    ws = replace(ws, dataset="digits", params=DatasetParams(n_samples=500, seed=3, features=("x1", "sin(x1)")),
                 config=ws.config.replace(lr=0.005, optimizer="sgd"))
    back = Workspace.from_url(ws.to_url())
    assert back == ws
    assert back.config.lr == 0.005 and back.preset == "lenet"


def test_damaged_links_give_one_message():
    with pytest.raises(UserError, match="damaged"):
        Workspace.from_url("xyz")
    with pytest.raises(UserError, match="does not hold a network"):
        Workspace.from_url(encode_url_json({"a": 1}))
    with pytest.raises(UserError, match="unknown dataset setting"):
        Workspace.from_url(encode_url_json({"d": "circle", "n": default_workspace().spec.to_dict(),
                                            "p": {"bogus": 1}}))


def test_the_apps_own_preset_follows_the_dataset_and_a_chosen_one_stays():
    from dlviz.workspace import adapt_to_dataset
    ws = default_workspace()                       # circle with its own preset, playground
    assert ws.preset == "playground"
    table = adapt_to_dataset(ws, "breast-cancer", DatasetParams(), (30,), 2, "classification")
    assert table.preset == "tabular-mlp" and table.spec.input_shape == (30,)
    digits = adapt_to_dataset(ws, "real-digits", DatasetParams(), (1, 8, 8), 10, "classification")
    assert digits.preset == "digits8-cnn"
    chosen = ws.with_preset("deep-sigmoid", (2,), 2, "classification")
    kept = adapt_to_dataset(chosen, "breast-cancer", DatasetParams(), (30,), 2, "classification")
    assert kept.preset == "deep-sigmoid" and kept.spec.input_shape == (30,)
