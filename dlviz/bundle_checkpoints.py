"""A bundle's training checkpoints: a few snapshots of the run, kept so that training-data
attribution (TracIn sums over checkpoints) works on a saved model as it does on a live
run (docs/ARCHITECTURE.md, "Training-data attribution").

    checkpoints.safetensors    tensors "step{N}/{name}", the model's state dict at step N,
                               for at most MAX_CHECKPOINTS steps, evenly spaced, the last kept

Optional: a bundle without the file (an older one) explains with its final weights only.
Read with the same bounded safetensors reader as the weights, then checked against the
network's own state dict (names, shapes, dtypes, finite values).
"""

from __future__ import annotations

import re

import torch

from dlviz.errors import UserError
from dlviz.train.history import evenly_by_step, weights_bytes, weights_from_bytes

CHECKPOINTS_FILE = "checkpoints.safetensors"
MAX_CHECKPOINTS = 5              # as many as TracIn sums over (explain/influence.py)
Checkpoint = tuple[int, dict]    # (step, state_dict on the CPU)
MAX_STEP = 10**12
_NAME = re.compile(r"^step(\d{1,13})/(.+)$")


def checkpoints_of_run(handle) -> list[Checkpoint]:
    """At most MAX_CHECKPOINTS of a run's kept snapshots (a ``RunHandle``), evenly
    spaced, the latest kept: [(step, state_dict on the CPU)]."""
    steps = [t["step"] for t in handle.state().timeline]
    if not steps:
        return []
    picked = evenly_by_step([(s, None) for s in steps], MAX_CHECKPOINTS)
    return [(s, handle.snapshot(s).weights) for s, _ in picked]


def checkpoints_bytes(checkpoints: list[Checkpoint]) -> bytes:
    """The checkpoints as one safetensors file (never a pickle). Copied: safetensors
    refuses tensors that share memory, as two checkpoints holding the same weights do."""
    return weights_bytes({f"step{int(step)}/{name}": t.detach().clone()
                          for step, weights in checkpoints for name, t in weights.items()})


def checkpoints_from_bytes(data: bytes, expected: dict[str, torch.Tensor]) -> list[Checkpoint]:
    """``checkpoints_bytes``' file back, each checkpoint matching ``expected`` (the
    network's state dict) exactly; sorted by step. ``UserError`` naming the problem."""
    tensors = weights_from_bytes(data, CHECKPOINTS_FILE)
    by_step: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        m = _NAME.match(key)
        if m is None or int(m.group(1)) > MAX_STEP:
            raise UserError(f"{CHECKPOINTS_FILE}: unexpected tensor {key[:60]!r}")
        by_step.setdefault(int(m.group(1)), {})[m.group(2)] = t
    if len(by_step) > MAX_CHECKPOINTS:
        raise UserError(f"{CHECKPOINTS_FILE}: {len(by_step)} checkpoints, over the limit of "
                        f"{MAX_CHECKPOINTS}")
    for step, weights in by_step.items():
        if set(weights) != set(expected):
            odd = sorted(set(weights) ^ set(expected))[0]
            raise UserError(f"{CHECKPOINTS_FILE}: step {step} does not match the network ({odd})")
        for name, t in weights.items():
            e = expected[name]
            if tuple(t.shape) != tuple(e.shape) or t.dtype != e.dtype:
                raise UserError(f"{CHECKPOINTS_FILE}: step {step}, {name} has shape "
                                f"{list(t.shape)} {t.dtype}; the network needs {list(e.shape)} {e.dtype}")
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise UserError(f"{CHECKPOINTS_FILE}: step {step}, {name} holds NaN or infinite values")
    return sorted(by_step.items())
