"""Field checks of a network spec: typed and bounded before anything is allocated.

Shared by ``NetSpec.from_dict`` (untrusted JSON, links), ``analyse`` (a spec
built in code) and the layer editor. A layer setting is checked against its
``ArgSpec`` in the kind's registry entry (``dlviz.nn.layers``), so a new kind
or setting is bounded here without a line of its own.
"""

from __future__ import annotations

import math

from dlviz.errors import UserError
from dlviz.nn.kind import ArgSpec
from dlviz.nn.layers import LAYER_KINDS

# Guard rails for a shared server: a classroom of 30 students each training a
# network must fit in one machine's memory.
MAX_LAYERS = 40
TASKS = ("classification", "regression")
MAX_OUTPUTS = 1000                     # as many classes as an IDX dataset may have
MAX_INPUT_FEATURES = 65_536            # a flat input
MAX_INPUT_CHANNELS = 4                 # an image input: grey, RGB (or RGBA)
MAX_INPUT_SIDE = 1024                  # as an IDX file's images may be
MAX_NAME_CHARS = 200


class SpecError(UserError):
    """An invalid network; ``layer`` is the 1-based index of the culprit (0 = whole net)."""

    def __init__(self, message: str, layer: int = 0):
        super().__init__(message)
        self.layer = layer


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


def check_layer(i: int, layer) -> None:
    """Kind and settings of layer ``i`` (1-based, a ``LayerSpec``): known, typed and within
    the limits. Shapes are ``analyse``'s job; this needs no input and allocates nothing."""
    if not isinstance(layer.kind, str) or layer.kind not in LAYER_KINDS:
        shown = layer.kind if isinstance(layer.kind, str) else repr(layer.kind)
        raise SpecError(f"layer {i} {shown:.40}: unknown layer kind; use one of "
                        f"{', '.join(LAYER_KINDS)}", i)
    label, kind = f"layer {i} {layer.kind}", LAYER_KINDS[layer.kind]
    unknown = [n for n in layer.args if kind.arg(n) is None]
    if unknown:
        raise SpecError(f"{label}: unknown setting {sorted(map(str, unknown))[0]!r}; "
                        f"{layer.kind} takes {', '.join(kind.defaults) or 'no settings'}", i)
    for name, v in layer.args.items():
        problem = arg_problem(kind.arg(name), v)
        if problem:
            raise SpecError(f"{label}: {problem}", i)


def arg_problem(arg: ArgSpec, v) -> str:
    """What is wrong with one value of the setting ``arg``, or "" when nothing is."""
    name = arg.name
    if arg.type == "choice":
        if not isinstance(v, str) or v not in arg.choices:
            return f"unknown {name} {v!r:.40}; use one of {', '.join(arg.choices)}"
    elif arg.type == "float":
        if not is_number(v) or not arg.lo <= v <= arg.hi:
            what = f"{name} ({arg.meaning})" if arg.meaning else name
            return f"{what} must be a number from {arg.lo} to {arg.hi}, got {v!r:.40}"
    elif arg.type == "bool":
        if not isinstance(v, bool):
            return f"{name} must be true or false, got {v!r:.40}"
    else:
        lo, hi = arg.lo, arg.hi
        if not is_whole(v):
            return f"{name} must be a whole number, got {v!r:.40}"
        if v < lo:
            return f"{name} must be a whole number of at least {lo}, got {v}"
        if v > hi:
            return f"{name} {fmt_whole(v)} is over the limit of {hi:,} on this server"
    return ""
