"""The optimizer registry: each optimizer's constructor and the settings it takes.

One entry per optimizer. ``TrainConfig.validate``, the trainer
(``make_optimizer``), the command line (``--optimizer`` and one flag per
setting) and the Train page's choices all read this table, so a new optimizer
is one entry here (docs/ARCHITECTURE.md, "Where extensions go"). A setting no
entry has taken before also needs a field of the same name in ``TrainConfig``.

Imports no other dlviz module: ``train/config.py`` validates against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Setting:
    """One optimizer setting: a ``TrainConfig`` field of the same ``name``."""
    name: str
    label: str                  # words for messages, the Train page and the CLI's help
    kind: type
    low: float
    high: float
    default: float
    high_open: bool = False     # True: ``high`` itself is refused
    help: str = ""

    def within(self, value: float) -> bool:
        return self.low <= value < self.high if self.high_open else self.low <= value <= self.high

    def range_text(self) -> str:
        return f"in [{self.low:g}, {self.high:g})" if self.high_open else \
            f"between {self.low:g} and {self.high:g}"


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    # momentum 1 never forgets a gradient: refused
    Setting("momentum", "momentum", float, 0.0, 1.0, 0.9, high_open=True,
            help="SGD and RMSprop momentum, 0 to just under 1"),
    Setting("weight_decay", "L2 weight decay", float, 0.0, 1.0, 0.0,
            help="L2 penalty (decoupled for AdamW)"),
)}


@dataclass(frozen=True)
class Optimizer:
    label: str
    # make(params, lr=..., **{setting: value}) -> a torch optimizer
    make: Callable[..., torch.optim.Optimizer]
    settings: tuple[str, ...]   # names in SETTINGS this optimizer takes


OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": Optimizer("SGD", torch.optim.SGD, ("momentum", "weight_decay")),
    "adam": Optimizer("Adam", torch.optim.Adam, ("weight_decay",)),
    "adamw": Optimizer("AdamW", torch.optim.AdamW, ("weight_decay",)),     # decoupled decay
    "rmsprop": Optimizer("RMSprop", torch.optim.RMSprop, ("momentum", "weight_decay")),
}


def make_optimizer(params, config) -> torch.optim.Optimizer:
    """The optimizer a ``TrainConfig`` names, over ``params``, with the settings its entry
    names (``config`` is not typed here: config.py imports this module)."""
    entry = OPTIMIZERS[config.optimizer]
    return entry.make(list(params), lr=config.lr,
                      **{name: getattr(config, name) for name in entry.settings})
