"""What every part of the Explain page shares: the model explained, the one request
(model, input, class, methods, look) the page builds from its widgets, and the
per-session cache of results with its single "compute, or keep the message" rule.

Results are kept per session, keyed by everything they depend on, so moving a
slider that only changes the look (opacity, signed or absolute) computes nothing.
The page's flow and how to add a method: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import streamlit as st
import torch

from dlviz.build import BuiltNet
from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.explain import METHODS
from dlviz.explain.influence import pick_checkpoints
from dlviz.train.runs import RunEntry
from dlviz.ui import timeline
from dlviz.ui.input_picker import PickedInput

CACHE_KEY = "dlviz_explain_cache"
CACHE_MAX = 256          # results kept per session before the cache starts over


@dataclass
class ExplainModel:
    net: BuiltNet
    ds: Dataset                 # for inputs: shape, normalisation, classes, test samples (may be empty)
    title: str
    ident: tuple                # what the weights are: (run id, step) or ("bundle", files...)
    entry: RunEntry | None = None
    step: int | None = None
    checkpoints: list = field(default_factory=list)   # an uploaded bundle's [(step, weights)]

    def snapshot_steps(self, most: int) -> list[int]:
        """At most ``most`` steps of the model's checkpoints up to the moment explained,
        evenly spaced in steps, the last kept: a run's timeline, or a bundle's checkpoints."""
        if self.entry is None:
            steps = [s for s, _ in self.checkpoints]
        else:
            steps = [t["step"] for t in self.entry.handle.state().timeline]
            if self.step is not None:
                steps = [s for s in steps if s <= self.step] or steps[:1]
        return [s for s, _ in pick_checkpoints([(s, None) for s in steps], most)] if steps else []

    def weights_at(self, steps: list[int]) -> list[tuple[int, dict]]:
        """(step, weights) of those checkpoints; a run's snapshots are fetched only now."""
        if self.entry is None:
            held = dict(self.checkpoints)
            return [(s, held[s]) for s in steps]
        return [(s, timeline.snapshot_at(self.entry, s).weights) for s in steps]


@dataclass(frozen=True)
class MethodChoice:
    """The methods picked and each one's settings, as the method picker gives them."""
    chosen: list[str]
    params: dict = field(default_factory=dict)      # method -> {setting: value}
    layers: dict = field(default_factory=dict)      # method -> layer name (Grad-CAM, conductance)

    def settings(self, k: str) -> tuple:
        """What method ``k``'s result depends on besides model, input and target: part of a cache key."""
        return tuple(sorted(self.params.get(k, {}).items())), self.layers.get(k)


@dataclass(frozen=True)
class ExplainRequest:
    """One question the page asks: why did ``model`` give ``target`` for this input?"""
    model: ExplainModel
    picked: PickedInput
    input_id: str               # a hash of picked.x: the input's part of a cache key
    target: int                 # the class explained (0 for a regression model)
    class_name: str
    methods: MethodChoice
    signed_view: bool = True    # the look only: never part of a cache key
    opacity: float = 0.7

    def key(self, kind: str, k: str) -> tuple:
        """The cache key of result ``kind`` for method ``k`` on this model and input."""
        return (kind, self.model.ident, self.input_id, self.target, k, *self.methods.settings(k))

    def signed(self, k: str) -> bool:
        """Whether method ``k``'s map is drawn signed (red/blue) or as a magnitude."""
        return self.signed_view and METHODS[k].signed

    @property
    def is_image(self) -> bool:
        return self.picked.x.ndim == 3


def input_key(x: torch.Tensor) -> str:
    """A short hash of the input's values: its part of every cache key."""
    return hashlib.sha1(x.numpy().tobytes()).hexdigest()[:16]


def cached(key: tuple, compute: Callable[[], object], *, failed: str = "", spinner: str | None = None):
    """``compute()``'s result, computed once per ``key`` in this session; a ``UserError``
    is kept as its message (prefixed by ``failed``), so the page shows it and goes on."""
    cache = st.session_state.setdefault(CACHE_KEY, {})
    if len(cache) > CACHE_MAX:
        cache.clear()
    if key not in cache:
        try:
            if spinner:
                with st.spinner(spinner):
                    cache[key] = compute()
            else:
                cache[key] = compute()
        except UserError as e:
            cache[key] = f"{failed}{e}"
    return cache[key]
