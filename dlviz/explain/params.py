"""A method's adjustable settings, and turning a user's dict into checked values.

The registry describes each setting once (name, label, default, range); the
page draws a widget from it and ``resolve`` checks whatever comes back (from
a widget, a URL or the CLI) before it reaches Captum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dlviz.errors import UserError


@dataclass(frozen=True)
class Param:
    name: str                      # the key in ``params``
    label: str                     # for a widget
    default: object
    min: float | None = None       # int / float only
    max: float | None = None
    step: float | None = None
    kind: str = "int"              # "int" | "float" | "choice"
    choices: tuple[str, ...] = ()  # "choice" only
    help: str = ""                 # one short sentence for a tooltip


def resolve(method_key: str, label: str, spec: tuple[Param, ...], given: dict | None) -> dict:
    """Defaults overlaid with ``given``; raises ``UserError`` naming the bad setting."""
    given = dict(given or {})
    known = {p.name: p for p in spec}
    unknown = sorted(set(given) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise UserError(f"{label} has no setting '{unknown[0]}' (settings: {allowed})")
    out = {}
    for p in spec:
        out[p.name] = _check(label, p, given[p.name]) if p.name in given else p.default
    return out


def _check(label: str, p: Param, v: object) -> object:
    if p.kind == "choice":
        if v not in p.choices:
            raise UserError(f"{label}: {p.label} must be one of {', '.join(p.choices)}, got {v!r}")
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UserError(f"{label}: {p.label} must be a number, got {v!r}")
    if p.kind == "int":
        if isinstance(v, float) and not v.is_integer():
            raise UserError(f"{label}: {p.label} must be a whole number, got {v!r}")
        v = int(v)
    else:
        v = float(v)
        if not math.isfinite(v):
            raise UserError(f"{label}: {p.label} must be a finite number, got {v!r}")
    if (p.min is not None and v < p.min) or (p.max is not None and v > p.max):
        raise UserError(f"{label}: {p.label} must be between {_num(p.min)} and {_num(p.max)}, got {v!r}")
    return v


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
