"""Lessons: one idea at a time, with a check on the student's own run.

``/lessons?lesson=KEY`` opens a lesson; ``Set up`` loads its dataset, network
and settings. Each step shows one sentence, one action, a way to the view
that shows the point, and whether the student's newest run meets the step's check.
"""

from __future__ import annotations

import streamlit as st

from dlviz.errors import UserError
from dlviz.lessons.registry import get_lesson, lessons
from dlviz.ui import keep, lesson_views

CHOSEN_KEY = "dlviz_lesson"
LINK_KEY = "dlviz_lesson_link"          # the ?lesson= last followed (the address bar keeps it)


def render() -> None:
    st.title("Lessons")
    all_lessons = lessons()
    asked = st.query_params.get("lesson")
    if asked is not None and asked != st.session_state.get(LINK_KEY):
        st.session_state[LINK_KEY] = asked        # each link is followed once
        try:
            lesson = get_lesson(asked)
        except UserError as e:
            st.error(f"This link's lesson cannot be opened: {e}")
            del st.query_params["lesson"]
        else:
            st.session_state[CHOSEN_KEY] = lesson.key
            # a bare lesson link (no ?net= of its own) sets the lesson up at once
            if "net" not in st.query_params and not lesson_views.is_set_up(lesson):
                lesson_views.set_up(lesson)
    key = st.session_state.get(CHOSEN_KEY)
    if key not in all_lessons:
        _catalogue(all_lessons)
        return
    lesson = all_lessons[key]
    st.query_params["lesson"] = st.session_state[LINK_KEY] = key
    keys = list(all_lessons)
    keep.follow("lesson_pick", key)          # a link to another lesson moves the picker too
    picked = st.selectbox("Lesson", keys, key="lesson_pick", format_func=lambda k: all_lessons[k].title)
    if picked != key:
        st.session_state[CHOSEN_KEY] = st.session_state[LINK_KEY] = picked
        st.query_params["lesson"] = picked
        lesson_views.set_step(all_lessons[picked], 0)
        st.rerun()
    st.caption(lesson.summary)
    _set_up_row(lesson)
    i = lesson_views.step_index(lesson)
    lesson_views.step_card(lesson, i)
    live = lesson_views.any_active()
    st.fragment(run_every=1.0 if live else None)(_check)(lesson.key, i, live)
    back, nxt, _ = st.columns([1, 1, 4])
    if back.button("Back", key="lesson_back", disabled=i == 0, icon=":material/arrow_back:"):
        lesson_views.set_step(lesson, i - 1)
        st.rerun()
    last = i == len(lesson.steps) - 1
    if nxt.button("Next" if not last else "Done", key="lesson_next", type="primary", disabled=last,
                  icon=":material/arrow_forward:"):
        lesson_views.set_step(lesson, i + 1)
        st.rerun()
    if last:
        st.caption("The last step. Pick another lesson above.")


def _check(key: str, i: int, was_live: bool) -> None:
    lesson = lessons()[key]
    lesson_views.check_result(lesson, i)
    if lesson_views.any_active() != was_live:
        st.rerun()              # a run started or ended: the page's timer follows


def _set_up_row(lesson) -> None:
    ready = lesson_views.is_set_up(lesson)
    c1, c2 = st.columns([1, 4], vertical_alignment="center")
    if c1.button("Set up again" if ready else "Set up", key="lesson_setup",
                 type="secondary" if ready else "primary", icon=":material/restart_alt:"):
        lesson_views.set_up(lesson)
        st.rerun()
    ws = lesson.setup()
    what = f"dataset **{ws.dataset}**, network **{ws.spec.name}** ({len(ws.spec.layers)} layers), " \
           f"{ws.config.optimizer} at learning rate {ws.config.lr:g}, {ws.config.epochs} epochs"
    c2.caption(("Set up: " if ready else "Press **Set up** to load ") + what + ".")


def _catalogue(all_lessons) -> None:
    st.markdown("Short guided lessons: each sets up a dataset and a network, asks you to do one "
                "thing at a time, and checks your own run.")
    for lesson in all_lessons.values():
        with st.container(border=True):
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.markdown(f"**{lesson.title}** · {len(lesson.steps)} steps  \n{lesson.summary}")
            c2.page_link("app_pages/lessons.py", label="Open", icon=":material/school:",
                         query_params={"lesson": lesson.key})


render()
