"""What the lesson checks read: plain facts about a student's runs.

``RunFacts`` is a copy of one run's state (history, evaluations, health, the
final metrics), its network, settings and dataset, and a way to fetch its
newest weights for the few checks that compute on the model. Checks never
see the run registry or Streamlit, so they are tested on facts built from
real small training runs (tests/test_lessons.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from dlviz.data.dataset import Dataset
from dlviz.spec import NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.state import ENDED, TrainerState

RELU_FAMILY = ("relu", "leaky_relu", "gelu", "elu", "silu", "selu")
SQUASHING = ("sigmoid", "tanh")


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    state: TrainerState
    spec: NetSpec
    config: TrainConfig
    dataset: Dataset
    params_samples: int                  # train + test samples the dataset was built with
    weights: Callable[[], dict[str, torch.Tensor]] = field(default=lambda: {}, repr=False, compare=False)

    # -- what the checks ask ------------------------------------------------------
    @property
    def dataset_key(self) -> str:
        return self.dataset.key

    @property
    def ended(self) -> bool:
        return self.state.status in ENDED

    @property
    def n_train(self) -> int:
        return len(self.dataset.x_train)

    def metric(self, name: str) -> float | None:
        """The final full-set value of ``name`` (e.g. "test_accuracy"), else the newest periodic one."""
        v = self.state.final.get(name, self.state.latest_eval().get(name))
        return None if v is None else float(v)

    @property
    def test_accuracy(self) -> float | None:
        return self.metric("test_accuracy")

    @property
    def train_accuracy(self) -> float | None:
        return self.metric("train_accuracy")

    @property
    def first_loss(self) -> float | None:
        h = self.state.history
        return float(h[0]["train_loss"]) if h else None

    @property
    def last_loss(self) -> float | None:
        h = self.state.history
        return float(h[-1]["train_loss"]) if h else None

    @property
    def hidden_layers(self) -> int:
        """Layers with weights of their own, before the output layer (dense, conv, ...)."""
        return sum(1 for l in self.spec.layers if "units" in l.args or "channels" in l.args)

    @property
    def conv_layers(self) -> int:
        return sum(1 for l in self.spec.layers if "channels" in l.args)

    @property
    def activations(self) -> set[str]:
        return {l.args["activation"] for l in self.spec.layers
                if l.args.get("activation") not in (None, "linear")}

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.dataset.features)

    @property
    def has_dropout(self) -> bool:
        return any(l.kind == "dropout" and l.args.get("p", 0) > 0 for l in self.spec.layers)

    @property
    def regularised(self) -> bool:
        return self.config.weight_decay > 0 or self.config.l1 > 0 or self.has_dropout


@dataclass(frozen=True)
class Work:
    """A student's runs the server still keeps, oldest first, and where each one's
    timeline is (``viewed``: run id -> step shown, -1 for "now")."""
    runs: tuple[RunFacts, ...] = ()
    viewed: dict[str, int] = field(default_factory=dict)

    @property
    def latest(self) -> RunFacts | None:
        return self.runs[-1] if self.runs else None


def facts_of(entry) -> RunFacts:
    """Facts of a ``RunEntry`` of the run registry (read, never controlled)."""
    h = entry.handle

    def weights() -> dict[str, torch.Tensor]:
        snap = h.latest_weights() if h.state().live else h.snapshot()
        return snap.weights

    ds = entry.dataset
    return RunFacts(entry.run_id, h.state(), entry.spec, entry.config, ds,
                    len(ds.x_train) + len(ds.x_test), weights)
