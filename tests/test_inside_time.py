"""Distributions over time and the representation's projection."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlviz.build import build
from dlviz.inside import (assemble, layer_distributions, penultimate, project_pca,
                          representation_at, snapshot_stats)
from dlviz.inside.distributions import layer_plan
from dlviz.inside.sketch import MAX_SORT, QUANTILES, sketch
from dlviz.plots.distributions import distribution_figure, median_from_counts
from dlviz.plots.representation import representation_figure
from dlviz.presets import PRESETS
from dlviz.probe import capture, hook_count
from dlviz.spec import LayerSpec as L
from dlviz.spec import NetSpec
from dlviz.train.history import Snapshot


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# -- the sketch behind the histograms --------------------------------------------------------

def test_sketch_is_exact_for_few_values():
    v = torch.randn(300, generator=_gen(0))
    s = sketch(v)
    assert s.exact and s.n == 300
    edges = np.linspace(float(v.min()), float(v.max()), 13)
    np.testing.assert_allclose(s.histogram(edges), np.histogram(v.numpy(), edges)[0])


@pytest.mark.parametrize("n", [5_000, 1_000_000])
def test_sketch_histogram_is_close_for_many_values(n):
    # half exact zeros (a ReLU layer) plus a skewed tail
    g = _gen(1)
    v = torch.relu(torch.randn(n, generator=g)) ** 1.5
    s = sketch(v)
    assert not s.exact and s.n == n and len(s.points) == QUANTILES
    edges = np.linspace(0, float(v.max()), 41)
    approx, exact = s.histogram(edges), np.histogram(v.numpy(), edges)[0]
    assert approx.sum() == pytest.approx(n)
    # within 1% of all values per bin (the bound the module promises), and the zeros in bin 0
    assert np.abs(approx - exact).max() < 0.01 * n
    assert approx[0] == pytest.approx(exact[0], rel=0.02)
    assert n <= MAX_SORT or len(s.points) < n


def test_sketch_ignores_non_finite_values():
    s = sketch(torch.tensor([1.0, float("nan"), 2.0, float("inf")]))
    assert s.n == 2 and (s.lo, s.hi) == (1.0, 2.0)


# -- distributions ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lenet_run():
    """An untrained LeNet and three snapshots from a few real SGD steps."""
    net = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=0)
    model = net.model
    x = torch.randn(64, 1, 28, 28, generator=_gen(2))
    y = torch.randint(0, 10, (64,), generator=_gen(3))
    snaps = []
    for step in range(0, 12):
        if step in (0, 5, 11):
            snaps.append(Snapshot(step, step / 10, {k: v.clone() for k, v in model.state_dict().items()}))
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, list(model.parameters()))
        with torch.no_grad():                  # plain SGD (torch.optim's first import costs ~1.4 s)
            for p, g in zip(model.parameters(), grads):
                p -= 0.2 * g
    return net, snaps, x, y


def test_distributions_share_bins_and_count_every_value(lenet_run):
    net, snaps, x, y = lenet_run
    dists = layer_distributions(net, snaps, x, y, bins=30)
    assert list(dists) == ["conv1", "maxpool1", "conv2", "maxpool2", "dense1", "dense2", "output"]
    assert set(dists["conv1"]) == {"weights", "gradients", "activations"}
    assert set(dists["maxpool1"]) == {"activations"}
    for layer, kinds in dists.items():
        for kind, s in kinds.items():
            assert s.steps == [0, 5, 11] and s.counts.shape == (3, 30) and s.edges.shape == (31,)
            np.testing.assert_allclose(s.counts.sum(axis=1), s.totals, rtol=1e-9)
    w = dists["conv1"]["weights"]
    assert w.module == "conv1" and list(w.totals) == [150] * 3           # 6 x 1 x 5 x 5
    a = dists["conv1"]["activations"]
    assert a.module == "conv1_relu" and list(a.totals) == [64 * 6 * 28 * 28] * 3
    # one set of edges spans every step's weights, so the heatmap columns compare
    all_w = [s.weights["conv1.weight"] for s in snaps]
    assert w.edges[0] == pytest.approx(min(float(t.min()) for t in all_w))
    assert w.edges[-1] == pytest.approx(max(float(t.max()) for t in all_w))
    # exact (150 values): each step's histogram on the shared edges
    for i, t in enumerate(all_w):
        np.testing.assert_allclose(w.counts[i], np.histogram(t.numpy(), w.edges)[0])


def test_gradients_are_the_real_gradients(lenet_run):
    net, snaps, x, y = lenet_run
    snap = snaps[1]
    st = snapshot_stats(net, snap.weights, x, y)
    ref = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=1).model
    ref.load_state_dict(snap.weights)
    loss = F.cross_entropy(ref.eval()(x), y)
    loss.backward()
    assert st.loss == pytest.approx(float(loss.detach()), rel=1e-5)
    for layer in ("conv1", "dense2", "output"):
        g = dict(ref.named_parameters())[f"{layer}.weight"].grad
        sk = st.sketches[layer, "gradients"]
        assert float(g.abs().max()) > 0
        assert (sk.lo, sk.hi) == (pytest.approx(float(g.min()), rel=1e-4),
                                  pytest.approx(float(g.max()), rel=1e-4))


def test_snapshot_stats_leave_the_model_alone(lenet_run):
    net, snaps, x, y = lenet_run
    model = net.model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    snapshot_stats(net, snaps[0].weights, x, y)
    assert model.training and hook_count(model) == 0
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    model.eval()


def test_incremental_assembly_equals_the_whole(lenet_run):
    net, snaps, x, y = lenet_run
    whole = layer_distributions(net, [(s.step, s.weights) for s in snaps], x, y, bins=20)
    cached = {s.step: snapshot_stats(net, s.weights, x, y) for s in snaps}   # as a page would cache
    parts = assemble([s.step for s in snaps], [cached[s.step] for s in snaps], bins=20)
    for layer in whole:
        for kind in whole[layer]:
            np.testing.assert_allclose(parts[layer][kind].counts, whole[layer][kind].counts)
    fig = distribution_figure(whole["dense1"]["gradients"])
    assert fig.data[0].z.shape == (20, 3)
    med = median_from_counts(whole["dense1"]["weights"].edges, whole["dense1"]["weights"].counts)
    w = snaps[0].weights["dense1.weight"]
    assert med[0] == pytest.approx(float(w.median()), abs=2 * float(w.max() - w.min()) / 20)
    fig.to_json()


def test_regression_and_residual_nets():
    spec = NetSpec((2,), 1, [L("dense", units=6, activation="tanh"), L("residual", activation="relu"),
                             L("dropout", p=0.5)], "regression")
    net = build(spec, seed=0)
    x = torch.randn(40, 2, generator=_gen(4))
    y = x[:, :1] * 2
    plan = {layer: (ws, act) for layer, ws, act in layer_plan(net)}
    assert plan["res1"][0] == ["res1.fc1.weight", "res1.fc2.weight"] and "dropout1" not in plan
    d = layer_distributions(net, [(0, None)], x, y)
    assert d["res1"]["weights"].totals[0] == 2 * 36
    assert d["output"]["gradients"].counts.sum() == 6
    assert penultimate(net) == "res1"                        # dropout looked through


def test_degenerate_values_get_a_window():
    d = assemble([0, 1], [snapshot_stats(build(PRESETS["playground"].spec((2,), 2), seed=0),
                                         None, torch.zeros(5, 2), torch.zeros(5).long())] * 2)
    s = d["dense1"]["activations"]                               # tanh(0 + bias 0) == 0 everywhere
    assert s.edges[0] < 0 < s.edges[-1] and s.counts.sum(axis=1).tolist() == [20, 20]


# -- representation ---------------------------------------------------------------------------

def test_penultimate_of_the_presets():
    assert penultimate(build(PRESETS["lenet"].spec((1, 28, 28), 10))) == "dense2_relu"
    assert penultimate(build(PRESETS["vgg-shapes"].spec((3, 32, 32), 8))) == "dense1_relu"
    assert penultimate(build(PRESETS["playground"].spec((2,), 2))) == "dense2_tanh"
    assert penultimate(build(NetSpec((3,), 2, []))) == "output"


def test_representation_at_uses_the_given_weights(lenet_run):
    net, snaps, x, _ = lenet_run
    feats = representation_at(net, snaps[0].weights, x, batch=10)
    ref = build(PRESETS["lenet"].spec((1, 28, 28), 10), seed=5).model.eval()
    ref.load_state_dict(snaps[0].weights)
    # The reference runs in the same batches of 10: a batch of 64 may take another
    # kernel whose float32 sums differ by ~3e-4 relative on some CPUs.
    parts = []
    with torch.no_grad(), capture(ref, ["dense2_relu"]) as probe:
        for i in range(0, len(x), 10):
            ref(x[i:i + 10])
            parts.append(probe.outputs["dense2_relu"].clone())
    np.testing.assert_allclose(feats, torch.cat(parts).numpy(), rtol=1e-5, atol=1e-6)
    assert feats.shape == (64, 84)
    assert not np.allclose(representation_at(net, None, x), feats)   # the model's own weights differ
    assert hook_count(net.model) == 0


def _clusters(n=120, d=10, seed=0):
    g = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = g.normal(size=(3, d)) * 4
    return centres[labels] + g.normal(size=(n, d)), labels


def test_pca_alignment_keeps_near_identical_steps_in_place():
    f, labels = _clusters()
    g = np.random.default_rng(1)
    rot = np.linalg.qr(g.normal(size=(10, 10)))[0]                 # a random orthogonal map
    # step 2: the same features seen through a rotation/reflection of feature space
    # (PCA's axes may flip or swap), plus a tiny change
    steps = [f, f @ rot + 1e-3 * g.normal(size=f.shape), -f + 1e-3 * g.normal(size=f.shape)]
    p = project_pca(steps)
    assert len(p.coords) == 3 and p.coords[0].shape == (120, 2)
    scale = np.abs(p.coords[0]).max()
    for c in p.coords[1:]:
        assert np.abs(c - p.coords[0]).max() < 0.01 * scale          # no flip, no spin
    # the explained variance is PCA's: the top two eigenvalues of the covariance
    ev = np.linalg.eigvalsh(np.cov(f.T, bias=True))[::-1]
    np.testing.assert_allclose(p.explained[0], ev[:2] / ev.sum(), rtol=1e-6)
    for c in p.coords:                                                # fixed ranges hold every step
        assert p.x_range[0] <= c[:, 0].min() and c[:, 0].max() <= p.x_range[1]
        assert p.y_range[0] <= c[:, 1].min() and c[:, 1].max() <= p.y_range[1]
    fig = representation_figure(p.coords[1], labels, ["a", "b", "c"], 10, p.x_range, p.y_range,
                                p.explained[1], "dense2_relu")
    assert len(fig.data) == 3 and sorted(np.concatenate([t.customdata for t in fig.data])) == list(range(120))
    assert list(fig.layout.xaxis.range) == list(p.x_range)
    fig.to_json()


def test_pca_handles_one_dimension_and_regression_colours():
    f = np.arange(8, dtype=np.float32)[:, None]                         # D = 1
    p = project_pca([f, f * 2])
    assert p.coords[1].shape == (8, 2) and np.allclose(p.coords[1][:, 1], 0)
    assert p.explained[0][0] == pytest.approx(1.0)
    fig = representation_figure(p.coords[0], f.ravel(), (), 0)
    assert len(fig.data) == 1 and fig.data[0].marker.colorscale is not None
