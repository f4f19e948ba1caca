"""The in-memory dataset every trainer, page and explainer works with."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dlviz.data.params import DatasetParams


@dataclass(frozen=True)
class Dataset:
    """A train/test split held as tensors, ready to be moved to a device whole.

    x_*:     float32 (N, *input_shape); images are normalised with norm_mean/std
    y_*:     int64 (N,) for classification, float32 (N, 1) for regression
    points_*: for 2-D sets the raw (N, 2) plane coordinates before feature
              expansion (what the decision-boundary plot draws); None otherwise
    masks_*: bool (N, H, W) ground-truth object masks (synthetic shapes only)
    feature_names: tabular sets: one name per entry of the input vector, e.g.
              ("age", "colour=red", "colour=blue") after one-hot encoding
    """

    key: str                       # registry key or "folder:PATH" / "idx:PATH"
    task: str                      # "classification" | "regression"
    input_shape: tuple[int, ...]   # (F,) for vectors, (C, H, W) for images
    classes: tuple[str, ...]       # class names; () for regression
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    description: str = ""
    features: tuple[str, ...] = ()          # 2-D sets: names of the input features
    feature_names: tuple[str, ...] = ()     # tabular sets: names of the input columns
    points_train: torch.Tensor | None = None
    points_test: torch.Tensor | None = None
    masks_train: torch.Tensor | None = None
    masks_test: torch.Tensor | None = None
    norm_mean: tuple[float, ...] = ()       # per channel, images only
    norm_std: tuple[float, ...] = ()
    skipped_files: int = 0                  # folder datasets: unreadable files skipped
    extra: dict = field(default_factory=dict)
    params: DatasetParams | None = None     # what it was built with (load_dataset sets it): a
                                            # bundle records it so its training split can be rebuilt

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def output_size(self) -> int:
        """Width of the network's last layer: one logit per class, or 1 value."""
        return self.num_classes if self.task == "classification" else 1

    @property
    def input_names(self) -> tuple[str, ...]:
        """A name for each entry of a vector input (tabular columns or 2-D features);
        () for images."""
        return self.feature_names or self.features

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    def summary(self) -> str:
        shape = "x".join(str(s) for s in self.input_shape)
        kind = f"{self.num_classes} classes" if self.task == "classification" else "regression"
        name = self.extra.get("label", self.key)       # a key too long to read (drawn points) has a label
        return f"{name}: input {shape}, {kind}, {len(self.x_train):,} train / {len(self.x_test):,} test"
