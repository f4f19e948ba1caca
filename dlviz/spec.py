"""The network as data: ``NetSpec`` / ``LayerSpec``.

A spec is the single source of truth for a network. It round-trips through
JSON and a compact URL-safe string, and ``analyse`` checks it layer by layer
before anything is allocated: output shapes, parameter counts and activation
memory per sample, with a message naming the layer that does not fit.

    spec = NetSpec(input_shape=(2,), outputs=2, layers=[LayerSpec("dense", units=4, activation="tanh")])
    report = analyse(spec)          # raises SpecError("layer 1 dense: ...")
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass, field

from dlviz.errors import UserError
from dlviz.nn.activations import ACTIVATIONS
from dlviz.nn.layers import LAYER_KINDS, Shape, ShapeError, fmt_shape

# Guard rails for a shared server: a classroom of 30 students each training a
# network must fit in one machine's memory.
MAX_PARAMS = 5_000_000
MAX_LAYERS = 40
MAX_ACTIVATION_BYTES = 64 * 2**20      # per sample, forward activations
TASKS = ("classification", "regression")
_URL_MAX_BYTES = 64 * 1024             # decompressed; refuse zip bombs in links


class SpecError(UserError):
    """An invalid network; ``layer`` is the 1-based index of the culprit (0 = whole net)."""

    def __init__(self, message: str, layer: int = 0):
        super().__init__(message)
        self.layer = layer


@dataclass
class LayerSpec:
    """One layer: a kind from ``LAYER_KINDS`` plus its arguments (defaults filled in)."""

    kind: str
    args: dict = field(default_factory=dict)

    def __init__(self, kind: str, args: dict | None = None, **kwargs):
        self.kind = kind
        defaults = LAYER_KINDS[kind].defaults if kind in LAYER_KINDS else {}
        self.args = {**defaults, **(args or {}), **kwargs}

    @property
    def activation(self) -> str | None:
        return self.args.get("activation")

    def describe(self) -> str:
        a = self.args
        act = f", {a['activation']}" if "activation" in a and self.kind != "activation" else ""
        if self.kind == "dense":
            return f"dense {a['units']}{act}"
        if self.kind == "conv2d":
            return f"conv2d {a['channels']}@{a['kernel']}x{a['kernel']} s{a['stride']} p{a['padding']}{act}"
        if self.kind in ("maxpool", "avgpool"):
            return f"{self.kind} {a['kernel']}x{a['kernel']}"
        if self.kind == "dropout":
            return f"dropout {a['p']}"
        if self.kind == "residual":
            return f"residual {a['channels']}{act}"
        if self.kind == "activation":
            return a["activation"]
        return self.kind

    def to_dict(self) -> dict:
        return {"kind": self.kind, **self.args}


@dataclass
class NetSpec:
    """Input shape (no batch), hidden layers in order, and the output head.

    The output head is implicit: a dense layer of ``outputs`` units named
    "output", giving logits (classification) or values (regression).
    """

    input_shape: tuple[int, ...]
    outputs: int
    layers: list[LayerSpec] = field(default_factory=list)
    task: str = "classification"
    name: str = ""

    def __post_init__(self):
        self.input_shape = tuple(int(s) for s in self.input_shape)

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "outputs": self.outputs,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: dict) -> "NetSpec":
        if not isinstance(d, dict):
            raise SpecError("a network spec must be a JSON object")
        missing = [k for k in ("input_shape", "outputs", "layers") if k not in d]
        if missing:
            raise SpecError(f"network spec is missing {', '.join(missing)}")
        shape = d["input_shape"]
        if (not isinstance(shape, list) or len(shape) not in (1, 3)
                or not all(isinstance(s, int) and s > 0 for s in shape)):
            raise SpecError(f"input_shape must be [features] or [channels, height, width], got {shape!r}")
        if not isinstance(d["outputs"], int) or d["outputs"] < 1:
            raise SpecError(f"outputs must be a whole number of at least 1, got {d['outputs']!r}")
        if not isinstance(d["layers"], list):
            raise SpecError("layers must be a list")
        layers = []
        for i, ld in enumerate(d["layers"], 1):
            if not isinstance(ld, dict) or "kind" not in ld:
                raise SpecError(f"layer {i}: must be an object with a 'kind'", i)
            args = {k: v for k, v in ld.items() if k != "kind"}
            layers.append(LayerSpec(ld["kind"], args))
        spec = cls(tuple(shape), d["outputs"], layers, d.get("task", "classification"),
                   str(d.get("name", "")))
        return spec

    @classmethod
    def from_json(cls, text: str) -> "NetSpec":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        return cls.from_dict(d)

    # -- URL ----------------------------------------------------------------
    def to_url(self) -> str:
        """Compact URL-safe text: deflated minified JSON in base64url, no padding."""
        return encode_url_json(self.to_dict())

    @classmethod
    def from_url(cls, text: str) -> "NetSpec":
        return cls.from_dict(decode_url_json(text))


def decode_url_json(text: str) -> dict:
    """Inverse of the URL encoding, refusing anything that inflates past 64 KiB."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        d = zlib.decompressobj()
        raw = d.decompress(data, _URL_MAX_BYTES)
        if d.unconsumed_tail:
            raise SpecError("the shared link is too large")
        return json.loads(raw)
    except SpecError:
        raise
    except Exception:
        raise SpecError("the shared link is damaged (could not decode the network)") from None


def encode_url_json(d: dict) -> str:
    raw = json.dumps(d, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode()


# -- analysis -------------------------------------------------------------------

@dataclass(frozen=True)
class LayerReport:
    index: int              # 1-based position in spec.layers; len+1 for the output head
    name: str               # "layer 3 conv2d" style label
    description: str
    input_shape: Shape
    output_shape: Shape
    params: int
    activation_bytes: int   # float32 output(s) of this layer for one sample


@dataclass(frozen=True)
class SpecReport:
    layers: list[LayerReport]
    total_params: int
    activation_bytes: int   # per sample, forward only

    def training_bytes(self, batch_size: int) -> int:
        """Rough peak for one training step: weights, grads and two optimizer
        moments, plus forward activations kept for backward."""
        return 4 * self.total_params * 4 + batch_size * self.activation_bytes


def analyse(spec: NetSpec, *, max_params: int = MAX_PARAMS, max_layers: int = MAX_LAYERS) -> SpecReport:
    """Shapes, parameters and memory of every layer; raises ``SpecError`` on the first problem.

    Pure arithmetic: nothing is allocated, so an absurd spec costs nothing.
    """
    if spec.task not in TASKS:
        raise SpecError(f"task must be one of {', '.join(TASKS)}, got {spec.task!r}")
    if spec.task == "regression" and spec.outputs != 1:
        raise SpecError(f"a regression network has 1 output, got {spec.outputs}")
    if spec.task == "classification" and spec.outputs < 2:
        raise SpecError(f"a classifier needs at least 2 outputs (one per class), got {spec.outputs}")
    if len(spec.layers) > max_layers:
        raise SpecError(f"{len(spec.layers)} layers is over the limit of {max_layers} on this server")
    shape: Shape = spec.input_shape
    reports: list[LayerReport] = []
    for i, layer in enumerate(spec.layers, 1):
        label = f"layer {i} {layer.kind}"
        kind = LAYER_KINDS.get(layer.kind)
        if kind is None:
            raise SpecError(f"{label}: unknown layer kind; use one of {', '.join(LAYER_KINDS)}", i)
        unknown = set(layer.args) - set(kind.defaults) - {"channelwise"}
        if unknown:
            raise SpecError(f"{label}: unknown setting {sorted(unknown)[0]!r}; "
                            f"{layer.kind} takes {', '.join(kind.defaults) or 'no settings'}", i)
        act = layer.args.get("activation")
        if act is not None and act not in ACTIVATIONS:
            raise SpecError(f"{label}: unknown activation {act!r}; use one of {', '.join(ACTIVATIONS)}", i)
        try:
            out = kind.infer(shape, layer.args)
        except ShapeError as e:
            raise SpecError(f"{label}: {e}", i) from None
        if any(s < 1 for s in out):
            raise SpecError(f"{label}: output would be empty ({out})", i)
        params = _param_count(layer, shape, out)
        reports.append(LayerReport(i, label, layer.describe(), shape, out, params,
                                   _activation_bytes(layer, out)))
        shape = out
    head = len(spec.layers) + 1
    if len(shape) != 1:
        raise SpecError(f"layer {head} output: needs a flat input, got {fmt_shape(shape)}; "
                        f"add a flatten or global average pool layer at the end", head)
    reports.append(LayerReport(head, f"layer {head} output", f"output {spec.outputs}", shape,
                               (spec.outputs,), shape[0] * spec.outputs + spec.outputs,
                               4 * spec.outputs))
    total = sum(r.params for r in reports)
    if total > max_params:
        raise SpecError(f"{total:,} parameters is over the limit of {max_params:,} on this server; "
                        f"use fewer units or channels")
    act_bytes = 4 * math.prod(spec.input_shape) + sum(r.activation_bytes for r in reports)
    if act_bytes > MAX_ACTIVATION_BYTES:
        raise SpecError(f"activations need {act_bytes / 2**20:.0f} MiB per sample, over the "
                        f"limit of {MAX_ACTIVATION_BYTES // 2**20} MiB; add pooling or use fewer channels")
    return SpecReport(reports, total, act_bytes)


def _param_count(layer: LayerSpec, shape: Shape, out: Shape) -> int:
    a = layer.args
    if layer.kind == "dense":
        return shape[0] * a["units"] + a["units"]
    if layer.kind == "conv2d":
        return shape[0] * a["channels"] * a["kernel"] ** 2 + a["channels"]
    if layer.kind == "batchnorm":
        return 2 * shape[0]        # weight and bias; running stats are buffers
    if layer.kind == "residual":
        if len(shape) == 1:
            return 2 * (shape[0] * shape[0] + shape[0])
        cin, c = shape[0], a["channels"]
        skip = 0 if (a["stride"] == 1 and cin == c) else cin * c
        return cin * c * 9 + c * c * 9 + 4 * c + skip   # two bias-free convs, two BNs
    return 0


def _activation_bytes(layer: LayerSpec, out: Shape) -> int:
    n = math.prod(out)
    # a layer with its own activation keeps two tensors (pre- and post-activation);
    # a residual block keeps about six of its output size
    copies = 6 if layer.kind == "residual" else 2 if layer.args.get("activation") not in (None, "linear") else 1
    return 4 * n * copies

