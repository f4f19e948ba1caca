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


# -- refusals: safetensors only, and every limit -------------------------------------------

def _files(tmp_path, trained):
    spec, ds, t = trained
    save_bundle(make_bundle(spec, t.snapshot().weights, ds, TrainConfig(), t.state()), str(tmp_path))
    return (tmp_path / "model.json").read_bytes(), dict(t.snapshot().weights)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickles_are_refused_without_being_loaded(trained, protocol):
    import pickle
    spec, ds, t = trained
    data = pickle.dumps({"weights": 1}, protocol=protocol)
    with pytest.raises(UserError, match="safetensors only"):
        bundle_from_bytes(_meta(spec), data)


def test_a_torch_save_file_is_refused(trained):
    import io
    spec, ds, t = trained
    buf = io.BytesIO()
    torch.save(t.snapshot().weights, buf)          # a zip around data.pkl
    with pytest.raises(UserError, match="safetensors only"):
        bundle_from_bytes(_meta(spec), buf.getvalue())


def test_folders_and_zips_holding_pickles_are_refused(tmp_path, trained):
    import zipfile
    meta, _ = _files(tmp_path / "b", trained)
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "model.json").write_bytes(meta)
    (folder / "model.pt").write_bytes(b"\x80\x04junk")
    with pytest.raises(UserError, match="model.pt is not accepted.*safetensors only"):
        load_bundle(str(folder))
    with pytest.raises(UserError, match="safetensors only"):
        load_bundle(str(folder / "model.pt"))
    z = tmp_path / "pickled.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("model.json", meta)
        zf.writestr("weights.pth", b"\x80\x04junk")
    with pytest.raises(UserError, match="holds weights.pth.*safetensors only"):
        load_bundle(str(z))


def test_zip_bundle_round_trip_and_damage(tmp_path, trained):
    import zipfile
    from dlviz.bundle import bundle_from_zip, bundle_zip
    spec, ds, t = trained
    b = make_bundle(spec, t.snapshot().weights, ds, TrainConfig(), t.state())
    z = tmp_path / "m.zip"
    z.write_bytes(bundle_zip(b))
    again = load_bundle(str(z))
    assert again.spec == spec and again.classes == b.classes and again.metrics_csv == b.metrics_csv
    assert all(torch.equal(again.weights[k], b.weights[k]) for k in b.weights)
    # the files inside one folder (a zip made by hand of the bundle folder) work too
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(nested, "w") as dst:
        for name in src.namelist():
            dst.writestr(f"my-model/{name}", src.read(name))
    assert load_bundle(str(nested)).spec == spec
    with pytest.raises(UserError, match="the zip file is damaged"):
        bundle_from_zip(z.read_bytes()[:200])
    no_weights = tmp_path / "half.zip"
    with zipfile.ZipFile(no_weights, "w") as zf:
        zf.writestr("model.json", "{}")
    with pytest.raises(UserError, match="the zip has no weights.safetensors"):
        load_bundle(str(no_weights))
    (tmp_path / "notzip.bin2").write_bytes(b"hello")
    with pytest.raises(UserError, match="neither a folder nor a zip"):
        load_bundle(str(tmp_path / "notzip.bin2"))


def test_size_limits(tmp_path, trained, monkeypatch):
    import dlviz.bundle as bundle_mod
    from dlviz.bundle import bundle_from_zip, bundle_zip
    spec, ds, t = trained
    meta, good = _files(tmp_path / "b", trained)
    raw = weights_bytes(good)
    monkeypatch.setattr(bundle_mod, "MAX_WEIGHTS_BYTES", len(raw) - 1)
    with pytest.raises(UserError, match="too large"):
        bundle_from_bytes(meta, raw)
    with pytest.raises(UserError, match="weights.safetensors is larger than"):
        load_bundle(str(tmp_path / "b"))
    with pytest.raises(UserError, match="weights.safetensors is larger than"):
        bundle_from_zip(bundle_zip(make_bundle(spec, good, ds, TrainConfig())))
    monkeypatch.undo()
    # a header that claims more JSON than the file holds is refused before parsing
    lying = (10**9).to_bytes(8, "little") + raw[8:]
    with pytest.raises(UserError, match="not a valid safetensors"):
        bundle_from_bytes(meta, lying)


def test_infinite_values_dtypes_and_extra_tensors(trained):
    spec, ds, t = trained
    good = dict(t.snapshot().weights)
    inf = dict(good, **{"output.weight": torch.full_like(good["output.weight"], float("inf"))})
    with pytest.raises(UserError, match="NaN or infinite"):
        bundle_from_bytes(_meta(spec), weights_bytes(inf))
    half = dict(good, **{"output.bias": good["output.bias"].double()})
    with pytest.raises(UserError, match="output.bias is torch.float64, the network needs torch.float32"):
        bundle_from_bytes(_meta(spec), weights_bytes(half))
    extra = dict(good, **{"backdoor.weight": torch.zeros(2)})
    with pytest.raises(UserError, match="unexpected backdoor.weight"):
        bundle_from_bytes(_meta(spec), weights_bytes(extra))
    with pytest.raises(UserError, match="no network spec"):
        bundle_from_bytes(b'{"dataset": {}}', weights_bytes(good))


def test_checkpoints_round_trip_in_a_folder_a_zip_and_an_upload(tmp_path, trained):
    from dlviz.bundle import bundle_from_files, bundle_zip
    from dlviz.bundle_checkpoints import CHECKPOINTS_FILE, checkpoints_of_run
    spec, ds, t = trained
    ckpts = checkpoints_of_run(t)
    steps = [s for s, _ in ckpts]
    assert 2 <= len(steps) <= 5 and steps[0] == 0 and steps[-1] == t.state().step
    b = make_bundle(spec, t.snapshot().weights, ds, TrainConfig(), t.state(), ckpts)
    save_bundle(b, str(tmp_path / "f"))
    (tmp_path / "m.zip").write_bytes(bundle_zip(b))
    files = {n: (tmp_path / "f" / n).read_bytes() for n in ("model.json", "weights.safetensors",
                                                              CHECKPOINTS_FILE)}
    for again in (load_bundle(str(tmp_path / "f")), load_bundle(str(tmp_path / "m.zip")),
                  bundle_from_files(files)):
        assert [s for s, _ in again.checkpoints] == steps
        for (_, w), (_, w2) in zip(ckpts, again.checkpoints):
            assert all(torch.equal(w[k], w2[k]) for k in w)
    # the first checkpoint is the initial weights, not the final ones
    assert not torch.equal(again.checkpoints[0][1]["output.weight"], again.weights["output.weight"])
    # saving without checkpoints into the same folder leaves no stale file
    save_bundle(make_bundle(spec, t.snapshot().weights, ds, TrainConfig()), str(tmp_path / "f"))
    assert not (tmp_path / "f" / CHECKPOINTS_FILE).exists()
    assert load_bundle(str(tmp_path / "f")).checkpoints == []


def test_checkpoints_that_do_not_match_the_network_are_refused(trained):
    from dlviz.bundle_checkpoints import checkpoints_bytes, checkpoints_from_bytes
    spec, ds, t = trained
    w = t.snapshot().weights
    good = {k: v.clone() for k, v in w.items()}
    assert [s for s, _ in checkpoints_from_bytes(checkpoints_bytes([(3, good), (1, good)]), w)] == [1, 3]
    bad_shape = {**good, "output.weight": torch.zeros(3, 3)}
    with pytest.raises(UserError, match="step 2, output.weight has shape"):
        checkpoints_from_bytes(checkpoints_bytes([(2, bad_shape)]), w)
    missing = {k: v for k, v in good.items() if k != "output.bias"}
    with pytest.raises(UserError, match="step 4 does not match the network"):
        checkpoints_from_bytes(checkpoints_bytes([(4, missing)]), w)
    nan = {**good, "output.bias": torch.full_like(good["output.bias"], float("nan"))}
    with pytest.raises(UserError, match="NaN"):
        checkpoints_from_bytes(checkpoints_bytes([(5, nan)]), w)
    with pytest.raises(UserError, match="over the limit of 5"):
        checkpoints_from_bytes(checkpoints_bytes([(s, good) for s in range(6)]), w)
    with pytest.raises(UserError, match="unexpected tensor"):
        checkpoints_from_bytes(st_save({"weights/x": torch.zeros(1)}), w)
    with pytest.raises(UserError, match="not a valid safetensors"):
        checkpoints_from_bytes(b"\x80\x04garbage-pickle", w)


def test_the_dataset_settings_travel_with_the_bundle(tmp_path):
    from dlviz.data import load_dataset
    ds = load_dataset("circle", n_samples=300, seed=4, noise=0.1)
    spec = preset_spec("playground", ds.input_shape, ds.output_size)
    save_bundle(make_bundle(spec, build_weights(spec), ds, TrainConfig()), str(tmp_path))
    b = load_bundle(str(tmp_path))
    assert b.dataset["params"] == {"n_samples": 300, "seed": 4, "noise": 0.1}
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["dataset"]["params"] = {"n_samples": 300, "bogus": 1}
    with pytest.raises(UserError, match="unknown dataset setting 'bogus'"):
        bundle_from_bytes(json.dumps(meta).encode(), (tmp_path / "weights.safetensors").read_bytes())


def build_weights(spec):
    from dlviz.build import build
    return build(spec, seed=0).model.state_dict()


def test_a_bundle_keeps_as_many_checkpoints_as_tracin_sums_over():
    from dlviz.bundle_checkpoints import MAX_CHECKPOINTS as KEPT
    from dlviz.explain.influence import MAX_CHECKPOINTS as SUMMED
    assert KEPT == SUMMED
