"""Shape analysis of a network spec: every layer's shapes, parameters and memory.

    report = analyse(spec)          # raises SpecError("layer 1 dense: ...")

Pure arithmetic from the kinds' registry entries (``dlviz.nn.layers``):
nothing is allocated, so an absurd spec costs nothing. ``dlviz.build``
checks the built model against these numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dlviz.nn.layers import LAYER_KINDS, Shape, ShapeError, fmt_shape
from dlviz.spec_checks import MAX_LAYERS, TASKS, SpecError, check_input_shape, check_layer, check_outputs

if TYPE_CHECKING:
    from dlviz.spec import NetSpec

MAX_PARAMS = 5_000_000
MAX_ACTIVATION_BYTES = 64 * 2**20      # per sample, forward activations
OUTPUT_KIND = "output"                 # the implicit head's kind in a report


@dataclass(frozen=True)
class LayerReport:
    index: int              # 1-based position in spec.layers; len+1 for the output head
    name: str               # "layer 3 conv2d" style label
    description: str
    input_shape: Shape
    output_shape: Shape
    params: int
    activation_bytes: int   # float32 output(s) of this layer for one sample
    kind: str = OUTPUT_KIND            # the LAYER_KINDS key, or "output" for the head
    # how a diagram shows it, from the kind's registry entry ("" for the head: the
    # diagram's own), so dlviz.plots needs no import of dlviz.nn
    caption: tuple[str, ...] = ()      # the short lines under its box ("conv 5x5", "relu")
    legend: str = ""                   # its colour key's name ("convolution")
    colour: str = ""                   # hex


@dataclass(frozen=True)
class SpecReport:
    layers: list[LayerReport]
    total_params: int
    activation_bytes: int   # per sample, forward only

    def training_bytes(self, batch_size: int) -> int:
        """Rough peak for one training step: weights, grads and two optimizer
        moments, plus forward activations kept for backward."""
        return 4 * self.total_params * 4 + batch_size * self.activation_bytes


def analyse(spec: "NetSpec", *, max_params: int = MAX_PARAMS, max_layers: int = MAX_LAYERS) -> SpecReport:
    """Shapes, parameters and memory of every layer; raises ``SpecError`` on the first problem."""
    if spec.task not in TASKS:
        raise SpecError(f"task must be one of {', '.join(TASKS)}, got {spec.task!r}")
    if spec.task == "regression" and spec.outputs != 1:
        raise SpecError(f"a regression network has 1 output, got {spec.outputs}")
    if spec.task == "classification" and spec.outputs < 2:
        raise SpecError(f"a classifier needs at least 2 outputs (one per class), got {spec.outputs}")
    if len(spec.layers) > max_layers:
        raise SpecError(f"{len(spec.layers)} layers is over the limit of {max_layers} on this server")
    check_input_shape(spec.input_shape)
    check_outputs(spec.outputs)
    shape: Shape = spec.input_shape
    reports: list[LayerReport] = []
    for i, layer in enumerate(spec.layers, 1):
        check_layer(i, layer)        # a spec built in code (the editor) gets the same checks
        label, kind = f"layer {i} {layer.kind}", LAYER_KINDS[layer.kind]
        try:
            out = kind.infer(shape, layer.args)
        except ShapeError as e:
            raise SpecError(f"{label}: {e}", i) from None
        if any(s < 1 for s in out):
            raise SpecError(f"{label}: output would be empty ({out})", i)
        reports.append(LayerReport(i, label, kind.describe(layer.args), shape, out,
                                   kind.params(shape, out, layer.args),
                                   4 * math.prod(out) * kind.memory_copies(layer.args),
                                   layer.kind, tuple(kind.caption(layer.args)), kind.legend, kind.colour))
        shape = out
    head = len(spec.layers) + 1
    if len(shape) != 1:
        raise SpecError(f"layer {head} output: needs a flat input, got {fmt_shape(shape)}; "
                        f"add a flatten or global average pool layer at the end", head)
    reports.append(LayerReport(head, f"layer {head} output", f"output {spec.outputs}", shape,
                               (spec.outputs,), shape[0] * spec.outputs + spec.outputs,
                               4 * spec.outputs, OUTPUT_KIND, (f"output {spec.outputs}",)))
    total = sum(r.params for r in reports)
    if total > max_params:
        raise SpecError(f"{total:,} parameters is over the limit of {max_params:,} on this server; "
                        f"use fewer units or channels")
    act_bytes = 4 * math.prod(spec.input_shape) + sum(r.activation_bytes for r in reports)
    if act_bytes > MAX_ACTIVATION_BYTES:
        raise SpecError(f"activations need {act_bytes / 2**20:.0f} MiB per sample, over the "
                        f"limit of {MAX_ACTIVATION_BYTES // 2**20} MiB; add pooling or use fewer channels")
    return SpecReport(reports, total, act_bytes)
