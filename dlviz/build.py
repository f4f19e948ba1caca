"""NetSpec -> ``torch.nn.Sequential`` with stable, human names per layer, and a record per module.

Names: the n-th layer of a kind is ``{short}{n}`` (conv1, maxpool2, res1: the
kind's ``short`` in ``dlviz.nn.layers``), its activation (when the layer has
one) is ``{name}_{activation}``, and the head is ``output``. Pages, probes and
attributions refer to modules by these names, so they must not depend on
anything but the spec.

Every top-level module gets a ``ModuleRecord`` (its name, spec layer, kind,
role, activation and output shape): ``BuiltNet.records`` in forward order,
``BuiltNet.record(name)`` by name, and ``record_of(module)`` from the module
itself (build tags each module it makes). Views read these instead of
guessing a module's kind from its class or its name.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from dlviz.nn.activations import ACTIVATIONS, make_activation
from dlviz.nn.layers import LAYER_KINDS
from dlviz.spec import NetSpec, SpecReport, analyse

OUTPUT = "output"                      # the head's name, kind and role
ROLES = ("layer", "activation", OUTPUT)
_RECORD_ATTR = "_dlviz_record"


@dataclass(frozen=True)
class ModuleRecord:
    """What the builder knows about one top-level module it made."""
    name: str                  # "conv1", "conv1_relu", "output"
    layer: int                 # 0-based index into spec.layers; len(spec.layers) for the head
    kind: str                  # the spec layer's LAYER_KINDS key; "output" for the head
    role: str                  # "layer": the kind's own module; "activation": an activation
                               # module (after a layer, or an "activation" layer); "output"
    activation: str | None     # the layer's activation setting (for role "activation": the one it applies)
    shape: tuple[int, ...]     # output shape for one sample: (C, H, W) or (F,)

    @property
    def view(self) -> str:
        """The inside views' category: conv | pool | activation | dense | output | flatten |
        dropout | batchnorm | residual (the kind's ``view``)."""
        if self.role in (OUTPUT, "activation"):
            return self.role
        return LAYER_KINDS[self.kind].view

    @property
    def passthrough(self) -> bool:
        """Its eval-mode output is its input (flatten, dropout): nothing of its own to show."""
        return self.role == "layer" and LAYER_KINDS[self.kind].passthrough

    @property
    def learns_maps(self) -> bool:
        """A layer of learned spatial filters (conv, residual): Grad-CAM's classic target."""
        return self.role != OUTPUT and LAYER_KINDS[self.kind].learns_maps


@dataclass
class BuiltNet:
    model: nn.Sequential
    report: SpecReport
    records: tuple[ModuleRecord, ...]          # one per top-level module, forward order
    _by_name: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self._by_name = {r.name: r for r in self.records}

    @property
    def module_names(self) -> list[str]:
        return list(self.model._modules)

    @property
    def layer_modules(self) -> list[list[str]]:
        """For each spec layer (0-based), the module names it produced, in order;
        the last list is the output head."""
        groups: list[list[str]] = []
        for r in self.records:
            if r.layer == len(groups):
                groups.append([])
            groups[r.layer].append(r.name)
        return groups

    def record(self, name: str) -> ModuleRecord:
        return self._by_name[name]


def record_of(module: nn.Module) -> ModuleRecord | None:
    """The record ``build`` tagged a top-level module with; None for any other module."""
    return module.__dict__.get(_RECORD_ATTR)


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
    records: list[ModuleRecord] = []
    counts: dict[str, int] = {}

    def add(module: nn.Module, record: ModuleRecord) -> None:
        module.__dict__[_RECORD_ATTR] = record          # a plain attribute: no parameter, no state
        modules[record.name] = module
        records.append(record)

    with torch.device(device):
        for i, (layer, rep) in enumerate(zip(spec.layers, report.layers)):
            kind = LAYER_KINDS[layer.kind]
            counts[kind.short] = counts.get(kind.short, 0) + 1
            name = kind.module_name(layer.args, counts[kind.short])
            act = layer.args.get("activation")
            body = kind.make(rep.input_shape, layer.args)
            if kind.init_by_activation and act in ACTIVATIONS:
                _init_for(body, act)
            role = "activation" if kind.view == "activation" else "layer"
            add(body, ModuleRecord(name, i, layer.kind, role, act, rep.output_shape))
            if kind.has_activation and act and act != "linear":
                add(make_activation(act), ModuleRecord(f"{name}_{act}", i, layer.kind, "activation",
                                                       act, rep.output_shape))
        add(nn.Linear(report.layers[-1].input_shape[0], spec.outputs),
            ModuleRecord(OUTPUT, len(spec.layers), OUTPUT, OUTPUT, None, (spec.outputs,)))
    return BuiltNet(nn.Sequential(modules), report, tuple(records))


def _init_for(module: nn.Module, act: str) -> None:
    """The weight as the activation it feeds wants it (``Activation.init``, see
    dlviz/nn/activations.py); None there keeps PyTorch's default. Biases start at 0."""
    rule = ACTIVATIONS[act].init
    if rule is None or module.weight.is_meta:
        return
    rule.apply(module.weight)
    nn.init.zeros_(module.bias)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
