"""Which named modules a layer method (Grad-CAM, conductance) may look at, and so
which methods apply to a network at all.

Module names are the builder's (``conv2``, ``conv2_relu``, ``maxpool1``,
``dense1_tanh`` ...); their shapes and kinds are the builder's records
(``BuiltNet.records``), so nothing is run to find them. Imports point one
way: this module reads the method registry, the registry knows no network.
"""

from __future__ import annotations

from dlviz.build import BuiltNet
from dlviz.explain.registry import METHODS


def module_shapes(net: BuiltNet) -> dict[str, tuple[int, ...]]:
    """Module name -> its output shape for one sample, in forward order (head excluded)."""
    return {r.name: tuple(r.shape) for r in net.records if r.role != "output"}


def layer_choices(net: BuiltNet, method_key: str) -> list[str]:
    """Modules the method can use, in forward order; the default is ``default_layer``.

    Grad-CAM and Guided Grad-CAM (``Method.conv_only``): every module whose
    output is (C, h, w) (a conv, its activation, a pool, a residual block).
    Layer conductance: every hidden module except those that only pass their
    input on (flatten, dropout: nothing of their own to attribute to). Other
    methods: none.
    """
    method = METHODS.get(method_key)
    if method is None or not method.needs_layer:
        return []
    return [r.name for r in net.records
            if r.role != "output" and not r.passthrough
            and not (method.conv_only and len(r.shape) != 3)]


def default_layer(net: BuiltNet, method_key: str) -> str | None:
    """The last module of the last layer of learned maps (a conv or residual block; its
    activation, e.g. ``conv6_relu``) when the network has one: the classic Grad-CAM
    choice, coarse but class-specific. Otherwise (an MLP) the last hidden module.
    None when the method takes no layer."""
    choices = layer_choices(net, method_key)
    if not choices:
        return None
    shapes = module_shapes(net)
    map_layers = [g for g in net.layer_modules[:-1]
                  if net.record(g[0]).learns_maps and len(shapes[g[0]]) == 3]
    if map_layers and map_layers[-1][-1] in choices:
        return map_layers[-1][-1]
    spatial = [n for n in choices if len(shapes[n]) == 3]
    return (spatial or choices)[-1]


def available_methods(net: BuiltNet) -> list[str]:
    """Method keys that apply to this network (no Grad-CAM without a conv layer), registry order."""
    return [k for k, m in METHODS.items() if not m.needs_layer or layer_choices(net, k)]


def default_methods(net: BuiltNet) -> list[str]:
    return [k for k in available_methods(net) if METHODS[k].is_default]
