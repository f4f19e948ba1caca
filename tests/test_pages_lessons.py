"""AppTest: every lesson opens from its link and runs through its steps; Set up loads it;
a check turns ✓ on the student's own run; the class board for a teacher and students."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import wait_for

from dlviz.lessons.registry import lessons

LESSONS = list(lessons())


def app(**query) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=90)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [i.value for i in at.info] +
                     [w.value for w in at.warning] + [s.value for s in at.success] +
                     [c.value for c in at.caption] + [e.value for e in at.error])


def open_lesson(key: str, browser: str | None = None) -> AppTest:
    at = app(lesson=key)
    if browser:
        at.session_state["dlviz_browser_id"] = browser
    at.switch_page("app_pages/lessons.py").run()       # the link opens the Lessons page first
    no_exceptions(at)
    return at


@pytest.mark.parametrize("key", LESSONS)
def test_every_lesson_opens_from_its_link_and_runs_through_its_steps(key):
    lesson = lessons()[key]
    at = open_lesson(key)
    # a bare lesson link sets the lesson up: its dataset, network and settings
    ws = at.session_state["dlviz_workspace"]
    want = lesson.setup()
    assert (ws.dataset, ws.spec, ws.config, ws.params) == (want.dataset, want.spec, want.config, want.params)
    assert at.query_params["lesson"] in (key, [key])
    for i, step in enumerate(lesson.steps):
        shown = texts(at)
        assert f"Step {i + 1} of {len(lesson.steps)}" in at.get("progress")[0].proto.text
        assert step.text in shown and step.action in shown
        if step.check is not None:
            assert "Not yet" in shown                 # no run of this browser meets it yet
        assert at.button(key="lesson_back").disabled == (i == 0)
        if i < len(lesson.steps) - 1:
            at.button(key="lesson_next").click().run()
            no_exceptions(at)
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_back").click().run()
    assert f"Step {len(lesson.steps) - 1} of" in at.get("progress")[0].proto.text


def test_the_catalogue_lists_every_lesson_and_a_bad_link_says_so():
    at = app()
    at.run()
    at.switch_page("app_pages/lessons.py").run()
    no_exceptions(at)
    shown = texts(at)
    assert all(l.title in shown for l in lessons().values())
    bad = app(lesson="no-such-lesson")
    bad.run()
    bad.switch_page("app_pages/lessons.py").run()
    no_exceptions(bad)
    assert any("unknown lesson" in e.value for e in bad.error)


def test_set_up_again_restores_the_lessons_settings_after_a_change():
    at = open_lesson("learning-rate")
    at.switch_page("app_pages/train.py").run()
    at.number_input(key="t_lr").set_value(3.0).run()
    assert at.session_state["dlviz_workspace"].config.lr == 3.0
    at.switch_page("app_pages/lessons.py").run()
    at.button(key="lesson_setup").click().run()
    no_exceptions(at)
    assert at.session_state["dlviz_workspace"].config.lr == 0.1
    at.switch_page("app_pages/train.py").run()
    assert at.number_input(key="t_lr").value == 0.1


def test_a_check_turns_green_on_the_students_own_run():
    at = open_lesson("xor", browser="lesson-student-browser-1")
    at.button(key="lesson_next").click().run()           # step 2: a hidden layer, 95%
    assert "Not yet" in texts(at) and "Start" in texts(at)
    # the student adds a hidden layer (as the Build page would) and trains
    from dataclasses import replace
    from dlviz.lessons.setups import dense
    from dlviz.spec import NetSpec
    ws = at.session_state["dlviz_workspace"]
    ws = replace(ws, spec=NetSpec(ws.spec.input_shape, 2, dense(8, "tanh"), "classification", "mine"))
    at.session_state["dlviz_workspace"] = ws
    at.switch_page("app_pages/train.py").run()
    at.button(key="t_start").click().run()
    no_exceptions(at)
    from dlviz.ui.state import registry
    run = registry().runs_of("lesson-student-browser-1")[-1]
    assert wait_for(lambda: run.handle.status == "finished", 90, every=0.2)
    at.switch_page("app_pages/lessons.py").run()
    no_exceptions(at)
    ok = [s.value for s in at.success]
    assert any("✓" in s and "test accuracy" in s and "hidden layer it needed" in s for s in ok), texts(at)
    # another browser's lesson does not see this run
    other = open_lesson("xor", browser="lesson-student-browser-2")
    other.button(key="lesson_next").click().run()
    assert not other.success and "Not yet" in texts(other)


def test_class_board_teacher_and_students():
    teacher = app()
    teacher.session_state["dlviz_browser_id"] = "board-teacher-browser-0001"
    teacher.run()
    teacher.switch_page("app_pages/board.py").run()
    no_exceptions(teacher)
    teacher.button(key="board_open").click().run()
    no_exceptions(teacher)
    code = re.search(r">([A-Z2-9]{5})</div>", "\n".join(m.value for m in teacher.markdown)).group(1)
    assert "Nobody has joined yet" in texts(teacher)

    students = []
    for i, name in enumerate(["Ada", "Bo"]):
        s = app()
        s.session_state["dlviz_browser_id"] = f"board-student-browser-{i:04d}"
        s.run()
        s.switch_page("app_pages/board.py").run()
        s.text_input(key="board_code").input(code.lower())
        s.text_input(key="board_name").input(name)
        students.append(s)
    for s in students:
        _submit(s)
        no_exceptions(s)
        assert f"class **{code}**" in texts(s)
        assert not re.search(r">[A-Z2-9]{5}</div>", "\n".join(m.value for m in s.markdown))  # no board
    # a wrong code is one message
    stray = app()
    stray.session_state["dlviz_browser_id"] = "board-student-browser-9999"
    stray.run()
    stray.switch_page("app_pages/board.py").run()
    stray.text_input(key="board_code").input("ZZZZZ")
    stray.text_input(key="board_name").input("Cy")
    _submit(stray)
    assert any("no open class" in e.value for e in stray.error)

    # Ada trains: the board lists both students, Ada's run with its accuracy
    ada = students[0]
    ada.switch_page("app_pages/train.py").run()
    ada.button(key="t_start").click().run()
    from dlviz.ui.state import registry
    run = registry().runs_of("board-student-browser-0000")[-1]
    run.handle.join(60)
    assert wait_for(lambda: run.handle.status == "finished", 90, every=0.2)
    teacher.run()
    no_exceptions(teacher)
    shown = texts(teacher)
    assert "Ada" in shown and "Bo" in shown and "no run yet" in shown
    acc = run.handle.state().final["test_accuracy"]
    assert f"{100 * acc:.0f}%" in shown
    assert len(teacher.get("image")) == 1, "Ada's thumbnail (Bo has no run)"
    # project Ada's run: read-only, no run controls on the page
    teacher.segmented_control(key="board_mode").set_value("Project one run").run()
    no_exceptions(teacher)
    assert "Read-only" in texts(teacher)
    assert not any(b.key in ("t_start", "t_pause", "t_stop", "t_reset") for b in teacher.button)
    # Bo trains too: the teacher compares the two students' runs side by side
    teacher.segmented_control(key="board_mode").set_value("Compare two runs").run()
    assert "Two students need a run each" in texts(teacher)
    bo = students[1]
    bo.switch_page("app_pages/train.py").run()
    bo.button(key="t_start").click().run()
    run_bo = registry().runs_of("board-student-browser-0001")[-1]
    assert wait_for(lambda: run_bo.handle.status == "finished", 90, every=0.2)
    teacher.run()
    no_exceptions(teacher)
    sides = [m.value for m in teacher.markdown if m.value.startswith(("**left:**", "**right:**"))]
    assert len(sides) == 2, texts(teacher)


def _submit(at: AppTest) -> None:
    at.button(key="FormSubmitter:board_join-Join").click().run()



def test_a_steps_view_button_opens_its_page_and_view():
    at = open_lesson("depth")
    at.button(key="lesson_go_depth_0").click().run()
    no_exceptions(at)
    assert at.title[0].value == "Train"
    assert at.session_state["train_view"] == "Layer health"


def test_picking_another_lesson_and_a_later_link_both_move_the_picker():
    at = open_lesson("xor")
    at.selectbox(key="lesson_pick").set_value("depth").run()
    no_exceptions(at)
    assert lessons()["depth"].steps[0].text in texts(at)
    at.query_params["lesson"] = "bias"                   # a link to another lesson, same session
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="lesson_pick").value == "bias"
    assert lessons()["bias"].steps[0].text in texts(at)
