"""Probes: capture what named modules receive, output (and receive as gradient).

Hooks live exactly as long as the ``with`` block, and are removed in
``finally`` even when the forward pass raises:

    with capture(model, ["conv1_relu", "dense1"]) as probe:
        model(x)
    probe.outputs["conv1_relu"]      # (B, C, H, W), detached

The one hook helper of dlviz: the convolution explainer asks for a layer's
input too (``inputs=True``, nested names such as ``res1.conv1`` allowed), and
activation maximisation for tensors that still carry autograd (``detach=False``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import torch
from torch import nn


@dataclass
class Probe:
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # first positional input, if asked
    grads: dict[str, torch.Tensor] = field(default_factory=dict)   # d loss / d output


@contextmanager
def capture(model: nn.Module, names: Iterable[str], *, grads: bool = False, inputs: bool = False,
            detach: bool = True,
            reduce: Callable[[str, torch.Tensor], torch.Tensor] | None = None) -> Iterator[Probe]:
    """Record the outputs (and with ``inputs`` the first input) of the named submodules
    (dotted names allowed; the model itself, "", is not a submodule).

    ``reduce(name, output)``, if given, replaces the stored output, so large
    activations can be summarised on the device instead of kept whole.
    ``detach=False`` keeps the autograd graph of what is stored.
    """
    probe = Probe()
    modules = dict(model.named_modules())
    handles = []
    try:
        for name in names:
            if not name or name not in modules:
                raise KeyError(f"no module named {name!r}; have {', '.join(n for n in modules if n)}")
            hook = _forward_hook(probe, name, reduce, inputs, detach)
            handles.append(modules[name].register_forward_hook(hook))
            if grads:
                handles.append(modules[name].register_full_backward_hook(_backward_hook(probe, name)))
        yield probe
    finally:
        for h in handles:
            h.remove()


def _forward_hook(probe: Probe, name: str, reduce, inputs: bool, detach: bool):
    def hook(module, args, output):
        out = output.detach() if detach else output
        probe.outputs[name] = reduce(name, out) if reduce else out
        if inputs:
            probe.inputs[name] = args[0].detach() if detach else args[0]
    return hook


def _backward_hook(probe: Probe, name: str):
    def hook(module, grad_input, grad_output):
        if grad_output and grad_output[0] is not None:
            probe.grads[name] = grad_output[0].detach()
    return hook


def hook_count(model: nn.Module) -> int:
    """Hooks currently registered on any submodule (tests assert this returns to 0)."""
    total = 0
    for m in model.modules():
        total += len(m._forward_hooks) + len(m._forward_pre_hooks)
        total += len(m._backward_hooks) + len(getattr(m, "_backward_pre_hooks", {}))
    return total
