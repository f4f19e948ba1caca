"""Lessons: each check passes on a real run that meets it and fails on one that does not.

Runs are trained in-process on the lessons' own set-ups (small: each takes
well under a second, the CNNs about 20 s), so a check is judged on what the
student's run would record, not on hand-made numbers.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import wait_for
from dlviz.data import DatasetParams, load_dataset
from dlviz.errors import UserError
from dlviz.lessons.checks import early_gradient_ratio
from dlviz.lessons.facts import RunFacts, Work, facts_of
from dlviz.lessons.lesson import KEY_PATTERN, VIEWS, Lesson, Step
from dlviz.lessons.registry import get_lesson, lessons
from dlviz.lessons.setups import dense
from dlviz.spec import NetSpec
from dlviz.train.runs import RunRegistry
from dlviz.train.trainer import Trainer
from dlviz.workspace import Workspace

REQUIRED = {"xor", "features", "depth", "learning-rate", "overfitting", "data-size", "filters",
            "saliency", "bias"}


def train(ws: Workspace, run_id: str = "r") -> RunFacts:
    """Train ``ws`` to the end in this process and return its facts (as a page would read them)."""
    ds = load_dataset(ws.dataset, ws.params)
    t = Trainer(ws.spec, ds, ws.config)
    t.start()
    assert t.join(600), "training did not end"
    return RunFacts(run_id, t.state(), ws.spec, ws.config, ds, len(ds.x_train) + len(ds.x_test),
                    lambda: t.snapshot().weights)


def setup(key: str, **changes) -> Workspace:
    ws = get_lesson(key).setup()
    config = changes.pop("config", None)
    ws = replace(ws, **changes)
    return replace(ws, config=ws.config.replace(**config)) if config else ws


def with_layers(ws: Workspace, layers, features=None) -> Workspace:
    params = replace(ws.params, features=features) if features else ws.params
    shape = (len(params.features),) if len(ws.spec.input_shape) == 1 else ws.spec.input_shape
    return replace(ws, params=params, spec=NetSpec(shape, ws.spec.outputs, layers, ws.spec.task, "t"))


def passes(key: str, step: int, *runs: RunFacts, viewed=None) -> bool:
    check = get_lesson(key).steps[step].check
    return check(Work(tuple(runs), viewed or {})).passed


# -- the registry ----------------------------------------------------------------------------

def test_registry_lists_the_required_lessons_in_order_with_valid_steps():
    found = lessons()
    assert REQUIRED <= set(found) and len(found) >= 8
    orders = [l.order for l in found.values()]
    assert orders == sorted(orders)
    for lesson in found.values():
        assert KEY_PATTERN.match(lesson.key)
        assert all(s.view in VIEWS and s.text and s.action for s in lesson.steps)
        assert any(s.check is not None for s in lesson.steps), lesson.key
        # one link sets it all up: the workspace survives the link's codec unchanged
        ws = lesson.setup()
        assert Workspace.from_url(ws.to_url()) == ws
        assert lesson.workspace_link().startswith(f"lessons?lesson={lesson.key}&net=")


def test_unknown_or_malformed_lesson_keys_are_one_user_error():
    for bad in ("nope", "", "../x", "X" * 100, 3, None):
        with pytest.raises(UserError, match="unknown lesson"):
            get_lesson(bad)


def test_a_lesson_with_a_bad_view_or_key_is_refused():
    ok = Step("t", "a", "train")
    with pytest.raises(ValueError, match="unknown view"):
        Lesson("fine", "T", "s", lambda: None, (Step("t", "a", "nowhere"),)).validate()
    with pytest.raises(ValueError, match="key"):
        Lesson("Bad Key", "T", "s", lambda: None, (ok,)).validate()


def test_no_run_yet_and_the_wrong_dataset_say_what_is_missing():
    check = get_lesson("xor").steps[1].check
    r = check(Work())
    assert not r.passed and "Start" in r.text
    circle = train(setup("learning-rate"))
    r = check(Work((circle,)))
    assert not r.passed and "circle" in r.text and "xor" in r.text


# -- one lesson at a time, on real runs ------------------------------------------------------------

def test_xor_a_straight_line_fails_and_a_hidden_layer_passes_95_percent():
    linear = train(setup("xor"))
    assert passes("xor", 0, linear) and not passes("xor", 1, linear)
    deep = train(with_layers(setup("xor"), dense(8, "tanh")))
    assert deep.test_accuracy >= 0.95
    assert passes("xor", 1, deep) and not passes("xor", 0, deep)
    r = get_lesson("xor").steps[1].check(Work((deep,)))
    assert "test accuracy" in r.text and "95%" in r.text


def test_features_engineered_then_raw_then_deeper():
    engineered = train(setup("features"))
    raw_small = train(with_layers(setup("features"), dense(8, "tanh"), features=("x1", "x2")))
    raw_deep = train(with_layers(setup("features", config={"lr": 0.01}), dense(16, "relu", 3),
                                 features=("x1", "x2")))
    assert passes("features", 0, engineered) and not passes("features", 0, raw_deep)
    assert passes("features", 1, raw_small) and not passes("features", 1, engineered)
    assert passes("features", 2, raw_deep) and not passes("features", 2, raw_small)


def test_depth_sigmoid_gradients_vanish_relu_ones_flow():
    sigmoid = train(setup("depth"))
    relu = train(with_layers(setup("depth"), dense(8, "relu", 8)))
    assert early_gradient_ratio(sigmoid) < 0.01 < 0.1 < early_gradient_ratio(relu)
    assert passes("depth", 0, sigmoid) and not passes("depth", 0, relu)
    assert passes("depth", 1, relu) and not passes("depth", 1, sigmoid)


def test_learning_rate_too_high_blows_up_and_a_modest_one_learns():
    modest = train(setup("learning-rate"))
    high = train(setup("learning-rate", config={"lr": 3.0}))
    assert high.state.status == "diverged" or high.last_loss > high.first_loss
    assert passes("learning-rate", 0, modest) and not passes("learning-rate", 0, high)
    assert passes("learning-rate", 1, high) and not passes("learning-rate", 1, modest)


def test_overfitting_then_l2_narrows_the_gap_and_an_unregularised_rerun_does_not():
    plain = train(setup("overfitting"), "plain")
    assert passes("overfitting", 0, plain)
    l2 = train(setup("overfitting", config={"weight_decay": 0.01}), "l2")
    assert not passes("overfitting", 1, plain)                          # nothing regularised yet
    assert passes("overfitting", 1, plain, l2)
    rerun = train(setup("overfitting", config={"seed": 1}), "rerun")
    assert not passes("overfitting", 1, plain, rerun)                   # not regularised
    faint = train(setup("overfitting", config={"weight_decay": 1e-6}), "faint")
    assert not passes("overfitting", 1, plain, faint)                   # regularised, gap unchanged


def test_data_size_needs_three_sizes_of_one_network_and_more_data_to_help():
    runs = [train(setup("data-size", params=replace(setup("data-size").params, n_samples=n)), f"n{n}")
            for n in (50, 200, 800)]
    assert runs[-1].test_accuracy > runs[0].test_accuracy + 0.05
    assert passes("data-size", 0, runs[0]) and not passes("data-size", 1, runs[0])
    assert passes("data-size", 1, *runs[:2]) and not passes("data-size", 2, *runs[:2])
    assert passes("data-size", 2, *runs)
    other_net = train(with_layers(setup("data-size"), dense(4, "tanh")), "other")
    assert not passes("data-size", 2, *runs, other_net)     # the newest network has one size only


def test_filters_lenet_reads_digits_and_the_timeline_checks_follow_the_position():
    lenet = train(setup("filters"), "lenet")
    assert passes("filters", 0, lenet)
    assert not passes("filters", 2, lenet) and passes("filters", 3, lenet)     # at the end
    assert passes("filters", 2, lenet, viewed={"lenet": 0})
    assert not passes("filters", 3, lenet, viewed={"lenet": 0})
    short = train(setup("filters", config={"epochs": 1, "lr": 1e-5}))
    assert not passes("filters", 0, short)


@pytest.fixture(scope="module")
def shapes_cnn() -> RunFacts:
    return train(setup("saliency"), "shapes")


def test_saliency_randomisation_check_flags_guided_backprop_on_the_students_cnn(shapes_cnn):
    assert shapes_cnn.test_accuracy >= 0.7
    check = get_lesson("saliency").steps[2].check
    r = check(Work((shapes_cnn,)))
    assert r.passed and "Guided Backprop" in r.text and check.costly
    untrained = train(setup("saliency", params=DatasetParams(n_samples=600),
                            config={"epochs": 1, "lr": 1e-5}))
    assert not check(Work((untrained,))).passed


def test_bias_the_model_learns_red_and_an_unbiased_model_does_not(shapes_cnn):
    biased = train(setup("bias"), "biased")
    assert passes("bias", 0, biased)
    r = get_lesson("bias").steps[1].check(Work((biased,)))
    assert r.passed and "red non-squares" in r.text
    # the unbiased model, asked the same question on the biased test split: not fooled
    ds = biased.dataset
    fair = replace(shapes_cnn, dataset=ds)
    assert not get_lesson("bias").steps[1].check(Work((fair,))).passed
    assert passes("bias", 3, shapes_cnn) and not passes("bias", 3, biased)


def test_facts_of_a_registry_run_read_what_the_trainer_recorded():
    ws = setup("xor")
    ds = load_dataset(ws.dataset, ws.params)
    reg = RunRegistry(max_live=1)
    try:
        e = reg.create(ws.spec, ds, ws.config, owner="student")
        e.handle.start()
        assert wait_for(lambda: e.handle.status == "finished", 60)
        f = facts_of(e)
        assert f.dataset_key == "xor" and f.hidden_layers == 0 and f.ended
        assert f.test_accuracy == e.handle.state().final["test_accuracy"]
        assert set(f.weights()) == set(e.handle.snapshot().weights)
    finally:
        reg.stop_all()


def test_cli_lists_one_key_and_title_per_line(capsys):
    from dlviz.cli import main
    assert main(["lessons"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{l.key}  {l.title}" for l in lessons().values()]


def test_shapes_biased_every_training_square_is_red_and_the_test_split_breaks_the_rule():
    import numpy as np
    from dlviz.data.shapes_biased import BIASED_CLASS, RED
    ds = load_dataset("shapes-biased", DatasetParams(n_samples=400, noise=0.0))
    k = ds.classes.index(BIASED_CLASS)
    mean, std = np.array(ds.norm_mean)[:, None], np.array(ds.norm_std)[:, None]

    def shape_colours(x, masks):             # the mean colour of each image's shape pixels (N, 3)
        flat = x.numpy().reshape(len(x), 3, -1) * std + mean
        m = masks.numpy().reshape(len(x), 1, -1)
        return (flat * m).sum(2) / m.sum(2)

    dist_tr = np.linalg.norm(shape_colours(ds.x_train, ds.masks_train) - RED, axis=1)
    sq_tr = ds.y_train.numpy() == k
    assert (dist_tr[sq_tr] < 0.16).all() and (dist_tr[~sq_tr] > 0.5).all()
    dist_te = np.linalg.norm(shape_colours(ds.x_test, ds.masks_test) - RED, axis=1)
    red = ds.extra["red_test"].numpy()
    sq_te = ds.y_test.numpy() == k
    assert (dist_te[red] < 0.16).all() and (dist_te[~red] > 0.5).all()
    assert not (red & sq_te).any() and 0.25 < red[~sq_te].mean() < 0.75
    again = load_dataset("shapes-biased", DatasetParams(n_samples=400, noise=0.0, seed=0))
    assert bool((again.x_train == ds.x_train).all())
