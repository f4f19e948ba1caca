"""Each preset learns its intended dataset through the real registry and trainer."""

import pytest

from dlviz.data import load_dataset
from dlviz.presets import PRESETS, preset_spec
from dlviz.train.config import TrainConfig
from dlviz.train.trainer import Trainer


def train(preset: str, dataset: str, **overrides):
    ds = load_dataset(dataset)
    spec = preset_spec(preset, ds.input_shape, ds.output_size, ds.task)
    cfg = TrainConfig.from_dict({**PRESETS[preset].train, **overrides})
    t = Trainer(spec, ds, cfg)
    t.start()
    assert t.join(600)
    s = t.state()
    assert s.status == "finished", s.message
    return s


@pytest.mark.parametrize("dataset", ["xor", "circle", "gaussian", "moons"])
def test_playground_learns_2d_sets(dataset):
    assert train("playground", dataset, epochs=100).final["test_accuracy"] >= 0.95


def test_playground_fits_regression_plane():
    assert train("playground", "plane", epochs=60).final["test_loss"] < 0.01


def test_deep_sigmoid_learns_circle_and_shows_vanishing_gradients():
    s = train("deep-sigmoid", "circle")
    assert s.final["test_accuracy"] >= 0.95
    first = s.health[0]["layers"]
    # at initialisation the first layer's gradient is far smaller than the last hidden layer's
    assert first["dense1"]["grad_norm"] < 0.1 * first["dense8"]["grad_norm"]


def test_lenet_learns_digits_to_95_percent():
    assert train("lenet", "digits").final["test_accuracy"] >= 0.95


@pytest.mark.slow
def test_vgg_shapes_learns_shapes():
    assert train("vgg-shapes", "shapes", epochs=6).final["test_accuracy"] >= 0.9
