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
import re
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
# base64 of the largest deflated link (deflate may grow incompressible text a little)
_URL_MAX_CHARS = 2 * _URL_MAX_BYTES
MAX_JSON_DEPTH = 20                    # a spec is 4 levels deep, a bundle's model.json 5
MAX_OUTPUTS = 1000                     # as many classes as an IDX dataset may have
MAX_INPUT_FEATURES = 65_536            # a flat input
MAX_INPUT_CHANNELS = 4                 # an image input: grey, RGB (or RGBA)
MAX_INPUT_SIDE = 1024                  # as an IDX file's images may be
MAX_NAME_CHARS = 200

# Whole-number layer settings: (smallest, largest). The layer editor's boxes take any
# number and leave these limits to check_layer, whose message under the layer names them.
INT_LIMITS = {"units": (1, 1024), "channels": (1, 256), "kernel": (1, 11), "stride": (1, 4),
              "padding": (0, 5)}
POOL_STRIDE_LIMITS = (0, 4)            # 0: the kernel size (windows side by side)
MAX_DROPOUT = 0.95
POOLS = ("maxpool", "avgpool")


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
        # a kind from a file may be anything; check_layer names it, the lookup must not crash
        defaults = LAYER_KINDS[kind].defaults if isinstance(kind, str) and kind in LAYER_KINDS else {}
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
        """From untrusted JSON: every field is typed and bounded here, layer by layer."""
        if not isinstance(d, dict):
            raise SpecError("a network spec must be a JSON object")
        missing = [k for k in ("input_shape", "outputs", "layers") if k not in d]
        if missing:
            raise SpecError(f"network spec is missing {', '.join(missing)}")
        shape = d["input_shape"]
        if not isinstance(shape, list):
            raise SpecError(f"input_shape must be [features] or [channels, height, width], got {shape!r}")
        check_input_shape(shape)
        check_outputs(d["outputs"])
        task, name = d.get("task", "classification"), d.get("name", "")
        if not isinstance(task, str) or task not in TASKS:
            raise SpecError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise SpecError(f"name must be text of at most {MAX_NAME_CHARS} characters, got {name!r:.60}")
        if not isinstance(d["layers"], list):
            raise SpecError("layers must be a list")
        if len(d["layers"]) > MAX_LAYERS:
            raise SpecError(f"{len(d['layers'])} layers is over the limit of {MAX_LAYERS} on this server")
        layers = []
        for i, ld in enumerate(d["layers"], 1):
            if not isinstance(ld, dict) or "kind" not in ld:
                raise SpecError(f"layer {i}: must be an object with a 'kind'", i)
            layer = LayerSpec(ld["kind"], {k: v for k, v in ld.items() if k != "kind"})
            check_layer(i, layer)
            layers.append(layer)
        return cls(tuple(shape), d["outputs"], layers, task, name)

    @classmethod
    def from_json(cls, text: str) -> "NetSpec":
        try:
            d = load_json(text)
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
    if not isinstance(text, str):
        raise SpecError("the shared link is damaged (it is not text)")
    if len(text) > _URL_MAX_CHARS:            # before decoding: the text itself costs memory
        raise SpecError("the shared link is too large")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        d = zlib.decompressobj()
        raw = d.decompress(data, _URL_MAX_BYTES)
        if d.unconsumed_tail:
            raise SpecError("the shared link is too large")
        return load_json(raw)
    except SpecError:
        raise
    except Exception:
        raise SpecError("the shared link is damaged (could not decode the network)") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def load_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH):
    """``json.loads`` that first refuses nesting deeper than ``max_depth``.

    The parser recurses once per level, so ``[[[[...`` in a 64 KiB link would hit
    the recursion limit (or the C stack) before any check on the result could run.
    Raises ``json.JSONDecodeError`` / ``UnicodeDecodeError`` for text that is not JSON.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    depth = deepest = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):   # brackets outside strings
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > max_depth:
        raise SpecError(f"the JSON is nested {deepest} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise SpecError(f"the JSON is nested too deeply; the limit is {max_depth} levels") from None
    except ValueError:           # Python refuses to read integers of over 4,300 digits
        raise SpecError("the JSON holds a number too long to read") from None


def encode_url_json(d: dict) -> str:
    raw = json.dumps(d, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode()


# -- field checks (shared by from_dict, analyse and the layer editor) -----------------

def is_whole(v) -> bool:
    """An int, and not a bool (True is an int to Python, and JSON's true is not 1)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    """A whole number or a finite float (NaN and infinities are not numbers here)."""
    # isfinite would overflow on a huge int; every int is finite anyway
    return is_whole(v) or (isinstance(v, float) and math.isfinite(v))


def fmt_whole(v: int) -> str:
    """1,024 style; an absurd number by its size (str() refuses ints of over 4,300 digits)."""
    if abs(v) < 10**18:
        return f"{v:,}"
    return f"a {int(v.bit_length() * math.log10(2)) + 1}-digit number"


def int_limits(kind: str, name: str) -> tuple[int, int]:
    """(smallest, largest) of a whole-number layer setting."""
    return POOL_STRIDE_LIMITS if kind in POOLS and name == "stride" else INT_LIMITS[name]


def check_input_shape(shape) -> None:
    """[features] or [channels, height, width], whole numbers within this server's limits."""
    if (len(shape) not in (1, 3) or not all(is_whole(s) and s > 0 for s in shape)):
        raise SpecError(f"input_shape must be [features] or [channels, height, width] of whole "
                        f"numbers of at least 1, got {list(shape)!r}")
    names = ("features",) if len(shape) == 1 else ("channels", "height", "width")
    limits = (MAX_INPUT_FEATURES,) if len(shape) == 1 else (MAX_INPUT_CHANNELS, MAX_INPUT_SIDE,
                                                             MAX_INPUT_SIDE)
    for name, v, hi in zip(names, shape, limits):
        if v > hi:
            raise SpecError(f"input_shape: {name} {fmt_whole(v)} is over the limit of {hi:,} on this server")


def check_outputs(v) -> None:
    if not is_whole(v) or v < 1:
        raise SpecError(f"outputs must be a whole number of at least 1, got {v!r:.40}")
    if v > MAX_OUTPUTS:
        raise SpecError(f"outputs: {fmt_whole(v)} is over the limit of {MAX_OUTPUTS:,} on this server")


def check_layer(i: int, layer: LayerSpec) -> None:
    """Kind and settings of layer ``i`` (1-based): known, typed and within the limits.

    Shapes are ``analyse``'s job; this needs no input and allocates nothing.
    """
    if not isinstance(layer.kind, str) or layer.kind not in LAYER_KINDS:
        shown = layer.kind if isinstance(layer.kind, str) else repr(layer.kind)
        raise SpecError(f"layer {i} {shown:.40}: unknown layer kind; use one of "
                        f"{', '.join(LAYER_KINDS)}", i)
    label, kind = f"layer {i} {layer.kind}", LAYER_KINDS[layer.kind]
    unknown = set(layer.args) - set(kind.defaults) - ({"channelwise"} if layer.kind == "dropout" else set())
    if unknown:
        raise SpecError(f"{label}: unknown setting {sorted(map(str, unknown))[0]!r}; "
                        f"{layer.kind} takes {', '.join(kind.defaults) or 'no settings'}", i)
    for name, v in layer.args.items():
        problem = _arg_problem(layer.kind, name, v)
        if problem:
            raise SpecError(f"{label}: {problem}", i)


def _arg_problem(kind: str, name: str, v) -> str:
    """What is wrong with one layer setting, or "" when nothing is."""
    if name == "activation":
        if not isinstance(v, str) or v not in ACTIVATIONS:
            return f"unknown activation {v!r:.40}; use one of {', '.join(ACTIVATIONS)}"
    elif name == "p":
        if not is_number(v) or not 0 <= v <= MAX_DROPOUT:
            return f"p (the dropout rate) must be a number from 0 to {MAX_DROPOUT}, got {v!r:.40}"
    elif name == "channelwise":
        if not isinstance(v, bool):
            return f"channelwise must be true or false, got {v!r:.40}"
    else:
        lo, hi = int_limits(kind, name)
        if not is_whole(v):
            return f"{name} must be a whole number, got {v!r:.40}"
        if v < lo:
            return f"{name} must be a whole number of at least {lo}, got {v}"
        if v > hi:
            return f"{name} {fmt_whole(v)} is over the limit of {hi:,} on this server"
    return ""


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

