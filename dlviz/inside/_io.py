"""A hook that keeps one module's input and output, removed when the block ends.

``dlviz.probe.capture`` records outputs only and detaches them; the
convolution explainer needs a layer's *input* (nested modules such as
``res1.conv1`` included) and activation maximisation needs an output that
still carries autograd. Same contract as the probe: the hook lives exactly
as long as the ``with`` block, even when the forward pass raises.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn


@contextmanager
def record_io(model: nn.Module, name: str, *, detach: bool = True) -> Iterator[dict]:
    """``with record_io(model, "conv2") as io: model(x)`` -> io["input"], io["output"]."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        raise KeyError(f"no module named {name!r}; have {', '.join(n for n in modules if n)}")
    io: dict = {}

    def hook(module, inputs, output):
        io["input"] = inputs[0].detach() if detach else inputs[0]
        io["output"] = output.detach() if detach else output

    handle = modules[name].register_forward_hook(hook)
    try:
        yield io
    finally:
        handle.remove()
