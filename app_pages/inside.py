"""Inside: one input through every layer, what a unit responds to, and how
the layers changed over training -- at any moment of the run's timeline."""

from __future__ import annotations

import streamlit as st

from dlviz.train.state import LIVE
from dlviz.ui import inside_views, run_views, state, timeline

TIMELINE_KEY = "inside_timeline"
VIEWS = ["One input, layer by layer", "What a unit responds to", "Learning over time"]


def render() -> None:
    st.title("Inside the network")
    run_views.calm_live_redraws()        # its views redraw live
    entry = state.current_run()
    if entry is None:
        st.info("Train a network first: this page shows what each of its layers makes of an input, "
                "at any moment of training.")
        st.page_link("app_pages/train.py", label="Train a network", icon=":material/monitoring:")
        return
    entry = state.pick_run(entry, "inside_run")
    waiting = state.not_ready(entry)
    if waiting:
        st.info(waiting)
        return
    live = entry.handle.status in LIVE
    every = timeline.play_interval(TIMELINE_KEY) or (1.0 if live else None)
    st.fragment(run_every=every)(_body)(entry.run_id, live)


def _body(run_id: str, was_live: bool) -> None:
    entry = state.registry().get(run_id)
    if entry is None:
        st.warning("This run is no longer kept by the server.")
        return
    s = entry.handle.state()
    if s.live != was_live:
        st.rerun()      # the run ended (or started): redraw the page, so the run picker's label follows
    step = timeline.timeline_slider(entry, s, TIMELINE_KEY)
    snap = timeline.snapshot_at(entry, step)
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="inside_view",
                                label_visibility="collapsed") or VIEWS[0]
    with st.container(key="inside_view_body"):
        if view == VIEWS[0]:
            inside_views.one_input(entry, snap)
        elif view == VIEWS[1]:
            inside_views.unit_responses(entry, snap)
        else:
            inside_views.over_time(entry, s, snap)


render()
