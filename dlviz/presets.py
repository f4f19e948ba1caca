"""Preset networks, each adapting its input and output to the dataset.

A preset is a function (input_shape, outputs, task) -> NetSpec plus the
dataset it is meant for and training settings that work well there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from dlviz.errors import UserError
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec


@dataclass(frozen=True)
class Preset:
    key: str
    description: str
    dataset: str                     # the dataset it is meant for
    make_layers: Callable[[tuple[int, ...]], list[L]]
    needs_image: bool = False
    train: dict = field(default_factory=dict)   # TrainConfig overrides that suit it

    def spec(self, input_shape: tuple[int, ...], outputs: int, task: str = "classification") -> NetSpec:
        if self.needs_image and len(input_shape) != 3:
            raise UserError(f"preset '{self.key}' is a CNN and needs image data; "
                            f"this dataset has {input_shape[0]} input features")
        layers = self.make_layers(tuple(input_shape))
        if len(input_shape) == 3 and not self.needs_image:
            layers = [L("flatten")] + layers      # an MLP on images sees the pixels as a vector
        return NetSpec(tuple(input_shape), outputs, layers, task, self.key)


def _playground(shape):
    return [L("dense", units=4, activation="tanh"), L("dense", units=2, activation="tanh")]


def _deep_sigmoid(shape):
    # Eight sigmoid layers: the gradient shrinks by up to 4x per layer on the
    # way back, so the first layers barely learn at first (vanishing gradients).
    return [L("dense", units=8, activation="sigmoid") for _ in range(8)]


def _lenet(shape):
    return [
        L("conv2d", channels=6, kernel=5, padding=2, activation="relu"),
        L("maxpool", kernel=2),
        L("conv2d", channels=16, kernel=5, padding=0, activation="relu"),
        L("maxpool", kernel=2),
        L("flatten"),
        L("dense", units=120, activation="relu"),
        L("dense", units=84, activation="relu"),
    ]


def _vgg_shapes(shape):
    def block(c):
        return [L("conv2d", channels=c, kernel=3, padding=1, activation="relu"),
                L("conv2d", channels=c, kernel=3, padding=1, activation="relu"),
                L("maxpool", kernel=2)]
    return block(16) + block(32) + block(64) + [
        L("flatten"), L("dropout", p=0.25), L("dense", units=64, activation="relu")]


def _digits8_cnn(shape):
    # 8x8 -> 4x4 -> 2x2: two conv blocks are all an 8x8 digit has room for
    return [
        L("conv2d", channels=16, kernel=3, padding=1, activation="relu"),
        L("maxpool", kernel=2),
        L("conv2d", channels=32, kernel=3, padding=1, activation="relu"),
        L("maxpool", kernel=2),
        L("flatten"),
        L("dense", units=64, activation="relu"),
    ]


def _tabular_mlp(shape):
    # standardised columns in, a few hundred rows: a small net with dropout does not overfit
    return [L("dense", units=32, activation="relu"), L("dropout", p=0.1),
            L("dense", units=16, activation="relu")]


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in [
        Preset("playground", "TensorFlow Playground's default: 2 hidden tanh layers of 4 and 2 units",
               "circle", _playground, train={"optimizer": "adam", "lr": 0.03, "batch_size": 10,
                                             "epochs": 200}),
        Preset("deep-sigmoid", "8 sigmoid layers of 8 units: watch the gradients vanish",
               "circle", _deep_sigmoid, train={"optimizer": "adam", "lr": 0.01, "batch_size": 32,
                                               "epochs": 300}),
        Preset("lenet", "LeNet-5-like CNN for 28x28 grayscale digits", "digits", _lenet,
               needs_image=True, train={"optimizer": "adam", "lr": 0.002, "batch_size": 64,
                                        "epochs": 4}),
        Preset("vgg-shapes", "small VGG-like CNN (3 blocks of 2 convs) for 32x32 RGB shapes",
               "shapes", _vgg_shapes, needs_image=True,
               train={"optimizer": "adam", "lr": 0.002, "batch_size": 64, "epochs": 8}),
        Preset("digits8-cnn", "small CNN (2 conv blocks) for the real 8x8 handwritten digits",
               "real-digits", _digits8_cnn, needs_image=True,
               train={"optimizer": "adam", "lr": 0.003, "batch_size": 32, "epochs": 30}),
        Preset("tabular-mlp", "MLP of 32 and 16 ReLU units with dropout, for tables (CSV, "
               "breast-cancer, wine)", "breast-cancer", _tabular_mlp,
               train={"optimizer": "adam", "lr": 0.003, "batch_size": 32, "epochs": 60}),
    ]
}


def preset_spec(key: str, input_shape, outputs: int, task: str = "classification") -> NetSpec:
    if key not in PRESETS:
        raise UserError(f"unknown preset '{key}'; choose one of: {', '.join(PRESETS)}")
    return PRESETS[key].spec(tuple(input_shape), outputs, task)
