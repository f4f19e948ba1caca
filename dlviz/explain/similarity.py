"""Rank correlation between two attribution maps (numpy only; ties get average ranks)."""

from __future__ import annotations

import numpy as np


def ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks 0..n-1 of a flattened array: equal values share their mean rank,
    so a map with large flat areas (Grad-CAM, Guided Backprop) is not ranked at random."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2.0)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two same-shaped maps, in [-1, 1]. A constant map has no
    ranking at all; it is reported as 0 (unrelated), not NaN."""
    ra, rb = ranks(a), ranks(b)
    if ra.size != rb.size:
        raise ValueError(f"maps differ in size: {np.shape(a)} vs {np.shape(b)}")
    ra -= ra.mean()
    rb -= rb.mean()
    den = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else 0.0
