"""What a unit responds to: top examples match brute force; the optimised image excites it."""

import numpy as np
import pytest
import torch

from dlviz.build import build
from dlviz.inside import top_activating, visualise_unit
from dlviz.presets import PRESETS
from dlviz.probe import capture, hook_count

MEAN, STD = (0.13,), (0.31,)


@pytest.fixture(scope="module")
def lenet():
    return build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)


def _pool(n=50, seed=0):
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("module,unit", [("conv2_relu", 5), ("conv1", 0), ("dense1", 17),
                                         ("output", 3)])
def test_top_activating_matches_brute_force(lenet, module, unit):
    x = _pool()
    idx, vals = top_activating(lenet, module, unit, x, k=7, batch=8)    # batches of 8 on purpose
    # The brute force runs in the same batches of 8: one batch of 50 may take another
    # kernel whose float32 sums differ by ~3e-6 relative, more than rtol=1e-6 below.
    parts = []
    with torch.no_grad(), capture(lenet.model, [module]) as probe:
        for i in range(0, len(x), 8):
            lenet.model.eval()(x[i:i + 8])
            parts.append(probe.outputs[module][:, unit])  # (8,) or (8, H, W)
    out = torch.cat(parts)                               # (N,) or (N, H, W)
    resp = out.flatten(1).amax(1) if out.ndim > 1 else out               # max over space
    expected = torch.argsort(resp, descending=True, stable=True)[:7].numpy()
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(vals, resp[expected].numpy(), rtol=1e-6)
    assert np.all(np.diff(vals) <= 0)
    assert hook_count(lenet.model) == 0


def test_top_activating_edge_cases(lenet):
    idx, vals = top_activating(lenet, "dense2", 0, _pool(3), k=9)
    assert len(idx) == 3 == len(set(idx.tolist()))                     # k larger than the pool
    idx, vals = top_activating(lenet, "dense2", 0, torch.zeros(0, 1, 28, 28))
    assert idx.shape == (0,) and vals.shape == (0,)
    with pytest.raises(ValueError, match="84 units"):
        top_activating(lenet, "dense2", 84, _pool(3))
    assert hook_count(lenet.model) == 0


def _objective(net, module, unit, x):
    """(B, ...) -> (B,): the unit, or the channel's mean over space (what visualise_unit maximises)."""
    with torch.no_grad(), capture(net.model, [module]) as probe:
        net.model.eval()(x)
    out = probe.outputs[module][:, unit]
    return out.flatten(1).mean(1) if out.ndim > 1 else out


def _to_input(img):
    """uint8 (H, W, 3) grey -> the normalised (1, 1, H, W) input it stands for."""
    px = torch.from_numpy(img[..., 0].astype(np.float32) / 255.0)
    return ((px - MEAN[0]) / STD[0])[None, None]


@pytest.mark.parametrize("module,unit", [("conv2_relu", 3), ("conv1", 1), ("dense1_relu", 7),
                                         ("output", 4)])
def test_visualisation_excites_the_unit_more_than_noise_or_the_mean_input(lenet, module, unit):
    img = visualise_unit(lenet, module, unit, steps=64, norm_mean=MEAN, norm_std=STD)
    assert img.shape == (28, 28, 3) and img.dtype == np.uint8
    g = torch.Generator().manual_seed(9)
    noise = (torch.rand(8, 1, 28, 28, generator=g) - MEAN[0]) / STD[0]   # random valid pixels
    mean_input = torch.zeros(1, 1, 28, 28)                                # the data mean, normalised
    best = float(_objective(lenet, module, unit, _to_input(img))[0])
    assert best > float(_objective(lenet, module, unit, noise).max())
    assert best > float(_objective(lenet, module, unit, mean_input)[0])


def test_visualisation_is_deterministic_and_leaves_the_model_alone(lenet):
    model = lenet.model
    model.train()
    model.dense1.weight.requires_grad_(False)               # flags must come back as they were
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    rng = torch.get_rng_state()
    try:
        a = visualise_unit(lenet, "conv2_relu", 2, steps=24, seed=4, norm_mean=MEAN, norm_std=STD)
        b = visualise_unit(lenet, "conv2_relu", 2, steps=24, seed=4, norm_mean=MEAN, norm_std=STD)
        c = visualise_unit(lenet, "conv2_relu", 2, steps=24, seed=5, norm_mean=MEAN, norm_std=STD)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), k
        assert [p.requires_grad for p in model.parameters()] == flags
        assert all(p.grad is None for p in model.parameters())
        assert model.training
        assert torch.equal(torch.get_rng_state(), rng)          # the global RNG is not consumed
        assert hook_count(model) == 0
    finally:
        model.dense1.weight.requires_grad_(True)
        model.eval()


def test_visualisation_needs_an_image_model_and_a_real_unit(lenet):
    mlp = build(PRESETS["playground"].spec((2,), 2), seed=0)
    with pytest.raises(ValueError, match="image input"):
        visualise_unit(mlp, "dense1", 0)
    with pytest.raises(ValueError, match="16 units/channels"):
        visualise_unit(lenet, "conv2", 16, steps=2)
    assert hook_count(lenet.model) == 0


def test_centre_objective_draws_the_first_filter():
    # a linear first layer excited at one position: the best valid input is bright
    # where the filter is positive and dark where it is negative, inside its window
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)
    img = visualise_unit(net, "conv1", 0, steps=48, jitter=0, blur_every=0, where="centre")
    px = img[..., 0].astype(np.float64) - 127.5            # around mid-grey, where it started
    window = px[12:17, 12:17]                  # conv1 (5x5, padding 2) at output (14, 14) reads 12..16
    w = net.model.conv1.weight[0, 0].detach().numpy()
    strong = np.abs(w) > 0.2 * np.abs(w).max()
    assert np.mean(np.sign(window[strong]) == np.sign(w[strong])) > 0.95
    outside = np.ones_like(px, dtype=bool)
    outside[12:17, 12:17] = False
    assert np.sqrt(np.mean(px[outside] ** 2)) < 20   # no gradient there: still the faint start noise


def test_no_hook_left_when_the_forward_raises():
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)

    def boom(x):
        raise RuntimeError("boom")

    net.model.maxpool1.forward = boom
    net.model.train()
    with pytest.raises(RuntimeError, match="boom"):
        visualise_unit(net, "conv2_relu", 0, steps=3)
    with pytest.raises(RuntimeError, match="boom"):
        top_activating(net, "conv2_relu", 0, _pool(4))
    assert hook_count(net.model) == 0 and net.model.training
