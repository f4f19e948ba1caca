"""Contract: every registered attribution method x three kinds of model, one test each.

Parametrized from the registry (``dlviz.explain.registry.METHODS``), so a new method
is checked by adding its entry and its function, nothing here: a method that applies
to a model gives a finite, non-zero map of the input's shape, the same one twice;
one that does not apply (a conv-only method on an MLP) is refused with a UserError
naming it; a setting out of its range is refused the same way. One failing pair
does not hide the others.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from dlviz.build import BuiltNet, build
from dlviz.errors import UserError
from dlviz.explain import BEYOND_PIXELS, METHODS, Method, attribute, available_methods
from dlviz.explain.job import Job, Raw
from dlviz.probe import hook_count
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec
from explain_models import seeded_input

# small on purpose: the whole file runs in seconds on two CPU cores
SPECS = {
    "mlp-2d": NetSpec((2,), 3, [L("dense", units=8, activation="tanh"), L("dense", units=8, activation="relu")]),
    "mlp-image": NetSpec((1, 12, 12), 4, [L("flatten"), L("dense", units=16, activation="relu")]),
    "cnn-image": NetSpec((3, 16, 16), 4, [
        L("conv2d", channels=4, kernel=3, padding=1, activation="relu"), L("maxpool", kernel=2),
        L("conv2d", channels=6, kernel=3, padding=1, activation="relu"),
        L("flatten"), L("dense", units=8, activation="relu")]),
}
TARGET = 1


@functools.lru_cache(maxsize=None)
def _net(model: str) -> BuiltNet:
    net = build(SPECS[model], seed=0)
    net.model.eval()
    return net


def _input(model: str) -> torch.Tensor:
    return seeded_input(SPECS[model].input_shape, seed=3)


def _applies(model: str, method: str) -> bool:
    return method in available_methods(_net(model))


# every (model, method) pair is in exactly one of the two lists (the registry decides which)
APPLIES = [(m, k) for m in SPECS for k in METHODS if _applies(m, k)]
REFUSED = [(m, k) for m in SPECS for k in METHODS if not _applies(m, k)]
NUMERIC = [k for k, m in METHODS.items() if any(p.kind != "choice" and p.max is not None for p in m.params)]


def _ids(pairs):
    return [f"{m}-{k}" for m, k in pairs]


def _layer_units(net: BuiltNet, layer: str) -> int:
    """How many values a layer method gives for a dense layer (its output size)."""
    for group, rep in zip(net.layer_modules, net.report.layers):
        if layer in group:
            return int(np.prod(rep.output_shape))
    raise AssertionError(f"no layer {layer}")


@pytest.mark.parametrize("model, method", APPLIES, ids=_ids(APPLIES))
def test_a_method_that_applies_gives_a_finite_nonzero_map_of_the_inputs_shape(model, method):
    net, x = _net(model), _input(model)
    shape = tuple(SPECS[model].input_shape)
    a = attribute(net, x, TARGET, method)
    assert a.method == method and a.target == TARGET
    if a.in_input_space:
        assert a.values.shape == shape
        assert a.map2d.shape == (shape[1:] if len(shape) == 3 else shape)
    else:                       # a dense layer's units (layer conductance): one value per unit
        assert METHODS[method].needs_layer and a.layer is not None
        assert a.values.shape == a.map2d.shape == (_layer_units(net, a.layer),)
    assert a.values.dtype == np.float32 and a.map2d.dtype == np.float32
    assert np.isfinite(a.values).all() and np.isfinite(a.map2d).all()
    assert np.abs(a.values).max() > 0 and np.abs(a.map2d).max() > 0
    assert hook_count(net.model) == 0


@pytest.mark.parametrize("model, method", APPLIES, ids=_ids(APPLIES))
def test_the_same_question_gives_the_same_map(model, method):
    # methods that draw noise (SmoothGrad, GradientSHAP) run under a fixed seed: deterministic too
    net, x = _net(model), _input(model)
    first, again = attribute(net, x, TARGET, method), attribute(net, x, TARGET, method)
    np.testing.assert_array_equal(first.values, again.values)
    np.testing.assert_array_equal(first.map2d, again.map2d)


@pytest.mark.parametrize("model, method", REFUSED, ids=_ids(REFUSED))
def test_a_method_that_does_not_apply_is_refused_by_name(model, method):
    net = _net(model)
    with pytest.raises(UserError) as e:
        attribute(net, _input(model), TARGET, method)
    message = str(e.value)
    assert METHODS[method].label in message and "\n" not in message
    assert hook_count(net.model) == 0


@pytest.mark.parametrize("method", NUMERIC)
def test_a_setting_out_of_range_is_refused_by_name(method):
    numeric = [p for p in METHODS[method].params if p.kind != "choice" and p.max is not None]
    model = "cnn-image"
    for p in numeric:
        with pytest.raises(UserError) as e:
            attribute(_net(model), _input(model), TARGET, method, {p.name: p.max * 2 + 1})
        assert METHODS[method].label in str(e.value), (p.name, str(e.value))


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_applies_to_one_of_the_models(method):
    # else the map tests above would not include it and check nothing of it
    assert any(m == method for _, m in APPLIES)
    if METHODS[method].conv_only:
        assert not _applies("mlp-2d", method) and not _applies("mlp-image", method)


@pytest.mark.parametrize("method", list(METHODS))
def test_a_registry_entry_is_complete(method):
    m = METHODS[method]
    assert m.key == method and m.label and callable(m.run)
    assert m.explanation.endswith(".")
    names = [p.name for p in m.params]
    assert len(names) == len(set(names))
    if m.conv_only:
        assert m.needs_layer            # a conv-only method looks at a conv layer the user picks


def test_a_new_method_is_one_registry_entry_and_its_function(monkeypatch):
    # what a new method needs: a function Job -> Raw and an entry; attribute and the
    # method lists pick it up (the tests above, parametrized from METHODS, then check it)
    def input_itself(job: Job) -> Raw:          # (1, *input_shape): the input as its own map
        return Raw(job.x.detach().clone())
    monkeypatch.setitem(METHODS, "input_itself", Method("input_itself", "The input", "The input itself.",
                                                        input_itself))
    net, x = _net("mlp-2d"), _input("mlp-2d")
    assert "input_itself" in available_methods(net)
    a = attribute(net, x, TARGET, "input_itself")
    np.testing.assert_allclose(a.values, x.numpy())


def test_two_moments_of_one_run_are_explained_with_their_own_weights(monkeypatch):
    # the page's model comes from run_views.viewer: one model per (run, moment), so a
    # second view of the same run at another moment cannot overwrite the first one's weights
    from types import SimpleNamespace

    from dlviz.train.history import Snapshot
    from dlviz.ui import run_views
    state: dict = {}
    monkeypatch.setattr(run_views, "st", SimpleNamespace(session_state=state))
    spec = SPECS["mlp-2d"]
    entry = SimpleNamespace(run_id="r1", spec=spec)
    w_early, w_late = build(spec, seed=0).model.state_dict(), build(spec, seed=1).model.state_dict()
    early = run_views.viewer(entry, Snapshot(0, 0.0, w_early))
    late = run_views.viewer(entry, Snapshot(10, 1.0, w_late))
    assert early is not late
    assert all(torch.equal(v, w_early[k]) for k, v in early.model.state_dict().items())
    assert all(torch.equal(v, w_late[k]) for k, v in late.model.state_dict().items())
    assert run_views.viewer(entry, Snapshot(0, 0.0, w_early)) is early      # seen again: kept
    for step in range(run_views.VIEWERS_MAX + 2):                           # bounded per session
        run_views.viewer(entry, Snapshot(100 + step, 2.0, w_early))
    assert len(state[run_views.VIEWERS_KEY]) == run_views.VIEWERS_MAX


# -- explanations beyond pixels: the same Method type, their own family -----------------

@pytest.mark.parametrize("method", list(BEYOND_PIXELS))
def test_a_beyond_pixels_entry_is_complete_and_bounds_its_settings(method):
    from dlviz.explain.params import resolve
    m = BEYOND_PIXELS[method]
    assert m.key == method and m.label and callable(m.run) and m.explanation.endswith(".")
    assert m.family in ("training examples", "concepts")
    assert method not in METHODS                     # never listed among the pixel maps
    defaults = resolve(m.key, m.label, m.params, {})
    assert set(defaults) == {p.name for p in m.params}
    for p in m.params:
        assert p.kind == "int" and p.min <= p.default <= p.max
        with pytest.raises(UserError, match=p.label):
            resolve(m.key, m.label, m.params, {p.name: p.max + 1})
        with pytest.raises(UserError, match=p.label):
            resolve(m.key, m.label, m.params, {p.name: p.min - 1})


def test_beyond_pixels_runs_are_the_library_functions():
    from dlviz.explain.concepts import tcav
    from dlviz.explain.influence import influence
    assert BEYOND_PIXELS["tracin"].run is influence and BEYOND_PIXELS["tcav"].run is tcav
