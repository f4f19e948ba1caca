"""Training settings as data: stored in bundles and shared links."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from dlviz.errors import UserError
from dlviz.spec import fmt_whole
from dlviz.train.device import DEVICE_CHOICES
from dlviz.train.optimizers import OPTIMIZERS, SETTINGS
from dlviz.train.precision import PRECISIONS
from dlviz.train.schedules import SCHEDULES

# Inclusive (low, high) of each number, with words for the message. The Train page's
# inputs offer these ranges, so a link's value always fits its widget. The optimizers'
# own settings (momentum, weight decay) and their ranges are in optimizers.SETTINGS.
LIMITS: dict[str, tuple[float, float, str]] = {
    "lr": (1e-5, 10.0, "learning rate"),
    "batch_size": (1, 4096, "batch size"),
    "epochs": (1, 100_000, ""),
    "l1": (0.0, 1.0, "L1 penalty"),
    "seed": (0, 2**31 - 1, "random seed"),
    # recording schedule, in optimizer steps; 0 = automatic
    "eval_every": (0, 1_000_000, "steps between evaluations"),
    "health_every": (0, 1_000_000, "steps between health checks"),
    "snapshot_every": (0, 1_000_000, "steps between snapshots"),
    # each snapshot is a copy of the weights kept in the server
    "max_snapshots": (2, 500, "snapshots kept"),
}


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = SETTINGS["momentum"].default          # SGD and RMSprop
    batch_size: int = 32
    epochs: int = 10
    weight_decay: float = SETTINGS["weight_decay"].default  # L2 (decoupled for AdamW)
    l1: float = 0.0                # added to the loss: l1 * sum |w| over weights
    schedule: str = "constant"
    seed: int = 0
    device: str = "auto"
    # "bf16": mixed precision (train/precision.py); whether the device can is checked
    # when training starts. Old links and bundles have no such key: float32.
    precision: str = "float32"
    # recording schedule, in optimizer steps (0 = automatic from the run length)
    eval_every: int = 0
    health_every: int = 0
    snapshot_every: int = 0
    max_snapshots: int = 60

    def validate(self) -> "TrainConfig":
        """Every field typed and within ``LIMITS``; raises ``UserError`` naming the field."""
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name))
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"unknown optimizer '{self.optimizer}'; use one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown schedule '{self.schedule}'; use one of {', '.join(SCHEDULES)}")
        _check_device(self.device)
        if self.precision not in PRECISIONS:
            raise UserError(f"training setting 'precision' must be one of {', '.join(PRECISIONS)}, "
                            f"got {self.precision!r:.40}")
        for name, (lo, hi, what) in LIMITS.items():
            v = getattr(self, name)
            if not lo <= v <= hi:
                said = f" ({what})" if what else ""
                raise UserError(f"training setting '{name}'{said} must be between {_fmt(lo)} and "
                                f"{_fmt(hi)}, got {_fmt(v)}")
        for name, setting in SETTINGS.items():
            v = getattr(self, name)
            if not setting.within(v):
                said = f" ({setting.label})" if setting.label != name else ""
                raise UserError(f"training setting '{name}'{said} must be {setting.range_text()}, "
                                f"got {_fmt(v)}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """From untrusted data (a link, a bundle): no casting, so 1.5 epochs is an error, not 1."""
        if not isinstance(d, dict):
            raise UserError(f"training settings must be an object of name: value, got {d!r:.40}")
        unknown = set(d) - set(_KINDS)
        if unknown:
            raise UserError(f"unknown training setting '{sorted(map(str, unknown))[0]}'")
        for k, v in d.items():
            _check_type(k, v)
        # a whole number is a fine float (JSON writes 1.0 as 1 in some tools)
        return cls(**{k: float(v) if _KINDS[k] is float else v for k, v in d.items()}).validate()

    def replace(self, **kw) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **kw})


_KINDS: dict[str, type] = {f.name: type(f.default) for f in fields(TrainConfig)}


def _check_type(name: str, v) -> None:
    kind = _KINDS[name]
    if kind is str and not isinstance(v, str):
        raise UserError(f"training setting '{name}' must be text, got {v!r:.40}")
    if kind is int and (not isinstance(v, int) or isinstance(v, bool)):
        raise UserError(f"training setting '{name}' must be a whole number, got {v!r:.40}")
    if kind is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UserError(f"training setting '{name}' must be a number, got {v!r:.40}")
        if isinstance(v, float) and not math.isfinite(v):
            raise UserError(f"training setting '{name}' must be a finite number, got {v!r}")
        if isinstance(v, int) and abs(v) > 1e300:          # float() of it would overflow
            raise UserError(f"training setting '{name}' is far too large")


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else fmt_whole(x).replace(",", "")


def _check_device(device: str) -> None:
    # "cuda:1" picks a GPU; whether it exists is checked when training starts
    base, sep, index = device.lower().partition(":")
    if base not in DEVICE_CHOICES or (sep and (base == "auto" or not index.isdigit() or len(index) > 2)):
        raise UserError(f"training setting 'device' must be one of {', '.join(DEVICE_CHOICES)} "
                        f"(or cuda:N), got {device!r:.40}")
