"""The 2-D plane views: decision boundary and what every neuron computes over it.

A ``PlaneGrid`` is a square G x G lattice over the data's bounding box. Every
map returned here has shape (G, G) with ``map[i, j]`` the value at
``(xs[j], ys[i])``: rows follow y upwards, columns follow x, which is what a
Plotly heatmap with ``x=xs, y=ys`` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from dlviz.data.features import featurize
from dlviz.probe import capture
from dlviz.views._eval import inference


@dataclass(frozen=True)
class PlaneGrid:
    xs: np.ndarray        # (G,) float32, increasing
    ys: np.ndarray        # (G,) float32, increasing
    points: np.ndarray    # (G*G, 2) float32; row i*G + j is (xs[j], ys[i])

    @property
    def size(self) -> int:
        return len(self.xs)


@dataclass(frozen=True)
class NeuronLayer:
    name: str             # "input" or the dense layer's module name ("dense1")
    maps: np.ndarray      # (units, G, G) float32


def plane_grid(points, resolution: int = 60, margin: float = 0.15) -> PlaneGrid:
    """A square grid over the bounding box of ``points`` (N, 2), widened by
    ``margin`` (a fraction of the half-side) on every side."""
    p = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    p = p.reshape(-1, 2).astype(np.float64)
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    p = p[np.isfinite(p).all(axis=1)]
    if len(p) == 0:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    else:
        lo, hi = p.min(axis=0), p.max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2, 1e-6)
    half = half * (1 + margin) if half > 1e-6 else 1.0      # a single point: a unit square
    xs = np.linspace(centre[0] - half, centre[0] + half, resolution, dtype=np.float32)
    ys = np.linspace(centre[1] - half, centre[1] + half, resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)                             # (G, G) each, [i, j] = (xs[j], ys[i])
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    return PlaneGrid(xs, ys, pts)


def boundary_values(model: nn.Module, grid: PlaneGrid, features: Sequence[str], task: str,
                    batch: int = 8192) -> np.ndarray:
    """What the model says at every grid point -> (G, G) float32.

    classification, 2 classes: p(class 1) in [0, 1];
    classification, K > 2: the argmax class index (as float);
    regression: the output value.
    """
    g = grid.size
    x = featurize(grid.points, features)                     # (G*G, F)
    with inference(model) as device:
        out = torch.cat([model(x[i:i + batch].to(device)).float().cpu()
                         for i in range(0, len(x), batch)])  # (G*G, K)
    if task == "regression":
        vals = out[:, 0]
    elif task == "classification":
        if out.shape[1] == 2:
            vals = torch.softmax(out, dim=1)[:, 1]
        else:
            vals = out.argmax(dim=1).float()
    else:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    return vals.numpy().reshape(g, g).astype(np.float32)


def neuron_maps(model: nn.Module, layer_modules: list[list[str]], grid: PlaneGrid,
                features: Sequence[str]) -> list[NeuronLayer]:
    """Each input feature and each hidden dense unit's post-activation output over the plane.

    The first entry is ``NeuronLayer("input", (F, G, G))``; then one entry per
    hidden dense layer group (a group from ``BuiltNet.layer_modules`` whose
    first module is ``nn.Linear``, the "output" head excluded), named after
    the group's first module, with maps (units, G, G) taken from the group's
    last module (the activation when it has one).
    """
    g = grid.size
    x = featurize(grid.points, features)                     # (G*G, F)
    layers = [NeuronLayer("input", x.T.reshape(-1, g, g).numpy().astype(np.float32))]
    modules = dict(model.named_modules())
    groups = [grp for grp in layer_modules
              if grp and grp[0] != "output" and isinstance(modules.get(grp[0]), nn.Linear)]
    with inference(model) as device:
        with capture(model, [grp[-1] for grp in groups]) as probe:
            model(x.to(device))
    for grp in groups:
        out = probe.outputs[grp[-1]].float().cpu()           # (G*G, units)
        layers.append(NeuronLayer(grp[0], out.T.reshape(-1, g, g).numpy().astype(np.float32)))
    return layers
