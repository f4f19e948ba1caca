"""Training-data attribution (dlviz/explain/influence.py): known answers on tiny models,
a planted mislabel, and the caller's model left as it was."""

import pytest
import torch
from torch import nn

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.errors import UserError
from dlviz.explain.influence import (MAX_K, final_layer_name, influence, pick_checkpoints,
                                     self_influence, self_influence_by_class)
from dlviz.spec import LayerSpec, NetSpec


def _linear(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4))


def _weight_grad(model, x, y):
    """d(sum cross-entropy)/d(weight) of the only layer, flattened: (12,)."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x.unsqueeze(0)), y.view(1), reduction="sum").backward()
    return model[0].weight.grad.flatten().clone()


def test_one_checkpoint_on_a_linear_model_is_the_gradient_dot_product():
    g = torch.Generator().manual_seed(1)
    train_x, train_y = torch.randn(20, 3, generator=g), torch.randint(0, 4, (20,), generator=g)
    test_x, test_y = torch.randn(3, generator=g), torch.tensor(2)
    model = _linear()
    ckpt = [(7, {k: v.clone() for k, v in model.state_dict().items()})]
    lr = 0.5
    out = influence(model, ckpt, train_x, train_y, test_x, test_y, k=20, learning_rate=lr)

    # By hand: lr * <dL(z)/dW, dL(z')/dW> (Captum's fast variant counts the head's weight,
    # not its bias; see dlviz/explain/influence.py).
    test_grad = _weight_grad(model, test_x, test_y)
    by_hand = torch.stack([lr * _weight_grad(model, x, y) @ test_grad
                           for x, y in zip(train_x, train_y)])
    assert out.steps == (7,) and out.considered == 20
    assert torch.allclose(out.proponent_scores, by_hand[out.proponents], atol=1e-5)
    assert torch.allclose(out.opponent_scores, by_hand[out.opponents], atol=1e-5)
    assert out.proponents[0] == by_hand.argmax() and out.opponents[0] == by_hand.argmin()
    assert torch.all(out.proponent_scores[:-1] >= out.proponent_scores[1:])
    assert out.seconds > 0


def test_checkpoints_add_up():
    g = torch.Generator().manual_seed(2)
    train_x, train_y = torch.randn(10, 3, generator=g), torch.randint(0, 4, (10,), generator=g)
    a, b = _linear(0), _linear(1)
    ca = (1, a.state_dict())
    cb = (2, b.state_dict())
    x, y = train_x[0], train_y[0]
    both = influence(a, [ca, cb], train_x, train_y, x, y, k=10)
    one_a = influence(a, [ca], train_x, train_y, x, y, k=10)
    one_b = influence(a, [cb], train_x, train_y, x, y, k=10)
    total = torch.zeros(10)
    for r in (one_a, one_b):
        total[r.proponents] += r.proponent_scores
    assert torch.allclose(both.proponent_scores, total[both.proponents], atol=1e-5)
    assert both.steps == (1, 2)


def _planted_mislabel_run():
    """A small MLP trained on two Gaussian blobs, one point deep in class 0 labelled 1;
    returns (model, checkpoints, x, y, index of the planted point)."""
    data = load_dataset("gaussian", n_samples=250, seed=3)
    x, y = data.x_train, data.y_train.clone()
    deep = int(torch.argmin((x - torch.tensor([-2.0, -2.0])).norm(dim=1)))  # centre of class 0
    assert y[deep] == 0
    y[deep] = 1                                                             # planted mislabel
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    checkpoints = []
    for step in range(1, 201):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if step % 40 == 0:
            checkpoints.append((step, {k: v.clone() for k, v in model.state_dict().items()}))
    return model, checkpoints, x, y, deep


def test_planted_mislabel_has_the_top_self_influence_of_its_class():
    model, checkpoints, x, y, deep = _planted_mislabel_run()
    scores = self_influence(model, checkpoints, x, y)
    in_class = torch.nonzero(y == 1).flatten()
    assert in_class[scores[in_class].argmax()] == deep


def test_self_influence_by_class_puts_the_planted_mislabel_first_in_its_class():
    model, checkpoints, x, y, deep = _planted_mislabel_run()
    r = self_influence_by_class(model, checkpoints, x, y, k=3, checkpoints_used=2)
    assert set(r.top) == {0, 1}
    assert int(r.top[1][0]) == deep                              # first among the "1"s
    assert deep not in r.top[0].tolist()
    assert all(int(y[i]) == c for c, idx in r.top.items() for i in idx)
    assert all(torch.all(v[:-1] >= v[1:]) for v in r.scores.values())
    assert float(r.scores[1][0]) > 5 * r.median[1]              # it stands out, not a near tie
    assert r.steps == (40, 200) and r.considered == len(x)
    # the same scores as the whole-set call restricted to the class
    whole = self_influence(model, checkpoints, x, y, checkpoints_used=2)
    assert torch.allclose(r.scores[1], whole[r.top[1]], atol=1e-5)


def test_the_model_is_left_as_it_was():
    spec = NetSpec((2,), 2, [LayerSpec("dense", {"units": 5, "activation": "relu"})])
    net = build(spec, seed=0)
    net.model.train()
    for p in net.model.output.parameters():
        p.requires_grad_(False)
    fired = []
    net.model.output.register_forward_hook(lambda *a: fired.append(1))
    net.model.register_full_backward_hook(lambda *a: None)
    before = {k: v.clone() for k, v in net.model.state_dict().items()}
    hooks = [(m._forward_hooks.copy(), m._backward_hooks.copy(), m._forward_pre_hooks.copy())
             for m in net.model.modules()]
    other = build(spec, seed=1).model.state_dict()
    assert final_layer_name(net.model) == "output"

    g = torch.Generator().manual_seed(0)
    train_x, train_y = torch.randn(30, 2, generator=g), torch.randint(0, 2, (30,), generator=g)
    influence(net, [(1, other), (2, before)], train_x, train_y, train_x[0], 1, k=4)

    after = net.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert hooks == [(m._forward_hooks, m._backward_hooks, m._forward_pre_hooks)
                     for m in net.model.modules()]
    assert fired == []                              # the views' hooks did not fire
    assert net.model.training
    assert not any(p.requires_grad for p in net.model.output.parameters())


def test_bounds():
    model = _linear()
    ckpt = [(0, model.state_dict())]
    x, y = torch.randn(5, 3), torch.randint(0, 4, (5,))
    with pytest.raises(UserError):
        influence(model, ckpt, x, y, x[0], 0, k=MAX_K + 1)
    with pytest.raises(UserError):
        influence(model, [], x, y, x[0], 0)
    assert len(influence(model, ckpt, x, y, x[0], 0, k=8).proponents) == 5  # k <= examples
    with pytest.raises(UserError):
        influence(model, ckpt, x, y, x[0], 0, checkpoints_used=0)
    many = [(s, None) for s in range(40)]
    picked = [s for s, _ in pick_checkpoints(many)]
    assert len(picked) == 5 and picked[0] == 0 and picked[-1] == 39


def test_checkpoints_are_picked_evenly_in_steps_not_in_position():
    # a run's timeline: thinned early, dense near the end
    steps = [0, 40, 80, 120, 130, 135, 140, 142, 144, 146, 148, 150]
    picked = [s for s, _ in pick_checkpoints([(s, None) for s in steps], 5)]
    assert picked == [0, 40, 80, 120, 150]
    assert [s for s, _ in pick_checkpoints([(s, None) for s in steps], 1)] == [150]
    assert [s for s, _ in pick_checkpoints([(s, None) for s in steps], 2)] == [0, 150]
