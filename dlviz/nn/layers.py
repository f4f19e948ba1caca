"""Layer-kind registry: every kind a NetSpec may use, one ``LayerKind`` entry each.

An entry says how the kind infers its shape (raising ``ShapeError`` with a
sentence a student can act on), builds its module, counts its parameters,
and how every view names, colours and explains it (see ``dlviz.nn.kind``).
Adding a kind is one entry in ``LAYER_KINDS``; the contract tests
(tests/test_contracts_layers.py) then check it against the builder, the
analysis, the views and the editor. Shapes exclude the batch.
"""

from __future__ import annotations

import math

from torch import nn

from dlviz.nn.activations import ACTIVATIONS, make_activation
from dlviz.nn.kind import ArgSpec, LayerKind
from dlviz.nn.residual import ResidualConvBlock, ResidualDenseBlock
from dlviz.nn.shapes import Shape, ShapeError, fmt_shape, need_flat, need_image, positive, window_out

__all__ = ["LAYER_KINDS", "INT_LIMITS", "POOL_STRIDE_LIMITS", "MAX_DROPOUT", "canonical_kind",
           "Shape", "ShapeError", "fmt_shape"]

# Guard rails for a shared server (a class of 30 on one machine): whole-number
# settings' (smallest, largest). The editor's boxes take any number and leave
# these limits to the spec check, whose message under the layer names them.
INT_LIMITS = {"units": (1, 1024), "channels": (1, 256), "kernel": (1, 11), "stride": (1, 4),
              "padding": (0, 5)}
POOL_STRIDE_LIMITS = (0, 4)            # 0: the kernel size (windows side by side)
MAX_DROPOUT = 0.95

# the diagram's colours (BLUE and ORANGE are dlviz.plots.style's; nn does not import plots)
_BLUE, _ORANGE, _POOL_GREEN = "#0877bd", "#f59322", "#009e73"


def _int(name: str, default: int, limits: tuple[int, int] | None = None) -> ArgSpec:
    lo, hi = limits or INT_LIMITS[name]
    return ArgSpec(name, "int", default, lo, hi)


def _activation(default: str = "relu") -> ArgSpec:
    return ArgSpec("activation", "choice", default, choices=tuple(ACTIVATIONS))


def _with_act(text: str, args: dict) -> str:
    return f"{text}, {args['activation']}" if "activation" in args else text


# -- dense ------------------------------------------------------------------

def _dense_infer(shape: Shape, a: dict) -> Shape:
    need_flat(shape)
    positive(a, "units")
    return (a["units"],)


# -- conv2d -----------------------------------------------------------------

def _conv_infer(shape: Shape, a: dict) -> Shape:
    _, h, w = need_image(shape)
    positive(a, "channels", "kernel", "stride")
    if not isinstance(a["padding"], int) or a["padding"] < 0:
        raise ShapeError(f"padding must be 0 or more, got {a['padding']!r}")
    k, s, p = a["kernel"], a["stride"], a["padding"]
    return (a["channels"], window_out(h, k, s, p, "kernel"), window_out(w, k, s, p, "kernel"))


def _conv_make(shape: Shape, a: dict) -> nn.Module:
    return nn.Conv2d(shape[0], a["channels"], a["kernel"], stride=a["stride"], padding=a["padding"])


def _conv_describe(key: str, a: dict) -> str:
    k = a["kernel"]
    return _with_act(f"conv2d {a['channels']}@{k}x{k} s{a['stride']} p{a['padding']}", a)


def _conv_caption(key: str, a: dict) -> list[str]:
    # channels are in the box's shape already; stride and padding go to the hover
    return [f"conv {a['kernel']}x{a['kernel']}"] + ([a["activation"]] if "activation" in a else [])


# -- pooling ----------------------------------------------------------------

def _pool_infer(shape: Shape, a: dict) -> Shape:
    c, h, w = need_image(shape)
    positive(a, "kernel")
    s = a.get("stride") or a["kernel"]
    return (c, window_out(h, a["kernel"], s, 0, "pool window"),
            window_out(w, a["kernel"], s, 0, "pool window"))


def _pool_make(cls):
    return lambda shape, a: cls(a["kernel"], stride=a.get("stride") or a["kernel"])


def _pool_describe(key: str, a: dict) -> str:
    return f"{key} {a['kernel']}x{a['kernel']}"


_POOL_ARGS = (_int("kernel", 2), _int("stride", 0, POOL_STRIDE_LIMITS))


# -- the rest -----------------------------------------------------------------

def _global_pool_infer(shape: Shape, a: dict) -> Shape:
    return (need_image(shape)[0],)


def _dropout_infer(shape: Shape, a: dict) -> Shape:
    p = a["p"]
    if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ShapeError(f"dropout rate must be in [0, 1), got {p!r}")
    return shape


def _dropout_make(shape: Shape, a: dict) -> nn.Module:
    return nn.Dropout2d(a["p"]) if len(shape) == 3 and a.get("channelwise") else nn.Dropout(a["p"])


def _batchnorm_make(shape: Shape, a: dict) -> nn.Module:
    return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])


def _residual_infer(shape: Shape, a: dict) -> Shape:
    if len(shape) == 1:
        return shape  # dense residual keeps the width
    c, h, w = shape
    positive(a, "channels", "stride")
    s = a["stride"]
    return (a["channels"], window_out(h, 3, s, 1, "kernel"), window_out(w, 3, s, 1, "kernel"))


def _residual_make(shape: Shape, a: dict) -> nn.Module:
    if len(shape) == 1:
        return ResidualDenseBlock(shape[0], a["activation"])
    return ResidualConvBlock(shape[0], a["channels"], a["stride"], a["activation"])


def _residual_params(shape: Shape, out: Shape, a: dict) -> int:
    if len(shape) == 1:
        return 2 * (shape[0] * shape[0] + shape[0])
    cin, c = shape[0], a["channels"]
    skip = 0 if (a["stride"] == 1 and cin == c) else cin * c
    return cin * c * 9 + c * c * 9 + 4 * c + skip   # two bias-free convs, two BNs


def _same(shape: Shape, a: dict) -> Shape:
    return shape


LAYER_KINDS: dict[str, LayerKind] = {k.key: k for k in [
    LayerKind(
        "dense", "Dense (fully connected)",
        "Every output unit adds up all the inputs, each times its own learned weight, plus a bias.",
        short="dense", legend="dense", colour=_ORANGE, view="dense",
        args=(_int("units", 8), _activation()),
        infer=_dense_infer, make=lambda s, a: nn.Linear(s[0], a["units"]),
        params=lambda s, o, a: s[0] * a["units"] + a["units"],
        describe_args=lambda key, a: _with_act(f"dense {a['units']}", a),
        has_activation=True, init_by_activation=True),
    LayerKind(
        "conv2d", "Convolution 2-D",
        "Slides small learned filters over the image; each filter makes one feature map.",
        short="conv", legend="convolution", colour=_BLUE, view="conv",
        args=(_int("channels", 8), _int("kernel", 3), _int("stride", 1), _int("padding", 1), _activation()),
        infer=_conv_infer, make=_conv_make,
        params=lambda s, o, a: s[0] * a["channels"] * a["kernel"] ** 2 + a["channels"],
        describe_args=_conv_describe, caption_args=_conv_caption,
        has_activation=True, init_by_activation=True, learns_maps=True,
        aliases=("conv", "convolution")),
    LayerKind(
        "maxpool", "Max pooling",
        "Shrinks each feature map by keeping the largest value of every small window.",
        short="maxpool", legend="pooling", colour=_POOL_GREEN, view="pool",
        args=_POOL_ARGS, infer=_pool_infer, make=_pool_make(nn.MaxPool2d), describe_args=_pool_describe),
    LayerKind(
        "avgpool", "Average pooling",
        "Shrinks each feature map by averaging every small window.",
        short="avgpool", legend="pooling", colour=_POOL_GREEN, view="pool",
        args=_POOL_ARGS, infer=_pool_infer, make=_pool_make(nn.AvgPool2d), describe_args=_pool_describe),
    LayerKind(
        "globalavgpool", "Global average pooling",
        "Turns each feature map into one number, its average, giving a flat vector.",
        short="gap", legend="pooling", colour=_POOL_GREEN, view="pool", args=(),
        infer=_global_pool_infer, make=lambda s, a: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        aliases=("gap",)),
    LayerKind(
        "flatten", "Flatten",
        "Lays an image's values out in one long row, so dense layers can read them.",
        short="flatten", legend="flatten", colour="#9aa3ad", view="flatten", args=(),
        infer=lambda s, a: (math.prod(s),), make=lambda s, a: nn.Flatten(),
        # the first flatten is just "flatten": most networks have one
        name_module=lambda short, a, n: short if n == 1 else f"{short}{n}",
        passthrough=True),
    LayerKind(
        "dropout", "Dropout",
        "While training, switches off a random share of the values, so no unit is relied on alone.",
        short="dropout", legend="dropout", colour="#ddcc77", view="dropout",
        args=(ArgSpec("p", "float", 0.25, 0, MAX_DROPOUT, label="dropout p", meaning="the dropout rate",
                      step=0.05),
              ArgSpec("channelwise", "bool", False, optional=True)),
        infer=_dropout_infer, make=_dropout_make,
        describe_args=lambda key, a: f"dropout {a['p']}", passthrough=True),
    LayerKind(
        "batchnorm", "Batch normalisation",
        "Rescales each channel to a steady average and spread, which makes training more stable.",
        short="bn", legend="batch norm", colour="#88ccee", view="batchnorm", args=(),
        infer=_same, make=_batchnorm_make,
        params=lambda s, o, a: 2 * s[0],        # weight and bias; running stats are buffers
        aliases=("bn",)),
    LayerKind(
        "residual", "Residual block",
        "Two layers whose result is added to the block's own input, so signals can skip ahead.",
        short="res", legend="residual", colour="#aa4499", view="residual",
        args=(_int("channels", 16), _int("stride", 1), _activation()),
        infer=_residual_infer, make=_residual_make, params=_residual_params,
        memory_copies=lambda a: 6,             # about six tensors of its output size inside
        describe_args=lambda key, a: _with_act(f"residual {a['channels']}", a),
        learns_maps=True, aliases=("res",)),
    LayerKind(
        "activation", "Activation",
        "Applies an activation function to every value on its own, with nothing to learn.",
        short="act", legend="activation", colour="#cc79a7", view="activation",
        args=(_activation(),), infer=_same, make=lambda s, a: make_activation(a["activation"]),
        describe_args=lambda key, a: a["activation"],
        name_module=lambda short, a, n: f"{a['activation']}{n}"),
]}

_ALIASES = {alias: k.key for k in LAYER_KINDS.values() for alias in k.aliases}


def canonical_kind(name):
    """The registry key for ``name`` or one of its other spellings; anything else as it is
    (a kind from a file may be anything: the spec check names it)."""
    if isinstance(name, str) and name not in LAYER_KINDS:
        return _ALIASES.get(name, name)
    return name
