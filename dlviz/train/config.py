"""Training settings as data: stored in bundles and shared links."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from dlviz.errors import UserError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.9          # SGD and RMSprop
    batch_size: int = 32
    epochs: int = 10
    weight_decay: float = 0.0      # L2 (decoupled for AdamW)
    l1: float = 0.0                # added to the loss: l1 * sum |w| over weights
    schedule: str = "constant"
    seed: int = 0
    device: str = "auto"
    # recording schedule, in optimizer steps (0 = automatic from the run length)
    eval_every: int = 0
    health_every: int = 0
    snapshot_every: int = 0
    max_snapshots: int = 60

    def validate(self) -> "TrainConfig":
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"unknown optimizer '{self.optimizer}'; use one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown schedule '{self.schedule}'; use one of {', '.join(SCHEDULES)}")
        if not (0 < self.lr <= 10):
            raise UserError(f"learning rate must be in (0, 10], got {self.lr}")
        if not (1 <= self.batch_size <= 4096):
            raise UserError(f"batch size must be between 1 and 4096, got {self.batch_size}")
        if not (1 <= self.epochs <= 100_000):
            raise UserError(f"epochs must be between 1 and 100000, got {self.epochs}")
        if self.weight_decay < 0 or self.l1 < 0:
            raise UserError("weight decay and L1 penalty must not be negative")
        if not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.max_snapshots < 2:
            raise UserError("keep at least 2 snapshots")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(d) - set(known)
        if unknown:
            raise UserError(f"unknown training setting '{sorted(unknown)[0]}'")
        try:
            cfg = cls(**{k: type(getattr(cls(), k))(v) for k, v in d.items()})
        except (TypeError, ValueError) as e:
            raise UserError(f"bad training setting: {e}") from None
        return cfg.validate()

    def replace(self, **kw) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **kw})
