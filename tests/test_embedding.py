"""t-SNE next to PCA: it separates what is apart, answers the same every time, follows the
PCA layout it is aligned to (no flips between snapshots), and stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

from dlviz.errors import UserError
from dlviz.inside.embedding import MAX_POINTS, tsne_step, unit_rms
from dlviz.inside.representation import pca_step


def blobs(n=120, d=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.normal(size=(3, d)) * 4
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def nn_accuracy(c, y) -> float:
    d = ((c[:, None] - c[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((y[d.argmin(1)] == y).mean())


def test_tsne_separates_clusters_and_is_deterministic():
    f, y = blobs()
    ref, _ = pca_step(f)
    a = tsne_step(f, ref)
    assert a.shape == (len(f), 2) and a.dtype == np.float32
    assert nn_accuracy(a, y) > 0.95
    assert np.sqrt((a ** 2).sum(1).mean()) == pytest.approx(1.0, rel=1e-4)      # unit spread
    assert np.array_equal(a, tsne_step(f, ref))


def test_tsne_follows_the_aligned_pca_layout_it_starts_from():
    f, _ = blobs(seed=1)
    ref, _ = pca_step(f)
    for flip in ([1, 1], [-1, 1], [1, -1]):
        r = ref * np.array(flip, dtype=np.float32)
        out = tsne_step(f, r)
        # each axis points the way the reference's does: a snapshot's layout cannot flip
        assert ((out - out.mean(0)) * (r - r.mean(0))).sum(0).min() > 0, flip


def test_tsne_is_bounded_and_handles_degenerate_features():
    with pytest.raises(UserError, match=f"limited to {MAX_POINTS}"):
        tsne_step(np.zeros((MAX_POINTS + 1, 3)), np.zeros((MAX_POINTS + 1, 2)))
    with pytest.raises(UserError, match="one 2-D position per sample"):
        tsne_step(np.zeros((10, 3)), np.zeros((9, 2)))
    ref = np.random.default_rng(0).normal(size=(40, 2))
    flat = tsne_step(np.ones((40, 8)), ref)                 # every sample the same: the PCA layout
    assert np.allclose(flat, unit_rms(ref - ref.mean(0)), atol=1e-6)
    f, _ = blobs(n=60)
    f[3, 4] = np.nan
    assert np.isfinite(tsne_step(f, pca_step(np.nan_to_num(f))[0])).all()


def test_inside_page_offers_tsne_next_to_pca():
    import json

    from tests.test_pages import no_exceptions
    from tests.test_pages_inside import trained_app
    at = trained_app("playground")
    at.segmented_control(key="inside_view").set_value("Learning over time").run()
    no_exceptions(at)

    def title():
        return json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]["title"]["text"]
    assert "PCA to 2-D" in title()
    at.segmented_control(key="inside_proj").set_value("t-SNE").run()
    no_exceptions(at)
    assert "t-SNE to 2-D" in title()
    assert any("t-SNE (neighbours kept together)" in c.value for c in at.caption)
