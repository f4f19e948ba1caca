"""Add, remove, reorder and edit layers with ordinary widgets."""

from __future__ import annotations

import streamlit as st

from dlviz.nn.activations import ACTIVATIONS
from dlviz.nn.layers import LAYER_KINDS
from dlviz.spec import LayerSpec, NetSpec, SpecError, is_number, is_whole

VERSION_KEY = "dlviz_layers_version"
_JS_SAFE_INT = 2**53 - 1        # the largest whole number a browser's number box holds exactly


def _version() -> int:
    return st.session_state.setdefault(VERSION_KEY, 0)


def bump_version() -> None:
    """Widgets are keyed by a version, so a structural change re-reads values from the spec."""
    st.session_state[VERSION_KEY] = _version() + 1


def layer_editor(spec: NetSpec, error: SpecError | None) -> NetSpec:
    """Draw one row per layer; return the spec as edited (unchanged if nothing was)."""
    v = _version()
    layers = [LayerSpec(l.kind, dict(l.args)) for l in spec.layers]
    for i, layer in enumerate(spec.layers):
        kind = LAYER_KINDS.get(layer.kind)
        with st.container(border=True):
            cols = st.columns([1.3, 6, 0.55, 0.55, 0.55], vertical_alignment="bottom")
            cols[0].markdown(f"**{i + 1}** · {layer.kind}", help=kind.label if kind else None)
            args = dict(layer.args)
            names = [a for a in args if a != "activation"]
            # the activation's box a little wider: in a conv row of five, "relu" did not fit and
            # the box looked empty
            widths = [1] * len(names) + ([1.7] if "activation" in args else [])
            inner = cols[1].columns(widths or [1])
            for j, name in enumerate(names):
                args[name] = _arg_widget(inner[j], layer.kind, name, args[name], f"L{v}_{i}_{name}")
            if "activation" in args:
                acts = list(ACTIVATIONS)
                cur = args["activation"] if args["activation"] in acts else acts[0]
                args["activation"] = inner[-1].selectbox("activation", acts, index=acts.index(cur),
                                                         key=f"L{v}_{i}_activation")
            layers[i] = LayerSpec(layer.kind, args)
            if cols[2].button("", icon=":material/arrow_upward:", key=f"L{v}_{i}_up", disabled=i == 0,
                              help="move up"):
                layers[i - 1], layers[i] = layers[i], layers[i - 1]
                return _structural(spec, layers)
            if cols[3].button("", icon=":material/arrow_downward:", key=f"L{v}_{i}_down",
                              disabled=i == len(spec.layers) - 1, help="move down"):
                layers[i + 1], layers[i] = layers[i], layers[i + 1]
                return _structural(spec, layers)
            if cols[4].button("", icon=":material/delete:", key=f"L{v}_{i}_remove",
                              help="remove this layer"):
                del layers[i]
                return _structural(spec, layers)
            if error is not None and error.layer == i + 1:
                st.error(str(error))
    with st.container(border=True):
        c1, c2, c3 = st.columns([3, 2, 2], vertical_alignment="bottom")
        kinds = list(LAYER_KINDS)
        new_kind = c1.selectbox("New layer", kinds, format_func=lambda k: LAYER_KINDS[k].label,
                                key="dlviz_new_kind")
        where = c2.number_input(f"at position (1 to {len(layers) + 1})", 1, len(layers) + 1, len(layers) + 1,
                                key=f"L{v}_new_pos")
        if c3.button("Add layer", key="dlviz_add_layer", type="secondary"):
            layers.insert(int(where) - 1, LayerSpec(new_kind))
            return _structural(spec, layers)
    return NetSpec(spec.input_shape, spec.outputs, layers, spec.task, spec.name)


def _structural(spec: NetSpec, layers: list[LayerSpec]) -> NetSpec:
    bump_version()
    return NetSpec(spec.input_shape, spec.outputs, layers, spec.task, spec.name)


def _arg_widget(col, kind: str, name: str, value, key: str):
    """A box that takes any number and hands it to the spec check, whose message under
    the layer says what is allowed ("units 100,000 is over the limit of 1,024 on this
    server"). A box bounded by the limits refused such a number in the browser, with
    only a small red mark whose hover named the range, and the network silently kept
    its old value. Never clamped either: a value from a file or a link is shown as it is."""
    if name == "channelwise":
        return col.checkbox("channelwise", bool(value), key=key)
    label = "dropout p" if name == "p" else name
    if is_whole(value) and abs(value) <= _JS_SAFE_INT and name != "p":
        return int(col.number_input(label, -_JS_SAFE_INT, _JS_SAFE_INT, value, 1, key=key))
    if is_number(value) and abs(value) <= _JS_SAFE_INT:
        return col.number_input(label, float(-_JS_SAFE_INT), float(_JS_SAFE_INT), float(value), 0.05, key=key)
    col.text_input(label, repr(value)[:40], disabled=True, key=f"{key}_bad")
    return value                 # kept as it is, so the spec's message names it
