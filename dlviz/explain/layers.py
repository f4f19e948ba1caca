"""Which named modules a layer method (Grad-CAM, conductance) may look at.

Module names are the builder's (``conv2``, ``conv2_relu``, ``maxpool1``,
``dense1_tanh`` ...); each spec layer's modules share its output shape,
read from the spec report, so nothing is run to find them.
"""

from __future__ import annotations

from dlviz.build import BuiltNet

# A map over the image needs a layer whose output is still an image (C, h, w).
SPATIAL_ONLY = {"gradcam", "guided_gradcam"}
# Layers that carry nothing worth attributing to: a flatten only reshapes the
# previous layer, dropout is the identity in eval mode.
_SKIP_PREFIXES = ("flatten", "dropout")


def module_shapes(net: BuiltNet) -> dict[str, tuple[int, ...]]:
    """Module name -> its output shape for one sample, in forward order (head excluded)."""
    shapes = {}
    for group, rep in zip(net.layer_modules[:-1], net.report.layers[:-1]):
        for name in group:
            shapes[name] = tuple(rep.output_shape)
    return shapes


def layer_choices(net: BuiltNet, method_key: str) -> list[str]:
    """Modules the method can use, in forward order; the default is ``default_layer``.

    Grad-CAM and Guided Grad-CAM: every module whose output is (C, h, w) (a
    conv, its activation, a pool, a residual block). Layer conductance: every
    hidden module except flatten and dropout. Other methods: none.
    """
    from dlviz.explain.registry import METHODS
    method = METHODS.get(method_key)
    if method is None or not method.needs_layer:
        return []
    names = []
    for name, shape in module_shapes(net).items():
        if name.startswith(_SKIP_PREFIXES):
            continue
        if method_key in SPATIAL_ONLY and len(shape) != 3:
            continue
        names.append(name)
    return names


def default_layer(net: BuiltNet, method_key: str) -> str | None:
    """The last module of the last spatial layer (its activation, e.g. ``conv6_relu``)
    when the network has one: the classic Grad-CAM choice, coarse but class-specific.
    Otherwise (an MLP) the last hidden module. None when the method takes no layer."""
    choices = layer_choices(net, method_key)
    if not choices:
        return None
    shapes = module_shapes(net)
    spatial_groups = [g for g, rep in zip(net.layer_modules[:-1], net.report.layers[:-1])
                      if len(rep.output_shape) == 3 and g[0].startswith(("conv", "res"))]
    if spatial_groups and spatial_groups[-1][-1] in choices:
        return spatial_groups[-1][-1]
    spatial = [n for n in choices if len(shapes[n]) == 3]
    return (spatial or choices)[-1]
