"""Train: settings, run controls, and the run drawn live twice a second."""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from dlviz.bundle import bundle_zip, make_bundle
from dlviz.bundle_checkpoints import checkpoints_of_run
from dlviz.errors import UserError
from dlviz.spec import SpecError, analyse
from dlviz.train.compatibility import compatibility_problem
from dlviz.train.device import available_devices
from dlviz.train.precision import PRECISIONS
from dlviz.train.optimizers import OPTIMIZERS, SETTINGS
from dlviz.train.runs import SessionLimit
from dlviz.train.schedules import SCHEDULES
from dlviz.train.state import ACTIVE, LIVE, WAITING
from dlviz.ui import head_start_views, presenter, run_views, state, timeline

CONFIRM_KEY = "train_confirm_restart"
TIMELINE_KEY = "train_timeline"
PHASE_KEY = "train_phase_seen"
STATUS_KEY = "train_status_drawn"      # the run's status the last redraw drew
SETTLE_KEY = "train_settling"          # run id: its pictures wait for the figures' redraw
CLICKED_KEY = "train_clicked"          # a control's callback ran: this script run answers it
WAITING_EVERY_S = 2.0
LIVE_EVERY_S = 0.48      # a live run's redraw timer: the interval between redraws (timer plus
                         # script run) is 0.474-0.476 s; at 0.5 it was 0.497-0.504, at 0.45
                         # 0.445-0.46 with a lower page-open training speed (bench/RESULTS.md)


def render() -> None:
    st.title("Train")
    run_views.calm_live_redraws()
    ws = state.workspace()
    try:
        ds = state.dataset(ws)
    except UserError as e:
        st.error(f"The dataset cannot be loaded: {e}")
        return
    problem = _problem(ws, ds)
    ws = _settings(ws)
    ws = head_start_views.head_start_settings(ws)      # the spec's head start (transfer learning)
    entry = state.current_run()
    _controls(ws, ds, entry, problem)
    entry = state.current_run()
    if entry is None:
        st.info("Press **Start** to train this network. Below: the untrained network, as "
                "training will start from it. The charts update live; you can leave this page "
                "or refresh it and the run goes on.")
        if problem is None:
            run_views.preview_views(ws.spec, ds, ws.config.seed)
        return
    if not state.is_owner(entry):
        st.info("You are **watching** this run: it belongs to the browser that started it, so its "
                "controls are theirs. **Start** trains your own network.", icon=":material/visibility:")
    phase = _phase(entry, entry.handle.status)[1]     # not stored: the buttons' phase is
    # live (or finishing): redraw twice a second; waiting: every 2 s (a class's queue must
    # not load the server that trains it); ended: only while the timeline plays
    # (or one redraw more: a run that has just stopped running still shows pictures)
    every = LIVE_EVERY_S if phase in ("live", "finishing") or _settling(entry) else \
        WAITING_EVERY_S if phase == "waiting" else timeline.play_interval(TIMELINE_KEY)
    st.fragment(run_every=every)(_live)()


def _settling(entry) -> bool:
    """Whether the run's view still shows the pictures it had while running (a click that
    paused or stopped it, or its end, is drawn with them: see ``_live``)."""
    if st.session_state.get(SETTLE_KEY) == entry.run_id:
        return True
    return st.session_state.get(STATUS_KEY) == "running" and entry.handle.status != "running"


def _problem(ws, ds) -> str | None:
    try:
        analyse(ws.spec)
    except SpecError as e:
        return f"The network is invalid: {e}. Fix it on the Build page."
    # the trainer's own check: what this refuses, training would refuse
    problem = compatibility_problem(ws.spec, ds)
    if problem is not None:
        return f"This network cannot train on this dataset: {problem}. Change it on the Build page."
    return None


def _settings(ws):
    c = ws.config
    with st.expander("Training settings", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        optimizers, schedules, decay = list(OPTIMIZERS), list(SCHEDULES), SETTINGS["weight_decay"]
        opt = c1.selectbox("Optimizer", optimizers, index=optimizers.index(c.optimizer), key="t_opt")
        lr = c2.number_input("Learning rate", 1e-5, 10.0, c.lr, format="%.4f", key="t_lr")
        batch = c3.number_input("Batch size", 1, 4096, c.batch_size, key="t_batch")
        epochs = c4.number_input("Epochs", 1, 100_000, c.epochs, key="t_epochs")
        c5, c6, c7, c8 = st.columns(4)
        wd = c5.number_input(decay.label, decay.low, decay.high, c.weight_decay, format="%.5f", key="t_wd")
        l1 = c6.number_input("L1 penalty", 0.0, 1.0, c.l1, format="%.5f", key="t_l1")
        sched = c7.selectbox("Schedule", schedules, index=schedules.index(c.schedule), key="t_sched")
        devices = ["auto"] + available_devices()
        device = c8.selectbox("Device", devices, index=devices.index(c.device) if c.device in devices else 0,
                              key="t_device")
        seed = st.number_input("Seed", 0, 2**31 - 1, c.seed, key="t_seed")
        precision = c.precision
        if "cuda" in devices:           # bf16 mixed precision: offered where a GPU trains
            precision = st.selectbox("Precision", PRECISIONS, index=PRECISIONS.index(c.precision),
                                      key="t_precision",
                                      help="bf16: forward pass in bfloat16, weights in float32 (faster on a GPU)")
    try:
        new = c.replace(optimizer=opt, lr=float(lr), batch_size=int(batch), epochs=int(epochs),
                        weight_decay=float(wd), l1=float(l1), schedule=sched, device=device, seed=int(seed),
                        precision=precision)
    except UserError as e:
        st.error(str(e))
        return ws
    if new != c:
        ws = replace(ws, config=new)
        state.set_workspace(ws)
    return ws


def _controls(ws, ds, entry, problem) -> None:
    """The run's buttons. Each click's effect is drawn by the script run the click
    starts: Start is handled before the other buttons are drawn, and Pause, Resume,
    Step, Stop and Reset act in their on_click callbacks (which run before the
    script), so no second full run (st.rerun) stands between a click and its effect."""
    if problem:
        st.error(problem)
    cols = st.columns(6)
    if cols[0].button("Start", type="primary", disabled=problem is not None, key="t_start"):
        mine = state.is_owner(entry)
        if mine and entry.handle.status == "idle" and _same_setup(entry, ws):
            _start_again(entry)               # a reset run trains again from step 0
        else:
            _start(ws, ds)
        entry = state.current_run()
    mine = state.is_owner(entry)
    status = entry.handle.status if entry is not None else None
    if entry is not None:
        _seen_phase(entry, status)            # the buttons below are drawn for this status
    live = status in LIVE
    paused = status == "paused"
    cols[1].button("Resume" if paused else "Pause", disabled=not (mine and live), key="t_pause",
                   on_click=_pause_or_resume, args=(entry,))
    cols[2].button("Step", disabled=not (mine and (paused or status == "idle")),
                   key="t_step", help="one optimizer step while paused", on_click=_step, args=(entry,))
    cols[3].button("Stop", disabled=not (mine and status in ACTIVE), key="t_stop",
                   on_click=_stop, args=(entry,))
    cols[4].button("Reset", disabled=not mine or status in WAITING, key="t_reset",
                   help="back to the initial weights, history cleared; Start trains it again",
                   on_click=_reset, args=(entry,))
    if entry is not None and status not in WAITING and status != "idle":
        cols[5].download_button("Download model", lambda: _bundle(entry), file_name="dlviz-model.zip",
                                mime="application/zip", key="t_download",
                                help="spec JSON + safetensors weights + metrics CSV")
    busy_id = st.session_state.get(CONFIRM_KEY)
    busy = state.registry().peek(busy_id) if busy_id else None
    if busy is not None:
        st.warning(f"Your run {state.run_label(busy)} is still "
                   f"{'waiting for a slot' if busy.handle.status in WAITING else 'going'}. "
                   "Stop it and start a new one?")
        a, b, _ = st.columns([1, 1, 4])
        if a.button("Stop it and start anew", key="t_confirm"):
            st.session_state.pop(CONFIRM_KEY, None)
            busy.handle.stop()
            busy.handle.join(5)
            _start(ws, ds)
            st.rerun()                     # the buttons above were drawn for the old run
        if b.button("Keep it running", key="t_cancel"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


STOP_WAIT_S = 2.0       # how long a Stop click waits for the loop to leave its step
STEP_WAIT_S = 0.3       # ... and a Step click for its step
FIRST_STEPS_WAIT_S = 0.5    # ... and a new run's page for its first steps


def _pause_or_resume(entry) -> None:
    st.session_state[CLICKED_KEY] = True
    h = entry.handle
    # a statement, not a conditional expression: Streamlit's magic wrote the latter's
    # value (None) at the top of the page
    if h.status == "paused":
        h.resume()
    else:
        h.pause()


def _step(entry) -> None:
    """One step, waited for (briefly): the script run this click starts then draws it."""
    st.session_state[CLICKED_KEY] = True
    h = entry.handle
    before = h.state().step
    h.step()
    deadline = time.monotonic() + STEP_WAIT_S
    while h.state().step == before and time.monotonic() < deadline:
        time.sleep(0.01)


def _stop(entry) -> None:
    """Stop, and wait (briefly) until the run says so: the loop ends at its next step
    and reports "stopped" before its final whole-set evaluation (train/trainer.py)."""
    st.session_state[CLICKED_KEY] = True
    h = entry.handle
    h.stop()
    deadline = time.monotonic() + STOP_WAIT_S
    while h.status in LIVE and time.monotonic() < deadline:
        time.sleep(0.01)


def _reset(entry) -> None:
    entry.handle.reset()


def _phase(entry, status: str | None) -> tuple:
    """waiting, live, finishing (stopped, its final whole-set evaluation under way:
    redrawn until its figures are in) or ended."""
    if status in WAITING:
        return entry.run_id, "waiting"
    if status in LIVE:
        return entry.run_id, "live"
    return entry.run_id, "finishing" if status == "stopped" and entry.handle.is_alive() else "ended"


def _seen_phase(entry, status: str | None) -> tuple:
    """Remember the phase the page's buttons were drawn for (the fragment redraws the
    whole page when the run leaves it)."""
    phase = st.session_state[PHASE_KEY] = _phase(entry, status)
    return phase


def _same_setup(entry, ws) -> bool:
    return entry.spec == ws.spec and entry.config == ws.config and entry.dataset.key == ws.dataset


def _start_again(entry) -> None:
    try:
        entry.handle.start()
    except UserError as e:
        st.error(str(e))


def _start(ws, ds) -> None:
    # the old run is kept (ended), so it can be compared with the new one
    reg = state.registry()
    try:
        entry = reg.create(ws.spec, ds, ws.config, owner=state.owner())
    except SessionLimit:
        busy = [e for e in reg.runs_of(state.owner()) if e.handle.status in ACTIVE]
        if busy:
            st.session_state[CONFIRM_KEY] = busy[-1].run_id
            st.rerun()
        return
    except UserError as e:
        st.error(str(e))
        return
    entry.handle.start()
    state.set_run(entry)


def _first_steps(entry, s):
    """A run that has just started: wait (briefly) for its first steps, so the script
    run that Start began draws the first live picture instead of the untrained one,
    half a second before the fragment's timer would."""
    deadline = time.monotonic() + FIRST_STEPS_WAIT_S
    while s.status == "running" and s.step == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
        s = entry.handle.state()
    return s


def _bundle(entry) -> bytes:
    h = entry.handle
    return bundle_zip(make_bundle(entry.spec, h.snapshot().weights, entry.dataset, entry.config, h.state(),
                                  checkpoints_of_run(h)))


def _live() -> None:
    entry = state.current_run()
    if entry is None:
        return
    s = entry.handle.state()
    if s.status == "running" and s.step == 0:
        s = _first_steps(entry, s)
    # waiting -> live -> ended: redraw the whole page once, so the buttons follow
    phase = _phase(entry, s.status)
    seen = st.session_state.get(PHASE_KEY)
    st.session_state[PHASE_KEY] = phase
    if seen is not None and seen[0] == phase[0] and seen != phase:
        st.rerun()
    seen_status = st.session_state.get(STATUS_KEY)
    st.session_state[STATUS_KEY] = s.status
    clicked = st.session_state.pop(CLICKED_KEY, False)
    if (st.session_state.get(SETTLE_KEY) == entry.run_id and seen_status == s.status
            and phase[1] == "ended"):
        # the redraw after an ended run's pictures: the whole page once more, with the
        # figures, and no further redraws (its timer is set by the page's run)
        st.session_state.pop(SETTLE_KEY)
        st.rerun()
    if s.status in WAITING:
        run_views.waiting(s)
        return
    # a running run's weights fetched right after its state: the picture then shows the
    # step the progress line shows (latest_weights copies at the trainer's next step)
    following = s.status == "running" and st.session_state.get("train_view") in (None, "What the model sees")
    try:
        live_snap = entry.handle.latest_weights() if following else None
    except UserError:
        live_snap = None                 # the worker was lost: said below, where it is read again
    run_views.progress(s)
    # A control click's own script run (Pause, Resume, Step, Stop), and the first one to
    # draw a new status, draw pictures: mounting or updating the figures there held the
    # browser's progress line back 180-340 ms after the script run had ended; they come
    # with the next redraw, half a second later (the settle redraw).
    changed = s.status != "running" and (clicked or seen_status not in (None, s.status))
    if changed:
        st.session_state[SETTLE_KEY] = entry.run_id
    elif st.session_state.get(SETTLE_KEY) == entry.run_id:
        st.session_state.pop(SETTLE_KEY)
    pictures = s.status == "running" or changed
    # presenter mode: one idea per screen, so the curves are a view of their own
    views = (["Curves"] if presenter.presenting() else []) + ["What the model sees", "Layer health"]
    if not presenter.presenting():
        run_views.curves(s, entry.spec.task, pictures)
    # a keyed container keeps its place while warnings come and go between
    # redraws, so the elements below it do not shift (and leave faded copies)
    with st.container(key="train_advice"):
        run_views.advice(s)
    # one view at a time: only what is shown is computed on each redraw
    view = st.segmented_control("View", views, default=views[0], key="train_view",
                                label_visibility="collapsed") or views[0]
    if view not in views:                    # "Curves" kept from presenter mode, now off
        view = views[0]
    with st.container(key="train_view_body"):
        if view == "Curves":
            run_views.curves(s, entry.spec.task, pictures)
        elif view == "Layer health":
            run_views.health(s, pictures=pictures)
        elif not s.timeline:
            pass                    # a run lost before its first snapshot: the message says so
        else:
            step = timeline.timeline_slider(entry, s, TIMELINE_KEY)
            try:
                snap = live_snap if step == timeline.NOW and live_snap is not None else \
                    timeline.snapshot_at(entry, step)
            except UserError as e:       # the worker was lost between two reads
                st.warning(str(e))
                return
            # running and following it: pictures, redrawn in place; paused, ended or
            # a past moment: the interactive figures (they change no more)
            at_end = step == timeline.NOW or (not s.live and step >= s.timeline[-1]["step"])
            run_views.model_views(entry, snap, live=s.live, pictures=pictures and at_end)


render()
