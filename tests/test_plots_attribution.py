"""Attribution renderers: colours mean what the legend says, sizes add up, plain arrays in."""

import numpy as np
import pytest

from dlviz.plots.attribution import (NEGATIVE, POSITIVE, colour_scale, explanation_sheet,
                                     feature_bars, heatmap, overlay, robust_vmax)

SHOWN = np.full((8, 10, 3), 128, dtype=np.uint8)          # mid-grey image, 8 high, 10 wide


def _map():
    m = np.zeros((8, 10), dtype=np.float32)
    m[1, 1], m[6, 8] = 1.0, -1.0
    return m


def test_signed_overlay_is_red_for_positive_blue_for_negative_and_leaves_zero_alone():
    img = np.asarray(overlay(SHOWN, _map(), signed=True, opacity=1.0, scale=3))
    assert img.shape == (24, 30, 3)
    r, g, b = (int(v) for v in img[1 * 3 + 1, 1 * 3 + 1])        # the positive pixel
    assert r > 90 and r > 2 * b and r > 2 * g
    r, g, b = (int(v) for v in img[6 * 3, 8 * 3])                # the negative pixel
    assert b > 70 and b > 2 * r
    zero = img[0, 12]                                            # untouched: the lightened grey
    assert (zero == zero[0]).all() and abs(int(zero[0]) - round(0.35 * 255 + 0.65 * 128)) <= 1
    # opacity 0 is the (grey) image alone
    plain = np.asarray(overlay(SHOWN, _map(), opacity=0.0, scale=1))
    assert (plain == plain[0, 0]).all()


def test_absolute_overlay_treats_both_signs_alike():
    img = np.asarray(overlay(SHOWN, _map(), signed=False, opacity=1.0, scale=1))
    assert (img[1, 1] == img[6, 8]).all() and img[1, 1, 0] > img[1, 1, 2]


def test_vmax_ignores_a_single_extreme_pixel():
    m = np.random.default_rng(0).standard_normal((40, 40))
    m[0, 0] = 1000.0
    assert robust_vmax(m) < 10
    assert robust_vmax(np.zeros((3, 3))) == 1.0          # never zero: nothing to divide by


def test_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match="differ in size"):
        overlay(SHOWN, np.zeros((4, 4)))


def test_colour_scale_and_heatmap():
    signed = np.asarray(colour_scale(True, 0.5, width=200, height=40))
    assert signed.shape == (40, 200, 3)
    left, right = signed[5, 10].astype(int), signed[5, 189].astype(int)
    assert left[2] > left[0] and right[0] > right[2]       # blue at -vmax, red at +vmax
    seq = np.asarray(colour_scale(False, 2.0))
    assert seq[5, 10, 0] > 200 and seq[5, 10, 2] > 150     # pale yellow at 0
    h = np.asarray(heatmap(np.array([[0.0, 1.0]]), signed=False, scale=4))
    assert h.shape == (4, 8, 3) and (h[0, 0] == 255).all()   # white at 0 without an image


def test_explanation_sheet_lays_out_every_map():
    maps = [_map(), -_map(), np.arange(5.0)]                # two overlays and one bar chart (1-D)
    one = explanation_sheet(SHOWN, maps[:1], ["A"], title="t")
    three = explanation_sheet(SHOWN, maps, ["A", "B", "C"], signed=[True, False, True], title="t")
    assert three.width > one.width and three.height == one.height
    wrapped = explanation_sheet(SHOWN, maps, ["A", "B", "C"], cols=2)
    assert wrapped.height > three.height and wrapped.width < three.width
    assert explanation_sheet(None, [np.arange(3.0)], ["units"]).size[0] > 0
    with pytest.raises(ValueError, match="2 maps but 1 labels"):
        explanation_sheet(SHOWN, maps[:2], ["A"])


def test_feature_bars():
    fig = feature_bars(np.array([0.5, -0.25]), ["x1", "x2"], title="why")
    bar = fig.data[0]
    assert list(bar.y) == ["x1", "x2"] and list(bar.x) == [0.5, -0.25]
    assert list(bar.marker.color) == [POSITIVE, NEGATIVE]
    assert list(feature_bars(np.array([0.5, -0.25]), signed=False).data[0].x) == [0.5, 0.25]
    assert len(feature_bars(np.array([])).data) == 0
