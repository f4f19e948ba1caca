"""Train: settings, run controls, and the run drawn live twice a second."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dlviz.bundle import bundle_zip, make_bundle
from dlviz.errors import UserError
from dlviz.spec import SpecError, analyse
from dlviz.train.config import OPTIMIZERS, SCHEDULES
from dlviz.train.device import available_devices
from dlviz.train.state import LIVE
from dlviz.ui import run_views, state, timeline

CONFIRM_KEY = "train_confirm_restart"
TIMELINE_KEY = "train_timeline"


def render() -> None:
    st.title("Train")
    ws = state.workspace()
    try:
        ds = state.dataset(ws)
    except UserError as e:
        st.error(f"The dataset cannot be loaded: {e}")
        return
    problem = _problem(ws, ds)
    ws = _settings(ws)
    entry = state.current_run()
    _controls(ws, ds, entry, problem)
    entry = state.current_run()
    if entry is None:
        st.info("Press **Start** to train this network. The charts update live; you can leave "
                "this page or refresh it and the run goes on.")
        return
    live = entry.handle.status in LIVE
    # live: redraw twice a second; ended: only while the timeline plays
    st.fragment(run_every=0.5 if live else timeline.play_interval(TIMELINE_KEY))(_live)()


def _problem(ws, ds) -> str | None:
    try:
        analyse(ws.spec)
    except SpecError as e:
        return f"The network is invalid: {e}. Fix it on the Build page."
    if tuple(ws.spec.input_shape) != tuple(ds.input_shape) or ws.spec.outputs != ds.output_size:
        return (f"The network expects input {list(ws.spec.input_shape)} and {ws.spec.outputs} outputs, "
                f"but {ds.key} gives {list(ds.input_shape)} and needs {ds.output_size}.")
    return None


def _settings(ws):
    c = ws.config
    with st.expander("Training settings", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        opt = c1.selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index(c.optimizer), key="t_opt")
        lr = c2.number_input("Learning rate", 1e-5, 10.0, c.lr, format="%.4f", key="t_lr")
        batch = c3.number_input("Batch size", 1, 4096, c.batch_size, key="t_batch")
        epochs = c4.number_input("Epochs", 1, 100_000, c.epochs, key="t_epochs")
        c5, c6, c7, c8 = st.columns(4)
        wd = c5.number_input("L2 weight decay", 0.0, 1.0, c.weight_decay, format="%.5f", key="t_wd")
        l1 = c6.number_input("L1 penalty", 0.0, 1.0, c.l1, format="%.5f", key="t_l1")
        sched = c7.selectbox("Schedule", SCHEDULES, index=SCHEDULES.index(c.schedule), key="t_sched")
        devices = ["auto"] + available_devices()
        device = c8.selectbox("Device", devices, index=devices.index(c.device) if c.device in devices else 0,
                              key="t_device")
        seed = st.number_input("Seed", 0, 2**31 - 1, c.seed, key="t_seed")
    try:
        new = c.replace(optimizer=opt, lr=float(lr), batch_size=int(batch), epochs=int(epochs),
                        weight_decay=float(wd), l1=float(l1), schedule=sched, device=device, seed=int(seed))
    except UserError as e:
        st.error(str(e))
        return ws
    if new != c:
        ws = replace(ws, config=new)
        state.set_workspace(ws)
    return ws


def _controls(ws, ds, entry, problem) -> None:
    if problem:
        st.error(problem)
    live = entry is not None and entry.handle.status in LIVE
    paused = entry is not None and entry.handle.status == "paused"
    cols = st.columns(6)
    start = cols[0].button("Start", type="primary", disabled=problem is not None, key="t_start")
    if cols[1].button("Resume" if paused else "Pause", disabled=not live, key="t_pause"):
        entry.handle.resume() if paused else entry.handle.pause()
        st.rerun()
    if cols[2].button("Step", disabled=entry is None or not (paused or entry.handle.status == "idle"),
                      key="t_step", help="one optimizer step while paused"):
        entry.handle.step()
    if cols[3].button("Stop", disabled=not live, key="t_stop"):
        entry.handle.stop()
        entry.handle.join(5)
        st.rerun()
    if cols[4].button("Reset", disabled=entry is None, key="t_reset",
                      help="back to the initial weights, history cleared"):
        entry.handle.reset()
        st.rerun()
    if entry is not None:
        cols[5].download_button("Download model", lambda: _bundle(entry), file_name="dlviz-model.zip",
                                mime="application/zip", key="t_download",
                                help="spec JSON + safetensors weights + metrics CSV")
    if start:
        if live:
            st.session_state[CONFIRM_KEY] = True
        else:
            _start(ws, ds)
    if st.session_state.get(CONFIRM_KEY):
        st.warning("A run is still going. Stop it and start a new one?")
        a, b, _ = st.columns([1, 1, 4])
        if a.button("Stop it and start anew", key="t_confirm"):
            st.session_state[CONFIRM_KEY] = False
            entry.handle.stop()
            entry.handle.join(5)
            _start(ws, ds)
        if b.button("Keep it running", key="t_cancel"):
            st.session_state[CONFIRM_KEY] = False
            st.rerun()


def _start(ws, ds) -> None:
    # the old run is kept (ended), so it can be compared with the new one
    reg = state.registry()
    try:
        entry = reg.create(ws.spec, ds, ws.config)
    except UserError as e:
        st.error(str(e))
        return
    entry.handle.start()
    state.set_run(entry)
    st.rerun()


def _bundle(entry) -> bytes:
    h = entry.handle
    return bundle_zip(make_bundle(entry.spec, h.snapshot().weights, entry.dataset, entry.config, h.state()))


def _live() -> None:
    entry = state.current_run()
    if entry is None:
        return
    s = entry.handle.state()
    run_views.progress(s)
    run_views.curves(s, entry.spec.task)
    # a keyed container keeps its place while warnings come and go between
    # redraws, so the elements below it do not shift (and leave faded copies)
    with st.container(key="train_advice"):
        run_views.advice(s)
    # one view at a time: only what is shown is computed on each redraw
    view = st.segmented_control("View", ["What the model sees", "Layer health"],
                                default="What the model sees", key="train_view",
                                label_visibility="collapsed") or "What the model sees"
    with st.container(key="train_view_body"):
        if view == "Layer health":
            run_views.health(s)
        else:
            step = timeline.timeline_slider(entry, s, TIMELINE_KEY)
            run_views.model_views(entry, timeline.snapshot_at(entry, step))
    if not s.live and st.session_state.get("train_was_live"):
        st.session_state["train_was_live"] = False
        st.rerun()          # the run ended: redraw the page once so the buttons update
    st.session_state["train_was_live"] = s.live


render()
