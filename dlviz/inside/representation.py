"""Representation over time: the penultimate layer's features of fixed samples, in 2-D.

The network's last hidden layer is the representation its output head
separates linearly; projected to 2-D at every snapshot, the class clusters
can be watched pulling apart as training goes on.

Projection: PCA per snapshot (the features' own top two directions at that
moment), then each step's 2-D coordinates are rotated/reflected onto the
previous step's by orthogonal Procrustes, so consecutive frames do not flip
or spin when a principal axis changes sign or two axes swap. A rotation
inside the principal plane changes neither distances nor the explained
variance. Scale is kept: growing activations show as a growing cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from dlviz.build import BuiltNet
from dlviz.probe import capture
from dlviz.views._eval import inference

_TRANSPARENT = (nn.Dropout, nn.Dropout2d)     # identity in eval mode: look through them


@dataclass(frozen=True)
class Projection:
    coords: list[np.ndarray]        # per step: float32 (N, 2), aligned to the step before
    explained: np.ndarray           # float64 (S, 2): variance fraction of each of the 2 axes
    x_range: tuple[float, float]    # one range over all steps, for steady axes
    y_range: tuple[float, float]


def penultimate(net: BuiltNet) -> str:
    """Name of the module whose output the head ("output") reads; dropout looked
    through. For a network without hidden layers, the last module before the head
    (or "output" itself when there is none)."""
    names = net.module_names
    modules = dict(net.model.named_children())
    i = names.index("output") - 1
    while i > 0 and isinstance(modules[names[i]], _TRANSPARENT):
        i -= 1
    return names[i] if i >= 0 else "output"


def representation_at(net: BuiltNet, weights: dict[str, torch.Tensor] | None, x_fixed: torch.Tensor,
                      module: str | None = None, batch: int = 1024) -> np.ndarray:
    """Features of ``module`` (default: ``penultimate(net)``) for ``x_fixed`` (N, ...)
    under ``weights`` (a state dict; None: the model's own) -> float32 (N, D).

    The model's parameters are not replaced: ``functional_call`` substitutes them."""
    name = module or penultimate(net)
    model = net.model
    parts = []
    with inference(model) as device:
        params = None if weights is None else {k: v.to(device) for k, v in weights.items()}
        with capture(model, [name]) as probe:
            for i in range(0, len(x_fixed), batch):
                xb = x_fixed[i:i + batch].to(device)
                model(xb) if params is None else functional_call(model, params, (xb,))
                parts.append(probe.outputs[name].flatten(1).float().cpu())    # (B, D)
    if not parts:
        return np.zeros((0, 0), np.float32)
    return torch.cat(parts).numpy()


def _pca2(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> coordinates on the top two principal axes (N, 2) and their
    variance fractions (2,). Fewer than two dimensions are padded with zeros.

    Eigenvectors of the smaller of the D x D scatter matrix and the N x N Gram
    matrix (for 500 samples of 84 features ~10x faster than an SVD of the
    data), computed in torch: it keeps to torch's thread count, where numpy's
    OpenBLAS would start its own threads and, on 2 busy cores, stall for up
    to a second."""
    c = torch.as_tensor(np.asarray(f, dtype=np.float64))
    c = torch.where(torch.isfinite(c), c, torch.zeros(()))
    n = c.shape[0]
    if c.numel() == 0:
        return np.zeros((n, 2)), np.zeros(2)
    c = c - c.mean(dim=0, keepdim=True)                    # (N, D) centred
    if c.shape[1] <= n:
        evals, evecs = torch.linalg.eigh(c.T @ c)          # ascending; (D,), (D, D)
        y = c @ evecs.flip(1)[:, :2]                       # (N, <=2) on the top axes
    else:
        evals, evecs = torch.linalg.eigh(c @ c.T)          # Gram: (N,), (N, N)
        y = evecs.flip(1)[:, :2] * evals.flip(0)[:2].clamp(min=0).sqrt()
    evals = evals.flip(0).clamp(min=0)                     # descending variances x N
    total = float(evals.sum())
    frac = (evals[:2] / total if total > 0 else torch.zeros(len(evals[:2]))).numpy()
    y = y.numpy()
    if y.shape[1] < 2:
        y = np.pad(y, ((0, 0), (0, 2 - y.shape[1])))
        frac = np.pad(frac, (0, 2 - len(frac)))
    return y, frac


def _procrustes(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The orthogonal 2x2 R (rotation or reflection) minimising |y R - ref|."""
    u, _, vt = np.linalg.svd(y.T @ ref)
    return u @ vt


def pca_step(features: np.ndarray, previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One step: (N, D) features -> 2-D coordinates float32 (N, 2), aligned to
    ``previous`` (N, 2) when given, and the two axes' variance fractions (2,)."""
    y, frac = _pca2(features)
    if previous is not None and len(y) == len(previous) and len(y):
        y = y @ _procrustes(y, np.asarray(previous, dtype=np.float64))
    return y.astype(np.float32), frac


def project_pca(feats_by_step: Sequence[np.ndarray], margin: float = 0.05) -> Projection:
    """Per-step PCA to 2-D, each step aligned to the one before; ``feats_by_step``
    holds (N, D) features of the same N samples at every step (D may differ)."""
    coords, explained = [], []
    prev = None
    for f in feats_by_step:
        prev, frac = pca_step(f, prev)
        coords.append(prev)
        explained.append(frac)
    return Projection(coords, np.array(explained).reshape(-1, 2), *axis_ranges(coords, margin))


def axis_ranges(coords: Sequence[np.ndarray], margin: float = 0.05
                ) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x_range, y_range) covering every step's (N, 2) points, widened by ``margin``."""
    pts = [c for c in coords if len(c)]
    if not pts:
        return (-1.0, 1.0), (-1.0, 1.0)
    allc = np.concatenate(pts)
    lo, hi = allc.min(axis=0), allc.max(axis=0)
    pad = np.maximum((hi - lo) * margin, 1e-6)
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))
