"""python -m dlviz explain: overlays as PNG, one JSON line, exit 2 and one line for every mistake."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from bad_inputs import BAD, BAD_REASON, ODD
from dlviz import cli
from dlviz.build import build
from dlviz.bundle import bundle_zip, make_bundle, save_bundle
from dlviz.data.dataset import Dataset
from dlviz.explain import METHODS, default_methods
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec
from dlviz.train.config import TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = tuple(str(i) for i in range(10))


def _dataset(shape, classes=CLASSES, task="classification", mean=(0.2,), std=(0.3,)):
    x = torch.zeros(4, *shape)
    y = torch.zeros(4, dtype=torch.long) if task == "classification" else torch.zeros(4, 1)
    return Dataset("digits" if len(shape) == 3 else "circle", task, shape, classes, x, y, x, y,
                   norm_mean=mean if len(shape) == 3 else (), norm_std=std if len(shape) == 3 else ())


def _save(path, spec, ds, weights=None):
    weights = weights or build(spec, seed=0).model.state_dict()
    save_bundle(make_bundle(spec, weights, ds, TrainConfig()), str(path))
    return str(path)


@pytest.fixture(scope="module")
def digits_bundle(tmp_path_factory):
    spec = NetSpec((1, 28, 28), 10, [L("conv2d", channels=4, kernel=3, padding=1, activation="relu"),
                                     L("maxpool", kernel=2), L("flatten"),
                                     L("dense", units=16, activation="relu")])
    return _save(tmp_path_factory.mktemp("b") / "digits", spec, _dataset((1, 28, 28)))


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "photo.jpg"
    im = Image.new("RGB", (120, 90), (240, 240, 240))
    im.paste((20, 20, 20), (55, 15, 65, 75))                     # a dark "1" on paper
    im.save(path, quality=92)
    return str(path)


def run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": ROOT, "DLVIZ_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "dlviz", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_happy_path_writes_overlays_and_prints_one_json_line(digits_bundle, photo, tmp_path):
    out = tmp_path / "out"
    r = run("explain", "--bundle", digits_bundle, "--image", photo, "--invert", "--out", str(out),
            "--method", "saliency,integrated_gradients", "--method", "gradcam", "--npy")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    res = json.loads(lines[0])
    probs = res["probabilities"]
    assert list(probs) == list(CLASSES) and abs(sum(probs.values()) - 1) < 1e-4
    assert res["class"] == CLASSES[res["prediction"]] == max(probs, key=probs.get)
    assert res["target"] == res["prediction"]
    assert list(res["methods"]) == ["saliency", "integrated_gradients", "gradcam"]
    assert res["methods"]["saliency"]["delta"] is None
    assert isinstance(res["methods"]["integrated_gradients"]["delta"], float)
    # and whether it is large next to the map (a bare "delta 2" says nothing)
    assert isinstance(res["methods"]["integrated_gradients"]["delta_large"], bool)
    assert res["methods"]["saliency"]["delta_large"] is None
    assert res["methods"]["gradcam"]["layer"] == "conv1_relu"
    assert res["input"] == "resized 120x90 -> 28x28 (centre crop), grayscale, inverted, normalised"
    assert res["suggest_invert"] is False
    for key, entry in res["methods"].items():
        with Image.open(entry["file"]) as im:
            assert im.format == "PNG" and im.size[0] == im.size[1] >= 28
        assert np.load(entry["npy"]).shape == (1, 28, 28)
    with Image.open(res["sheet"]) as sheet:
        assert sheet.width > 4 * 28                               # input + 3 overlays side by side
    assert sorted(os.listdir(out)) == sorted(
        [f"photo-{k}.png" for k in res["methods"]] + [f"photo-{k}.npy" for k in res["methods"]]
        + ["photo-sheet.png"])
    assert r.stderr.strip() == ""


def test_default_methods_target_and_zip_bundle(digits_bundle, photo, tmp_path, capsys):
    from dlviz.bundle import load_bundle
    zipped = tmp_path / "model.zip"
    zipped.write_bytes(bundle_zip(load_bundle(digits_bundle)))
    assert cli.main(["explain", "--bundle", str(zipped), "--image", photo, "--target", "7",
                     "--out", str(tmp_path / "o")]) == 0
    res = json.loads(capsys.readouterr().out.strip())
    net = load_bundle(digits_bundle).model()
    assert list(res["methods"]) == default_methods(net)
    assert res["target"] == 7


def test_rgb_model_and_every_odd_image(tmp_path, capsys):
    spec = NetSpec((3, 16, 16), 3, [L("conv2d", channels=4, kernel=3, padding=1, activation="relu"),
                                    L("globalavgpool")])
    bundle = _save(tmp_path / "rgb", spec, _dataset((3, 16, 16), ("a", "b", "c"), mean=(0.5,) * 3,
                                                    std=(0.25,) * 3))
    for name, (data, _) in ODD.items():
        img = tmp_path / name
        img.write_bytes(data)
        assert cli.main(["explain", "--bundle", bundle, "--image", str(img), "--method", "all",
                         "--out", str(tmp_path / "o")]) == 0, name
        res = json.loads(capsys.readouterr().out.strip())
        assert list(res["methods"]) == list(METHODS)
        assert all(os.path.isfile(m["file"]) for m in res["methods"].values())


def _error(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_image_is_exit_2_with_one_line(name, digits_bundle, tmp_path, capsys):
    img = tmp_path / name
    img.write_bytes(BAD[name])
    line = _error(capsys, ["explain", "--bundle", digits_bundle, "--image", str(img),
                           "--out", str(tmp_path / "o")])
    assert BAD_REASON[name] in line and name in line
    assert not (tmp_path / "o").exists()             # nothing written for a refused input


def test_bad_bundles_and_arguments(digits_bundle, photo, tmp_path, capsys, monkeypatch):
    base = ["explain", "--image", photo, "--out", str(tmp_path / "o")]
    # a torch pickle where the weights should be, a folder of pickles, a missing folder
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"\x80\x04\x95garbage")
    assert "safetensors only" in _error(capsys, base + ["--bundle", str(pt)])
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "model.json").write_text((open(os.path.join(digits_bundle, "model.json")).read()))
    (folder / "weights.pth").write_bytes(b"\x80\x04\x95garbage")
    assert "safetensors only" in _error(capsys, base + ["--bundle", str(folder)])
    assert "does not exist" in _error(capsys, base + ["--bundle", str(tmp_path / "nope")])
    # NaN weights
    spec = NetSpec((1, 28, 28), 10, [L("conv2d", channels=2, kernel=3, activation="relu"), L("flatten")])
    w = build(spec, seed=0).model.state_dict()
    w["conv1.weight"][0, 0, 0, 0] = float("nan")
    nan = _save(tmp_path / "nan", spec, _dataset((1, 28, 28)), w)
    assert "NaN or infinite" in _error(capsys, base + ["--bundle", nan])
    # a model on 2 features cannot take an image
    flat = _save(tmp_path / "flat", NetSpec((2,), 2, [L("dense", units=3)]), _dataset((2,), ("x", "y")))
    assert "takes 2 input features, not an image" in _error(capsys, base + ["--bundle", flat])
    # methods, target, layer, opacity, image path
    ok = base + ["--bundle", digits_bundle]
    assert "unknown method 'lime'" in _error(capsys, ok + ["--method", "lime"])
    assert "from 0 to 9" in _error(capsys, ok + ["--target", "12"])
    assert "cannot use layer 'dense1'" in _error(capsys, ok + ["--method", "gradcam", "--layer", "dense1"])
    assert "--layer is only used" in _error(capsys, ok + ["--method", "saliency", "--layer", "conv1"])
    assert "--opacity must be between 0 and 1" in _error(capsys, ok + ["--opacity", "2"])
    assert "image file not found" in _error(capsys, ["explain", "--bundle", digits_bundle,
                                                     "--image", str(tmp_path / "none.png")])
    assert "required: --image" in _error(capsys, ["explain", "--bundle", digits_bundle])
    monkeypatch.setattr(cli, "MAX_IMAGE_FILE_BYTES", 100)
    assert "larger than" in _error(capsys, ok)


def test_mlp_on_images_has_no_gradcam(tmp_path, photo, capsys):
    spec = NetSpec((1, 28, 28), 10, [L("flatten"), L("dense", units=8, activation="tanh")])
    bundle = _save(tmp_path / "mlp", spec, _dataset((1, 28, 28)))
    line = _error(capsys, ["explain", "--bundle", bundle, "--image", photo, "--method", "gradcam"])
    assert "needs a convolution layer" in line
    # conductance of a dense layer is drawn as bars, one per unit
    assert cli.main(["explain", "--bundle", bundle, "--image", photo, "--method", "layer_conductance",
                     "--out", str(tmp_path / "o")]) == 0
    res = json.loads(capsys.readouterr().out.strip())
    assert res["methods"]["layer_conductance"]["layer"] == "dense1_tanh"
    assert os.path.isfile(res["methods"]["layer_conductance"]["file"])


def test_bad_image_through_the_real_process(digits_bundle, tmp_path):
    img = tmp_path / "bomb.png"
    img.write_bytes(BAD["bomb-header.png"])
    r = run("explain", "--bundle", digits_bundle, "--image", str(img), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "too large" in r.stderr
    assert "Traceback" not in r.stderr
