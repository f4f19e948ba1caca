"""The convolution explained: one output value as patch x kernel, summed, plus bias.

For a Conv2d layer, output channel ``o`` at output position (row, col):

    out[o, row, col] = bias[o] + sum_{c, i, j} pad(x)[c, row*s + i*d, col*s + j*d] * W[o, c, i, j]

where ``x`` is the layer's real input (captured in a forward pass), ``pad``
adds the layer's zero padding, ``s`` is the stride and ``d`` the dilation.
``explain_conv`` gathers every term of that sum, and the layer's own output
at the same place, so a test (and a student) can check that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlviz.build import BuiltNet
from dlviz.inside.values import as_batch
from dlviz.probe import capture
from dlviz.views._eval import inference


@dataclass(frozen=True)
class ConvArithmetic:
    layer_name: str
    input_name: str             # module whose output feeds the layer ("input" for the first)
    channel: int                # output channel
    row: int                    # output position
    col: int
    patch: np.ndarray           # (Cin, kh, kw) float64: the input window, zero padding included
    kernel: np.ndarray          # (Cin, kh, kw) float64: W[channel]
    bias: float
    products: np.ndarray        # (Cin, kh, kw) float64: patch * kernel
    total: float                # products.sum() + bias
    layer_output: float         # the layer's real output at (channel, row, col)
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    top: int                    # the window's first input row (negative inside the padding)
    left: int                   # the window's first input column
    input_shape: tuple[int, int, int]   # (Cin, H, W) of the layer's input, unpadded

    @property
    def channel_sums(self) -> np.ndarray:
        """(Cin,) the sum of products per input channel."""
        return self.products.reshape(self.products.shape[0], -1).sum(axis=1)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _input_name(net: BuiltNet, layer_name: str) -> str:
    """The top-level module before ``layer_name`` in the Sequential, or "input".

    A nested conv (``res1.conv2``) reads an inner value: it is named "inside res1"."""
    names = net.module_names
    if layer_name in names:
        i = names.index(layer_name)
        return names[i - 1] if i > 0 else "input"
    return f"inside {layer_name.split('.')[0]}"


def explain_conv(net: BuiltNet, layer_name: str, x: torch.Tensor, channel: int,
                 row: int, col: int) -> ConvArithmetic:
    """Every term behind the output of conv ``layer_name`` for one input ``x``
    (no batch) at output channel ``channel``, position (``row``, ``col``)."""
    model = net.model
    conv = dict(model.named_modules()).get(layer_name)
    if not isinstance(conv, nn.Conv2d):
        convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        raise ValueError(f"{layer_name!r} is not a convolution layer; convolutions: "
                         f"{', '.join(convs) or 'none'}")
    if conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError(f"{layer_name}: only ungrouped, zero-padded convolutions are explained")
    xb = as_batch(net, x)                                             # (1, *input_shape)
    with inference(model) as device:
        with capture(model, [layer_name], inputs=True) as probe:
            model(xb.to(device))
    inp = probe.inputs[layer_name][0].double().cpu()                  # (Cin, H, W)
    out = probe.outputs[layer_name][0]                                # (Cout, Ho, Wo)
    cout, ho, wo = out.shape
    if not (0 <= channel < cout and 0 <= row < ho and 0 <= col < wo):
        raise ValueError(f"{layer_name} output is {cout}x{ho}x{wo}; "
                         f"channel {channel}, row {row}, col {col} is outside it")
    (sh, sw), (dh, dw) = _pair(conv.stride), _pair(conv.dilation)
    if isinstance(conv.padding, str):          # "same"/"valid": padding in pixels per side
        ph = pw = 0 if conv.padding == "valid" else (conv.kernel_size[0] - 1) * dh // 2
    else:
        ph, pw = _pair(conv.padding)
    kh, kw = conv.kernel_size
    padded = F.pad(inp, (pw, pw, ph, ph))                              # (Cin, H+2ph, W+2pw)
    top, left = row * sh, col * sw                                     # in padded coordinates
    patch = padded[:, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw]  # (Cin, kh, kw)
    kernel = conv.weight[channel].detach().double().cpu()             # (Cin, kh, kw)
    bias = float(conv.bias[channel].detach()) if conv.bias is not None else 0.0
    products = (patch * kernel).numpy()
    total = float(products.sum()) + bias
    return ConvArithmetic(
        layer_name, _input_name(net, layer_name), channel, row, col,
        patch.numpy().copy(), kernel.numpy().copy(), bias, products, total,
        float(out[channel, row, col]), (sh, sw), (ph, pw), (dh, dw),
        top - ph, left - pw, tuple(inp.shape))


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4) else f"{v:.3f}"


def conv_arithmetic_text(a: ConvArithmetic, max_terms: int = 9, max_channels: int = 12) -> str:
    """A compact formula a person can follow and check, e.g. for one input channel and a 3x3 kernel:

        conv1, map 2 at (row 5, col 7): 3x3 window over input rows 4 to 6, cols 6 to 8
          input × weight: 0.120×0.310 + 0.000×-0.210 + ... = 0.418
          + bias 0.050 = 0.468
          the layer's output there: 0.468

    More than ``max_terms`` products: one line per window row. Several input
    channels: one line per channel (its sum of products), the largest
    contributions first when there are more than ``max_channels``.
    """
    cin, kh, kw = a.patch.shape
    dh, dw = a.dilation
    rows = f"{a.top} to {a.top + dh * (kh - 1)}"
    cols = f"{a.left} to {a.left + dw * (kw - 1)}"
    lines = [f"{a.layer_name}, map {a.channel} at (row {a.row}, col {a.col}): "
             f"{kh}x{kw} window over {a.input_name} rows {rows}, cols {cols}"
             + (" (zero padding outside)" if a.top < 0 or a.left < 0
                or a.top + dh * (kh - 1) >= a.input_shape[1] or a.left + dw * (kw - 1) >= a.input_shape[2]
                else "")]
    sums = a.channel_sums
    if cin == 1 and kh * kw <= max_terms:
        terms = " + ".join(f"{_fmt(p)}×{_fmt(k)}" for p, k in zip(a.patch.ravel(), a.kernel.ravel()))
        lines.append(f"  input × weight: {terms} = {_fmt(float(sums[0]))}")
    elif cin == 1:
        # one line per window row: every product while it fits, else the row's sum
        for i in range(kh):
            row_sum = _fmt(float(a.products[0, i].sum()))
            terms = (" + ".join(f"{_fmt(p)}×{_fmt(k)}" for p, k in zip(a.patch[0, i], a.kernel[0, i]))
                     if kw <= 5 else f"sum of {kw} products")
            lines.append(f"  input row {a.top + dh * i}: {terms} = {row_sum}")
        lines.append(f"  sum of all {kh * kw} products = {_fmt(float(sums[0]))}")
    else:
        order = list(range(cin))
        if cin > max_channels:
            order = sorted(order, key=lambda c: -abs(sums[c]))[:max_channels - 1]
        for c in order:
            lines.append(f"  input channel {c}: sum of {kh * kw} products = {_fmt(float(sums[c]))}")
        if len(order) < cin:
            rest = float(sums.sum() - sums[order].sum())
            lines.append(f"  the other {cin - len(order)} channels together: {_fmt(rest)}")
        lines.append(f"  sum over {cin} channels = {_fmt(float(sums.sum()))}")
    lines.append(f"  + bias {_fmt(a.bias)} = {_fmt(a.total)}")
    lines.append(f"  the layer's output there: {_fmt(a.layer_output)}")
    return "\n".join(lines)
