"""The network as data: ``NetSpec`` / ``LayerSpec``.

A spec is the single source of truth for a network. It round-trips through
JSON and a compact URL-safe string (``dlviz.spec_link``), and ``analyse``
(``dlviz.spec_analysis``) checks it layer by layer before anything is
allocated: output shapes, parameter counts and activation memory per sample,
with a message naming the layer that does not fit. Field checks and limits
are in ``dlviz.spec_checks``; what each layer kind is, in ``dlviz.nn.layers``.

    spec = NetSpec(input_shape=(2,), outputs=2, layers=[LayerSpec("dense", units=4, activation="tanh")])
    report = analyse(spec)          # raises SpecError("layer 1 dense: ...")

The checks, the analysis and the limits are re-exported here, so callers keep
one import for "the spec" (``from dlviz.spec import NetSpec, SpecError, analyse``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dlviz.nn.layers import INT_LIMITS, LAYER_KINDS, MAX_DROPOUT, POOL_STRIDE_LIMITS, canonical_kind
from dlviz.spec_analysis import MAX_ACTIVATION_BYTES, MAX_PARAMS, LayerReport, SpecReport, analyse
from dlviz.spec_checks import (MAX_INPUT_CHANNELS, MAX_INPUT_FEATURES, MAX_INPUT_SIDE, MAX_LAYERS,
                               MAX_NAME_CHARS, MAX_OUTPUTS, TASKS, SpecError, check_input_shape,
                               check_layer, check_outputs, fmt_whole, is_number, is_whole)
from dlviz.spec_head_start import HeadStart
from dlviz.spec_link import MAX_JSON_DEPTH, decode_url_json, encode_url_json, load_json

__all__ = [
    "HeadStart", "LayerSpec", "NetSpec", "SpecError", "analyse", "LayerReport", "SpecReport",
    "check_input_shape", "check_layer", "check_outputs", "fmt_whole", "is_number",
    "is_whole", "INT_LIMITS", "MAX_DROPOUT", "POOL_STRIDE_LIMITS", "MAX_ACTIVATION_BYTES",
    "MAX_PARAMS", "MAX_INPUT_CHANNELS", "MAX_INPUT_FEATURES", "MAX_INPUT_SIDE", "MAX_LAYERS",
    "MAX_NAME_CHARS", "MAX_OUTPUTS", "MAX_JSON_DEPTH", "TASKS",
]


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
        """"conv2d 6@5x5 s1 p2, relu" style, from the kind's registry entry."""
        kind = LAYER_KINDS.get(self.kind) if isinstance(self.kind, str) else None
        return kind.describe(self.args) if kind else str(self.kind)

    def to_dict(self) -> dict:
        return {"kind": self.kind, **self.args}


@dataclass
class NetSpec:
    """Input shape (no batch), hidden layers in order, and the output head.

    The output head is implicit: a dense layer of ``outputs`` units named
    "output", giving logits (classification) or values (regression).
    ``head_start``: trained weights the run starts from and the layers it keeps
    frozen (``dlviz/train/head_start.py`` applies it); None: random weights.
    """

    input_shape: tuple[int, ...]
    outputs: int
    layers: list[LayerSpec] = field(default_factory=list)
    task: str = "classification"
    name: str = ""
    head_start: HeadStart | None = None    # trained weights to start from (spec_head_start.py)

    def __post_init__(self):
        self.input_shape = tuple(int(s) for s in self.input_shape)

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {
            "name": self.name,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "outputs": self.outputs,
            "layers": [layer.to_dict() for layer in self.layers],
        }
        if self.head_start is not None:          # absent, not null: older readers see no change
            d["head_start"] = self.head_start.to_dict()
        return d

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
            # another spelling of a kind ("conv") is read as its canonical name ("conv2d")
            layer = LayerSpec(canonical_kind(ld["kind"]), {k: v for k, v in ld.items() if k != "kind"})
            check_layer(i, layer)
            layers.append(layer)
        head = d.get("head_start")                # missing (an older link or file): none
        return cls(tuple(shape), d["outputs"], layers, task, name,
                   HeadStart.from_dict(head) if head is not None else None)

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
