"""Add, remove, reorder and edit layers with ordinary widgets.

Each layer is a bordered row: its name and move/remove buttons at the left, its settings
at the right. ``EDITOR_CSS`` gives every column a smallest width, so in a narrow window
(1024 px with the sidebar open, or presenter mode's larger text) the settings wrap onto
more lines instead of squeezing each label to a few letters a line and each box to an
empty sliver (Streamlit's columns share the row's width whatever it is).
"""

from __future__ import annotations

import streamlit as st

from dlviz.nn.activations import ACTIVATIONS
from dlviz.nn.kind import ArgSpec
from dlviz.nn.layers import LAYER_KINDS
from dlviz.spec import LayerSpec, NetSpec, SpecError, is_number, is_whole

VERSION_KEY = "dlviz_layers_version"
_JS_SAFE_INT = 2**53 - 1        # the largest whole number a browser's number box holds exactly
EDITOR_KEY = "layer_editor"     # the keyed container the CSS below is scoped to

# one plain sentence per common setting, for hover help (ArgSpec.meaning is for messages)
ARG_HELP = {
    "units": "How many units (neurons) the layer has: how many numbers come out.",
    "channels": "How many filters the layer learns: how many feature maps come out.",
    "kernel": "The side of the square window, in pixels.",
    "stride": "How far the window moves at each step: 2 halves the map's width and height.",
    "padding": "Rows and columns of zeros added around the input (1 keeps a 3x3 conv's size).",
    "p": "The share of values switched off at random while training (0.25 = a quarter).",
    "channelwise": "Switch off whole feature maps instead of single values.",
}
POOL_STRIDE_HELP = "How far the window moves at each step; 0: as far as the window is wide."

# every column at least as wide as its label; a layer's name column as wide as
# "3 · maxpool" and its three buttons; the settings block wraps below the name when
# even two settings do not fit beside it. Scoped to the editor's container.
EDITOR_CSS = f"""
.st-key-{EDITOR_KEY} [data-testid="stColumn"] {{ min-width: 5.5rem; }}
.st-key-{EDITOR_KEY} [data-testid="stColumn"]:has([data-testid="stSelectbox"]),
.st-key-{EDITOR_KEY} [data-testid="stColumn"]:has([data-testid="stCheckbox"]) {{ min-width: 8rem; }}
.st-key-{EDITOR_KEY} [data-testid="stColumn"]:has([class*="st-key-layer_head_"]) {{
  flex: 0 0 9rem; min-width: 9rem;
}}
.st-key-{EDITOR_KEY} [data-testid="stColumn"]:has([class*="st-key-layer_args_"]) {{
  flex: 1 1 12rem; min-width: 12rem;
}}
"""


def _version() -> int:
    return st.session_state.setdefault(VERSION_KEY, 0)


def bump_version() -> None:
    """Widgets are keyed by a version, so a structural change re-reads values from the spec."""
    st.session_state[VERSION_KEY] = _version() + 1


def layer_editor(spec: NetSpec, error: SpecError | None) -> NetSpec:
    """Draw one row per layer; return the spec as edited (unchanged if nothing was)."""
    st.html(f"<style>{EDITOR_CSS}</style>")
    with st.container(key=EDITOR_KEY):
        return _rows(spec, error)


def _rows(spec: NetSpec, error: SpecError | None) -> NetSpec:
    v = _version()
    layers = [LayerSpec(l.kind, dict(l.args)) for l in spec.layers]
    for i, layer in enumerate(spec.layers):
        kind = LAYER_KINDS.get(layer.kind)
        with st.container(border=True):
            head_col, args_col = st.columns([1, 3])
            # the name, then the buttons: on one line when the row is wide enough, else wrapped
            head = head_col.container(key=f"layer_head_{i}", horizontal=True, gap="xxsmall",
                                      vertical_alignment="center")
            head.markdown(f"**{i + 1}** · {layer.kind}", width="content",
                          help=f"{kind.label}: {kind.description}" if kind else None)
            buttons = head.container(horizontal=True, gap="xxsmall", width="content")
            args = dict(layer.args)
            # one widget per setting, typed by the kind's ArgSpec; choices (the activation) last,
            # a little wider: in a conv row of five, "relu" did not fit and the box looked empty
            specs = {n: kind.arg(n) if kind else None for n in args}
            names = ([n for n in args if not _is_choice(specs[n])]
                     + [n for n in args if _is_choice(specs[n])])
            widths = [1.7 if _is_choice(specs[n]) else 1 for n in names]
            inner = args_col.container(key=f"layer_args_{i}").columns(widths or [1])
            for j, name in enumerate(names):
                args[name] = _arg_widget(inner[j], specs[name], name, args[name], f"L{v}_{i}_{name}",
                                         _help(layer.kind, name, specs[name]))
            layers[i] = LayerSpec(layer.kind, args)
            if buttons.button("", icon=":material/arrow_upward:", key=f"L{v}_{i}_up", disabled=i == 0,
                              help="move up"):
                layers[i - 1], layers[i] = layers[i], layers[i - 1]
                return _structural(spec, layers)
            if buttons.button("", icon=":material/arrow_downward:", key=f"L{v}_{i}_down",
                              disabled=i == len(spec.layers) - 1, help="move down"):
                layers[i + 1], layers[i] = layers[i], layers[i + 1]
                return _structural(spec, layers)
            if buttons.button("", icon=":material/delete:", key=f"L{v}_{i}_remove",
                              help="remove this layer"):
                del layers[i]
                return _structural(spec, layers)
            if error is not None and error.layer == i + 1:
                st.error(str(error))
    with st.container(border=True):
        c1, c2, c3 = st.columns([3, 2, 2], vertical_alignment="bottom")
        kinds = list(LAYER_KINDS)
        new_kind = c1.selectbox("New layer", kinds, format_func=lambda k: LAYER_KINDS[k].label,
                                key="dlviz_new_kind", help=kinds_help())
        where = c2.number_input("Position", 1, len(layers) + 1, len(layers) + 1, key=f"L{v}_new_pos",
                                help=f"Where the new layer goes: 1 to {len(layers) + 1} "
                                     f"({len(layers) + 1}: after the last).")
        if c3.button("Add layer", key="dlviz_add_layer", type="secondary"):
            layers.insert(int(where) - 1, LayerSpec(new_kind))
            return _structural(spec, layers)
    return NetSpec(spec.input_shape, spec.outputs, layers, spec.task, spec.name)


def _structural(spec: NetSpec, layers: list[LayerSpec]) -> NetSpec:
    bump_version()
    return NetSpec(spec.input_shape, spec.outputs, layers, spec.task, spec.name)


def _is_choice(arg: ArgSpec | None) -> bool:
    return arg is not None and arg.type == "choice"


# the head every network ends with (spec_analysis's "output" row), which has no registry entry
OUTPUT_HELP = {
    "classification": "One score per class; softmax turns the scores into probabilities that add up "
                      "to 1, and the largest is the prediction.",
    "regression": "One number: the prediction itself (no activation).",
}


def layer_glossary(spec: NetSpec) -> None:
    """A "What do these layers do?" popover: each kind and activation this network uses,
    and its output, in one plain sentence."""
    kinds = [LAYER_KINDS[k] for k in dict.fromkeys(l.kind for l in spec.layers) if k in LAYER_KINDS]
    acts = [ACTIVATIONS[a] for a in dict.fromkeys(l.args.get("activation") for l in spec.layers)
            if a in ACTIVATIONS]
    with st.popover("What do these layers do?", icon=":material/help:"):
        for k in kinds:
            st.markdown(f"**{k.label}** ({k.key}): {k.description}")
        for a in acts:
            st.markdown(f"**{a.key}** (activation): {a.description}")
        st.markdown(f"**Output**: {OUTPUT_HELP.get(spec.task, OUTPUT_HELP['classification'])}")


def kinds_help() -> str:
    """Every layer kind in one plain sentence (markdown, for a hover)."""
    return "\n\n".join(f"**{k.label}**: {k.description}" for k in LAYER_KINDS.values())


def activations_help() -> str:
    """Every activation in one plain sentence (markdown, for a hover)."""
    return "\n\n".join(f"**{a.key}**: {a.description}" for a in ACTIVATIONS.values())


def _help(kind: str, name: str, arg: ArgSpec | None) -> str | None:
    if name == "activation":
        return "What each unit does to its sum before passing it on.\n\n" + activations_help()
    if name == "stride" and kind in ("maxpool", "avgpool"):
        return POOL_STRIDE_HELP
    return ARG_HELP.get(name) or (arg.meaning.capitalize() + "." if arg is not None and arg.meaning else None)


def _arg_widget(col, arg: ArgSpec | None, name: str, value, key: str, help: str | None = None):
    """A widget of the setting's type (``ArgSpec.type``). A number box takes any number
    and hands it to the spec check, whose message under the layer says what is allowed
    ("units 100,000 is over the limit of 1,024 on this server"). A box bounded by the
    limits refused such a number in the browser, with only a small red mark whose hover
    named the range, and the network silently kept its old value. Never clamped either:
    a value from a file or a link is shown as it is."""
    label = arg.shown_label if arg else name
    if arg is not None and arg.type == "bool":
        return col.checkbox(label, bool(value), key=key, help=help)
    if arg is not None and arg.type == "choice":
        choices = list(arg.choices)
        cur = value if value in choices else choices[0]
        return col.selectbox(label, choices, index=choices.index(cur), key=key, help=help)
    is_int = arg is not None and arg.type == "int"
    if is_int and is_whole(value) and abs(value) <= _JS_SAFE_INT:
        return int(col.number_input(label, -_JS_SAFE_INT, _JS_SAFE_INT, value, 1, key=key, help=help))
    if arg is not None and is_number(value) and abs(value) <= _JS_SAFE_INT:
        # a float setting stays a float; a whole-number setting holding 2.5 shows it, and
        # the spec check says it must be whole
        step = arg.step if arg.type == "float" else 1.0
        return col.number_input(label, float(-_JS_SAFE_INT), float(_JS_SAFE_INT), float(value), step,
                                key=key, help=help)
    col.text_input(label, repr(value)[:40], disabled=True, key=f"{key}_bad", help=help)
    return value                 # kept as it is, so the spec's message names it
