"""Contracts of the optimizer and schedule registries, for every entry.

Each test is parametrized over ``OPTIMIZERS`` and/or ``SCHEDULES``, so a new
entry (one line in train/optimizers.py or train/schedules.py) is checked
here without a new test: it trains (the weights move), its settings reach
the torch optimizer, its learning rate follows its declared shape, and the
config, the command line and the Train page accept exactly the registry's names.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from dlviz.errors import UserError
from dlviz.spec import LayerSpec, NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.optimizers import OPTIMIZERS, SETTINGS, make_optimizer
from dlviz.train.schedules import CONSTANT, DECAYS, SCHEDULES, lr_at, varies
from dlviz.train.trainer import Trainer

from conftest import ring_dataset

LR = 0.01
WEIGHT_DECAY = 1e-3          # non-zero: weight decay is exercised in every run


def small_spec() -> NetSpec:
    return NetSpec((2,), 2, [LayerSpec("dense", units=8, activation="tanh")])


def config_for(optimizer: str, schedule: str, **kw) -> TrainConfig:
    return TrainConfig(optimizer=optimizer, schedule=schedule, lr=LR, weight_decay=WEIGHT_DECAY,
                       momentum=0.5, batch_size=20, epochs=8, seed=3, **kw).validate()


# -- training: every optimizer x every schedule ------------------------------------------------

@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_with_every_schedule_trains(optimizer, schedule):
    ds = ring_dataset(n_train=200, n_test=60)
    config = config_for(optimizer, schedule)
    t = Trainer(small_spec(), ds, config)
    first = {k: v.clone() for k, v in t.snapshot(0).weights.items()}
    t.start()
    assert t.join(60)
    s = t.state()
    assert s.status == "finished", s.message
    assert s.step == t.total_steps == 80
    last = t.snapshot().weights
    moved = [k for k in first if not torch.equal(first[k], last[k])]
    assert set(moved) == set(first), f"weights that never moved: {set(first) - set(moved)}"
    assert all(math.isfinite(v) for v in s.final.values())
    # the rate recorded at step s is the one the loop set for that step (0-based s - 1)
    rows = [h for h in s.history if h["step"] > 0]
    assert rows, "no history recorded"
    for h in rows:
        assert h["lr"] == pytest.approx(lr_at(config, h["step"] - 1, t.total_steps), rel=1e-12)
    assert_shape(SCHEDULES[schedule].shape, [h["lr"] for h in rows], LR, whole_run=False)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_takes_the_settings_its_entry_names(optimizer):
    entry = OPTIMIZERS[optimizer]
    assert set(entry.settings) <= set(SETTINGS), "a setting the registry does not define"
    config = config_for(optimizer, "constant")
    model = torch.nn.Linear(3, 2)
    opt = make_optimizer(model.parameters(), config)
    assert opt.defaults["lr"] == LR
    for name in entry.settings:
        assert opt.defaults[name] == getattr(config, name), name


@pytest.mark.parametrize("optimizer", [k for k, o in OPTIMIZERS.items() if "weight_decay" in o.settings])
def test_weight_decay_shrinks_weights_that_have_no_gradient(optimizer):
    """Zero gradients: only the decay moves the weights, towards zero."""
    norms = {}
    for wd in (0.0, 0.1):
        p = torch.nn.Parameter(torch.ones(4, 4))
        opt = make_optimizer([p], config_for(optimizer, "constant").replace(weight_decay=wd))
        for _ in range(3):
            p.grad = torch.zeros_like(p)
            opt.step()
        norms[wd] = p.detach().norm().item()
    assert norms[0.0] == pytest.approx(4.0)
    assert norms[0.1] < 4.0 - 1e-4


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_steps_a_model_downhill(optimizer):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    x, y = torch.randn(64, 2), torch.randn(64, 1)
    opt = make_optimizer(model.parameters(), config_for(optimizer, "constant"))
    before = torch.nn.functional.mse_loss(model(x), y).item()
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert torch.nn.functional.mse_loss(model(x), y).item() < before


# -- schedules: the rate follows the declared shape --------------------------------------------

def assert_shape(shape: str, lrs: list[float], lr: float, whole_run: bool) -> None:
    assert all(math.isfinite(v) and v >= 0 for v in lrs)
    if shape == CONSTANT:
        assert set(lrs) == {lr}
    elif shape == DECAYS:
        assert lrs[0] == pytest.approx(lr)
        assert all(b <= a for a, b in zip(lrs, lrs[1:])), "a decaying rate rose"
        assert lrs[-1] < lr, "a decaying rate did not decay"
        if whole_run:
            assert lrs[-1] < lr / 2, "most of the decay must happen within the run"
    else:
        pytest.fail(f"schedule shape {shape!r} has no contract here: add its check to assert_shape")


@pytest.mark.parametrize("total_steps", [4, 7, 100, 1001])
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_every_schedule_follows_its_shape(schedule, total_steps):
    config = TrainConfig(schedule=schedule, lr=0.3)
    lrs = [lr_at(config, step, total_steps) for step in range(total_steps)]
    assert_shape(SCHEDULES[schedule].shape, lrs, 0.3, whole_run=True)
    assert varies(config) == (SCHEDULES[schedule].shape != CONSTANT)


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_every_schedule_is_defined_past_the_end_and_for_one_step(schedule):
    config = TrainConfig(schedule=schedule, lr=0.3)
    for step, total in ((0, 1), (5, 1), (10, 4)):
        v = lr_at(config, step, total)
        assert math.isfinite(v) and 0 <= v <= 0.3


# -- names: config, command line and page accept exactly the registries' ---------------------

@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_config_accepts_every_registered_optimizer(name):
    assert TrainConfig.from_dict({"optimizer": name}).optimizer == name


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_config_accepts_every_registered_schedule(name):
    assert TrainConfig.from_dict({"schedule": name}).schedule == name


def unregistered(names) -> list[str]:
    return ["lbfgs", "linear", "", "SGD", "Adam"] + [n + "x" for n in names]


def test_config_refuses_every_unregistered_name():
    for field, registry in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        for name in unregistered(registry):
            if name in registry:
                continue
            with pytest.raises(UserError, match=f"unknown {field} '{name}'; use one of "
                                                 f"{', '.join(registry)}"):
                TrainConfig.from_dict({field: name})


@pytest.mark.parametrize("setting", list(SETTINGS.values()), ids=list(SETTINGS))
def test_every_setting_is_a_bounded_config_field(setting):
    assert getattr(TrainConfig(), setting.name) == setting.default
    assert setting.within(setting.default)
    TrainConfig.from_dict({setting.name: setting.low})
    above = setting.high if setting.high_open else setting.high + 1e-6
    for bad in (setting.low - 1e-6, above, math.nan):
        with pytest.raises(UserError, match=f"'{setting.name}'"):
            TrainConfig.from_dict({setting.name: bad})


def train_parser_actions() -> dict:
    from dlviz.cli import _parser
    sub = next(a for a in _parser()._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_cli_offers_exactly_the_registries_names_and_settings():
    actions = train_parser_actions()
    assert list(actions["optimizer"].choices) == list(OPTIMIZERS)
    assert list(actions["schedule"].choices) == list(SCHEDULES)
    for s in SETTINGS.values():
        assert actions[s.name].type is s.kind
        assert f"--{s.name.replace('_', '-')}" in actions[s.name].option_strings


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_cli_parses_every_registered_pair(optimizer, schedule):
    from dlviz.cli import _parser
    args = _parser().parse_args(["train", "--optimizer", optimizer, "--schedule", schedule])
    assert (args.optimizer, args.schedule) == (optimizer, schedule)


def test_cli_refuses_an_unregistered_name():
    from dlviz.cli import _parser
    for flag, registry in (("--optimizer", OPTIMIZERS), ("--schedule", SCHEDULES)):
        for name in unregistered(registry):
            if name in registry:
                continue
            with pytest.raises(UserError, match="invalid choice"):
                _parser().parse_args(["train", flag, name])


def test_train_page_lists_exactly_the_registries_names():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert list(at.selectbox(key="t_opt").options) == list(OPTIMIZERS)
    assert list(at.selectbox(key="t_sched").options) == list(SCHEDULES)
    decay = SETTINGS["weight_decay"]
    box = at.number_input(key="t_wd")
    assert (box.label, box.min, box.max) == (decay.label, decay.low, decay.high)


def test_train_page_refuses_what_the_trainer_refuses_the_task_too():
    """The Train page's check is the trainer's: a classifier on a regression dataset is
    refused on the page for its task (the trainer's first reason), as training would."""
    from streamlit.testing.v1 import AppTest

    from dlviz.data import load_dataset
    from dlviz.train.compatibility import compatibility_problem
    from dlviz.workspace import default_workspace

    ws = replace(default_workspace(), dataset="plane")
    ds = load_dataset(ws.dataset, ws.params)
    assert (ws.spec.task, ds.task) == ("classification", "regression")
    problem = compatibility_problem(ws.spec, ds)
    assert problem == "the network does classification but dataset 'plane' is regression"
    with pytest.raises(UserError) as e:
        Trainer(ws.spec, ds, TrainConfig())
    assert str(e.value) == problem
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = ws.to_url()
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key="t_start").disabled
    assert any(problem in e.value for e in at.error), [e.value for e in at.error]
