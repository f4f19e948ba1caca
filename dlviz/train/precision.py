"""Numeric precision of a training step: float32, or bf16 mixed precision.

``bf16``: forward and loss run under ``torch.autocast(..., dtype=torch.bfloat16)``
(matrix products and convolutions in bfloat16, reductions such as the loss
in float32); the weights, their gradients and the optimizer state stay
float32, and so do evaluations and snapshots (they run outside autocast).
bfloat16 has float32's exponent range, so no loss scaling is needed.

Where: CUDA GPUs that support it (``torch.cuda.is_bf16_supported()``;
Ampere and newer), and the CPU, whose autocast also supports bfloat16: it is
rarely faster there, but it lets the path be checked on any machine
(docs/ARCHITECTURE.md, "Training on a GPU"). MPS is refused: its autocast
support differs between torch versions.
"""

from __future__ import annotations

import contextlib

import torch

from dlviz.errors import UserError

PRECISIONS = ("float32", "bf16")


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse, with one message, a precision this device cannot train in."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)}")
    if precision == "float32":
        return
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError(f"this GPU ({torch.cuda.get_device_name(device)}) does not support bf16; "
                        "train with precision float32")
    if device.type not in ("cuda", "cpu"):
        raise UserError(f"bf16 is not offered on device '{device.type}'; train with precision float32")


def autocast_for(precision: str, device: torch.device):
    """The context the forward pass and the loss run in."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
