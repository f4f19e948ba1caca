"""A network's head start as data: where its first weights come from, which layers stay frozen.

    HeadStart(source="run:Ab3dE", weights="3f2a...9c", frozen=("conv1", "conv2"))

``source`` says where the weights came from, for people ("run:<id>" of this
server, "bundle:<file name>" of an uploaded model, "preset:<preset>@<dataset>"
for one trained by a script); ``weights`` is the SHA-256 of the safetensors
file the server keeps them in (``dlviz/train/head_start.py``), so a spec names
exactly the tensors it started from, and a run that is reset later cannot
change them. ``frozen`` names modules (``build``'s names: conv1, dense2) whose
parameters training must not move.

A spec's head start arrives from links, spec files and bundles: every field is
typed and bounded here (``from_dict``), before anything is read from disk.
Whether the names exist in the network, and the weights on this server, is
checked when the head start is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlviz.spec_checks import MAX_LAYERS, SpecError

SOURCE_KINDS = ("run", "bundle", "preset")
MAX_SOURCE_CHARS = 200
MAX_FROZEN = 2 * MAX_LAYERS          # a layer and its activation module at most
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_MODULE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OUTPUT = "output"                    # the head's module name (``dlviz.build.OUTPUT``)


@dataclass(frozen=True)
class HeadStart:
    source: str                      # "run:<id>" | "bundle:<name>" | "preset:<preset>@<dataset>"
    weights: str                     # SHA-256 (64 hex digits) of the stored safetensors file
    frozen: tuple[str, ...] = ()     # module names whose parameters do not train

    def __post_init__(self):
        object.__setattr__(self, "frozen", tuple(self.frozen))

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]

    @property
    def label(self) -> str:
        """"head start from run Ab3d, frozen conv1, conv2" style, for pickers and legends."""
        kind, _, what = self.source.partition(":")
        what = what[:4] if kind == "run" else what
        frozen = f", frozen {', '.join(self.frozen)}" if self.frozen else ""
        return f"head start from {kind} {what}{frozen}"

    def to_dict(self) -> dict:
        return {"source": self.source, "weights": self.weights, "frozen": list(self.frozen)}

    @classmethod
    def from_dict(cls, d) -> "HeadStart":
        """From untrusted JSON; raises ``SpecError`` naming the field."""
        if not isinstance(d, dict):
            raise SpecError("head_start must be an object with source, weights and frozen")
        unknown = sorted(set(map(str, d)) - {"source", "weights", "frozen"})
        if unknown:
            raise SpecError(f"head_start has an unknown field {unknown[0][:40]!r}")
        source, weights, frozen = d.get("source"), d.get("weights"), d.get("frozen", [])
        if not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE_CHARS \
                or not source.isprintable() or source.partition(":")[0] not in SOURCE_KINDS \
                or not source.partition(":")[2]:
            raise SpecError(f"head_start source must be run:ID, bundle:NAME or preset:NAME of at most "
                            f"{MAX_SOURCE_CHARS} characters, got {source!r:.60}")
        if not isinstance(weights, str) or not _DIGEST.match(weights):
            raise SpecError(f"head_start weights must be a SHA-256 digest (64 hex digits), "
                            f"got {weights!r:.70}")
        if not isinstance(frozen, list) or len(frozen) > MAX_FROZEN:
            raise SpecError(f"head_start frozen must be a list of at most {MAX_FROZEN} layer names")
        for name in frozen:
            if not isinstance(name, str) or not _MODULE.match(name):
                raise SpecError(f"head_start frozen names a layer {name!r:.40}; layer names are "
                                f"like conv1 or dense2")
        if OUTPUT in frozen:
            raise SpecError("head_start cannot freeze the output layer: it is what learns the new classes")
        repeated = [n for i, n in enumerate(frozen) if n in frozen[:i]]
        if repeated:
            raise SpecError(f"head_start frozen lists {repeated[0]} twice")
        return cls(source, weights, tuple(frozen))
