"""Concept attribution (dlviz/explain/concepts.py) and concept images
(dlviz/data/concept_images.py): a planted colour shortcut is found, a random concept
is not, bounds, the caller's model left as it was, nothing left on disk."""

import io
import os
import tempfile
import zipfile

import pytest
import torch
from PIL import Image
from torch import nn

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.data.concept_images import (builtin_concept, builtin_concepts, random_sets,
                                       read_concepts)
from dlviz.errors import UserError
from dlviz.explain import concepts as concepts_module
from dlviz.explain.concepts import (MAX_CONCEPTS, concept_layers, default_concept_layer, tcav,
                                    tcav_over_training)
from dlviz.probe import hook_count
from dlviz.spec import LayerSpec, NetSpec

SQUARE = 2                                       # shapes.CLASSES.index("square")
LAYER = "conv2_relu"


def _spec(shape, outputs):
    return NetSpec(shape, outputs, [
        LayerSpec("conv2d", {"channels": 8, "kernel": 3, "padding": 1, "activation": "relu"}),
        LayerSpec("maxpool", {"kernel": 2}),
        LayerSpec("conv2d", {"channels": 16, "kernel": 3, "padding": 1, "activation": "relu"}),
        LayerSpec("maxpool", {"kernel": 2}),
        LayerSpec("flatten", {}),
        LayerSpec("dense", {"units": 32, "activation": "relu"})])


@pytest.fixture(scope="module")
def trained():
    """A small CNN trained 8 epochs on 480 biased shapes (every training square red,
    nothing else red): it learns "red means square". Checkpoints after each epoch."""
    ds = load_dataset("shapes-biased", n_samples=600, seed=0)
    net = build(_spec(ds.input_shape, ds.output_size), seed=0)
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(net.model.parameters(), lr=0.003)
    checkpoints = []
    for epoch in range(8):
        order = torch.randperm(len(ds.x_train), generator=gen)
        for i in range(0, len(order), 32):
            b = order[i:i + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(net.model(ds.x_train[b]), ds.y_train[b]).backward()
            opt.step()
        checkpoints.append((10 * (epoch + 1), {k: v.clone() for k, v in net.model.state_dict().items()}))
    net.model.eval()
    with torch.no_grad():                        # the shortcut was learned: red non-squares -> square
        red = ds.extra["red_test"]
        assert (net.model(ds.x_test[red]).argmax(1) == SQUARE).float().mean() > 0.5
    inputs = ds.x_test[ds.y_test == SQUARE]      # held-out squares, none of them red
    return ds, net, checkpoints, inputs


def test_the_planted_colour_matters_and_a_random_concept_does_not(trained):
    ds, net, _, inputs = trained
    concepts = {"red": builtin_concept(ds, "red", 40), "green": builtin_concept(ds, "green", 40),
                "noise": builtin_concept(ds, "noise", 40),
                "random images": random_sets(ds, 1, 40, seed=100)[0]}
    result = tcav(net, LAYER, SQUARE, inputs, concepts, random_sets(ds, 10, 40))
    by = {s.name: s for s in result.scores}
    assert [s.name for s in result.scores] == list(concepts)
    assert result.layer == LAYER and result.target == SQUARE and result.inputs == len(inputs)
    assert len(result.random_scores) == 10 and result.seconds > 0
    # Measured: red scores 1.00 (every square's score rises towards red), p ~ 1e-3.
    assert by["red"].significant and by["red"].score > 0.9 and by["red"].cav_accuracy > 0.7
    # Random training images, drawn like the random sets: p ~ 0.3 here. Not a given:
    # of 18 random concepts (6 seeds) 2 came out significant (see dlviz/explain/concepts.py).
    assert not by["random images"].significant and by["random images"].p_value > 0.1
    assert by["random images"].cav_accuracy < 0.65          # the layer cannot tell it apart
    # Random pixels: perfectly separable, and the noise direction LOWERS "square" for
    # every input (score ~0): significant, in the negative direction.
    assert by["noise"].cav_accuracy > 0.95 and by["noise"].score < 0.2
    assert by["red"].score > by["green"].score
    for s in result.scores:
        assert 0 <= s.score <= 1 and s.spread >= 0 and 0 <= s.p_value <= 1


def test_same_call_same_answer(trained):
    ds, net, _, inputs = trained
    concepts = {"red": builtin_concept(ds, "red", 20), "blue": builtin_concept(ds, "blue", 20)}
    randoms = random_sets(ds, 3, 20)
    a = tcav(net, LAYER, SQUARE, inputs, concepts, randoms)
    b = tcav(net, LAYER, SQUARE, inputs, concepts, randoms)
    assert a.scores == b.scores and a.random_scores == b.random_scores


def test_over_training_steps_in_order_last_is_the_final_model(trained):
    ds, net, checkpoints, inputs = trained
    concepts = {"red": builtin_concept(ds, "red", 20)}
    randoms = random_sets(ds, 3, 20)
    out = tcav_over_training(net, checkpoints, LAYER, SQUARE, inputs, concepts, randoms)
    steps = [s for s, _ in out]
    assert len(out) == 5 and steps == sorted(steps) and steps[0] == 10 and steps[-1] == 80
    final = tcav(net, LAYER, SQUARE, inputs, concepts, randoms)
    assert out[-1][1].scores == final.scores
    with pytest.raises(UserError):
        tcav_over_training(net, [], LAYER, SQUARE, inputs, concepts, randoms)


def test_bounds(trained, monkeypatch):
    ds, net, _, inputs = trained
    red = builtin_concept(ds, "red", 10)
    randoms = random_sets(ds, 3, 10)
    ok = {"red": red}
    with pytest.raises(UserError, match="1 to"):
        tcav(net, LAYER, SQUARE, inputs, {f"c{i}": red for i in range(MAX_CONCEPTS + 1)}, randoms)
    with pytest.raises(UserError, match="input shape"):
        tcav(net, LAYER, SQUARE, inputs, {"red": red[:, :1]}, randoms)
    with pytest.raises(UserError, match="unknown layer"):
        tcav(net, "conv9", SQUARE, inputs, ok, randoms)
    with pytest.raises(UserError, match="flatten1|unknown layer"):
        tcav(net, "flatten1", SQUARE, inputs, ok, randoms)          # passes its input on
    with pytest.raises(UserError, match="unknown layer"):
        tcav(net, "dense1_relu", SQUARE, inputs, ok, randoms)       # the head is linear in it
    with pytest.raises(UserError, match="do not fit"):
        tcav(net, LAYER, SQUARE, inputs[:, :, :16], ok, randoms)
    with pytest.raises(UserError, match="class index"):
        tcav(net, LAYER, 8, inputs, ok, randoms)
    with pytest.raises(UserError, match="random sets"):
        tcav(net, LAYER, SQUARE, inputs, ok, randoms[:2])
    with pytest.raises(UserError, match="images"):
        tcav(net, LAYER, SQUARE, inputs, {"red": red[:4]}, randoms)
    # conv1_relu: 8 x 32 x 32 values for each of 15 + 10 + 3 * 10 images; conv2_relu: half that
    monkeypatch.setattr(concepts_module, "MAX_ACTIVATION_VALUES", 8 * 32 * 32 * 50)
    with pytest.raises(UserError, match="values per image"):
        tcav(net, "conv1_relu", SQUARE, inputs, ok, randoms)
    tcav(net, LAYER, SQUARE, inputs, ok, randoms)
    with pytest.raises(UserError):
        builtin_concept(ds, "purple")
    with pytest.raises(UserError):
        random_sets(ds, 11)
    assert builtin_concepts(load_dataset("gaussian", n_samples=50)) == {}


def test_the_model_is_left_as_it_was_and_nothing_on_disk(trained, tmp_path, monkeypatch):
    ds, net, _, inputs = trained
    monkeypatch.chdir(tmp_path)                                  # Captum's default is ./cav/
    made = []

    class Recorded(tempfile.TemporaryDirectory):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self.name)

    monkeypatch.setattr(concepts_module.tempfile, "TemporaryDirectory", Recorded)
    model = net.model
    model.train()
    for p in model.conv1.parameters():
        p.requires_grad_(False)
    fired = []
    handle = model.conv2_relu.register_forward_hook(lambda *a: fired.append(1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = hook_count(model)
    flags = [p.requires_grad for p in model.parameters()]
    try:
        tcav(net, LAYER, SQUARE, inputs, {"red": builtin_concept(ds, "red", 10)},
             random_sets(ds, 3, 10))
        assert hook_count(model) == hooks and fired == []
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert model.training and [p.requires_grad for p in model.parameters()] == flags
        assert os.listdir(tmp_path) == []                        # no ./cav
        assert len(made) == 1 and not os.path.exists(made[0])    # Captum's folder is gone
    finally:
        handle.remove()
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()


def test_a_plain_module_takes_any_named_submodule():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    g = torch.Generator().manual_seed(0)
    sets = [torch.randn(10, 4, generator=g) for _ in range(4)]
    result = tcav(model, "1", 0, torch.randn(12, 4, generator=g), {"a": sets[0]}, sets[1:])
    assert result.layer == "1" and len(result.scores) == 1 and result.inputs == 12
    with pytest.raises(UserError, match="unknown layer"):
        tcav(model, "", 0, sets[0], {"a": sets[0]}, sets[1:])


def test_layers():
    ds = load_dataset("shapes", n_samples=40)
    net = build(_spec(ds.input_shape, ds.output_size), seed=0)
    layers = concept_layers(net)
    assert "flatten1" not in layers and "output" not in layers and layers[0] == "conv1"
    # the head is linear in dense1_relu: one gradient for all inputs, scores only 0 or 1
    assert layers[-1] == "dense1" and "dense1_relu" not in layers
    assert default_concept_layer(net) == "conv2_relu"


def test_builtin_concepts_are_what_they_say():
    ds = load_dataset("shapes", n_samples=40)
    assert {"red", "green", "blue", "yellow", "filled", "outlined", "noise"} <= set(builtin_concepts(ds))
    mean = torch.tensor(ds.norm_mean).view(1, 3, 1, 1)
    std = torch.tensor(ds.norm_std).view(1, 3, 1, 1)
    red = builtin_concept(ds, "red", 20) * std + mean                # back to [0, 1]
    assert red.shape == (20, 3, 32, 32)
    reddish = (red[:, 0] > 0.7) & (red[:, 1] < 0.35) & (red[:, 2] < 0.35)   # (20, 32, 32)
    assert (reddish.flatten(1).float().mean(1) > 0.03).all()        # every image has a red shape
    assert (reddish.flatten(1).float().mean(1) < 0.6).all()         # on a background not red
    filled = builtin_concept(ds, "filled", 20, seed=3) * std + mean
    outlined = builtin_concept(ds, "outlined", 20, seed=3) * std + mean
    # the same shapes in the same colours; the outline keeps the edge, its inside is background
    shape = lambda x: (x - x[:, :, :1, :1]).abs().sum(1) > 0.5         # (20, 32, 32); corner: background
    edge, solid = shape(outlined), shape(filled)
    assert (edge & ~solid).sum() < 0.01 * edge.sum()                    # pixel noise aside, a subset
    assert (edge.flatten(1).sum(1) < 0.8 * solid.flatten(1).sum(1)).all()
    assert (edge.flatten(1).sum(1) > 0.1 * solid.flatten(1).sum(1)).all()
    assert torch.equal(builtin_concept(ds, "noise", 5, seed=1), builtin_concept(ds, "noise", 5, seed=1))


def test_random_sets_are_stratified_and_disjoint():
    ds = load_dataset("shapes", n_samples=800)
    sets = random_sets(ds, 4, 40, seed=2)
    rows = {tuple(x.flatten()[:8].tolist()) for s in sets for x in s}
    assert len(rows) == 160                                          # disjoint
    index = {tuple(x.flatten()[:8].tolist()): int(y) for x, y in zip(ds.x_train, ds.y_train)}
    for s in sets:
        counts = torch.bincount(torch.tensor([index[tuple(x.flatten()[:8].tolist())] for x in s]),
                                minlength=8)
        assert counts.tolist() == [5] * 8                            # 40 / 8 classes


def _png(colour, size=(20, 12), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def test_read_concepts_from_a_folder_and_a_zip(tmp_path):
    ds = load_dataset("shapes", n_samples=40)
    root = tmp_path / "concepts"
    for name, colour, count in (("striped", (250, 0, 0), 6), ("grey", 128, 7), ("few", (0, 0, 255), 3)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            mode = "L" if isinstance(colour, int) else "RGB"
            (root / name / f"{i}.png").write_bytes(_png(colour, mode=mode))
    (root / "striped" / "notes.txt").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"junk")
    with pytest.raises(UserError, match="few"):                      # 3 images: too few
        read_concepts(str(root), ds)
    for f in (root / "few").iterdir():
        f.unlink()
    (root / "few").rmdir()
    notes = []
    got = read_concepts(str(root), ds, notes)
    assert sorted(got) == ["grey", "striped"]
    assert got["striped"].shape == (6, 3, 32, 32) and got["grey"].shape == (7, 3, 32, 32)
    assert any("notes.txt" in n for n in notes)                     # the junk file was skipped
    mean, std = torch.tensor(ds.norm_mean), torch.tensor(ds.norm_std)
    pixel = got["striped"][0, :, 5, 5] * std + mean
    assert torch.allclose(pixel, torch.tensor([250, 0, 0]) / 255, atol=1e-4)
    assert torch.allclose(got["grey"][0, :, 0, 0] * std + mean, torch.full((3,), 128 / 255), atol=1e-4)

    zpath = tmp_path / "concepts.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i in range(5):
            zf.writestr(f"mine/dotted/{i}.png", _png((0, 200, 0)))
        zf.writestr("mine/dotted/junk.png", b"not a png")
        zf.writestr("__MACOSX/mine/dotted/._0.png", b"junk")
    notes = []
    got = read_concepts(str(zpath), ds, notes)
    assert list(got) == ["dotted"] and got["dotted"].shape == (5, 3, 32, 32)
    assert len(notes) == 1 and "junk.png" in notes[0]
    with pytest.raises(UserError):
        read_concepts(str(tmp_path / "missing"), ds)
