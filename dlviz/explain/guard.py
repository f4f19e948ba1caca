"""Leave the model exactly as we found it, whatever Captum does or raises.

Captum registers hooks (and, for DeepLift, attributes such as ``input_ref``)
on modules and removes them itself, but not always when an error interrupts
it midway. ``borrowed(model)`` puts the model in eval mode, freezes its
parameters (Captum only needs gradients with respect to inputs and layer
outputs: skipping weight gradients saves time) and, on the way out, removes
every hook and attribute that appeared, then restores each module's training
flag, each parameter's ``requires_grad`` and ``.grad``.
"""

from __future__ import annotations

import copy
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

# Captum warns on every call that it sets hooks (DeepLIFT, Guided Backprop) and
# that the input did not require gradients (it sets that itself): expected and
# harmless here. Filtered once, by message, rather than with catch_warnings()
# around each call, which swaps the process-wide filter list and is not safe
# when two sessions explain at the same time.
warnings.filterwarnings("ignore", message=r"Setting (forward, )?backward hooks", category=UserWarning)
warnings.filterwarnings("ignore", message=r"Input Tensor \d+ did not already require gradients",
                        category=UserWarning)

# the per-module hook tables of torch 2.x (all keyed by handle id)
_HOOK_TABLES = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
                "_backward_pre_hooks")


@contextmanager
def borrowed(model: nn.Module) -> Iterator[nn.Module]:
    modules = list(model.modules())
    params = list(model.parameters())
    modes = [m.training for m in modules]
    needs_grad = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    tables = [{t: set(getattr(m, t, {}) or {}) for t in _HOOK_TABLES} for m in modules]
    full_bw = [getattr(m, "_is_full_backward_hook", None) for m in modules]
    attrs = [set(vars(m)) for m in modules]
    try:
        model.eval()
        for p in params:
            p.requires_grad_(False)
        with torch.enable_grad():
            yield model
    finally:
        for m, before, fb, names in zip(modules, tables, full_bw, attrs):
            for t, keys in before.items():
                table = getattr(m, t, None)
                if table:
                    for k in [k for k in table if k not in keys]:
                        del table[k]
            for a in [a for a in vars(m) if a not in names]:
                delattr(m, a)              # e.g. DeepLift's module.input / output / input_ref
            if hasattr(m, "_is_full_backward_hook"):
                m._is_full_backward_hook = fb
        for m, mode in zip(modules, modes):
            m.training = mode
        for p, rg, g in zip(params, needs_grad, grads):
            p.requires_grad_(rg)
            p.grad = g


# --------------------------------------------------------------------------- CPU conv speed
# Measured on the 2-core CPU, torch 2.13, one thread, IG with 50 steps (one batch of 50):
#   LeNet on 1x28x28:   14.0 ms with oneDNN (mkldnn), 7.3 ms without; oneDNN's
#                       input-gradient of a conv with 1 input channel is ~4x slower
#                       than the native kernel when the weights need no gradient.
#   VGG on 3x32x32:     49.9 ms contiguous, 31.2 ms with a channels-last input
#                       (64 ms without oneDNN).
# So: 1-channel images run without oneDNN, colour images run channels-last.
# The oneDNN switch is process-wide; a counter keeps overlapping calls (two
# browser sessions explaining at once) from switching it back on early. Only
# speed depends on it, never results beyond float rounding.
_lock = threading.Lock()
_off_count = 0
_saved_flag = True


@contextmanager
def fast_convs(x: torch.Tensor) -> Iterator[torch.Tensor]:
    """Yields x (1, C, H, W), maybe channels-last, with the faster conv path for it."""
    if x.device.type != "cpu" or x.ndim != 4:
        yield x
        return
    if x.shape[1] > 1:
        yield x.contiguous(memory_format=torch.channels_last)
        return
    global _off_count, _saved_flag
    with _lock:
        if _off_count == 0:
            _saved_flag = torch.backends.mkldnn.enabled
            torch._C._set_mkldnn_enabled(False)
        _off_count += 1
    try:
        yield x
    finally:
        with _lock:
            _off_count -= 1
            if _off_count == 0:
                torch._C._set_mkldnn_enabled(_saved_flag)


def private_copy(model: nn.Module) -> nn.Module:
    """A CPU copy in eval mode with no hooks and frozen parameters, for the methods that
    change what they work on (TracIn loads checkpoints into it and sets ``requires_grad``
    on its head; TCAV hooks its layers): the caller's model, and the views' hooks on it,
    are never touched."""
    twin = copy.deepcopy(model).cpu().eval()
    for module in twin.modules():
        for table in _HOOK_TABLES:
            hooks = getattr(module, table, None)
            if hooks:
                hooks.clear()
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin
