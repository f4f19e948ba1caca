"""What one layer kind is, as data: ``LayerKind`` and its settings' ``ArgSpec``.

A kind carries everything every part of dlviz needs to know about it, so a new
kind is one entry in ``dlviz.nn.layers.LAYER_KINDS`` and nothing else:

* the spec and its checks: settings (type, bounds, default), shape inference,
  parameter count, activation memory, a description (``dlviz.spec``);
* the builder: the module, its name, whether an activation module follows it,
  how it is initialised (``dlviz.build``);
* the views: its inside-view category, whether it only passes its input on,
  whether its maps are learned features, its diagram colour, legend and caption
  (``dlviz.inside``, ``dlviz.explain.layers``, ``dlviz.plots.architecture``);
* the editor: a one-line description for hover help, one widget per setting
  (``dlviz.ui.layer_editor``).

Shapes exclude the batch: (F,) for vectors, (C, H, W) for images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from dlviz.nn.shapes import Shape

ARG_TYPES = ("int", "float", "bool", "choice")


@dataclass(frozen=True)
class ArgSpec:
    """One layer setting. The bounds are checked by ``dlviz.spec_checks`` (never by
    the editor's boxes, which take any number so the spec's message can name the limit)."""
    name: str
    type: str                          # one of ARG_TYPES
    default: object = None
    lo: float | int | None = None      # int / float: smallest allowed
    hi: float | int | None = None      # int / float: largest allowed
    choices: tuple[str, ...] = ()      # choice: the allowed values
    label: str = ""                    # the editor's label ("" = the name)
    meaning: str = ""                  # plain words for messages ("the dropout rate")
    step: float = 1                    # the editor's step for a float
    optional: bool = False             # not filled in by default (absent = off)

    def __post_init__(self):
        if self.type not in ARG_TYPES:
            raise ValueError(f"{self.name}: type must be one of {ARG_TYPES}, got {self.type!r}")

    @property
    def shown_label(self) -> str:
        return self.label or self.name


def _no_params(shape: Shape, out: Shape, args: dict) -> int:
    return 0


def _output_copies(args: dict) -> int:
    # a layer with its own activation keeps two tensors (pre- and post-activation)
    return 2 if args.get("activation") not in (None, "linear") else 1


def _describe_by_key(key: str, args: dict) -> str:
    return key


@dataclass(frozen=True)
class LayerKind:
    key: str                           # the one canonical name, in specs, JSON and links
    label: str                         # for menus ("Convolution 2-D")
    description: str                   # one plain sentence, for hover help
    short: str                         # module-name prefix: conv -> conv1, conv1_relu
    legend: str                        # the architecture diagram's colour key
    colour: str                        # the diagram's box colour (hex)
    view: str                          # inside-view category of its module ("conv", "pool"...)
    args: tuple[ArgSpec, ...]
    infer: Callable[[Shape, dict], Shape]             # raises ShapeError
    make: Callable[[Shape, dict], nn.Module]
    params: Callable[[Shape, Shape, dict], int] = _no_params   # (input, output, args) -> count
    # float32 tensors of the output's size kept per sample for the backward pass
    memory_copies: Callable[[dict], int] = _output_copies
    describe_args: Callable[[str, dict], str] = _describe_by_key   # (key, args) -> "dense 8, relu"
    caption_args: Callable[[str, dict], list[str]] | None = None   # diagram label lines; None: describe
    name_module: Callable[[str, dict, int], str] | None = None     # (short, args, n) -> "relu3"
    has_activation: bool = False       # an activation module ("{name}_{act}") follows it
    init_by_activation: bool = False   # its weight starts as the activation it feeds wants
    passthrough: bool = False          # eval-mode output = its input (maybe reshaped): nothing to show
    learns_maps: bool = False          # learned spatial filters: Grad-CAM's default target
    aliases: tuple[str, ...] = ()      # other spellings read from links and files
    _by_name: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {a.name: a for a in self.args})

    # -- settings ----------------------------------------------------------------------
    @property
    def defaults(self) -> dict:
        """Setting -> default, for the settings a new layer starts with (optional ones left out)."""
        return {a.name: a.default for a in self.args if not a.optional}

    def arg(self, name: str) -> ArgSpec | None:
        return self._by_name.get(name)

    # -- words -------------------------------------------------------------------------
    def describe(self, args: dict) -> str:
        return self.describe_args(self.key, args)

    def caption(self, args: dict) -> list[str]:
        """The lines under the layer's box in the diagram (stride, padding left to the hover)."""
        if self.caption_args is not None:
            return self.caption_args(self.key, args)
        return [p.strip() for p in self.describe(args).split(",")]

    def module_name(self, args: dict, n: int) -> str:
        """The builder's name for the n-th (1-based) layer of this kind."""
        if self.name_module is not None:
            return self.name_module(self.short, args, n)
        return f"{self.short}{n}"
