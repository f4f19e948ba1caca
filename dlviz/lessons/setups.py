"""Helpers that lessons use to say what they start from: a ``Workspace``.

A lesson's set-up is the same thing a shared link carries (``?net=``), so
"Set up" on the Lessons page and the lesson's link give the same dataset,
network and settings.
"""

from __future__ import annotations

from dlviz.data import DATASETS, DatasetParams
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.config import TrainConfig
from dlviz.workspace import Workspace

RAW = ("x1", "x2")


def dense(units: int, activation: str, n: int = 1) -> list[LayerSpec]:
    return [LayerSpec("dense", units=units, activation=activation) for _ in range(n)]


def small_cnn() -> list[LayerSpec]:
    """Three conv blocks and a dense layer: about 83% on 6,000 shapes after 8 epochs, in
    about 20 s on one CPU core (measured; the vgg-shapes preset takes twice as long)."""
    def block(channels: int) -> list[LayerSpec]:
        return [LayerSpec("conv2d", channels=channels, kernel=3, padding=1, activation="relu"),
                LayerSpec("maxpool", kernel=2)]
    return block(16) + block(32) + block(32) + [LayerSpec("flatten"),
                                                 LayerSpec("dense", units=64, activation="relu")]


CNN_TRAINING = dict(optimizer="adam", lr=0.002, batch_size=64, epochs=8)


def workspace(dataset: str, layers: list[LayerSpec], name: str, *, features: tuple[str, ...] = RAW,
              params: dict | None = None, **train) -> Workspace:
    """``layers`` (the output layer is added by the build) on ``dataset``, named ``name``."""
    entry = DATASETS[dataset]
    p = DatasetParams(**{**(params or {}), **({"features": features} if len(entry.input_shape) == 1 else {})})
    shape = (len(features),) if len(entry.input_shape) == 1 else entry.input_shape
    outputs = entry.num_classes if entry.task == "classification" else 1
    spec = NetSpec(shape, outputs, layers, entry.task, name)
    return Workspace(dataset, spec, TrainConfig.from_dict(train), p, "")
