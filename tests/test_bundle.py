"""Bundles: safetensors round trip, and refusal of anything that does not match."""

import json

import pytest
import torch
from safetensors.torch import save as st_save

from dlviz.bundle import (bundle_from_bytes, load_bundle, make_bundle, save_bundle, weights_bytes)
from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.train.config import TrainConfig
from dlviz.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained():
    from conftest import ring_dataset
    ds = ring_dataset()
    spec = preset_spec("playground", ds.input_shape, ds.output_size)
    t = Trainer(spec, ds, TrainConfig(epochs=5, batch_size=10))
    t.start()
    t.join(30)
    return spec, ds, t


def test_round_trip_reproduces_predictions(tmp_path, trained):
    spec, ds, t = trained
    save_bundle(make_bundle(spec, t.snapshot().weights, ds, TrainConfig(), t.state()), str(tmp_path))
    b = load_bundle(str(tmp_path))
    assert b.spec == spec
    assert b.classes == ["in", "out"]
    with torch.no_grad():
        expect = t.model.eval()(ds.x_test)
        got = b.model().model(ds.x_test)
    assert torch.allclose(expect, got)
    assert b.final["test_accuracy"] == t.state().final["test_accuracy"]
    assert "test_accuracy" in b.metrics_csv.splitlines()[0]
    # no pickle anywhere: the weights file is safetensors (8-byte header length, then JSON)
    raw = (tmp_path / "weights.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert json.loads(raw[8:8 + n])


def _meta(spec):
    return json.dumps({"spec": spec.to_dict()}).encode()


def test_refuses_mismatched_nan_and_garbage(trained):
    spec, ds, t = trained
    good = dict(t.snapshot().weights)
    with pytest.raises(UserError, match="do not match the network"):
        bundle_from_bytes(_meta(spec), weights_bytes({k: v for k, v in good.items() if k != "output.bias"}))
    wrong = dict(good, **{"output.bias": torch.zeros(3)})
    with pytest.raises(UserError, match=r"output.bias has shape \[3\]"):
        bundle_from_bytes(_meta(spec), weights_bytes(wrong))
    nan = dict(good, **{"dense1.weight": torch.full_like(good["dense1.weight"], float("nan"))})
    with pytest.raises(UserError, match="NaN or infinite"):
        bundle_from_bytes(_meta(spec), weights_bytes(nan))
    with pytest.raises(UserError, match="not a valid safetensors"):
        bundle_from_bytes(_meta(spec), b"\x80\x04garbage-pickle")
    with pytest.raises(UserError, match="not valid JSON"):
        bundle_from_bytes(b"{", weights_bytes(good))
    many = {f"t{i}": torch.zeros(1) for i in range(1001)}
    with pytest.raises(UserError, match="over the limit"):
        bundle_from_bytes(_meta(spec), st_save(many))


def test_missing_files(tmp_path):
    with pytest.raises(UserError, match="not a model bundle"):
        load_bundle(str(tmp_path))
