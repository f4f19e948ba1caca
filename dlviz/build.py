"""NetSpec -> ``torch.nn.Sequential`` with stable, human names per layer.

Names: the n-th layer of a kind is ``{kind}{n}`` (conv1, pool... see below),
its activation (when the layer has one) is ``{kind}{n}_{activation}``, and
the head is ``output``. Pages, probes and attributions refer to modules by
these names, so they must not depend on anything but the spec.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from dlviz.nn.activations import make_activation
from dlviz.nn.layers import LAYER_KINDS
from dlviz.spec import NetSpec, SpecReport, analyse

_SHORT = {"dense": "dense", "conv2d": "conv", "maxpool": "maxpool", "avgpool": "avgpool",
          "globalavgpool": "gap", "flatten": "flatten", "dropout": "dropout",
          "batchnorm": "bn", "residual": "res", "activation": "act"}


@dataclass
class BuiltNet:
    model: nn.Sequential
    report: SpecReport
    # for each spec layer (0-based), the module names it produced, in order;
    # the last list is the output head
    layer_modules: list[list[str]]

    @property
    def module_names(self) -> list[str]:
        return list(self.model._modules)


def build(spec: NetSpec, device: str | torch.device = "cpu", seed: int | None = None) -> BuiltNet:
    """Validate ``spec`` and build its model on ``device`` (``"meta"`` allocates nothing).

    With ``seed`` the initial weights are reproducible without touching the
    global RNG state other code may rely on.
    """
    report = analyse(spec)
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _build(spec, report, device)
    return _build(spec, report, device)


def _build(spec: NetSpec, report: SpecReport, device) -> BuiltNet:
    modules: "OrderedDict[str, nn.Module]" = OrderedDict()
    groups: list[list[str]] = []
    counts: dict[str, int] = {}
    with torch.device(device):
        for layer, rep in zip(spec.layers, report.layers):
            kind = LAYER_KINDS[layer.kind]
            short = _SHORT[layer.kind]
            counts[short] = counts.get(short, 0) + 1
            name = short if short == "flatten" and counts[short] == 1 else f"{short}{counts[short]}"
            if layer.kind == "activation":
                name = f"{layer.args['activation']}{counts[short]}"
            modules[name] = kind.make(rep.input_shape, layer.args)
            group = [name]
            act = layer.args.get("activation")
            if layer.kind in ("dense", "conv2d") and (act in _HE_INIT or act in _GLOROT_GAIN):
                _init_for(modules[name], act)
            if kind.has_activation and act and act != "linear":
                modules[f"{name}_{act}"] = make_activation(act)
                group.append(f"{name}_{act}")
            groups.append(group)
        modules["output"] = nn.Linear(report.layers[-1].input_shape[0], spec.outputs)
        groups.append(["output"])
    return BuiltNet(nn.Sequential(modules), report, groups)


# Initialisation by the activation a layer feeds. PyTorch's default init
# shrinks the signal ~3x per ReLU layer, so a 6-conv stack can sit at chance
# for epochs depending on the seed: He init keeps the variance for ReLU-like
# units, Glorot init (with its gain) for tanh. Sigmoid keeps PyTorch's default
# on purpose: the deep-sigmoid preset is there to show the classic vanishing
# gradient. Biases of re-initialised layers start at 0.
_HE_INIT = {"relu": "relu", "leaky_relu": "leaky_relu", "gelu": "relu"}
_GLOROT_GAIN = {"tanh": 5 / 3}


def _init_for(module: nn.Module, act: str) -> None:
    if module.weight.is_meta:
        return
    if act in _HE_INIT:
        nn.init.kaiming_normal_(module.weight, nonlinearity=_HE_INIT[act])
    else:
        nn.init.xavier_uniform_(module.weight, gain=_GLOROT_GAIN[act])
    nn.init.zeros_(module.bias)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
