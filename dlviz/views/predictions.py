"""Predictions as arrays: probabilities, a confusion matrix, images back in pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from dlviz.views._eval import inference


def predict_proba(model: nn.Module, x: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """Softmax probabilities over the outputs: (N, ...) -> float32 (N, K)."""
    if len(x) == 0:
        with inference(model) as device:
            k = model(torch.zeros((1, *x.shape[1:]), device=device)).shape[1]
        return np.zeros((0, k), dtype=np.float32)
    with inference(model) as device:
        parts = [torch.softmax(model(x[i:i + batch].to(device)).float(), dim=1).cpu()
                 for i in range(0, len(x), batch)]
    return torch.cat(parts).numpy()


def confusion_matrix(y_true, y_pred, k: int) -> np.ndarray:
    """Counts (k, k) int64: row = true class, column = predicted class."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    if len(t) and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"class indices must be in [0, {k}), got {min(t.min(), p.min())}.."
                         f"{max(t.max(), p.max())}")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def denormalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Undo the dataset's per-channel normalisation: (N, C, H, W) -> uint8 (N, H, W, C).

    Datasets normalise pixels scaled to [0, 1], so the result is
    ``(x * std + mean) * 255``, rounded and clipped to [0, 255].
    """
    x = torch.as_tensor(x).detach().float().cpu()
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(x.shape)}")
    c = x.shape[1]
    m = torch.as_tensor(mean if len(mean) else [0.0] * c, dtype=torch.float32).reshape(1, -1, 1, 1)
    s = torch.as_tensor(std if len(std) else [1.0] * c, dtype=torch.float32).reshape(1, -1, 1, 1)
    pixels = ((x * s + m) * 255.0).round().clamp(0, 255).to(torch.uint8)   # (N, C, H, W)
    return pixels.permute(0, 2, 3, 1).contiguous().numpy()


@dataclass(frozen=True)
class Predictions:
    """The model's predictions on the first ``n`` of a dataset's ``of`` test samples."""
    pred: np.ndarray        # (n,) predicted class
    y: np.ndarray           # (n,) true class
    of: int                 # test samples in the dataset

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def right(self) -> int:
        return int((self.pred == self.y).sum())

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else float("nan")

    def confusion(self, k: int) -> np.ndarray:
        return confusion_matrix(self.y, self.pred, k)

    def summary(self) -> str:
        """'2,323/2,400 test images right (96.8%)', or with a limit '970/1,000 right (97.0%):
        the first 1,000 of 2,400 test images': every count says what it counts."""
        acc = f" ({100 * self.accuracy:.1f}%)" if self.n else ""
        if self.n == self.of:
            return f"{self.right:,}/{self.n:,} test images right{acc}"
        return f"{self.right:,}/{self.n:,} right{acc}: the first {self.n:,} of {self.of:,} test images"


def predict_test_set(model: nn.Module, x: torch.Tensor, y: torch.Tensor, limit: int | None = None,
                     batch: int = 1024) -> Predictions:
    """Predicted classes on the test set, all of it by default (as the final test
    accuracy is), or on its first ``limit`` samples, said so by ``summary()``."""
    n = len(x) if limit is None else min(int(limit), len(x))
    pred = predict_proba(model, x[:n], batch).argmax(1) if n else np.zeros(0, dtype=np.int64)
    return Predictions(np.asarray(pred, dtype=np.int64), np.asarray(y[:n], dtype=np.int64).ravel(), len(x))
