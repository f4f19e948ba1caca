"""Optimizer registry and learning-rate schedules."""

from __future__ import annotations

import math
from typing import Callable

import torch

from dlviz.train.config import TrainConfig

OPTIMIZER_FACTORIES: dict[str, Callable[[list, TrainConfig], torch.optim.Optimizer]] = {
    "sgd": lambda ps, c: torch.optim.SGD(ps, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda ps, c: torch.optim.Adam(ps, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda ps, c: torch.optim.AdamW(ps, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda ps, c: torch.optim.RMSprop(ps, lr=c.lr, momentum=c.momentum,
                                                 weight_decay=c.weight_decay),
}


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    return OPTIMIZER_FACTORIES[config.optimizer](list(params), config)


def lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    step:   halve the rate at each quarter of training;
    cosine: anneal from lr to 0 over the run (no warm-up: these nets are small).
    """
    if config.schedule == "step":
        quarter = max(1, total_steps // 4)
        return config.lr * 0.5 ** min(3, step // quarter)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / max(1, total_steps)))
    return config.lr
