"""The timeline: pick any recorded moment of a run, or play through them.

A run keeps a bounded list of snapshots (weights at log-spaced steps). The
slider offers those steps, plus "now" while the run is live (the weights of
the current step, newer than the last snapshot). Every view that shows the
model draws from the weights this returns.

The chosen step is also kept in a plain session key per run, so moving from
the Train page to the Inside page keeps the same moment (widget keys of
widgets not drawn are dropped by Streamlit on a page switch).
"""

from __future__ import annotations

import streamlit as st

from dlviz.train.history import Snapshot
from dlviz.train.runs import RunEntry
from dlviz.train.state import TrainerState

NOW = -1                             # the "now" option of a live run
POS_KEY = "dlviz_timeline_pos"       # {run_id: (step or NOW, was it the newest option)}
PLAY_KEY = "dlviz_timeline_play"     # {slider key: True while playing}
PLAY_EVERY_S = 0.8


def snapshot_at(entry: RunEntry, step: int | None) -> Snapshot:
    """The run's snapshot nearest ``step`` (None or NOW: the newest weights).

    Snapshots never change once taken: the run (``ManagedRun``) fetches each
    from its worker once and keeps it for every viewer, within a byte budget,
    so a class watching one run holds one copy, not one per browser.
    """
    if step is None or step == NOW:
        return entry.handle.latest_weights()
    return entry.handle.snapshot(step)


def _label(step: int, s: TrainerState) -> str:
    if step == NOW:
        return "now (live)"          # a label that changes would make a new widget each redraw
    per_epoch = s.total_steps / max(s.epochs, 1)
    return f"step {step:,} · epoch {step / per_epoch:.1f}" if per_epoch else f"step {step:,}"


def timeline_slider(entry: RunEntry, s: TrainerState, key: str, *, label: str = "Moment of training") -> int:
    """Draw the slider over one run's snapshots (and its Play button); returns
    the chosen step, or NOW.

    While playing, each call moves one snapshot on; the caller's fragment must
    rerun on a timer (``play_interval``) for the animation to advance.
    """
    steps = [t["step"] for t in s.timeline]
    return step_slider(entry.run_id, steps, s.live, lambda o: _label(o, s), key, label=label,
                       end=s.step if s.live else max(steps + [s.step]), total=s.total_steps)


def step_slider(remember_as: str, steps: list[int], live: bool, fmt, key: str, *,
                label: str = "Moment of training", end: int | None = None, total: int | None = None) -> int:
    """The slider over ``steps`` (plus NOW while ``live``); ``remember_as`` names
    the plain session key that keeps the position across pages.

    Any position but the newest is announced under the slider ("step 16 of 8,000"),
    with a button back to the end: the position is shared by the pages, so a page
    opened later shows that moment too, and must say it is not the trained model.
    ``end``: the run's newest step (default: the last of ``steps``); ``total``: the
    steps it trains for, when that is more than it has done."""
    options = sorted(set(steps)) + ([NOW] if live or not steps else [])
    positions = st.session_state.setdefault(POS_KEY, {})
    playing = st.session_state.setdefault(PLAY_KEY, {})
    saved, was_last = positions.get(remember_as, (None, True))
    # One widget per run (or pair of runs), whatever its options: a keyed select_slider's
    # id is its key alone, and its value travels as the option's label (Streamlit 1.67),
    # so a new snapshot updates the slider in place instead of mounting a new one (which
    # a live run's page did on nearly every redraw). The position is set each run below.
    widget = f"{key}_{remember_as}"
    pos = st.session_state.get(widget, saved)  # the widget's value: moved by the user or not
    if pos is None or (was_last and pos == saved):
        pos = options[-1]           # left at the newest moment: follow the run as it grows
    pos = st.session_state.pop(f"{key}_goto", pos)     # Play from the end starts at the beginning
    if pos not in options:          # the timeline was thinned, or the run ended
        pos = options[-1] if pos == NOW else min(options, key=lambda o: abs(o - pos) if o != NOW else 1e18)
    if playing.get(key):
        i = options.index(pos) + 1
        if i >= len(options):       # the end: stop, and redraw the page so its timer stops
            playing[key] = False
            positions[remember_as] = (options[-1], True)
            st.session_state[f"{key}_goto"] = options[-1]
            st.rerun()
        pos = options[i]
    st.session_state[widget] = pos
    c1, c2 = st.columns([8, 1], vertical_alignment="bottom")
    if len(options) > 1:
        pos = c1.select_slider(label, options, format_func=fmt, key=widget,
                               help="every view below shows the network as it was at this moment; "
                                    "snapshots are dense early in training, where most change happens")
    else:
        c1.caption(f"{label}: {fmt(pos)} (only one snapshot so far)")
    if c2.button("Pause" if playing.get(key) else "Play", key=f"{key}_play", disabled=len(options) < 2,
                 icon=":material/pause:" if playing.get(key) else ":material/play_arrow:",
                 width="stretch", help="step through the snapshots from the start"):
        playing[key] = not playing.get(key)
        if playing[key] and options.index(pos) == len(options) - 1:
            st.session_state[f"{key}_goto"] = options[0]
        st.rerun()
    positions[remember_as] = (pos, pos == options[-1])
    if pos != options[-1]:
        _past_banner(key, pos, options[-1], end, total, live, playing)
    return pos


def _past_banner(key: str, pos: int, last, end: int | None, total: int | None, live: bool,
                 playing: dict) -> None:
    """'Step 16 of 8,000: not the end of training', and a button back to the end."""
    end = end if end is not None else (last if last != NOW else pos)
    if live:
        where = f"**Step {pos:,}**, not the live run (now at step {end:,}" + (f" of {total:,})" if total else ")")
    else:
        where = f"**Step {pos:,} of {end:,}**" + (f" (of {total:,} planned)" if total and total > end else "") + \
                ", not the end of training"
    c1, c2 = st.columns([8, 1.6], vertical_alignment="center")
    with c1:
        st.info(f"{where}. Every view here shows the network at this moment, and so do the other "
                f"pages until you go back.", icon=":material/history:")
    if c2.button("Back to the end", key=f"{key}_to_end", icon=":material/skip_next:", width="stretch",
                 help="show the newest weights again" + (" (the live run)" if live else "")):
        playing[key] = False
        st.session_state[f"{key}_goto"] = last
        st.rerun()


def play_interval(key: str) -> float | None:
    """The redraw interval a fragment holding the slider ``key`` needs right now."""
    return PLAY_EVERY_S if st.session_state.get(PLAY_KEY, {}).get(key) else None
