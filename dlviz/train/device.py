"""Device choice, the device a model lives on, and CPU thread count."""

from __future__ import annotations

import os

import torch

from dlviz.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devs.append("mps")
    return devs


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` prefers cuda, then mps, then cpu; an explicit choice is honoured or refused."""
    name = (name or "auto").lower()
    if name == "auto":
        for d in ("cuda", "mps"):
            if d in available_devices():
                return torch.device(d)
        return torch.device("cpu")
    base = name.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise UserError(f"unknown device '{name}'; use one of {', '.join(DEVICE_CHOICES)}")
    if base not in available_devices():
        raise UserError(f"device '{name}' is not available here; available: {', '.join(available_devices())}")
    return torch.device(name)


def device_of(model: torch.nn.Module) -> torch.device:
    """The device of the model's parameters (the CPU for a model without any)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


_threads_set = False


def set_cpu_threads(leave_free: int = 1) -> int:
    """Use all cores but ``leave_free`` for torch's intra-op pool; call once, at start-up,
    in the main thread. On 2 cores this is 1 thread, which also runs faster than 2
    when anything else is busy (docs/ARCHITECTURE.md). ``DLVIZ_THREADS`` overrides."""
    global _threads_set
    n = int(os.environ.get("DLVIZ_THREADS", "0")) or max(1, (os.cpu_count() or 1) - leave_free)
    if not _threads_set:
        torch.set_num_threads(n)
        _threads_set = True
    return torch.get_num_threads()
