"""The sidebar on every page: the current network and the current run."""

from __future__ import annotations

import streamlit as st

from dlviz.spec import SpecError, analyse
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
        st.caption(f"**{name}** on **{ws.dataset}** · {len(ws.spec.layers)} layers · {params}")
        st.markdown("#### Run")
        entry = state.current_run()
        live = entry is not None and entry.handle.status in ("running", "paused")
        st.fragment(run_every=1.0 if live else None)(_run_status)()


def _run_status() -> None:
    entry = state.current_run()
    if entry is None:
        st.caption("no run yet")
        return
    s = entry.handle.state()
    st.caption(f"**{s.status}** · step {s.step:,}/{s.total_steps:,} · epoch "
               f"{min(s.epochs, int(s.epoch) + (s.status == 'running'))}/{s.epochs} · {s.device}")
    st.progress(s.progress)
