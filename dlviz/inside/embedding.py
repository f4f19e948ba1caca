"""The representation view's other projection: t-SNE, next to PCA (``representation.py``).

PCA is the fast default: linear, one eigen-decomposition per snapshot, its
axes meaning something (variance). t-SNE (scikit-learn's, a pinned
dependency) keeps each sample's nearest neighbours together instead, so
clusters that PCA's two axes overlap can show apart; distances between
clusters and the axes mean nothing.

Aligned across snapshots as PCA is: each snapshot's t-SNE starts from that
snapshot's PCA layout, which is itself Procrustes-aligned to the step before
(``project_pca``), and its result is rotated / reflected onto that layout
again (t-SNE's answer is only defined up to a rotation). Each snapshot is
computed on its own (a fixed seed: the same answer every time), so the page
computes only the moment it shows and keeps it.

Bounded: at most ``MAX_POINTS`` samples (t-SNE is O(N log N) per iteration,
~0.3 s for 256 samples on one core), one thread (on a busy 2-core server
more threads are slower, docs/ARCHITECTURE.md "Facts measured").
"""

from __future__ import annotations

import numpy as np

from dlviz.errors import UserError

PROJECTIONS = {"PCA": "principal components: fast, linear, axes that mean variance",
               "t-SNE": "t-SNE: nearest neighbours kept together; cluster distances and axes mean nothing"}
MAX_POINTS = 500
MIN_POINTS = 5                  # fewer: nothing to embed, the PCA layout is returned
ITERATIONS = 500                # scikit-learn's minimum is 250; 500 settles 256 points


def unit_rms(c: np.ndarray) -> np.ndarray:
    """(N, 2) scaled to a root-mean-square distance of 1 from the origin."""
    return c / max(float(np.sqrt((c ** 2).sum(1).mean())), 1e-12) if len(c) else c


def _procrustes(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The orthogonal 2x2 R (rotation or reflection) minimising |y R - ref|."""
    u, _, vt = np.linalg.svd(y.T @ ref)
    return u @ vt


def tsne_step(features: np.ndarray, pca_coords: np.ndarray, seed: int = 0) -> np.ndarray:
    """One snapshot: (N, D) features -> t-SNE coordinates float32 (N, 2), started from and
    aligned to ``pca_coords`` (N, 2), the snapshot's aligned PCA layout; unit RMS spread."""
    f = np.asarray(features, dtype=np.float32)
    ref = np.asarray(pca_coords, dtype=np.float64).reshape(-1, 2)
    n = len(f)
    if n > MAX_POINTS:
        raise UserError(f"t-SNE is limited to {MAX_POINTS} samples here, got {n}")
    if f.ndim != 2 or len(ref) != n:
        raise UserError(f"t-SNE needs one 2-D position per sample: {n} samples, {len(ref)} positions")
    ref = ref - ref.mean(axis=0) if n else ref
    f = np.where(np.isfinite(f), f, 0.0)
    if n < MIN_POINTS or not np.any(f.std(axis=0) > 0):
        return unit_rms(ref).astype(np.float32)          # a dot or too few: nothing to spread
    from sklearn.manifold import TSNE                    # imported on first use: ~1 s
    from threadpoolctl import threadpool_limits
    # scikit-learn's own PCA start: the layout scaled to a spread of 1e-4
    init = ref / max(float(ref[:, 0].std()), 1e-12) * 1e-4
    perplexity = min(30.0, (n - 1) / 3.0)
    with threadpool_limits(limits=1):
        y = TSNE(2, perplexity=perplexity, init=init, random_state=seed, max_iter=ITERATIONS,
                 learning_rate="auto", n_jobs=1).fit_transform(f).astype(np.float64)
    y -= y.mean(axis=0)
    y = y @ _procrustes(y, ref)
    return unit_rms(y).astype(np.float32)
