"""Training: settings and the optimizer and schedule registries, the trainer (run
control, step loop, recording schedule, evaluation), backends and the run registry."""

from dlviz.train.config import TrainConfig
from dlviz.train.state import TrainerState
from dlviz.train.trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "TrainerState"]
