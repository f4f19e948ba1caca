"""Contract: every layer kind and every activation is known everywhere it must be.

Parametrized over the registries themselves (``LAYER_KINDS``, ``ACTIVATIONS``),
so a new entry is picked up here without a line of its own, and one failing
kind does not hide another:

* built parameters equal the analysis' count, layer by layer (kind x activation);
* every view knows the kind: inside-view category, diagram colour and legend,
  editor settings, a description;
* layer health watches every activation that can go unhealthy, by its own rule;
* the editor round-trips every setting with its type, and the spec check
  enforces every bound.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from dlviz.build import build, count_params, record_of
from dlviz.inside import layer_values, module_kind
from dlviz.nn.activations import ACTIVATIONS
from dlviz.nn.kind import ARG_TYPES
from dlviz.nn.layers import LAYER_KINDS, canonical_kind
from dlviz.plots.architecture import architecture_figure
from dlviz.probe import hook_count
from dlviz.spec import LayerSpec, NetSpec, SpecError, analyse, check_layer
from dlviz.train.health import HealthPlan, unit_stats

KINDS = list(LAYER_KINDS)
ACTS = list(ACTIVATIONS)
INPUTS = {"image": (3, 8, 8), "flat": (6,)}
# the inside views' categories (dlviz/ui/inside_views.py, dlviz/inside/values.py)
VIEWS = {"conv", "pool", "activation", "dense", "output", "flatten", "dropout", "batchnorm", "residual"}


def _layers(kind: str, act: str) -> list[LayerSpec]:
    """The kind with ``act`` (its own setting, or an activation layer after it), then a
    flatten so the head can read any output (a flatten of a vector is the vector)."""
    layer = LayerSpec(kind)
    layers = [layer]
    if LAYER_KINDS[kind].arg("activation") is not None:
        layer.args["activation"] = act
    else:
        layers.append(LayerSpec("activation", activation=act))
    return layers + [LayerSpec("flatten")]


def _specs(kind: str, act: str = "relu") -> dict[str, NetSpec]:
    """Input name -> a spec holding ``kind``, for every input it can take."""
    out = {}
    for name, shape in INPUTS.items():
        spec = NetSpec(shape, 3, _layers(kind, act))
        try:
            analyse(spec)
        except SpecError:
            continue
        out[name] = spec
    return out


def test_every_kind_fits_an_input():
    assert {k: list(_specs(k)) for k in KINDS if not _specs(k)} == {}


# -- builder == analysis ------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("kind", KINDS)
def test_built_parameters_equal_the_analysis(kind, act):
    specs = _specs(kind, act)
    assert specs, f"{kind} takes neither a {INPUTS['image']} nor a {INPUTS['flat']} input"
    for where, spec in specs.items():
        net = build(spec, seed=0)
        assert count_params(net.model) == net.report.total_params, where
        x = torch.randn(2, *spec.input_shape, generator=torch.Generator().manual_seed(0))
        out = x
        for group, rep in zip(net.layer_modules, net.report.layers):
            mods = [net.model.get_submodule(n) for n in group]
            assert sum(p.numel() for m in mods for p in m.parameters()) == rep.params, (where, rep.name)
            for m in mods:
                out = m(out)
            assert tuple(out.shape[1:]) == rep.output_shape, (where, rep.name)
        # the meta build (the memory guard's estimate) agrees and allocates nothing
        meta = build(spec, "meta")
        assert count_params(meta.model) == net.report.total_params
        assert all(p.is_meta for p in meta.model.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_records_name_every_module_with_its_kind_and_shape(kind):
    for where, spec in _specs(kind).items():
        net = build(spec, "meta")
        assert [r.name for r in net.records] == net.module_names
        for r, (name, module) in zip(net.records, net.model.named_children()):
            assert record_of(module) is r and r.shape == net.report.layers[r.layer].output_shape
        first = net.records[0]
        assert first.kind == kind and first.layer == 0 and first.role in ("layer", "activation")
        assert net.records[-1].role == "output" and net.records[-1].shape == (3,)


# -- every view knows the kind ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_view_knows_the_kind(kind):
    k = LAYER_KINDS[kind]
    assert k.key == kind and k.label and k.short and re.fullmatch(r"[a-z_]+", k.short)
    # one plain sentence for hover help
    assert k.description.endswith(".") and ". " not in k.description[:-1], kind
    assert k.view in VIEWS - {"output"}
    assert re.fullmatch(r"#[0-9a-f]{6}", k.colour) and k.legend
    assert canonical_kind(kind) == kind
    for alias in k.aliases:
        assert alias not in LAYER_KINDS and canonical_kind(alias) == kind
        d = {"input_shape": list(INPUTS["flat"]), "outputs": 2, "layers": [{"kind": alias}]}
        assert NetSpec.from_dict(d).layers[0].kind == kind
    for where, spec in _specs(kind).items():
        net = build(spec, seed=0)
        x = torch.randn(*spec.input_shape, generator=torch.Generator().manual_seed(0))
        values = layer_values(net, x)
        assert hook_count(net.model) == 0
        for v, (name, module) in zip(values, net.model.named_children()):
            assert v.kind != "other" and v.kind == module_kind(name, module), (where, name)
        assert values[0].kind == k.view or values[0].kind == "activation"
        rep = net.report.layers[0]
        assert rep.kind == kind and rep.description == spec.layers[0].describe()
        assert rep.caption and all(rep.caption) and (rep.legend, rep.colour) == (k.legend, k.colour)
        fig = architecture_figure(net.report)
        assert k.legend in [t.name for t in fig.data if t.name]
        texts = [a.text for a in fig.layout.annotations]
        assert any(rep.caption[0] in t for t in texts), (where, rep.caption)


@pytest.mark.parametrize("kind", KINDS)
def test_every_setting_has_a_typed_bounded_spec(kind):
    k = LAYER_KINDS[kind]
    assert len({a.name for a in k.args}) == len(k.args)
    for a in k.args:
        assert a.type in ARG_TYPES, (kind, a.name)
        if a.type in ("int", "float"):
            assert a.lo is not None and a.hi is not None and a.lo <= a.default <= a.hi, (kind, a.name)
        if a.type == "int":
            assert isinstance(a.default, int) and isinstance(a.lo, int) and isinstance(a.hi, int)
        if a.type == "choice":
            assert a.default in a.choices
        if a.name == "activation":
            assert a.type == "choice" and list(a.choices) == ACTS
        # a default is always accepted by the spec check
        check_layer(1, LayerSpec(kind, {a.name: a.default}))
    assert LayerSpec(kind).args == k.defaults


# -- activations ------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS)
def test_activation_entry_is_complete(act):
    a = ACTIVATIONS[act]
    assert a.key == act and a.description.endswith(".") and ". " not in a.description[:-1]
    m1, m2 = a.make(), a.make()
    assert isinstance(m1, nn.Module) and m1 is not m2              # one hookable module per use
    assert not getattr(m1, "inplace", False)


@pytest.mark.parametrize("act", ACTS)
def test_health_watches_the_activation_by_its_rule(act):
    a = ACTIVATIONS[act]
    x = torch.linspace(-3, 3, 24).reshape(4, 6)
    if a.health is None:
        # only an activation that changes nothing may go unwatched
        assert torch.equal(a.make()(x), x), f"{act} has no health rule: give it a DeadRule or SaturatedRule"
    spec = NetSpec((6,), 2, [LayerSpec("dense", units=6, activation=act), LayerSpec("activation", activation=act)])
    net = build(spec, seed=0)
    plan = HealthPlan.for_model(net.model, net.layer_modules)
    acts = [r.name for r in net.records if r.role == "activation"]
    assert plan.weighted == ["dense1", "output"]
    if a.health is None:
        assert plan.activations == {}
        return
    assert plan.activations == {name: act for name in acts} and len(acts) == 2
    assert a.health.name in ("dead", "saturated")
    # the rule is the one applied: all units unhealthy -> 1, none -> 0
    if a.health.name == "dead":
        bad, good = torch.zeros(4, 6), torch.ones(4, 6)
    else:
        bad, good = torch.full((4, 6), a.health.hi), torch.full((4, 6), (a.health.lo + a.health.hi) / 2)
    assert float(unit_stats(act, bad)) == 1.0 and float(unit_stats(act, good)) == 0.0


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("kind", [k for k in KINDS if LAYER_KINDS[k].init_by_activation])
def test_init_follows_the_activation(kind, act):
    spec = next(iter(_specs(kind, act).values()))
    body = build(spec, seed=0).model[0]
    zero_bias = bool((body.bias == 0).all())
    assert zero_bias == (ACTIVATIONS[act].init is not None), (kind, act)


# -- the layer editor ---------------------------------------------------------------------------

def _editor_app():
    import streamlit as st

    from dlviz.spec import SpecError, analyse
    from dlviz.ui.layer_editor import layer_editor
    spec = st.session_state["spec"]
    try:
        analyse(spec)
        err = None
    except SpecError as e:
        err = e
    st.session_state["edited"] = layer_editor(spec, err)


def _widget(at, a, key):
    if a.type == "bool":
        return at.checkbox(key=key)
    if a.type == "choice":
        return at.selectbox(key=key)
    return at.number_input(key=key)


@pytest.mark.parametrize("kind", KINDS)
def test_editor_round_trips_every_setting_and_the_check_enforces_its_bounds(kind):
    from streamlit.testing.v1 import AppTest
    k = LAYER_KINDS[kind]
    spec = next(iter(_specs(kind).values()))
    spec.layers[0].args.update({a.name: a.default for a in k.args if a.optional})   # every setting shown
    at = AppTest.from_function(_editor_app, default_timeout=60)
    at.session_state["spec"] = spec
    at.run()
    assert not at.exception
    assert at.session_state["edited"] == spec                     # untouched: the same spec back
    for a in k.args:
        key = f"L0_0_{a.name}"
        w = _widget(at, a, key)
        assert w.value == spec.layers[0].args[a.name], (kind, a.name)
        if a.type == "choice":
            values = list(a.choices)
        elif a.type == "bool":
            values = [not a.default]
        elif a.type == "int":
            values = [(a.lo + a.hi) // 2, a.hi]
        else:
            values = [round((a.lo + a.hi) / 2 + 0.0125, 4), float(a.hi)]   # not a whole number
        for value in values:
            at.session_state["spec"] = spec
            _widget(at, a, key).set_value(value).run()
            got = at.session_state["edited"].layers[0].args[a.name]
            assert got == value and type(got) is type(value), (kind, a.name, value, got)
        if a.type in ("int", "float"):
            step = 1 if a.type == "int" else 0.01
            for bad in (a.lo - step, a.hi + step):
                at.session_state["spec"] = spec
                _widget(at, a, key).set_value(bad).run()
                edited = at.session_state["edited"]
                assert edited.layers[0].args[a.name] == bad           # never clamped
                with pytest.raises(SpecError, match=f"layer 1 {kind}: {a.name}"):
                    analyse(edited)
        at.session_state["spec"] = spec
        _widget(at, a, key).set_value(spec.layers[0].args[a.name]).run()
