"""Per-browser-session state and the URL that reproduces it.

Cross-page values live in plain ``st.session_state`` keys (widget keys are
dropped when their page is not drawn). The URL carries ``?net=`` (the
workspace) and ``?run=`` (the run id), so a refresh or a shared link lands on
the same network, and a refresh reattaches to a running run.
"""

from __future__ import annotations

import streamlit as st

from dlviz.data import Dataset, load_dataset
from dlviz.errors import UserError
from dlviz.train.process_backend import ProcessBackend
from dlviz.train.runs import RunEntry, RunRegistry
from dlviz.workspace import Workspace, default_workspace

WS_KEY = "dlviz_workspace"
RUN_KEY = "dlviz_run"
RUNS_KEY = "dlviz_session_runs"
MSG_KEY = "dlviz_url_message"


@st.cache_resource
def registry() -> RunRegistry:
    """One registry per server process: runs outlive a page or a browser tab.
    (Only the registry is shared; each run belongs to the session that made it.)
    Each run trains in a worker process of its own, so page redraws in this
    process never take the GIL from training."""
    backend = ProcessBackend()
    backend.warm_up()
    return RunRegistry(backend, max_live=4, idle_s=600, keep=8)


def workspace() -> Workspace:
    """This session's workspace; on the first run of a session, from the URL if it has one."""
    if WS_KEY not in st.session_state:
        ws = default_workspace()
        text = st.query_params.get("net")
        if text:
            try:
                ws = Workspace.from_url(text)
            except UserError as e:
                st.session_state[MSG_KEY] = f"The link's network could not be used: {e}"
        st.session_state[WS_KEY] = ws
        run_id = st.query_params.get("run")
        if run_id and registry().get(run_id):
            st.session_state[RUN_KEY] = run_id
    return st.session_state[WS_KEY]


def set_workspace(ws: Workspace) -> None:
    st.session_state[WS_KEY] = ws
    sync_url()


def sync_url() -> None:
    """Write the workspace and run into the address bar (page switches drop them)."""
    ws = st.session_state.get(WS_KEY)
    if ws is not None:
        st.query_params["net"] = ws.to_url()
    run_id = st.session_state.get(RUN_KEY)
    if run_id:
        st.query_params["run"] = run_id
    elif "run" in st.query_params:
        del st.query_params["run"]


def url_message() -> str | None:
    return st.session_state.pop(MSG_KEY, None)


def dataset(ws: Workspace | None = None) -> Dataset:
    ws = ws or workspace()
    return load_dataset(ws.dataset, ws.params)


def current_run() -> RunEntry | None:
    return registry().get(st.session_state.get(RUN_KEY))


def set_run(entry: RunEntry | None) -> None:
    st.session_state[RUN_KEY] = entry.run_id if entry else None
    if entry is not None:
        runs = st.session_state.setdefault(RUNS_KEY, [])
        if entry.run_id not in runs:
            runs.append(entry.run_id)
    sync_url()


def session_runs() -> list[RunEntry]:
    """The runs this session has started that the server still keeps, oldest first
    (the current run included): what the Compare page offers."""
    ids = st.session_state.get(RUNS_KEY, [])
    current = st.session_state.get(RUN_KEY)
    if current and current not in ids:
        ids = ids + [current]       # reattached from a link
    reg = registry()
    return [e for e in (reg.peek(i) for i in ids) if e is not None]


def pick_run(entry: RunEntry, key: str) -> RunEntry:
    """With several runs in the session, a picker (the current run first chosen); else ``entry``."""
    runs = session_runs()
    if len(runs) < 2:
        return entry
    labels = {e.run_id: run_label(e) for e in runs}
    ids = list(labels)
    chosen = st.selectbox("Run", ids, index=ids.index(entry.run_id) if entry.run_id in ids else 0,
                          format_func=labels.get, key=key)
    return registry().get(chosen) or entry


def run_label(entry: RunEntry) -> str:
    """A short name for a run in pickers: what was trained on what, and how it ended."""
    spec = entry.spec
    acts = sorted({l.args.get("activation") for l in spec.layers if l.args.get("activation")} - {"linear"})
    s = entry.handle.state()
    result = s.final.get("test_accuracy", s.latest_eval().get("test_accuracy"))
    result = f" · {100 * result:.0f}%" if result is not None else ""
    name = spec.name or "custom"
    return (f"{name} ({len(spec.layers)} layers, {'/'.join(acts) or 'linear'}) on {entry.dataset.key} · "
            f"{s.status} at step {s.step:,}{result} · {entry.run_id[:4]}")


def share_link(ws: Workspace) -> str:
    base = (st.context.url or "").split("?")[0]
    return f"{base}?net={ws.to_url()}"
