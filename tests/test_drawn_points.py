"""Your own 2-D points: the code in the dataset key, its bounds, a link round trip, training."""

import re

import pytest
import torch

from dlviz.data import drawn_points, load_dataset
from dlviz.data.drawn_points import LIMIT, MAX_CLASSES, MAX_POINTS, decode, encode, snap, snapped
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError
from dlviz.presets import preset_spec
from dlviz.train.config import TrainConfig
from dlviz.train.trainer import Trainer
from dlviz.ui.draw_points import apply_canvas, object_point, point_object, to_canvas, to_plane
from dlviz.workspace import Workspace, default_workspace


def twenty_points():
    """Two clusters of ten, class 0 on the left and class 1 on the right (as clicked)."""
    pts = []
    for i in range(10):
        pts.append((-3.0 + 0.3 * (i % 3), -2.0 + 0.45 * i, 0))
        pts.append((3.0 - 0.3 * (i % 3), 2.0 - 0.45 * i, 1))
    return pts


def test_encode_decode_gives_the_points_back_on_the_grid():
    pts = [(1.0, 2.0, 0), (-3.5, 0.25, 1), (LIMIT, -LIMIT, 3), (0.0, 0.0, 2), (0.1234, -5.9, 1)]
    code = encode(pts)
    assert len(code) == 4 * len(pts)                        # 3 bytes, 4 characters a point
    back = decode(code)
    assert back == snapped(pts)
    assert back[0] == (1.0, 2.0, 0) and back[2] == (LIMIT, -LIMIT, 3) and back[3] == (0.0, 0.0, 2)
    for (x, y, c), (bx, by, bc) in zip(pts, back):          # the grid is finer than a click
        assert abs(x - bx) <= LIMIT / drawn_points.STEPS and abs(y - by) <= LIMIT / drawn_points.STEPS
        assert c == bc
    assert encode(back) == code


def test_points_round_trip_through_a_link():
    pts = twenty_points()
    ws = default_workspace()
    ws = Workspace(drawn_points.dataset_key(pts), ws.spec, ws.config,
                   DatasetParams(noise=0.2, test_fraction=0.25, features=("x1", "x2", "x1*x2")))
    back = Workspace.from_url(ws.to_url())
    assert back.dataset == ws.dataset and back.params == ws.params
    assert drawn_points.points_of(back.dataset) == snapped(pts)


def test_two_hundred_points_fit_in_a_link():
    pts = [(-LIMIT + 12 * (i % 20) / 19, -LIMIT + 12 * (i // 20) / 9, i % MAX_CLASSES) for i in range(MAX_POINTS)]
    ws = default_workspace()
    ws = Workspace(drawn_points.dataset_key(pts), ws.spec, ws.config)
    url = ws.to_url()
    # 800 characters of points in a link that stays short enough for any browser (< 2,000)
    assert len(ws.dataset) == len('drawn:') + 800 and len(url) < 2000
    assert drawn_points.points_of(Workspace.from_url(url).dataset) == snapped(pts)


@pytest.mark.parametrize("points, words", [
    ([(0.0, 0.0, 0)] * (MAX_POINTS + 1), "over the limit of 200"),
    ([(0.0, 0.0, 0), (7.5, 1.0, 1)], "point 2 is at 7.5, 1: outside the plane"),
    ([(0.0, float("nan"), 0)], "outside the plane"),
    ([(0.0, 0.0, 0), (1.0, 1.0, MAX_CLASSES)], "point 2 has class 4; the classes are 0 to 3"),
    ([(0.0, 0.0, -1)], "has class -1"),
    ([(0.0, 0.0, "1")], "has class '1'"),
    ([(0.0, 0.0)], "must be (x, y, class)"),
    ("not points", "must be a list"),
])
def test_bounds_are_enforced_with_clear_messages(points, words):
    with pytest.raises(UserError, match=re.escape(words)):
        encode(points)


@pytest.mark.parametrize("code, words", [
    ("A" * (4 * MAX_POINTS + 4), "over 200 points"),
    ("AAA", "not whole points"),
    ("AA=A", "not whole points"),
    ("AAA/", "not whole points"),
    ("AAAP", "class 15; the classes are 0 to 3"),          # last 4 bits: class 15
    ("____", "outside the plane"),                        # x and y steps 1,023 > 1,020
])
def test_a_damaged_code_is_refused_before_decoding(code, words):
    with pytest.raises(UserError, match=re.escape(words)):
        decode(code)


def test_a_damaged_code_in_a_link_is_one_clear_message():
    ws = default_workspace()
    bad = Workspace("drawn:AAAP", ws.spec, ws.config)
    back = Workspace.from_url(bad.to_url())                # the key is text of a known kind
    with pytest.raises(UserError, match="class 15"):
        load_dataset(back.dataset, back.params)


def test_too_few_points_is_a_clear_message():
    with pytest.raises(UserError, match="draw at least 4 points"):
        load_dataset(drawn_points.dataset_key([(0.0, 0.0, 0), (1.0, 1.0, 1)]))


def test_the_dataset_splits_featurizes_and_jitters_like_the_built_in_sets():
    pts = twenty_points()
    key = drawn_points.dataset_key(pts)
    ds = load_dataset(key, DatasetParams(test_fraction=0.25, features=("x1", "x2", "x1^2")))
    assert ds.key == key and ds.task == "classification" and ds.classes == ("class 0", "class 1")
    assert len(ds.x_train) == 15 and len(ds.x_test) == 5 and ds.input_shape == (3,)
    all_pts = torch.cat([ds.points_train, ds.points_test])
    want = torch.tensor([(x, y) for x, y, _ in snapped(pts)], dtype=torch.float32)     # float32, as held
    assert sorted(map(tuple, all_pts.tolist())) == sorted(map(tuple, want.tolist()))
    torch.testing.assert_close(ds.x_train[:, 2], ds.points_train[:, 0] ** 2)
    noisy = load_dataset(key, DatasetParams(test_fraction=0.25, noise=0.5))
    moved = (noisy.points_train - ds.points_train).abs()
    assert 0 < float(moved.max()) <= 0.5 * drawn_points.NOISE_SCALE + 1e-6
    assert torch.equal(noisy.y_train, ds.y_train)           # noise moves points, not labels
    again = load_dataset(key, DatasetParams(test_fraction=0.25, noise=0.5, seed=1))
    assert not torch.equal(again.points_train, noisy.points_train)


def test_a_model_trains_on_twenty_drawn_points():
    ds = load_dataset(drawn_points.dataset_key(twenty_points()), DatasetParams(test_fraction=0.2))
    spec = preset_spec("playground", ds.input_shape, ds.output_size, ds.task)
    t = Trainer(spec, ds, TrainConfig(lr=0.03, batch_size=4, epochs=40))
    t.start()
    assert t.join(60)
    s = t.state()
    assert s.status == "finished"
    assert s.history[-1]["train_loss"] < 0.5 * s.history[0]["train_loss"]
    assert s.final["test_accuracy"] == 1.0                   # two far-apart clusters


# -- the canvas: pixels <-> plane, a click's meaning ---------------------------

def test_canvas_pixels_and_the_plane_agree():
    assert to_canvas(-LIMIT, LIMIT) == (0.0, 0.0)
    assert to_plane(*to_canvas(1.5, -2.25)) == pytest.approx((1.5, -2.25))
    p = snap(1.5, -2.25, 1)
    assert object_point(point_object(p), 0) == p             # class read back from the colour
    # what the component sends for a click at canvas (30, 40): its own origins
    clicked = {"type": "Circle", "originX": "left", "originY": "center", "left": 24.5, "top": 40.0,
               "width": 10, "height": 10, "radius": 5, "strokeWidth": 1, "fill": "#0877bd"}
    assert object_point(clicked, 0) == snap(*to_plane(30.0, 40.0), 1)


def test_a_click_adds_a_point_and_a_click_on_a_point_removes_it():
    kept = [snap(1.0, 1.0, 0), snap(-2.0, 3.0, 1)]
    shown = [point_object(p) for p in kept]
    new = point_object(snap(4.0, -4.0, 0))
    points, remount = apply_canvas(kept, shown + [new], chosen=1, erase=False)
    assert points == kept + [snap(4.0, -4.0, 1)] and not remount
    on_first = point_object(snap(1.05, 0.95, 1))               # a couple of pixels off the first point
    points, remount = apply_canvas(kept, shown + [on_first], chosen=1, erase=False)
    assert points == kept[1:] and remount
    points, remount = apply_canvas(kept, shown + [new], chosen=0, erase=True)   # eraser: empty spot
    assert points == kept and remount
    points, remount = apply_canvas(kept, shown[:1], chosen=0, erase=False)      # the toolbar's undo
    assert points == kept[:1] and not remount
    assert apply_canvas(kept, shown, chosen=0, erase=False) == (kept, False)


# -- the Build page (AppTest: the canvas itself is drawn only in a browser, tests/browser/test_draw.py)

def test_the_build_page_offers_the_plane_and_opens_a_link_with_drawn_points():
    from dataclasses import replace

    from tests.test_pages import app, no_exceptions

    from dlviz.ui.draw_points import CHOICE

    at = app()
    at.run()
    at.switch_page("app_pages/build.py").run()
    at.selectbox(key="build_dataset").select(CHOICE).run()
    no_exceptions(at)
    assert any("0 so far, at least 4" in i.value for i in at.info)

    ws = default_workspace()
    ws = replace(ws, dataset=drawn_points.dataset_key(twenty_points()), params=DatasetParams(noise=0.1))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/build.py").run()
    no_exceptions(at)
    assert at.selectbox(key="build_dataset").value == CHOICE
    assert any("20 points you drew: 10 of class 0, 10 of class 1" in c.value for c in at.caption)
    assert any("16 train / 4 test" in c.value and "20 drawn points" in c.value for c in at.caption)
    assert at.slider(key="build_draw_noise").value == pytest.approx(0.1)
    assert not at.error
