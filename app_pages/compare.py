"""Compare: two runs side by side, the same views at the same moment of training."""

from __future__ import annotations

import streamlit as st

from dlviz.train.state import ACTIVE
from dlviz.ui import compare_views, run_views, state, timeline

TIMELINE_KEY = "compare_timeline"


def render() -> None:
    st.title("Compare two runs")
    run_views.calm_live_redraws()        # its views redraw live
    runs = state.session_runs()
    if len(runs) < 2:
        st.info("Train two networks to compare them, for instance the same network with tanh and "
                "with relu, or a shallow and a deep sigmoid network. Each **Start** on the Train page "
                "keeps the previous run for this page"
                + (f"; you have one so far: {state.run_label(runs[0])}." if runs else "."))
        st.page_link("app_pages/train.py", label="Train a network", icon=":material/monitoring:")
        return
    labels = {e.run_id: state.run_label(e, runs) for e in runs}   # named by what sets each apart
    ids = list(labels)
    c1, c2 = st.columns(2)
    a = c1.selectbox("Left", ids, index=len(ids) - 2, format_func=labels.get, key="cmp_a")
    b = c2.selectbox("Right", ids, index=len(ids) - 1, format_func=labels.get, key="cmp_b")
    if a == b:
        st.warning("Pick two different runs.")
        return
    live = any(e.handle.status in ACTIVE for e in runs if e.run_id in (a, b))
    st.fragment(run_every=0.5 if live else timeline.play_interval(TIMELINE_KEY))(_body)(a, b, live)


def _body(a: str, b: str, was_live: bool) -> None:
    reg = state.registry()
    left, right = reg.get(a), reg.get(b)
    if left is None or right is None:
        st.warning("One of these runs is no longer kept by the server.")
        return
    if any(e.handle.status in ACTIVE for e in (left, right)) != was_live:
        st.rerun()      # a run ended: redraw the page, so the pickers' labels follow
    for e in (left, right):
        waiting = state.not_ready(e)
        if waiting:
            st.info(f"{state.run_label(e)}: {waiting}")
            return
    compare_views.side_by_side(left, right, TIMELINE_KEY)


render()
