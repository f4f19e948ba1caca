"""The Lessons page's pieces: a step drawn large, its check on the student's own runs.

Lessons are data (``dlviz/lessons``); this file maps a step's view to a page
(and a view on it), gathers the student's runs as ``Work`` for the checks,
and caches the checks that compute on the model. See docs/ARCHITECTURE.md, "Lessons".
"""

from __future__ import annotations

import streamlit as st

from dlviz.errors import UserError
from dlviz.lessons.checks import same_setup_sizes
from dlviz.lessons.facts import Work, facts_of
from dlviz.lessons.lesson import CheckResult, Lesson, Step
from dlviz.train.state import ACTIVE
from dlviz.ui import state, timeline

STEP_KEY = "dlviz_lesson_step"          # {lesson key: step index}
CACHE_KEY = "dlviz_lesson_checks"       # {(lesson, step, run id, status, step): CheckResult}
MAX_CACHED = 32

# a step's view -> (page, label, widget values to preset there)
VIEW_PAGES: dict[str, tuple[str, str, dict]] = {
    "build": ("app_pages/build.py", "Open the Build page", {}),
    "train": ("app_pages/train.py", "Open the Train page", {"train_view": "What the model sees"}),
    "layer health": ("app_pages/train.py", "Open Layer health", {"train_view": "Layer health"}),
    "inside": ("app_pages/inside.py", "Open the Inside page", {}),
    "explain": ("app_pages/explain.py", "Open the Explain page", {}),
    "compare": ("app_pages/compare.py", "Open the Compare page", {}),
}
# widget keys of the pages that show the workspace's settings: dropped on Set up, so that
# each is drawn again from the lesson's workspace instead of the value it last held
SETTING_PREFIXES = ("t_", "build_")


def step_index(lesson: Lesson) -> int:
    i = st.session_state.setdefault(STEP_KEY, {}).get(lesson.key, 0)
    return min(max(i, 0), len(lesson.steps) - 1)


def set_step(lesson: Lesson, i: int) -> None:
    st.session_state.setdefault(STEP_KEY, {})[lesson.key] = min(max(i, 0), len(lesson.steps) - 1)


def set_up(lesson: Lesson) -> None:
    """Apply the lesson's dataset, network and settings to this session, from step 1."""
    ws = lesson.setup()
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(SETTING_PREFIXES)]:
        del st.session_state[key]
    state.set_run(None)              # the next Start trains the lesson's network
    state.set_workspace(ws)
    set_step(lesson, 0)


def is_set_up(lesson: Lesson) -> bool:
    ws, want = state.workspace(), lesson.setup()
    return ws.dataset == want.dataset and ws.spec == want.spec and ws.config == want.config \
        and ws.params == want.params


def work() -> Work:
    """This browser's own runs (never one it only watches), oldest first, and where each
    one's timeline is on the pages."""
    runs = state.registry().runs_of(state.owner())
    positions = st.session_state.get(timeline.POS_KEY, {})
    viewed = {rid: pos for rid, (pos, _last) in positions.items()}
    return Work(tuple(facts_of(e) for e in runs), viewed)


def evaluate(lesson: Lesson, i: int, step: Step, w: Work) -> CheckResult | None:
    """The step's check on ``w``; a costly one once per run and moment, after the run ends."""
    check = step.check
    if check is None:
        return None
    if not check.costly:
        return check(w)
    run = w.latest
    if run is not None and run.state.status in ACTIVE:
        return CheckResult(False, f"Your run is still **{run.state.status}**: this check runs on "
                                  "the trained model once it ends.")
    ident = (lesson.key, i, run.run_id if run else "", run.state.status if run else "",
             run.state.step if run else 0)
    cache = st.session_state.setdefault(CACHE_KEY, {})
    if ident not in cache:
        if len(cache) >= MAX_CACHED:
            cache.pop(next(iter(cache)))
        try:
            with st.spinner("Checking on your model…"):
                cache[ident] = check(w)
        except UserError as e:                   # the run's weights were lost with its worker
            return CheckResult(False, str(e))
    return cache[ident]


def step_card(lesson: Lesson, i: int) -> None:
    """Step ``i`` large: its sentence, the one action, and a way to the view that shows it."""
    step = lesson.steps[i]
    n = len(lesson.steps)
    st.progress((i + 1) / n, text=f"Step {i + 1} of {n}")
    with st.container(border=True, key="lesson_step_card"):
        st.markdown(f"### {step.text}")
        st.info(f"**Do this:** {step.action}", icon=":material/touch_app:")
        if step.view in VIEW_PAGES:
            page, label, preset = VIEW_PAGES[step.view]
            if st.button(label, key=f"lesson_go_{lesson.key}_{i}", icon=":material/open_in_new:"):
                for key, value in preset.items():
                    st.session_state[key] = value
                st.switch_page(page)


def check_result(lesson: Lesson, i: int) -> None:
    """The step's check on the student's newest run: ✓ and what it showed, or what is missing."""
    step = lesson.steps[i]
    if step.check is None:
        st.caption("Nothing to check on this step: look, then press **Next**.")
        return
    w = work()
    r = evaluate(lesson, i, step, w)
    if r.passed:
        st.success(f"✓ **{r.text}**" + (f": {step.done}" if step.done else ""), icon=":material/check_circle:")
    else:
        st.warning(f"**Not yet.** {r.text}", icon=":material/pending:")
    if step.view == "lesson chart" or any(s.view == "lesson chart" for s in lesson.steps[:i + 1]):
        size_chart(lesson, w)


def size_chart(lesson: Lesson, w: Work) -> None:
    """Test accuracy against the number of training points, one ended run per size."""
    dataset = lesson.setup().dataset
    sizes = same_setup_sizes(w, dataset)
    if not sizes:
        return
    st.markdown("**Your learning curve:** test accuracy (%) by number of training points")
    st.line_chart({"training points": list(sizes), "test accuracy (%)": [100 * a for a in sizes.values()]},
                  x="training points", y="test accuracy (%)", height=240)


def any_active() -> bool:
    return any(e.handle.status in ACTIVE for e in state.registry().runs_of(state.owner()))
