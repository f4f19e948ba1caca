"""Probes capture the model's real values and never leave a hook behind."""

import pytest
import torch

from dlviz.build import build
from dlviz.presets import PRESETS
from dlviz.probe import capture, hook_count


def test_captured_activations_equal_a_manual_forward():
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0).model.eval()
    x = torch.randn(4, 1, 28, 28)
    with capture(net, ["conv1_relu", "dense1"], grads=True) as probe:
        net(x).sum().backward()
    manual = torch.relu(net.conv1(x))
    assert torch.allclose(probe.outputs["conv1_relu"], manual)
    assert probe.outputs["dense1"].shape == (4, 120)
    assert probe.grads["dense1"].shape == (4, 120)
    assert hook_count(net) == 0


def test_hooks_are_removed_after_an_error():
    net = build(PRESETS["playground"].spec((2,), 2), seed=0).model
    with pytest.raises(RuntimeError):
        with capture(net, ["dense1", "dense2_tanh"], grads=True):
            assert hook_count(net) == 4
            net(torch.randn(3, 5))          # wrong input width
    assert hook_count(net) == 0
    with pytest.raises(KeyError, match="no module named 'nope'"):
        with capture(net, ["dense1", "nope"]):
            pass
    assert hook_count(net) == 0
