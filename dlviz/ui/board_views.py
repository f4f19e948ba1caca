"""The Class board page: open a class (teacher), join one (student), the live board.

The classes live in one ``dlviz.classroom.Classes`` per server, beside the
run registry. The board is the teacher's alone: a student's browser sees only
its own membership. Projecting a student's run draws its views with no
controls at all (read-only, as a watcher of its link would see them);
comparing two uses the Compare page's views. See docs/ARCHITECTURE.md, "A class board".
"""

from __future__ import annotations

import streamlit as st

from dlviz.classroom import CODE_LENGTH, MAX_NAME_CHARS, BoardRow, ClassError, Classes, ClassRoom
from dlviz.errors import UserError
from dlviz.train.state import ACTIVE, WAITING
from dlviz.ui import compare_views, run_views, state, thumbnails, timeline

BOARD_EVERY_S = 2.0            # the board's redraw: 30 students' rows, a thumbnail each
PROJECT_EVERY_S = 1.0
CARDS_PER_ROW = 4
MODES = ["Board", "Project one run", "Compare two runs"]


@st.cache_resource
def classes() -> Classes:
    """One set of classes per server process, like the run registry."""
    return Classes()


def page() -> None:
    me = state.owner()
    room = classes().taught_by(me)
    if room is not None:
        teacher(room)
        return
    joined = classes().membership(me)
    if joined is not None:
        student(*joined)
        return
    choose()


# -- no class yet ------------------------------------------------------------------------------

def choose() -> None:
    left, right = st.columns(2, border=True)
    with left:
        st.markdown("#### Join a class")
        st.caption("Type the code your teacher shows. Your teacher's board will list your runs: "
                   "your name, network and accuracy. Nobody else gets your controls.")
        with st.form("board_join", border=False):
            code = st.text_input("Class code", max_chars=CODE_LENGTH + 4, key="board_code",
                                 placeholder="e.g. K7QXM")
            name = st.text_input("Your name or seat", max_chars=MAX_NAME_CHARS, key="board_name")
            joined = st.form_submit_button("Join", type="primary")
        if joined:
            try:
                classes().join(code, state.owner(), name)
            except ClassError as e:
                st.error(str(e))
            else:
                st.rerun()
    with right:
        st.markdown("#### Teach a class")
        st.caption("Open a class and show its code: each student who joins appears on your board "
                   "with their newest run, live.")
        if st.button("Open a class", key="board_open", icon=":material/co_present:"):
            try:
                classes().open(state.owner())
            except ClassError as e:
                st.error(str(e))
            else:
                st.rerun()


# -- a student ----------------------------------------------------------------------------------

def student(room: ClassRoom, member) -> None:
    st.success(f"You are in class **{room.code}** as **{member.name}**. Your teacher's board shows "
               "your newest run: train on the Train page or follow a lesson.", icon=":material/groups:")
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.page_link("app_pages/train.py", label="Train", icon=":material/monitoring:")
    c2.page_link("app_pages/lessons.py", label="Lessons", icon=":material/school:")
    if c3.button("Leave the class", key="board_leave"):
        classes().leave(state.owner())
        st.rerun()


# -- the teacher --------------------------------------------------------------------------------

def teacher(room: ClassRoom) -> None:
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    with c1:
        st.caption("Class code: students open the **Class board** page of this app and type it")
        # the code is made of CODE_ALPHABET only: nothing to escape
        st.markdown(f'<div data-testid="class-code" style="font-size:5.5rem;font-weight:700;'
                    f'letter-spacing:0.35em;line-height:1.1">{room.code}</div>', unsafe_allow_html=True)
    if c2.button("Close the class", key="board_close", icon=":material/close:"):
        classes().close(room.code, state.owner())
        st.rerun()
    mode = st.segmented_control("Show", MODES, default=MODES[0], key="board_mode",
                                label_visibility="collapsed") or MODES[0]
    if mode == MODES[0]:
        st.fragment(run_every=BOARD_EVERY_S)(_board)(room.code)
    elif mode == MODES[1]:
        _project(classes().board(room.code, state.registry()))
    else:
        _compare(classes().board(room.code, state.registry()))


def _board(code: str) -> None:
    rows = classes().board(code, state.registry())
    if not rows:
        st.info("Nobody has joined yet.")
        return
    trained = [r for r in rows if r.accuracy is not None]
    st.caption(f"{len(rows)} student{'s' if len(rows) != 1 else ''} · {len(trained)} with a result · "
               "each card: the student's newest run")
    for start in range(0, len(rows), CARDS_PER_ROW):
        cols = st.columns(CARDS_PER_ROW)
        for col, row in zip(cols, rows[start:start + CARDS_PER_ROW]):
            with col, st.container(border=True, key=f"board_card_{start}_{rows.index(row)}"):
                _card(row)


def _card(row: BoardRow) -> None:
    st.markdown(f"**{_escape(row.name)}**")
    if row.run_id is None:
        st.caption("no run yet")
        return
    acc = f"{100 * row.accuracy:.0f}%" if row.accuracy is not None else \
        f"loss {row.loss:.3g}" if row.loss is not None else "—"
    st.markdown(f"<div style='font-size:1.6rem;font-weight:600'>{acc}</div>", unsafe_allow_html=True)
    where = row.status if row.status in WAITING else f"{row.status} · step {row.step:,}"
    st.caption(f"{_escape(row.network)} · {row.dataset}  \n{where}")
    picture = _thumbnail(row)
    if picture is not None:
        st.image(picture, width=thumbnails.SIDE_PX, output_format="PNG")


def _thumbnail(row: BoardRow) -> bytes | None:
    entry = state.registry().peek(row.run_id)
    if entry is None or not row.thumbnail:
        return None
    s = entry.handle.state()
    if not s.timeline:
        return None
    return _thumbnail_png(row.run_id, row.thumbnail, s.timeline[-1]["step"])


@st.cache_data(max_entries=256, show_spinner=False)
def _thumbnail_png(run_id: str, kind: str, step: int) -> bytes | None:
    """One picture per run and snapshot, shared by every redraw (snapshots never change)."""
    entry = state.registry().peek(run_id)
    if entry is None:
        return None
    try:
        return thumbnails.thumbnail_png(entry, kind, step)
    except UserError:            # the worker was lost between two reads
        return None


def _escape(text: str) -> str:
    """A student's name in markdown, shown as typed (no links, no formatting)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch for ch in text)


def _with_runs(rows: list[BoardRow]) -> dict[str, BoardRow]:
    return {r.run_id: r for r in rows if r.run_id is not None}


def _label(r: BoardRow) -> str:
    acc = f" · {100 * r.accuracy:.0f}%" if r.accuracy is not None else ""
    return f"{r.name} · {r.network} on {r.dataset}{acc}"


def _project(rows: list[BoardRow]) -> None:
    runs = _with_runs(rows)
    if not runs:
        st.info("No student has a run yet.")
        return
    chosen = st.selectbox("Student", list(runs), format_func=lambda k: _label(runs[k]), key="board_project")
    entry = state.registry().get(chosen)
    if entry is None:
        st.warning("This run is no longer kept by the server.")
        return
    live = entry.handle.status in ACTIVE
    st.fragment(run_every=PROJECT_EVERY_S if live else None)(_projected)(chosen, runs[chosen].name)


def _projected(run_id: str, name: str) -> None:
    """A student's run, read-only: progress, curves and what the model sees, no controls."""
    entry = state.registry().get(run_id)
    if entry is None:
        st.warning("This run is no longer kept by the server.")
        return
    st.markdown(f"### {_escape(name)}: {state.run_label(entry, [entry])}")
    st.caption("Read-only: the run belongs to the student's browser.")
    waiting = state.not_ready(entry)
    if waiting:
        st.info(waiting)
        return
    s = entry.handle.state()
    run_views.progress(s)
    run_views.curves(s, entry.spec.task)
    try:
        snap = timeline.snapshot_at(entry, None)
    except UserError as e:
        st.warning(str(e))
        return
    run_views.model_views(entry, snap, key="board_projected", live=s.live)


def _compare(rows: list[BoardRow]) -> None:
    runs = _with_runs(rows)
    if len(runs) < 2:
        st.info("Two students need a run each to compare them.")
        return
    ids = list(runs)
    c1, c2 = st.columns(2)
    a = c1.selectbox("Left", ids, index=0, format_func=lambda k: _label(runs[k]), key="board_cmp_a")
    b = c2.selectbox("Right", ids, index=1, format_func=lambda k: _label(runs[k]), key="board_cmp_b")
    if a == b:
        st.warning("Pick two different students' runs.")
        return
    reg = state.registry()
    left, right = reg.get(a), reg.get(b)
    if left is None or right is None:
        st.warning("One of these runs is no longer kept by the server.")
        return
    for e in (left, right):
        waiting = state.not_ready(e)
        if waiting:
            st.info(waiting)
            return
    live = any(e.handle.status in ACTIVE for e in (left, right))
    st.fragment(run_every=PROJECT_EVERY_S if live else None)(_compared)(a, b)


def _compared(a: str, b: str) -> None:
    reg = state.registry()
    left, right = reg.get(a), reg.get(b)
    if left is None or right is None:
        st.warning("One of these runs is no longer kept by the server.")
        return
    compare_views.side_by_side(left, right, "board_compare")
