"""python -m dlviz: exit codes, one-line errors, the JSON result, bundles."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": ROOT, "DLVIZ_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "dlviz", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_train_prints_one_json_object_last_and_writes_a_bundle(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--preset", "playground", "--dataset", "xor", "--epochs", "60",
            "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("test_accuracy", "train_loss", "steps", "epochs", "samples_per_s", "device",
                "seed", "diverged"):
        assert key in result
    assert result["test_accuracy"] >= 0.95
    assert result["seed"] == 1 and result["diverged"] is False and result["device"] == "cpu"
    assert sorted(os.listdir(out)) == ["checkpoints.safetensors", "metrics.csv", "model.json",
                                       "weights.safetensors"]
    from dlviz.bundle import load_bundle
    bundle = load_bundle(str(out))
    steps = [s for s, _ in bundle.checkpoints]
    assert 2 <= len(steps) <= 5 and steps == sorted(steps) and steps[-1] == result["steps"]
    assert bundle.dataset["params"]["seed"] == 1             # the training split can be rebuilt
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "train_loss", "test_accuracy"} <= set(header)
    assert "Traceback" not in r.stderr


def test_same_seed_same_result():
    a = run("train", "--preset", "playground", "--dataset", "circle", "--epochs", "20", "--seed", "3")
    b = run("train", "--preset", "playground", "--dataset", "circle", "--epochs", "20", "--seed", "3")
    ra, rb = (json.loads(x.stdout.strip().splitlines()[-1]) for x in (a, b))
    assert ra["test_loss"] == rb["test_loss"] and ra["train_loss"] == rb["train_loss"]


def test_spec_file_and_regression(tmp_path):
    spec = {"input_shape": [2], "outputs": 1, "task": "regression",
            "layers": [{"kind": "dense", "units": 8, "activation": "tanh"}]}
    f = tmp_path / "net.json"
    f.write_text(json.dumps(spec))
    r = run("train", "--spec", str(f), "--dataset", "plane", "--epochs", "30", "--lr", "0.01")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert "test_accuracy" not in result and result["test_loss"] < 0.01


@pytest.mark.parametrize("args, message", [
    (["train", "--spec", "{spec}"], "not valid JSON"),
    (["train", "--preset", "playground", "--dataset", "folder:/no/such/dir"], "dataset path not found"),
    (["train", "--preset", "playground", "--dataset", "idx:/no/such/dir"], "dataset path not found"),
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--preset", "playground", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["train", "--preset", "lenet", "--dataset", "circle"], "needs image data"),
    (["train", "--epochs", "many"], "invalid int value"),
    (["train", "--lr", "-1"], "learning rate"),
    (["train", "--device", "cuda"], "not available"),
    (["train", "--features", "x1,x9"], "unknown input feature x9"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, args, message):
    bad = tmp_path / "bad.json"
    bad.write_text('{"input_shape": [2], "outputs": 2, "layers": [')
    args = [a.replace("{spec}", str(bad)) for a in args]
    if "--spec" in args:
        args += ["--dataset", "circle"]
    r = run(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr


def test_invalid_network_in_spec_names_the_layer(tmp_path):
    f = tmp_path / "net.json"
    f.write_text(json.dumps({"input_shape": [2], "outputs": 2,
                             "layers": [{"kind": "conv2d", "channels": 4}]}))
    r = run("train", "--spec", str(f), "--dataset", "circle")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: layer 1 conv2d: needs an image input (channels x height x width), got 2 features"


def test_listings():
    p = run("presets")
    assert p.returncode == 0
    assert [line.split()[0] for line in p.stdout.splitlines()] == ["playground", "deep-sigmoid", "lenet", "vgg-shapes",
                                                                      "digits8-cnn", "tabular-mlp"]
    d = run("datasets")
    keys = [line.split()[0] for line in d.stdout.splitlines()]
    for k in ("circle", "xor", "gaussian", "spiral", "moons", "plane", "multi-gaussian", "digits",
              "shapes", "real-digits", "breast-cancer", "wine", "folder:PATH", "idx:PATH", "csv:PATH"):
        assert k in keys
    assert "1x28x28" in d.stdout and "3x32x32" in d.stdout
