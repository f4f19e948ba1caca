"""Per-browser-session state and the URL that reproduces it.

Cross-page values live in plain ``st.session_state`` keys (widget keys are
dropped when their page is not drawn). The URL carries ``?net=`` (the
workspace) and ``?run=`` (the run id), so a refresh or a shared link lands on
the same network, and a refresh reattaches to a running run.
"""

from __future__ import annotations

import time

import streamlit as st

from dlviz.data import Dataset, load_dataset
from dlviz.errors import UserError
from dlviz.plots.warm import warm_up
from dlviz.settings import settings
from dlviz.train.backend_choice import backend_name, make_backend
from dlviz.train.runs import RunEntry, RunRegistry
from dlviz.train.state import WAITING
from dlviz.ui import identity, uploads
from dlviz.workspace import Workspace, default_workspace

WS_KEY = "dlviz_workspace"
RUN_KEY = "dlviz_run"
MSG_KEY = "dlviz_url_message"


@st.cache_resource
def registry() -> RunRegistry:
    """One registry per server process: runs outlive a page or a browser tab, and the
    class shares its slots (settings from DLVIZ_* variables, see the README).
    Each run trains in a worker process of its own, so page redraws in this
    process never take the GIL from training; a background thread does the
    upkeep (dead workers, idle runs, the queue), never a page."""
    cfg = settings()
    warm_up()                    # Plotly's imports now, in one thread (see dlviz/plots/warm.py)
    # DLVIZ_BACKEND: worker processes (the default) or Ray actors (docs/ARCHITECTURE.md)
    backend = make_backend(backend_name(), timeout_s=cfg.worker_timeout_s, idle_s=cfg.run_idle_s)
    backend.warm_up()
    reg = RunRegistry(backend, max_live=cfg.max_live_runs, idle_s=cfg.run_idle_s,
                      keep=cfg.keep_runs, per_owner=cfg.runs_per_session,
                      kept_run_bytes=cfg.kept_run_bytes, kept_total_bytes=cfg.kept_total_bytes)
    reg.on_tick.append(_every(60.0, uploads.sweep_uploads))   # old and ended sessions' uploads
    reg.start_ticker()
    return reg


def _every(period_s: float, job):
    """``job`` at most once per ``period_s`` when called from the upkeep ticker."""
    last = [float("-inf")]

    def throttled():
        now = time.monotonic()
        if now - last[0] >= period_s:
            last[0] = now
            job()
    return throttled


def owner() -> str:
    """This browser's id: the owner of the runs it starts."""
    return identity.browser_id()


def is_owner(entry: RunEntry | None) -> bool:
    return entry is not None and entry.owner == owner()


def workspace() -> Workspace:
    """This session's workspace; on the first run of a session, from the URL if it has one."""
    if WS_KEY not in st.session_state:
        ws = default_workspace()
        text = st.query_params.get("net")
        if text:
            try:
                ws = uploads.check_workspace_dataset(Workspace.from_url(text))
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
    uploads.check_workspace_dataset(ws)     # a link names built-in data or this session's own
    return load_dataset(ws.dataset, ws.params)


def current_run() -> RunEntry | None:
    return registry().get(st.session_state.get(RUN_KEY))


def set_run(entry: RunEntry | None) -> None:
    st.session_state[RUN_KEY] = entry.run_id if entry else None
    sync_url()


def session_runs() -> list[RunEntry]:
    """This browser's runs that the server still keeps, oldest first, and the run it
    watches if that is someone else's: what the Compare page and run pickers offer.
    Kept by owner in the registry, so they survive a refresh."""
    reg = registry()
    runs = reg.runs_of(owner())
    current = reg.peek(st.session_state.get(RUN_KEY))
    if current is not None and current not in runs:
        runs.append(current)        # reattached from someone else's link
    return runs


def not_ready(entry: RunEntry) -> str | None:
    """Why the run's model cannot be looked at yet (waiting for a slot, or lost before
    its first snapshot), or None."""
    s = entry.handle.state()
    if s.status in WAITING:
        return f"This run has not started yet ({s.message})"
    if not s.timeline:
        return s.message or "This run has no weights yet."
    return None


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


MAX_PARTS = 4          # differences named in a run's label


def run_label(entry: RunEntry, among: list[RunEntry] | None = None, short: bool = False) -> str:
    """A name for a run in pickers and legends: what was trained on what, what sets it
    apart from the other runs ``among`` (default: this browser's runs), and how it ended.

    Two runs of lenet on digits, one at lr 0.01 and one at lr 0.1, are "lenet on digits
    · lr 0.01" and "... · lr 0.1", not both "lenet (7 layers, relu) on digits".
    ``short``: only the name and what differs (for a chart's legend).
    """
    among = session_runs() if among is None else among
    mine = _setup(entry)
    others = [_setup(e) for e in among if e.run_id != entry.run_id]
    if others:
        differs = [k for k in mine if any(o.get(k) != mine[k] for o in others)]
        parts = [mine[k] for k in differs if k not in ("name", "dataset")][:MAX_PARTS]
    else:
        parts = [mine["layers"], mine["activation"]]
    if others and not parts and not set(differs) & {"name", "dataset"}:
        ids = [e.run_id for e in among]
        parts = [f"run {ids.index(entry.run_id) + 1}, same setup" if entry.run_id in ids else "same setup"]
    head = f"{mine['name']} on {mine['dataset']}" + "".join(f" · {p}" for p in parts)
    if short:
        return head
    s = entry.handle.state()
    result = s.final.get("test_accuracy", s.latest_eval().get("test_accuracy"))
    result = f" · {100 * result:.0f}%" if result is not None else ""
    # a live run's step is left out: a picker is drawn once per page run, and its step
    # would lag the progress line by hundreds (the page redraws it when the run ends)
    where = s.status if s.live else f"{s.status} at step {s.step:,}"
    return f"{head} · {where}{result} · {entry.run_id[:4]}"


def _setup(entry: RunEntry) -> dict[str, str]:
    """What a run was set up with, each part as it is shown ("lr 0.01", "seed 3")."""
    spec, c = entry.spec, entry.config
    acts = sorted({l.args.get("activation") for l in spec.layers if l.args.get("activation")} - {"linear"})
    widths = [str(l.args.get("units", l.args.get("channels"))) for l in spec.layers
              if "units" in l.args or "channels" in l.args]
    n = len(entry.dataset.x_train) + len(entry.dataset.x_test)
    # most telling first: a label shows the first MAX_PARTS that differ
    return {"name": spec.name or "custom", "dataset": entry.dataset.extra.get("label", entry.dataset.key),
            "start": spec.head_start.label if spec.head_start else "from scratch",
            "activation": "/".join(acts) or "linear", "layers": f"{len(spec.layers)} layers",
            "widths": "widths " + "-".join(widths) if widths else "no weighted layers",
            "lr": f"lr {c.lr:g}", "optimizer": c.optimizer, "seed": f"seed {c.seed}",
            "batch": f"batch {c.batch_size}", "epochs": f"{c.epochs} epochs",
            "momentum": f"momentum {c.momentum:g}", "weight_decay": f"L2 {c.weight_decay:g}",
            "l1": f"L1 {c.l1:g}", "schedule": f"{c.schedule} schedule", "samples": f"{n:,} samples"}


def share_link(ws: Workspace) -> str:
    base = (st.context.url or "").split("?")[0]
    return f"{base}?net={ws.to_url()}"
