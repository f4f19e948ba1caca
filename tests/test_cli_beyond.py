"""python -m dlviz explain --influence K: the training examples behind a prediction of a
saved model, from the bundle's checkpoints and its rebuilt training set."""

import json
import os
import shutil

import pytest
from PIL import Image

from dlviz import cli
from dlviz.bundle import load_bundle
from dlviz.bundle_checkpoints import CHECKPOINTS_FILE
from dlviz.data import load_dataset
from dlviz.views.predictions import denormalise


def _main(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def digits_bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("beyond")
    assert cli.main(["train", "--preset", "lenet", "--dataset", "digits", "--samples", "1500",
                     "--epochs", "2", "--seed", "2", "--out", str(d / "b"), "--no-progress"]) == 0
    ds = load_dataset("digits", n_samples=1500, seed=2)
    img = denormalise(ds.x_test[:1], ds.norm_mean, ds.norm_std)[0, ..., 0]
    Image.fromarray(img).save(d / "digit.png")
    return d, int(ds.y_test[0])


def test_influence_writes_a_grid_and_lists_proponents_and_opponents(capsys, digits_bundle):
    d, _ = digits_bundle
    code, out, err = _main(capsys, "explain", "--bundle", str(d / "b"), "--image", str(d / "digit.png"),
                           "--method", "saliency", "--influence", "5", "--out", str(d / "o"))
    assert code == 0, err
    r = json.loads(out.strip().splitlines()[-1])
    inf = r["influence"]
    assert inf["target"] == r["target"] and inf["from_checkpoints"] is True
    steps = [s for s, _ in load_bundle(str(d / "b")).checkpoints]
    assert inf["checkpoints"] == steps and len(steps) >= 3
    assert inf["dataset"] == "digits" and inf["considered"] == 1200          # the rebuilt training split
    pro, opp = inf["proponents"], inf["opponents"]
    assert len(pro) == len(opp) == 5
    assert [p["score"] for p in pro] == sorted((p["score"] for p in pro), reverse=True)
    assert [o["score"] for o in opp] == sorted(o["score"] for o in opp)
    assert pro[0]["score"] > 0 > opp[0]["score"]
    # the strongest proponents of a confident digit carry its label
    assert sum(p["label"] == str(r["target"]) for p in pro) >= 3, pro
    with Image.open(inf["file"]) as im:
        assert im.width > 5 * 84 and im.height > 2 * 84


def test_influence_from_a_bundle_without_checkpoints_uses_the_final_weights(capsys, digits_bundle, tmp_path):
    d, _ = digits_bundle
    shutil.copytree(d / "b", tmp_path / "b")
    os.remove(tmp_path / "b" / CHECKPOINTS_FILE)
    code, out, err = _main(capsys, "explain", "--bundle", str(tmp_path / "b"), "--image", str(d / "digit.png"),
                           "--method", "saliency", "--influence", "2", "--out", str(tmp_path / "o"))
    assert code == 0, err
    inf = json.loads(out.strip().splitlines()[-1])["influence"]
    assert inf["from_checkpoints"] is False and len(inf["checkpoints"]) == 1


@pytest.mark.parametrize("k, message", [("0", "between 1 and 32"), ("33", "between 1 and 32")])
def test_influence_out_of_range_is_one_line(capsys, digits_bundle, tmp_path, k, message):
    d, _ = digits_bundle
    code, out, err = _main(capsys, "explain", "--bundle", str(d / "b"), "--image", str(d / "digit.png"),
                           "--method", "saliency", "--influence", k, "--out", str(tmp_path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_influence_needs_to_know_the_training_set(capsys, digits_bundle, tmp_path):
    d, _ = digits_bundle
    shutil.copytree(d / "b", tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "model.json").read_text())
    meta["dataset"]["key"] = ""
    (tmp_path / "b" / "model.json").write_text(json.dumps(meta))
    code, out, err = _main(capsys, "explain", "--bundle", str(tmp_path / "b"), "--image", str(d / "digit.png"),
                           "--method", "saliency", "--influence", "3", "--out", str(tmp_path / "o"))
    assert code == 2 and "does not say which dataset" in err, err


@pytest.fixture(scope="module")
def shapes_bundle(tmp_path_factory):
    from dlviz.data.concept_images import builtin_concept
    d = tmp_path_factory.mktemp("concepts")
    assert cli.main(["train", "--preset", "vgg-shapes", "--dataset", "shapes-biased", "--samples", "600",
                     "--epochs", "1", "--out", str(d / "b"), "--no-progress"]) == 0
    ds = load_dataset("shapes-biased", n_samples=600)
    for name in ("red", "blue"):
        os.makedirs(d / "concepts" / name)
        for i, img in enumerate(denormalise(builtin_concept(ds, name, 12), ds.norm_mean, ds.norm_std)):
            Image.fromarray(img).save(d / "concepts" / name / f"{i}.png")
    Image.fromarray(denormalise(ds.x_test[:1], ds.norm_mean, ds.norm_std)[0]).save(d / "shape.png")
    return d


def test_concepts_write_bars_and_list_scores_with_their_test(capsys, shapes_bundle):
    d = shapes_bundle
    code, out, err = _main(capsys, "explain", "--bundle", str(d / "b"), "--image", str(d / "shape.png"),
                           "--method", "saliency", "--concepts", str(d / "concepts"), "--target", "2",
                           "--out", str(d / "o"))
    assert code == 0, err
    c = json.loads(out.strip().splitlines()[-1])["concepts"]
    assert c["target"] == 2 and c["layer"] == "conv6_relu"
    assert [s["name"] for s in c["scores"]] == ["blue", "red"]
    for s in c["scores"]:
        assert 0 <= s["score"] <= 1 and 0 <= s["p_value"] <= 1 and isinstance(s["significant"], bool)
        assert s["significant"] == (s["p_value"] < 0.05 / 2)              # Bonferroni over 2 concepts
    assert len(c["random_scores"]) == 6                                    # the registry's default
    with Image.open(c["file"]) as im:
        assert im.size == (560, 300)


@pytest.mark.parametrize("extra, message", [
    (["--concepts", "nowhere"], "no such folder or zip"),
    (["--concepts", "CONCEPTS", "--concept-layer", "conv99"], "not a layer of this model"),
    (["--concept-layer", "conv1"], "only used with --concepts"),
])
def test_concept_mistakes_are_one_line(capsys, shapes_bundle, extra, message):
    d = shapes_bundle
    extra = [str(d / "concepts") if a == "CONCEPTS" else a for a in extra]
    code, out, err = _main(capsys, "explain", "--bundle", str(d / "b"), "--image", str(d / "shape.png"),
                           "--method", "saliency", *extra, "--out", str(d / "o"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
