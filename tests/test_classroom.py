"""Class codes, membership and the board snapshot (dlviz/classroom.py)."""

from __future__ import annotations

import pytest

from conftest import wait_for
from dlviz.classroom import (CODE_ALPHABET, CODE_LENGTH, MAX_NAME_CHARS, ClassError, Classes,
                             clean_name, network_summary, normalise_code)
from dlviz.data import DatasetParams, load_dataset
from dlviz.presets import preset_spec
from dlviz.train.config import TrainConfig
from dlviz.train.runs import RunRegistry


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_codes_are_short_unambiguous_and_unique():
    classes = Classes(max_classes=50)
    codes = {classes.open(f"teacher{i}").code for i in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set("0O1IL") & set(CODE_ALPHABET)


def test_a_teacher_gets_their_open_class_back_and_the_count_is_bounded():
    classes = Classes(max_classes=2)
    a = classes.open("t1")
    assert classes.open("t1") is a
    classes.open("t2")
    with pytest.raises(ClassError, match="2 open classes"):
        classes.open("t3")
    classes.close(a.code, "someone else")           # only the teacher closes it
    assert classes.get(a.code) is a
    classes.close(a.code, "t1")
    assert classes.get(a.code) is None
    assert classes.open("t3").teacher == "t3"           # the closed class's place is free again


def test_classes_expire_and_their_members_are_released():
    clock = Clock()
    classes = Classes(ttl_s=60, clock=clock)
    room = classes.open("teacher")
    classes.join(room.code, "s1", "Ada")
    clock.t += 61
    assert classes.get(room.code) is None and classes.membership("s1") is None
    with pytest.raises(ClassError, match="no open class"):
        classes.join(room.code, "s2", "Bo")


@pytest.mark.parametrize("typed", ["k7qxm", " K7Q-XM ", "K7 QXM"])
def test_typed_codes_are_normalised(typed):
    assert normalise_code(typed) == "K7QXM"


@pytest.mark.parametrize("bad", ["", "K7QX", "K7QXMM", "K0QXM", "KIQXM", "ÄBCDE", 12345, None, "K" * 10_000])
def test_bad_codes_get_one_clear_message(bad):
    with pytest.raises(ClassError, match="class code"):
        normalise_code(bad)


def test_names_are_trimmed_and_bounded():
    assert clean_name("  Ada   Lovelace ") == "Ada Lovelace"
    assert clean_name("seat 12") == "seat 12"
    for bad, why in [("", "type your name"), ("   ", "type your name"), ("x" * (MAX_NAME_CHARS + 1), "at most"),
                     ("a\x00b", "control"), (None, "text")]:
        with pytest.raises(ClassError, match=why):
            clean_name(bad)


def test_join_membership_moves_and_duplicate_names():
    classes = Classes(max_members=3)
    one, two = classes.open("t1"), classes.open("t2")
    assert classes.join(one.code.lower(), "s1", "Sam").name == "Sam"
    assert classes.join(one.code, "s2", "Sam").name == "Sam (2)"
    room, member = classes.membership("s1")
    assert room is one and member.name == "Sam"
    classes.join(two.code, "s1", "Sam")               # joining another class leaves the first
    assert "s1" not in one.members and classes.membership("s1")[0] is two
    with pytest.raises(ClassError, match="opened the class"):
        classes.join(one.code, "t1", "Teacher")
    classes.join(one.code, "s3", "C")
    classes.join(one.code, "s4", "D")
    with pytest.raises(ClassError, match="full"):
        classes.join(one.code, "s5", "E")
    classes.leave("s4")
    assert classes.membership("s4") is None and len(one.members) == 2


def test_the_board_lists_each_members_newest_run_with_accuracy():
    spec = preset_spec("playground", (2,), 2)
    ring = load_dataset("circle", DatasetParams(n_samples=200))
    reg = RunRegistry(max_live=5)
    classes = Classes()
    room = classes.open("teacher")
    try:
        for i, name in enumerate(["Ada", "Bo", "Cy"]):
            classes.join(room.code, f"s{i}", name)
        outsider = reg.create(spec, ring, TrainConfig(epochs=5, batch_size=20), owner="not-in-class")
        outsider.handle.start()
        runs = []
        for i in range(2):                             # Cy has not pressed Start
            old = reg.create(spec, ring, TrainConfig(epochs=1, batch_size=20), owner=f"s{i}")
            e = reg.create(spec, ring, TrainConfig(epochs=5, batch_size=20, seed=i), owner=f"s{i}")
            old.handle.start()
            e.handle.start()
            runs.append(e)
        assert wait_for(lambda: all(e.handle.status == "finished" for e in runs), 60)
        rows = classes.board(room.code, reg)
        assert [r.name for r in rows] == ["Ada", "Bo", "Cy"]
        assert [r.run_id for r in rows[:2]] == [e.run_id for e in runs]       # the newest run each
        for r, e in zip(rows, runs):
            assert r.status == "finished" and r.runs == 2 and r.thumbnail == "boundary"
            assert r.accuracy == e.handle.state().final["test_accuracy"]
            assert r.network == "playground · 2 hidden (tanh)" and r.dataset == "circle"
        assert rows[2].run_id is None and rows[2].status == "no run yet" and rows[2].accuracy is None
        assert "not-in-class" not in {r.owner for r in rows}
        assert classes.board("NOPE1", reg) == []
    finally:
        reg.stop_all()


def test_network_summary_names_convs_and_activations():
    assert network_summary(preset_spec("lenet", (1, 28, 28), 10)) == "lenet · 2 conv + 2 dense (relu)"
