"""Training: config, trainer thread, recording, backends and the run registry."""

from dlviz.train.config import TrainConfig
from dlviz.train.state import TrainerState
from dlviz.train.trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "TrainerState"]
