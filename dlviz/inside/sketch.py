"""A small, mergeable-by-bins summary of many values: a quantile sketch.

Histograms over training steps must share their bins, but the bins are only
known once every step has been seen. So each snapshot keeps a sketch of its
values (sorted values when there are few, else evenly spaced quantiles) and
histograms are drawn later, on common edges, from the sketch's CDF. The
counts add up to the real number of values; with many values they are an
interpolation between quantiles (513 quantiles of at most 16,384 evenly
spaced values: a bin's share is off by well under 1% of all values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

QUANTILES = 513          # points kept per sketch
MAX_SORT = 1 << 14       # values sorted per sketch; larger sets are subsampled evenly first


@dataclass(frozen=True)
class Sketch:
    n: int                  # how many values were summarised
    points: np.ndarray      # float64 (P,) sorted: all values (exact) or quantiles at probs
    probs: np.ndarray       # float64 (P,) cumulative fraction at each point (empty when exact)

    @property
    def exact(self) -> bool:
        return self.probs.size == 0

    @property
    def lo(self) -> float:
        return float(self.points[0]) if self.n else 0.0

    @property
    def hi(self) -> float:
        return float(self.points[-1]) if self.n else 0.0

    def fraction_below(self, edges: np.ndarray) -> np.ndarray:
        """(E,) the fraction of values < each edge (from the quantiles when not exact)."""
        e = np.asarray(edges, dtype=np.float64)
        if self.n == 0:
            return np.zeros_like(e)
        if self.exact:
            return np.searchsorted(self.points, e, side="left") / self.n
        q, p = self.points, self.probs
        j = np.searchsorted(q, e, side="left")          # q[j-1] < e <= q[j]
        inside = (j > 0) & (j < len(q))
        jj = np.clip(j, 1, len(q) - 1)
        q0, q1, p0, p1 = q[jj - 1], q[jj], p[jj - 1], p[jj]
        width = np.where(q1 > q0, q1 - q0, 1.0)
        interp = p0 + (p1 - p0) * (e - q0) / width
        return np.where(inside, interp, np.where(j == 0, 0.0, 1.0))

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """(B,) counts in [edges[i], edges[i+1]), the last bin closed; values outside
        the edges are not counted. Sums to ``n`` when the edges span [lo, hi]."""
        f = self.fraction_below(edges)
        if self.n and edges[-1] >= self.hi:
            f[-1] = 1.0                                  # the last bin includes its right edge
        return np.diff(f) * self.n


def sketch(values: torch.Tensor | np.ndarray) -> Sketch:
    """Summarise any tensor's finite values (flattened)."""
    v = torch.as_tensor(values).detach().reshape(-1).float().cpu()
    finite = torch.isfinite(v)
    if not bool(finite.all()):
        v = v[finite]
    n = v.numel()
    if n > MAX_SORT:
        # an even stride over the flattened (B, C, H, W) values samples every
        # sample and channel alike; the quantiles of such a subsample are
        # those of the whole to within a fraction of a percent
        v = v[torch.linspace(0, n - 1, MAX_SORT).long()]
    s = torch.sort(v).values.double().numpy()
    if n <= QUANTILES:
        return Sketch(n, s, np.zeros(0))
    pos = np.linspace(0, len(s) - 1, QUANTILES)
    probs = pos / (len(s) - 1)
    return Sketch(n, s[np.round(pos).astype(int)], probs)
