"""AppTest: the Explain page's "Which training examples?" section shows the proponents
and opponents of the explained input, as images for digits and as points on the plane
for a 2-D set, each with its label and influence score."""

import json

from tests.test_pages import no_exceptions
from tests.test_pages_inside import captions, trained_app

from dlviz.explain.influence import MAX_CHECKPOINTS

SECTION = "Which training examples?"


def _open_section(preset: str):
    at = trained_app(preset)
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    at.segmented_control(key="explain_section").set_value(SECTION).run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    return at


def _tracin_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("TracIn"))


def test_digits_run_shows_proponent_and_opponent_images():
    at = _open_section("lenet")
    assert any(m.value == "*Proponents (pushed towards)*" for m in at.markdown)
    assert any(m.value == "*Opponents (pushed against)*" for m in at.markdown)
    tiles = [c for c in captions(at) if " · " in c]
    assert len(tiles) == 16, tiles                          # 8 proponents + 8 opponents
    scores = [float(c.split(" · ")[1]) for c in tiles]
    assert scores[:8] == sorted(scores[:8], reverse=True)   # highest influence first
    assert scores[8:] == sorted(scores[8:])                 # most negative first
    assert min(scores[:8]) >= max(scores[8:])
    labels = {c.split(" · ")[0] for c in tiles}
    assert labels <= {str(i) for i in range(10)}, labels
    caption = _tracin_caption(at)
    used = caption.split("summed over ")[1].split(" snapshots")[0]
    assert 1 <= int(used) <= MAX_CHECKPOINTS
    assert " s." in caption


def test_2d_run_shows_points_on_the_plane_and_a_table():
    at = _open_section("playground")
    names = [t.get("name") for ch in at.get("plotly_chart")
             for t in json.loads(ch.proto.spec).get("data", [])]
    assert {"training", "proponents", "opponents"} <= set(names), names
    table = at.dataframe[0].value
    assert set(table["side"]) == {"proponent", "opponent"}
    pro = table[table["side"] == "proponent"]["influence"]
    assert list(pro) == sorted(pro, reverse=True)
    assert _tracin_caption(at)


def test_self_influence_view_lists_the_hardest_examples_of_a_class():
    at = _open_section("lenet")
    at.segmented_control(key="explain_influence_view").set_value("Most self-influential, per class").run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    chosen = at.selectbox(key="explain_self_influence_class")
    tiles = [c for c in captions(at) if " · " in c]
    assert len(tiles) == 8, tiles
    labels = {c.split(" · ")[0] for c in tiles}
    assert labels == {chosen.value if isinstance(chosen.value, str) else str(chosen.value)}, labels
    scores = [float(c.split(" · ")[1]) for c in tiles]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    assert any(c.value.startswith("Self-influence:") for c in at.caption)
    # another class: its own examples
    other = next(o for o in chosen.options if o != chosen.value)
    chosen.set_value(int(other) if str(other).isdigit() else other).run()
    tiles = [c for c in captions(at) if " · " in c]
    assert {c.split(" · ")[0] for c in tiles} == {str(other)}, tiles


def test_fewer_examples_and_snapshots_from_the_settings():
    at = _open_section("lenet")
    at.number_input(key="explain_influence_k").set_value(3).run()
    at.number_input(key="explain_influence_checkpoints").set_value(2).run()
    no_exceptions(at)
    tiles = [c for c in captions(at) if " · " in c]
    assert len(tiles) == 6, tiles                           # 3 proponents + 3 opponents
    assert "summed over 2 snapshots" in _tracin_caption(at)
