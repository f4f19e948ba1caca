"""Every number on screen right, every change visible: the library's side (issue 11).

Each test names the mechanism it guards: a value carried between datasets, a
stale median, a fixed-height figure whose legend eats the plot, a linear axis
squashed by a diverged run, a delta with nothing to compare it to, wording for
pixels on a model that has two features.
"""

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from dlviz.data import DatasetParams
from dlviz.explain import METHODS, Attribution, attribute, delta_check, explanation, param_view
from dlviz.plots import loss_figure
from dlviz.plots.compare import compare_figure
from dlviz.plots.confusion import confusion_figure
from dlviz.plots.health import health_figure, units_figure
from dlviz.plots.style import fmt_number
from dlviz.plots.trust import PLOT_HEIGHT, deletion_figure
from dlviz.train.advice import diagnose
from dlviz.train.state import TrainerState
from dlviz.views.predictions import predict_test_set
from dlviz.workspace import params_for_dataset, samples_shown

ROOT = Path(__file__).resolve().parents[1]


# -- a value carried between datasets -----------------------------------------------------------

def test_the_sample_count_follows_the_dataset():
    spiral = DatasetParams(n_samples=500, noise=0.1, test_fraction=0.3, seed=4, features=("x1", "x2", "x1x2"))
    digits = params_for_dataset("spiral", "digits", spiral)
    assert digits.n_samples is None and samples_shown("digits", digits) == 12_000    # not 500
    assert digits.noise is None and digits.features == ("x1", "x2")
    assert (digits.test_fraction, digits.seed) == (0.3, 4)                            # these carry
    circle = params_for_dataset("spiral", "circle", spiral)
    assert circle.n_samples == 500 and circle.features == spiral.features             # 2-D to 2-D
    assert circle.noise is None              # label noise on circle, jitter on spiral: its own default
    shapes = params_for_dataset("digits", "shapes", DatasetParams(n_samples=12_000))
    assert samples_shown("shapes", shapes) == 6_000
    folder = params_for_dataset("spiral", "folder:/tmp/x", spiral)
    assert folder.n_samples is None and samples_shown("folder:/tmp/x", folder) is None  # all its images
    assert params_for_dataset("digits", "digits", digits) is digits


# -- a stale median ------------------------------------------------------------------------------

def _state(health):
    return TrainerState(status="running", step=health[-1]["step"], total_steps=8000, epoch=1.0, epochs=2,
                        device="cpu", samples_per_s=1.0, elapsed_s=1.0, loop_s=1.0, eta_s=None,
                        message="", health=list(health))


def test_saturated_units_now_are_warned_about_when_records_are_sparse():
    # five records over 3,300 steps: the median of all five (45%) was below the 50% mark
    # while 60% of the tanh units were saturated at the last one
    sat = [0.0, 0.2, 0.45, 0.55, 0.6]
    rows = [{"step": s, "layers": {"dense1_tanh": {"saturated": v}}}
            for s, v in zip([0, 800, 1600, 2400, 3300], sat)]
    titles = [a.title for a in diagnose(_state(rows))]
    assert "Saturated units in dense1_tanh" in titles
    text = next(a.text for a in diagnose(_state(rows)) if a.title.startswith("Saturated"))
    assert text.startswith("60%")
    # dense records: the last five are all recent, one bad record is not a trend
    dense = [{"step": 3000 + 10 * i, "layers": {"dense1_tanh": {"saturated": v}}}
             for i, v in enumerate([0.1, 0.1, 0.1, 0.1, 0.6])]
    assert not [a for a in diagnose(_state(dense)) if a.title.startswith("Saturated")]


# -- charts that hide what matters ---------------------------------------------------------------

def _curve(label, auc=0.3):
    class C:
        fractions = np.linspace(0, 1, 21)
        probs = np.linspace(1, 0, 21)
    c = C()
    c.auc = auc
    return (label, c)


def test_the_deletion_chart_keeps_its_plot_whatever_the_legend_needs():
    one = deletion_figure([_curve("Saliency")], "3")
    eleven = deletion_figure([_curve(m.label) for m in METHODS.values()], "3")
    for fig in (one, eleven):
        plot = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
        assert plot >= PLOT_HEIGHT - 1, plot           # was ~60 px with 11 methods in 280 px
    assert eleven.layout.height > one.layout.height


def test_health_figures_grow_with_their_legend():
    rows = [{"step": s, "layers": {f"conv{i}": {"weight_norm": 1.0, "grad_norm": 0.1, "update_ratio": 1e-3}
                                   for i in range(12)} | {f"conv{i}_relu": {"dead": 0.1} for i in range(12)}}
            for s in (0, 10, 20)]
    for fig in (health_figure(rows, "grad_norm"), units_figure(rows)):
        assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b >= 180


def test_a_blown_up_loss_gets_a_log_axis_that_says_so():
    history = [{"step": s, "epoch": s / 100, "train_loss": v}
               for s, v in enumerate([0.7, 0.6, 0.5, 0.4, 0.3, 0.3, 5.0, 1e4, 8e11])]
    fig = loss_figure(history, [], "classification")
    assert fig.layout.yaxis.type == "log"
    assert any("8.0e+11" in a.text for a in fig.layout.annotations)
    assert loss_figure(history, [], "classification", log_y=False).layout.yaxis.type != "log"
    calm = [{"step": s, "train_loss": v} for s, v in enumerate([2.3, 1.0, 0.1, 0.01, 0.001])]
    assert loss_figure(calm, [], "classification").layout.yaxis.type != "log"


def test_compare_marks_the_diverged_run_and_does_not_squash_the_other():
    calm = [{"step": s, "train_loss": 0.7 / (1 + s)} for s in range(50)]
    wild = [{"step": s, "train_loss": 0.7 * 10 ** (s / 4)} for s in range(50)]
    fig = compare_figure([("left: lr 0.01", calm, False), ("right: lr 10", wild, True)], "train_loss", "train loss")
    assert fig.layout.yaxis.type == "log"
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["left: lr 0.01", "right: lr 10 · diverged"]
    assert any(t.marker.symbol == "x" and list(t.text) == ["diverged"] for t in fig.data)
    # old-style (label, rows) pairs still work
    assert len(compare_figure([("a", calm), ("b", calm)], "train_loss", "loss").data) == 2


# -- numbers that disagree ------------------------------------------------------------------------

def test_one_number_format_everywhere():
    assert [fmt_number(v) for v in (0, 0.42, 0.0057, 0.00057, 12.3, 1234.5, 8e11, -5.73e-4)] == \
        ["0", "0.42", "0.0057", "5.7e-4", "12", "1,234", "8.0e+11", "-5.7e-4"]
    assert "e-0" not in fmt_number(5.7e-4)            # never "0.57e-03" / "5.7e-04"


def test_a_colour_range_reads_as_a_range_not_0_0_2():
    from dlviz.plots.attribution import range_text
    assert range_text(False, 0.2) == "0 to 0.2"          # was "0..0.2", read as "0.0.2"
    assert range_text(True, 0.42) == "±0.42"
    assert range_text(True, 5.7e-4) == "±5.7e-4"


class _Tiny(torch.nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :3] * 0.0 + torch.tensor([0.1, 0.2, 0.7])


def test_test_set_predictions_say_what_they_count():
    x = torch.zeros(2400, 4)
    y = torch.tensor([2] * 2300 + [0] * 100)
    every = predict_test_set(_Tiny(), x, y)
    assert (every.n, every.of, every.right) == (2400, 2400, 2300)
    assert every.summary() == "2,300/2,400 test images right (95.8%)"
    first = predict_test_set(_Tiny(), x, y, limit=1000)
    assert first.summary() == "1,000/1,000 right (100.0%): the first 1,000 of 2,400 test images"
    fig = confusion_figure(first.confusion(3), ["a", "b", "c"], of=2400)
    assert fig.layout.xaxis.title.text == "predicted (the first 1,000 of 2,400 test samples)"
    assert confusion_figure(every.confusion(3), ["a", "b", "c"]).layout.xaxis.title.text == \
        "predicted (2,400 test samples)"


def _attr(delta, scale):
    m = np.full((4, 4), scale / 16, dtype=np.float32)
    m[0, 0] = scale
    return Attribution("gradient_shap", 0, m[None], m, delta, 0.287)


def test_a_convergence_delta_is_judged_against_the_map_it_qualifies():
    big = delta_check(_attr(2.0, 0.42))
    assert big.large and "large next to the attributions" in big.text and "random samples" in big.text
    assert big.text.startswith("Convergence delta: 2, ")            # not "delta 2. 287 ms."
    small = delta_check(_attr(0.001, 0.42))
    assert not small.large and "they add up" in small.text
    assert delta_check(Attribution("saliency", 0, np.zeros(2), np.zeros(2), None, 0.1)) is None


# -- wording ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", list(METHODS))
def test_a_vector_model_gets_no_pixels(key):
    if METHODS[key].conv_only:
        return                   # Grad-CAM needs a conv layer: never offered for a vector input
    text = explanation(key, image=False)
    assert not any(w in text.lower() for w in ("pixel", "patch", "image", "greyed")), text
    for p in METHODS[key].params:
        shown = param_view(key, p, image=False)
        assert "pixel" not in (shown.label + shown.help).lower(), shown
        assert "colour" not in shown.help.lower() and "blur" not in shown.choices
    assert explanation(key, image=True) == METHODS[key].explanation


def test_occlusion_on_two_features_looks_at_one_feature_at_a_time():
    """The image window of 4 was clipped to 2 silently: both features occluded together
    got the same attribution. A vector input's default window is one feature."""
    from dlviz.build import build
    from dlviz.spec import LayerSpec, NetSpec
    net = build(NetSpec((2,), 2, [LayerSpec("dense", units=4, activation="tanh")]), "cpu", seed=0)
    a = attribute(net, torch.tensor([1.0, -2.0]), 0, "occlusion")
    assert a.params["window"] == 1
    assert a.values[0] != a.values[1]


def test_the_raw_attributions_button_names_the_file_it_gives():
    from dlviz.ui.explain_attributions import npy_label as _npy_label, npy_name as _npy_name
    one, two = {"saliency": None}, {"saliency": None, "occlusion": None}
    assert _npy_label(one).endswith("(.npy)") and _npy_name(one).endswith(".npy")
    assert ".zip" in _npy_label(two) and _npy_name(two).endswith(".zip")


# -- files -------------------------------------------------------------------------------------------

def test_no_deploy_button_and_a_page_icon_that_needs_no_network():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer"             # no Deploy button
    assert config["server"]["fileWatcherType"] == "none"
    source = (ROOT / "app.py").read_text()
    # a ":material/...:" page_icon makes the browser fetch an SVG from fonts.gstatic.com
    assert 'page_icon=":material' not in source and "page_icon=ICON" in source
    assert (ROOT / "assets" / "icon.png").is_file()


def test_a_loss_that_falls_a_thousandfold_is_not_called_blown_up():
    """A solved problem: the loss drops from 0.77 to 1e-4 early in the run. Its axis
    stays linear and no 'log scale' note appears (it read 'the loss reached 0.77')."""
    from dlviz.plots.curves import blown_up, loss_figure
    falling = [0.77, 0.6, 0.3] + [1e-3] * 20 + [1e-4] * 200
    assert not blown_up(falling)
    assert blown_up([0.69, 0.7, 0.68, 5.0, 300.0, 8e11])
    hist = [{"step": i, "epoch": i / 10, "train_loss": v} for i, v in enumerate(falling)]
    fig = loss_figure(hist, [], "classification")
    assert fig.layout.yaxis.type != "log" and not fig.layout.annotations
