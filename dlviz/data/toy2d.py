"""The 2-D toy sets of TensorFlow Playground, plus sklearn-style moons.

Geometry, coordinate range (about [-6, 6]) and the meaning of noise follow
Playground's ``src/dataset.ts``:

- circle, xor, plane, multi-gaussian: noise is *label* noise. Each point is
  drawn without noise, but its label is computed at a jittered copy of it,
  so labels near the boundary come out wrong (Playground does exactly this).
- gaussian: noise widens the two blobs; spiral and moons: noise jitters the
  points themselves.

``params.noise`` is in [0, 1]; Playground's slider goes from 0 to 0.5, so
Playground's noise is ``0.5 * params.noise`` here (noise=1 is Playground's
maximum). Playground's labels -1 / +1 become classes 0 / 1.

Every random draw comes from one ``torch.Generator`` seeded with
``params.seed``; the global RNG is never touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from dlviz.data.dataset import Dataset
from dlviz.data.features import featurize
from dlviz.data.params import DatasetParams

DEFAULT_SAMPLES = 500            # train + test
RADIUS = 6.0                     # regression points are uniform in [-6, 6]^2
CLASSES = ("class 0", "class 1")

def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)                       # (n,)


def _jitter(g: torch.Generator, n: int, scale: float) -> Tensor:
    # Playground's noise offset: uniform in [-scale, scale] per axis, (n, 2)
    return torch.stack([_uniform(g, n, -scale, scale), _uniform(g, n, -scale, scale)], 1)


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


# ---------------------------------------------------------------- classification
# each returns points float32 (n, 2) and labels int64 (n,)

def _circle(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    radius = 5.0
    parts = []
    for m, (r_lo, r_hi) in zip(_halves(n), [(0.0, radius * 0.5), (radius * 0.7, radius)]):
        r = _uniform(g, m, r_lo, r_hi)
        a = _uniform(g, m, 0.0, 2 * math.pi)
        parts.append(torch.stack([r * torch.sin(a), r * torch.cos(a)], 1))
    pts = torch.cat(parts)                                                   # (n, 2)
    noisy = pts + _jitter(g, n, radius) * noise
    y = (noisy.norm(dim=1) < radius * 0.5).long()                            # inside: 1
    return pts, y


def _xor(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    pts = _jitter(g, n, 5.0)
    pts = pts + 0.3 * torch.where(pts > 0, 1.0, -1.0)   # keep points off the axes
    noisy = pts + _jitter(g, n, 5.0) * noise
    y = (noisy[:, 0] * noisy[:, 1] >= 0).long()
    return pts, y


def _gaussian(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    # Playground: variance grows linearly from 0.5 (noise 0) to 4 (noise 0.5)
    std = math.sqrt(0.5 + 7.0 * noise)
    n0, n1 = _halves(n)
    centres = torch.cat([torch.full((n0, 2), -2.0), torch.full((n1, 2), 2.0)])
    pts = centres + std * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0), torch.ones(n1)]).long()
    return pts, y


def _spiral(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    parts, labels = [], []
    for m, (delta, label) in zip(_halves(n), [(math.pi, 0), (0.0, 1)]):
        i = torch.arange(m, dtype=torch.float32) / m                       # (m,) in [0, 1)
        r = 5.0 * i
        t = 1.75 * 2 * math.pi * i + delta
        xy = torch.stack([r * torch.sin(t), r * torch.cos(t)], 1)
        parts.append(xy + _jitter(g, m, 1.0) * noise)
        labels.append(torch.full((m,), label))
    return torch.cat(parts), torch.cat(labels).long()


def _moons(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    # sklearn.datasets.make_moons, then centred and scaled x3.5 into about
    # [-5.3, 5.3] x [-2.6, 2.6]; noise is Gaussian, std 0.5 * params.noise
    # in sklearn's units before scaling (noise=0.1 there is std 0.05 here).
    n0, n1 = _halves(n)
    t0 = _uniform(g, n0, 0.0, math.pi)
    t1 = _uniform(g, n1, 0.0, math.pi)
    outer = torch.stack([torch.cos(t0), torch.sin(t0)], 1)
    inner = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], 1)
    pts = torch.cat([outer, inner]) + noise * torch.randn(n, 2, generator=g)
    pts = (pts - torch.tensor([0.5, 0.25])) * 3.5
    y = torch.cat([torch.zeros(n0), torch.ones(n1)]).long()
    return pts, y


# ---------------------------------------------------------------- regression
# each returns points float32 (n, 2) and targets float32 (n, 1) in [-1, 1]

def _plane(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    pts = _jitter(g, n, RADIUS)
    noisy = pts + _jitter(g, n, RADIUS) * noise
    # Playground maps x1 + x2 in [-10, 10] to [-1, 1]; /12 keeps the whole
    # square in [-1, 1], and the clamp does the same for noisy labels
    y = (noisy.sum(dim=1) / (2 * RADIUS)).clamp(-1.0, 1.0)
    return pts, y[:, None]


_BUMPS = torch.tensor([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                       [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=torch.float32)


def _multi_gaussian(n: int, noise: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    pts = _jitter(g, n, RADIUS)
    noisy = pts + _jitter(g, n, RADIUS) * noise
    d = torch.cdist(noisy, _BUMPS[:, :2])                                    # (n, 6)
    v = _BUMPS[:, 2] * (1 - d / 2).clamp(0.0, 1.0)   # each bump: cone of radius 2
    # Playground keeps the bump that is largest in absolute value
    y = v.gather(1, v.abs().argmax(dim=1, keepdim=True))                     # (n, 1)
    return pts, y


@dataclass(frozen=True)
class Toy2D:
    """One 2-D set: everything the registry and the builder need, in one record.

    Adding a 2-D set is one ``Toy2D`` in ``TOYS`` (the registry lists them all)."""

    key: str
    description: str             # one line: the dataset lists and ``Dataset.description``
    generate: Callable[[int, float, torch.Generator], tuple[Tensor, Tensor]]
    task: str = "classification"     # regression generators return targets (n, 1) in [-1, 1]
    # params.noise when it is None. Playground starts every set at 0; spiral and
    # moons get a little jitter so that they do not look drawn with a ruler.
    default_noise: float = 0.0

    @property
    def num_classes(self) -> int:
        return len(CLASSES) if self.task == "classification" else 0


TOYS: dict[str, Toy2D] = {t.key: t for t in [
    Toy2D("circle", "2-D: a disc of class 1 (radius 2.5) inside a ring of class 0 (radius 3.5 to 5)",
          _circle),
    Toy2D("xor", "2-D: four quadrants, opposite corners share a class (class 1 where x1*x2 >= 0)",
          _xor),
    Toy2D("gaussian", "2-D: two Gaussian blobs, at (2, 2) (class 1) and (-2, -2) (class 0)",
          _gaussian),
    Toy2D("spiral", "2-D: two interleaved spirals, 1.75 turns each (hard for shallow nets)",
          _spiral, default_noise=0.1),
    Toy2D("moons", "2-D: two interleaving half circles (sklearn's make_moons, scaled x3.5)",
          _moons, default_noise=0.2),
    Toy2D("plane", "2-D regression: a tilted plane, y = (x1 + x2) / 12 on [-6, 6]^2",
          _plane, task="regression"),
    Toy2D("multi-gaussian", "2-D regression: six signed Gaussian-like bumps, y in [-1, 1]",
          _multi_gaussian, task="regression"),
]}

# derived, for the Build page's noise slider
DEFAULT_NOISE: dict[str, float] = {k: t.default_noise for k, t in TOYS.items()}


def generate(key: str, n: int, noise: float, seed: int) -> tuple[Tensor, Tensor]:
    """Raw points float32 (n, 2) and labels (int64 (n,) or float32 (n, 1)), unshuffled."""
    g = torch.Generator().manual_seed(seed)
    toy = TOYS[key]
    pts, y = toy.generate(n, 0.5 * noise, g)   # Playground's noise scale: [0, 0.5]
    return pts.float(), (y.float() if toy.task == "regression" else y.long())


def build(key: str, params: DatasetParams) -> Dataset:
    """Build the 2-D set ``key`` with a shuffled train/test split.

    n_samples None -> DEFAULT_SAMPLES; noise None -> the set's ``default_noise``.
    x_* are ``featurize(points, params.features)``: float32 (N, F).
    """
    if key not in TOYS:
        raise KeyError(f"unknown 2-D dataset '{key}'; choose one of: {', '.join(TOYS)}")
    n = params.n_samples or DEFAULT_SAMPLES
    noise = TOYS[key].default_noise if params.noise is None else params.noise
    pts, y = generate(key, n, noise, params.seed)

    # shuffle with its own stream, so the split does not shift the points
    g = torch.Generator().manual_seed(params.seed + 1)
    perm = torch.randperm(n, generator=g)
    n_test = min(max(round(n * params.test_fraction), 1), n - 1)
    test, train = perm[:n_test], perm[n_test:]

    regression = TOYS[key].task == "regression"
    features = tuple(params.features)
    return Dataset(
        key=key,
        task="regression" if regression else "classification",
        input_shape=(len(features),),
        classes=() if regression else CLASSES,
        x_train=featurize(pts[train], features),
        y_train=y[train],
        x_test=featurize(pts[test], features),
        y_test=y[test],
        description=TOYS[key].description,
        features=features,
        points_train=pts[train],
        points_test=pts[test],
    )
