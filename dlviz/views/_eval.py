"""Run a model for viewing: eval mode, no autograd, training flag restored."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from dlviz.train.device import device_of


@contextmanager
def inference(model: nn.Module) -> Iterator[torch.device]:
    """``with inference(model) as device:`` -- eval mode and no_grad inside; yields
    the device of the model's parameters (CPU for a parameter-free model)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield device_of(model)
    finally:
        model.train(was_training)
