"""Training-data attribution: which training examples pushed a prediction up or down.

TracIn (Pruthi et al., 2020) scores a training example z for a test input z' as the
sum over checkpoints t of lr_t * grad L(z; w_t) . grad L(z'; w_t). Captum's
``TracInCPFast`` does the sum with the gradients of the last fully-connected layer
only (the network's "output" head, found from its build record), where the dot
product factorises into (dL/dlogits . dL'/dlogits') * (head input . head input'):
no per-example back-propagation through the network. Captum's fast variant counts
the head's weight gradient only, not its bias. The checkpoints are the run's own
timeline snapshots: a bounded, evenly spaced few of them (docs/ARCHITECTURE.md,
"Training-data attribution").

The caller's model is never touched: Captum loads each checkpoint into a private
copy (hooks cleared), so the model's weights, mode, ``requires_grad`` flags and
hooks are as they were.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.utils.data import TensorDataset

from dlviz.build import OUTPUT, BuiltNet, record_of
from dlviz.errors import UserError
from dlviz.explain.guard import private_copy
from dlviz.train.history import evenly_by_step

MAX_CHECKPOINTS = 5        # snapshots summed over: each costs one pass over the training set
MAX_TRAIN = 10_000         # training examples scored
MAX_K = 32                 # proponents / opponents returned
MAX_BATCH = 4096

Checkpoint = tuple[int, dict]          # (step, state_dict on the CPU)


@dataclass(frozen=True)
class Influence:
    """The top training examples for one test input; indices are into the caller's
    ``train_x`` (not into the bounded subset), scores are TracIn sums."""
    proponents: torch.Tensor           # int64 (k,): highest influence first
    proponent_scores: torch.Tensor     # float32 (k,)
    opponents: torch.Tensor            # int64 (k,): most negative influence first
    opponent_scores: torch.Tensor      # float32 (k,)
    steps: tuple[int, ...]             # checkpoints summed over
    considered: int                    # training examples scored (<= MAX_TRAIN)
    seconds: float


def pick_checkpoints(checkpoints: Sequence[Checkpoint], most: int = MAX_CHECKPOINTS) -> list[Checkpoint]:
    """At most ``most`` (<= MAX_CHECKPOINTS) checkpoints, sorted by step, evenly spaced in
    training steps, the first and the last kept (the last is the model being explained):
    ``train.history.evenly_by_step``."""
    if not checkpoints:
        raise UserError("no snapshots to compute training-data influence from")
    return evenly_by_step(checkpoints, max(1, min(int(most), MAX_CHECKPOINTS)))


def final_layer_name(model: nn.Module) -> str:
    """The name of the last fully-connected layer: the builder's "output" head, or for
    a model not made by ``build`` its last ``nn.Linear``."""
    last = None
    for name, module in model.named_modules():
        record = record_of(module)
        if record is not None and record.role == OUTPUT and isinstance(module, nn.Linear):
            return name
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise UserError("training-data influence needs a network ending in a dense layer")
    return last


def influence(net: BuiltNet | nn.Module, checkpoints: Sequence[Checkpoint],
              train_x: torch.Tensor, train_y: torch.Tensor,
              test_x: torch.Tensor, test_target: torch.Tensor | int,
              k: int = 8, batch: int = 512, loss: nn.Module | None = None,
              learning_rate: float = 1.0, checkpoints_used: int = MAX_CHECKPOINTS) -> Influence:
    """The ``k`` training examples with the highest and the lowest TracIn influence on
    the loss of one test input ``test_x`` (shape ``input_shape`` or ``(1, *input_shape)``)
    for ``test_target`` (a class index, or a (1,)/(1, 1) regression target).

    ``loss`` must reduce by sum or mean (Captum reads its ``reduction``); default:
    cross-entropy summed. ``learning_rate`` multiplies every checkpoint's term.
    ``checkpoints_used``: how many of ``checkpoints`` are summed over (evenly picked).
    """
    k = _bounded_int(k, "k", 1, MAX_K)
    batch = _bounded_int(batch, "batch", 1, MAX_BATCH)
    most = _bounded_int(checkpoints_used, "checkpoints_used", 1, MAX_CHECKPOINTS)
    started = time.perf_counter()
    picked = pick_checkpoints(checkpoints, most)
    keep = _subset(len(train_x))
    k = min(k, len(keep))
    x = test_x if test_x.dim() == train_x.dim() else test_x.unsqueeze(0)
    target = torch.as_tensor(test_target).reshape(1, *train_y.shape[1:]).to(train_y.dtype)
    tracer = _tracer(net, picked, train_x[keep], train_y[keep], batch, loss, learning_rate)
    # One pass of Captum's scores (1, m) serves both ends; its k-mode would pass twice.
    scores = tracer.influence((x, target))[0].float()
    pro = torch.topk(scores, k)
    opp = torch.topk(scores, k, largest=False)
    return Influence(keep[pro.indices], pro.values, keep[opp.indices], opp.values,
                     tuple(step for step, _ in picked), len(keep),
                     time.perf_counter() - started)


def self_influence(net: BuiltNet | nn.Module, checkpoints: Sequence[Checkpoint],
                   train_x: torch.Tensor, train_y: torch.Tensor, batch: int = 512,
                   loss: nn.Module | None = None, learning_rate: float = 1.0,
                   checkpoints_used: int = MAX_CHECKPOINTS) -> torch.Tensor:
    """TracIn self-influence of each training example, float32 (N,) for N <= MAX_TRAIN:
    large for examples the model found hard to fit, such as mislabelled ones."""
    batch = _bounded_int(batch, "batch", 1, MAX_BATCH)
    most = _bounded_int(checkpoints_used, "checkpoints_used", 1, MAX_CHECKPOINTS)
    if len(train_x) > MAX_TRAIN:
        raise UserError(f"self-influence is bounded to {MAX_TRAIN} training examples")
    tracer = _tracer(net, pick_checkpoints(checkpoints, most), train_x, train_y, batch, loss,
                     learning_rate)
    return tracer.self_influence().float()


@dataclass(frozen=True)
class SelfInfluence:
    """The most self-influential training examples of each class (TracIn's way of
    finding mislabelled data): ``top[c]`` indices into the caller's ``train_x``, highest
    first, with their scores; ``median[c]`` the class's median, for scale."""
    top: dict[int, torch.Tensor]           # class -> int64 (<= k,)
    scores: dict[int, torch.Tensor]        # class -> float32 (<= k,)
    median: dict[int, float]
    steps: tuple[int, ...]
    considered: int
    seconds: float


def self_influence_by_class(net: BuiltNet | nn.Module, checkpoints: Sequence[Checkpoint],
                            train_x: torch.Tensor, train_y: torch.Tensor, k: int = 8,
                            batch: int = 512, checkpoints_used: int = MAX_CHECKPOINTS) -> SelfInfluence:
    """Per class of a classification training set (int64 labels), the ``k`` examples with
    the highest self-influence, over at most MAX_TRAIN evenly spaced examples."""
    k = _bounded_int(k, "k", 1, MAX_K)
    started = time.perf_counter()
    keep = _subset(len(train_x))
    labels = train_y[keep]
    if labels.dtype != torch.long or labels.dim() != 1:
        raise UserError("self-influence by class needs a classification training set")
    scores = self_influence(net, checkpoints, train_x[keep], labels, batch,
                            checkpoints_used=checkpoints_used)
    top, vals, median = {}, {}, {}
    for c in sorted(set(labels.tolist())):
        own = torch.nonzero(labels == c).flatten()                      # (n_c,) into keep
        best = torch.topk(scores[own], min(k, len(own)))
        top[c], vals[c] = keep[own[best.indices]], best.values
        median[c] = float(scores[own].median())
    steps = tuple(step for step, _ in pick_checkpoints(checkpoints, checkpoints_used))
    return SelfInfluence(top, vals, median, steps, len(keep), time.perf_counter() - started)


def _tracer(net, picked: list[Checkpoint], train_x, train_y, batch, loss, learning_rate):
    # Imported here: Captum's influence package is only needed when someone asks.
    from captum.influence import TracInCPFast

    model = private_copy(net.model if isinstance(net, BuiltNet) else net)
    loss = loss if loss is not None else nn.CrossEntropyLoss(reduction="sum")

    def load(m: nn.Module, checkpoint: Checkpoint) -> float:
        m.load_state_dict(checkpoint[1])
        return float(learning_rate)

    return TracInCPFast(model, final_layer_name(model), TensorDataset(train_x, train_y),
                        picked, checkpoints_load_func=load, loss_fn=loss, batch_size=batch)


def _subset(n: int) -> torch.Tensor:
    """Indices of at most MAX_TRAIN training examples, evenly spaced, int64 (m,)."""
    if n < 1:
        raise UserError("no training examples to compute influence over")
    if n <= MAX_TRAIN:
        return torch.arange(n)
    return torch.linspace(0, n - 1, MAX_TRAIN).round().long()


def _bounded_int(value, name: str, low: int, high: int) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise UserError(f"{name} must be between {low} and {high}, got {value}")
    return value
