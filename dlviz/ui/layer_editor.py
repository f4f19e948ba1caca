"""Add, remove, reorder and edit layers with ordinary widgets."""

from __future__ import annotations

import streamlit as st

from dlviz.nn.activations import ACTIVATIONS
from dlviz.nn.layers import LAYER_KINDS
from dlviz.spec import LayerSpec, NetSpec, SpecError

VERSION_KEY = "dlviz_layers_version"

_INT_ARGS = {"units": (1, 1024), "channels": (1, 256), "kernel": (1, 11), "stride": (0, 4),
             "padding": (0, 5)}


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
                args[name] = _arg_widget(inner[j], name, args[name], f"L{v}_{i}_{name}")
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


def _arg_widget(col, name: str, value, key: str):
    if name == "p":
        return col.number_input("dropout p", 0.0, 0.95, float(value), 0.05, key=key)
    lo, hi = _INT_ARGS.get(name, (0, 4096))
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = lo
    return int(col.number_input(name, lo, hi, min(max(value, lo), hi), 1, key=key))
