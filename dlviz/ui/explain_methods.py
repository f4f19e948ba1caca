"""The Explain page's method picker: which attribution methods, and each one's settings.

Whatever the registry (``dlviz.explain.registry.METHODS``) offers for the network is
listed; a method's settings are drawn from its ``Param``s, so a new method needs no
change here.
"""

from __future__ import annotations

import streamlit as st

from dlviz.build import BuiltNet
from dlviz.explain import METHODS, available_methods, default_layer, default_methods, layer_choices, param_view
from dlviz.ui import keep
from dlviz.ui.explain_request import MethodChoice


def _is_image(net: BuiltNet) -> bool:
    return len(net.report.layers[0].input_shape) == 3


def _range(prm) -> str:
    """' (2 to 300)': a setting's range in its label, where it is seen (not only on hover)."""
    if prm.kind == "choice" or prm.min is None or prm.max is None:
        return ""
    return f" ({prm.min:g} to {prm.max:g})"


def method_settings(net: BuiltNet) -> MethodChoice:
    """The method picker and each chosen method's settings.

    The choices are kept (``keep``) across runs that do not draw them: the page
    stops early while the input is an upload not made yet, and Streamlit drops
    the state of widgets it does not draw, so coming back gave the defaults again.
    """
    avail = available_methods(net)
    defaults = [k for k in default_methods(net) if k in avail]
    image = _is_image(net)
    # methods this model does not offer are dropped; if that leaves none, the defaults
    keep.keep("explain_methods", defaults,
              valid=lambda ks: [k for k in ks if k in avail] or (None if ks else []))
    chosen = st.multiselect("Methods", avail, format_func=lambda k: METHODS[k].label,
                            key="explain_methods",
                            help="each is a small wrapper over Captum; all run on the same input and class")
    keep.kept("explain_methods", chosen)
    params, layers = {}, {}
    tuned = [k for k in chosen if METHODS[k].params or METHODS[k].needs_layer]
    if tuned:
        with st.expander("Method settings", icon=":material/tune:"):
            for k in tuned:
                m = METHODS[k]
                cols = st.columns(max(1, len(m.params) + m.needs_layer) + 1)
                cols[0].markdown(f"**{m.label}**")
                p = {}
                for col, prm in zip(cols[1:], m.params):
                    prm = param_view(k, prm, image)          # a vector input's words and defaults
                    wkey = f"explain_p_{k}_{prm.name}_{'img' if image else 'vec'}"
                    label = prm.label + _range(prm)
                    if prm.kind == "choice":
                        keep.keep(wkey, prm.default, valid=lambda v, c=prm.choices: v if v in c else None)
                        p[prm.name] = col.selectbox(label, prm.choices, key=wkey, help=prm.help or None)
                    elif prm.kind == "float":
                        keep.keep(wkey, float(prm.default))
                        p[prm.name] = col.number_input(label, float(prm.min), float(prm.max), step=float(prm.step),
                                                       key=wkey, help=prm.help or None)
                    else:
                        keep.keep(wkey, int(prm.default))
                        p[prm.name] = int(col.number_input(label, int(prm.min), int(prm.max), step=int(prm.step or 1),
                                                           key=wkey, help=prm.help or None))
                    keep.kept(wkey, p[prm.name])
                params[k] = p
                if m.needs_layer:
                    choices = layer_choices(net, k)
                    d = default_layer(net, k)
                    lkey = f"explain_layer_{k}"
                    keep.keep(lkey, d if d in choices else choices[0], valid=lambda v, c=choices: v if v in c else None)
                    layers[k] = cols[-1].selectbox("Layer", choices, key=lkey)
                    keep.kept(lkey, layers[k])
    return MethodChoice(chosen, params, layers)
