"""The sidebar on every page: the current network and the current run."""

from __future__ import annotations

import streamlit as st

from dlviz.data.labels import dataset_label
from dlviz.spec import SpecError, analyse
from dlviz.train.state import LIVE, WAITING
from dlviz.ui import state


def sidebar() -> None:
    ws = state.workspace()
    with st.sidebar:
        st.markdown("#### Network")
        try:
            params = f"{analyse(ws.spec).total_params:,} parameters"
        except SpecError:
            params = "invalid: fix it on the Build page"
        name = ws.preset or "custom"
        st.caption(f"**{name}** on **{dataset_label(ws.dataset)}** · {len(ws.spec.layers)} layers · {params}")
        st.markdown("#### Run")
        entry = state.current_run()
        status = entry.handle.status if entry is not None else None
        every = 1.0 if status in LIVE else 2.0 if status in WAITING else None
        st.fragment(run_every=every)(_run_status)()


def _run_status() -> None:
    entry = state.current_run()
    if entry is None:
        st.caption("no run yet")
        return
    s = entry.handle.state()
    watching = "" if state.is_owner(entry) else " · watching (read-only)"
    if s.status in WAITING:
        st.caption(f"**{s.status}**{watching} · waiting for a training slot")
        return
    # while live the page's progress line carries the step (redrawn twice as often:
    # a second step count here would always lag it); once ended, the step is final
    if s.status in LIVE:
        st.caption(f"**{s.status}** · {s.device}{watching}")
    else:
        st.caption(f"**{s.status}** · step {s.step:,}/{s.total_steps:,} · epoch "
                   f"{min(s.epochs, int(s.epoch))}/{s.epochs} · {s.device}{watching}")
    st.progress(s.progress)
