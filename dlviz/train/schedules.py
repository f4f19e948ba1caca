"""The learning-rate schedule registry: name -> the rate at each step.

One entry per schedule: a function ``lr_at(lr, step, total_steps)`` for
optimizer step ``step`` (0-based) of ``total_steps``, and its ``shape``,
which the contract tests check (tests/test_contracts_train.py). The config's
validation, the command line and the Train page list these names, so a new
schedule is one entry here (docs/ARCHITECTURE.md, "Where extensions go").

Imports no other dlviz module: ``train/config.py`` validates against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

# what a schedule does over a run, as the contract tests check it
CONSTANT = "constant"       # the configured rate at every step
DECAYS = "decays"           # starts at the configured rate, never rises, ends lower


@dataclass(frozen=True)
class Schedule:
    label: str
    lr_at: Callable[[float, int, int], float]
    shape: str


def _constant(lr: float, step: int, total_steps: int) -> float:
    return lr


def _step(lr: float, step: int, total_steps: int) -> float:
    """Halve the rate at each quarter of training."""
    quarter = max(1, total_steps // 4)
    return lr * 0.5 ** min(3, step // quarter)


def _cosine(lr: float, step: int, total_steps: int) -> float:
    """Anneal from lr to 0 over the run (no warm-up: these nets are small)."""
    return lr * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / max(1, total_steps)))


SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule("constant", _constant, CONSTANT),
    "step": Schedule("halve each quarter", _step, DECAYS),
    "cosine": Schedule("cosine to zero", _cosine, DECAYS),
}


def lr_at(config, step: int, total_steps: int) -> float:
    """The learning rate a ``TrainConfig`` gives optimizer step ``step`` (0-based) of
    ``total_steps`` (``config`` is not typed here: config.py imports this module)."""
    return SCHEDULES[config.schedule].lr_at(config.lr, step, total_steps)


def varies(config) -> bool:
    """Whether the loop must set the rate at each step (a constant one never changes)."""
    return SCHEDULES[config.schedule].shape != CONSTANT
