"""Layer-kind registry: how each kind infers its shape and builds its module.

A kind knows its argument names and defaults, checks that an input shape fits
(raising ``ShapeError`` with a sentence a student can act on), computes its
output shape analytically (no tensors), and builds an ``nn.Module``.
Shapes exclude the batch: (F,) for vectors, (C, H, W) for images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from torch import nn

from dlviz.nn.residual import ResidualConvBlock, ResidualDenseBlock

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """The layer cannot take this input; the message says why, without the layer name."""


def fmt_shape(shape: Shape) -> str:
    if len(shape) == 1:
        return f"{shape[0]} features"
    return f"{shape[0]}x{shape[1]}x{shape[2]}"


def _need_image(kind: str, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"needs an image input (channels x height x width), "
                         f"got {fmt_shape(shape)}")
    return shape  # type: ignore[return-value]


def _need_flat(kind: str, shape: Shape) -> int:
    if len(shape) != 1:
        raise ShapeError(f"needs a flat input, got {fmt_shape(shape)}; "
                         f"add a flatten layer before it")
    return shape[0]


def _window_out(size: int, kernel: int, stride: int, padding: int, what: str) -> int:
    if kernel > size + 2 * padding:
        pad = f" (padding {padding})" if padding else ""
        raise ShapeError(f"{what} {kernel} does not fit a {size}x{size} input{pad}")
    return (size + 2 * padding - kernel) // stride + 1


def _positive(args: dict, *names: str) -> None:
    for n in names:
        v = args[n]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ShapeError(f"{n} must be a whole number of at least 1, got {v!r}")


@dataclass(frozen=True)
class LayerKind:
    key: str
    label: str                                   # for menus
    defaults: dict                               # argument -> default value
    infer: Callable[[Shape, dict], Shape]        # raises ShapeError
    make: Callable[[Shape, dict], nn.Module]
    has_activation: bool = False                 # takes a per-layer "activation" arg


# -- dense ------------------------------------------------------------------

def _dense_infer(shape: Shape, a: dict) -> Shape:
    _need_flat("dense", shape)
    _positive(a, "units")
    return (a["units"],)


# -- conv2d -----------------------------------------------------------------

def _conv_infer(shape: Shape, a: dict) -> Shape:
    _, h, w = _need_image("conv2d", shape)
    _positive(a, "channels", "kernel", "stride")
    if not isinstance(a["padding"], int) or a["padding"] < 0:
        raise ShapeError(f"padding must be 0 or more, got {a['padding']!r}")
    k, s, p = a["kernel"], a["stride"], a["padding"]
    return (a["channels"], _window_out(h, k, s, p, "kernel"), _window_out(w, k, s, p, "kernel"))


def _conv_make(shape: Shape, a: dict) -> nn.Module:
    return nn.Conv2d(shape[0], a["channels"], a["kernel"], stride=a["stride"], padding=a["padding"])


# -- pooling ----------------------------------------------------------------

def _pool_infer(kind: str):
    def infer(shape: Shape, a: dict) -> Shape:
        c, h, w = _need_image(kind, shape)
        _positive(a, "kernel")
        s = a.get("stride") or a["kernel"]
        return (c, _window_out(h, a["kernel"], s, 0, "pool window"),
                _window_out(w, a["kernel"], s, 0, "pool window"))
    return infer


def _pool_make(cls):
    return lambda shape, a: cls(a["kernel"], stride=a.get("stride") or a["kernel"])


# -- the rest -----------------------------------------------------------------

def _flatten_infer(shape: Shape, a: dict) -> Shape:
    return (math.prod(shape),)


def _global_pool_infer(shape: Shape, a: dict) -> Shape:
    return (_need_image("global average pool", shape)[0],)


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
    _positive(a, "channels", "stride")
    s = a["stride"]
    return (a["channels"], _window_out(h, 3, s, 1, "kernel"), _window_out(w, 3, s, 1, "kernel"))


def _residual_make(shape: Shape, a: dict) -> nn.Module:
    if len(shape) == 1:
        return ResidualDenseBlock(shape[0], a["activation"])
    return ResidualConvBlock(shape[0], a["channels"], a["stride"], a["activation"])


def _activation_make(shape: Shape, a: dict) -> nn.Module:
    from dlviz.nn.activations import make_activation
    return make_activation(a["activation"])


LAYER_KINDS: dict[str, LayerKind] = {
    k.key: k
    for k in [
        LayerKind("dense", "Dense (fully connected)", {"units": 8, "activation": "relu"},
                  _dense_infer, lambda s, a: nn.Linear(s[0], a["units"]), has_activation=True),
        LayerKind("conv2d", "Convolution 2-D",
                  {"channels": 8, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
                  _conv_infer, _conv_make, has_activation=True),
        LayerKind("maxpool", "Max pooling", {"kernel": 2, "stride": 0},
                  _pool_infer("max-pool"), _pool_make(nn.MaxPool2d)),
        LayerKind("avgpool", "Average pooling", {"kernel": 2, "stride": 0},
                  _pool_infer("avg-pool"), _pool_make(nn.AvgPool2d)),
        LayerKind("globalavgpool", "Global average pooling", {},
                  _global_pool_infer, lambda s, a: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())),
        LayerKind("flatten", "Flatten", {}, _flatten_infer, lambda s, a: nn.Flatten()),
        LayerKind("dropout", "Dropout", {"p": 0.25}, _dropout_infer, _dropout_make),
        LayerKind("batchnorm", "Batch normalisation", {}, lambda s, a: s, _batchnorm_make),
        LayerKind("residual", "Residual block", {"channels": 16, "stride": 1, "activation": "relu"},
                  _residual_infer, _residual_make),
        LayerKind("activation", "Activation", {"activation": "relu"}, lambda s, a: s, _activation_make),
    ]
}
