"""Add, remove, reorder and edit layers with ordinary widgets."""

from __future__ import annotations

import streamlit as st

from dlviz.nn.activations import ACTIVATIONS
from dlviz.nn.layers import LAYER_KINDS
from dlviz.spec import (INT_LIMITS, MAX_DROPOUT, LayerSpec, NetSpec, SpecError, int_limits,
                         is_number, is_whole)

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
            inner = cols[1].columns(max(1, len(names) + ("activation" in args)))
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
        where = c2.number_input("at position", 1, len(layers) + 1, len(layers) + 1,
                                key=f"L{v}_new_pos")
        if c3.button("Add layer", key="dlviz_add_layer", type="secondary"):
            layers.insert(int(where) - 1, LayerSpec(new_kind))
            return _structural(spec, layers)
    return NetSpec(spec.input_shape, spec.outputs, layers, spec.task, spec.name)


def _structural(spec: NetSpec, layers: list[LayerSpec]) -> NetSpec:
    bump_version()
    return NetSpec(spec.input_shape, spec.outputs, layers, spec.task, spec.name)


def _arg_widget(col, kind: str, name: str, value, key: str):
    """A box bounded by the spec's own limits. A value outside them (a spec built in
    code) is shown as it is, never clamped: the spec check's message under the layer
    says what is allowed, and the box lets the user type an allowed value."""
    if name == "channelwise":
        return col.checkbox("channelwise", bool(value), key=key)
    if name == "p":
        if is_number(value) and 0 <= value <= MAX_DROPOUT:
            return col.number_input("dropout p", 0.0, MAX_DROPOUT, float(value), 0.05, key=key)
        return _unbounded(col, "dropout p", value, key)
    if name not in INT_LIMITS:          # an unknown setting: the spec's message names it
        return _unbounded(col, name, value, key)
    lo, hi = int_limits(kind, name)
    if is_whole(value) and lo <= value <= hi:
        return int(col.number_input(name, lo, hi, value, 1, key=key))
    return _unbounded(col, name, value, key)


def _unbounded(col, label: str, value, key: str):
    if is_whole(value) and abs(value) <= _JS_SAFE_INT:
        return int(col.number_input(label, value=value, step=1, key=f"{key}_free"))
    if is_number(value) and abs(value) <= _JS_SAFE_INT:
        return col.number_input(label, value=float(value), step=0.05, key=f"{key}_free")
    col.text_input(label, repr(value)[:40], disabled=True, key=f"{key}_bad")
    return value                 # kept as it is, so the spec's message names it
