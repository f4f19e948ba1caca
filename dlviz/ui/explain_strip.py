"""The Explain page's attribution over training: one method's map at moments of the run."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dlviz.build import build
from dlviz.explain import METHODS, attribution_strip
from dlviz.plots.attribution import overlay
from dlviz.ui import timeline
from dlviz.ui.explain_request import ExplainRequest, cached

STRIP_MAX = 12           # snapshots in the attribution-over-training strip


def strip_over_training(req: ExplainRequest) -> None:
    entry, picked, m = req.model.entry, req.picked, req.methods
    s = entry.handle.state()
    steps = [t["step"] for t in s.timeline]
    if len(steps) > STRIP_MAX:          # evenly over the (log-spaced) snapshots, first and last kept
        steps = [steps[round(i)] for i in np.linspace(0, len(steps) - 1, STRIP_MAX)]
    c1, _ = st.columns([1, 2])
    k = c1.selectbox("Method", m.chosen, format_func=lambda k: METHODS[k].label, key="explain_strip_method")

    def compute():
        snaps = [timeline.snapshot_at(entry, st_) for st_ in steps]
        return attribution_strip(lambda: build(entry.spec, "cpu"), [(sn.step, sn.weights) for sn in snaps],
                                 picked.x, req.target, k, m.params.get(k), m.layers.get(k))
    # keyed by the run and its moments, not by the one moment the page's model holds
    strip = cached(("strip", entry.run_id, tuple(steps), req.input_id, req.target, k, *m.settings(k)), compute)
    if isinstance(strip, str):
        st.error(strip)
        return
    signed = req.signed(k)
    cols = st.columns(len(strip))
    for col, (step, a) in zip(cols, strip):
        a = a if signed else np.abs(a)
        if picked.shown is not None and a.ndim == 2:
            col.image(overlay(picked.shown, a, signed=signed, opacity=req.opacity), caption=f"step {step:,}",
                      width="stretch", output_format="PNG")
        else:
            col.caption(f"step {step:,}: " + ", ".join(f"{v:+.2f}" for v in np.ravel(a)[:6]))
    st.caption(f"{METHODS[k].label} for class {req.class_name} at {len(strip)} moments of training, each map on "
               f"its own colour scale: watch where the network starts to look as it learns.")
