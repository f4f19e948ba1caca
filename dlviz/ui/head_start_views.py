"""The Train page's head start: a new run starts from a finished run's or an uploaded
model's layers, some of them frozen (``dlviz/train/head_start.py`` does the copying).

The choice is part of the network (``NetSpec.head_start``), so Start, the shared
link, the downloaded bundle and the Compare page's labels all carry it.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dlviz.errors import UserError
from dlviz.spec import HeadStart
from dlviz.spec_head_start import MAX_SOURCE_CHARS
from dlviz.train.head_start import HeadStartReport, has_weights, load_weights, plan_head_start, put_weights
from dlviz.train.state import ENDED
from dlviz.ui import state
from dlviz.ui.bundle_upload import uploaded_bundle

FROM_RUN, FROM_BUNDLE = "One of my finished runs", "An uploaded model"
REPORT_KEY = "dlviz_head_start_report"      # (spec JSON, report or message)


def head_start_settings(ws):
    """The expander; returns the workspace, with its spec's head start set or cleared."""
    head = ws.spec.head_start
    report = _report(ws.spec) if head is not None else None
    if isinstance(report, str):          # outside the closed expander: Start would fail on it
        st.error(f"The head start cannot be used: {report}")
    with st.expander("Head start (transfer learning)" + (": on" if head else ""), expanded=False):
        if head is not None:
            return _current(ws, head, report)
        st.caption("Start from the layers another network has learned, for instance the digits CNN's "
                   "convolutions for a small set of your own images. Layers whose shapes fit are "
                   "copied, the output layer of new classes starts fresh; frozen layers do not train. "
                   "Train the same network from scratch too, and the Compare page shows what the "
                   "head start is worth.")
        origin = st.segmented_control("Start from", [FROM_RUN, FROM_BUNDLE], key="t_head_from")
        picked = _from_run() if origin == FROM_RUN else _from_bundle() if origin == FROM_BUNDLE else None
        if picked is None:
            return ws
        source, weights = picked
        try:
            report = plan_head_start(ws.spec, weights, (), source)
        except UserError as e:
            st.error(f"This network cannot start from it: {e}")
            return ws
        st.caption(report.text())
        frozen = st.multiselect("Keep frozen (not trained)", list(report.copied), key="t_head_frozen",
                                help="frozen layers keep the copied weights bit for bit")
        if st.button("Use this head start", key="t_head_use"):
            try:
                plan_head_start(ws.spec, weights, tuple(frozen), source)
                head = HeadStart(source, put_weights(weights), tuple(frozen))
            except UserError as e:
                st.error(str(e))
                return ws
            ws = replace(ws, spec=replace(ws.spec, head_start=head))
            state.set_workspace(ws)
            st.rerun()
    return ws


def _current(ws, head: HeadStart, report: HeadStartReport | str):
    if not isinstance(report, str):
        st.success(f"**{head.label[0].upper() + head.label[1:]}**: {report.text()}.", icon=":material/start:")
    if st.button("Train from scratch instead", key="t_head_clear"):
        ws = replace(ws, spec=replace(ws.spec, head_start=None))
        state.set_workspace(ws)
        st.rerun()
    return ws


def _report(spec) -> HeadStartReport | str:
    """What the spec's head start copies, or why it cannot; kept per spec (reading the
    stored weights costs a hash of up to 64 MiB)."""
    head = spec.head_start
    if not has_weights(head.weights):            # checked every time: the store prunes old files
        return (f"its weights ({head.source}) are no longer on this server: choose one again under "
                "Head start, or train from scratch")
    key = spec.to_json(indent=None)
    held = st.session_state.get(REPORT_KEY)
    if held is not None and held[0] == key:
        return held[1]
    try:
        out = plan_head_start(replace(spec, head_start=None), load_weights(head.weights, head.source),
                              head.frozen, head.source)
    except UserError as e:
        out = str(e)
    st.session_state[REPORT_KEY] = (key, out)
    return out


def _from_run():
    runs = [e for e in state.session_runs() if e.handle.status in ENDED and state.not_ready(e) is None]
    if not runs:
        st.info("No finished run yet: train a network (the digits CNN, say) and come back.")
        return None
    labels = {e.run_id: state.run_label(e, runs) for e in runs}
    run_id = st.selectbox("Run", list(labels), index=len(labels) - 1, format_func=labels.get,
                          key="t_head_run")
    entry = state.registry().peek(run_id)
    if entry is None:
        return None
    return f"run:{entry.run_id}", entry.handle.snapshot().weights


def _from_bundle():
    held = uploaded_bundle("t_head_files", label="A model bundle: the zip from **Download model**, "
                                                 "or its model.json and weights.safetensors")
    if held is None:
        return None
    _, bundle, name = held
    return f"bundle:{name}"[:MAX_SOURCE_CHARS], bundle.weights
