"""Small pictures of a run for the class board: its decision boundary (2-D data) or
its confusion matrix (images), drawn from the run's newest snapshot.

Plain numpy pictures (no Plotly figure per student): 30 students' cells redraw
every few seconds. Colours are the app's diverging scale (``plots/png.py``).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dlviz.build import build
from dlviz.plots.png import diverging_rgb
from dlviz.train.runs import RunEntry
from dlviz.views.plane import boundary_values, plane_grid
from dlviz.views.predictions import predict_test_set

SIDE_PX = 120                  # the picture's side on the board
GRID = 40                      # boundary: 40 x 40 model evaluations, each 3 px
CONFUSION_LIMIT = 300          # test images a confusion thumbnail counts
POINTS_SHOWN = 150             # training points drawn on a boundary
POINT_COLOURS = np.array([[200, 90, 20], [20, 80, 160]], dtype=np.uint8)   # class 0, class 1


def _model(entry: RunEntry, weights):
    net = build(entry.spec, "cpu")
    net.model.load_state_dict(weights)
    net.model.eval()
    return net.model


def _scaled(rgb: np.ndarray) -> np.ndarray:
    """Nearest-neighbour up to about SIDE_PX: (h, w, 3) -> (h*k, w*k, 3)."""
    k = max(1, SIDE_PX // max(rgb.shape[:2]))
    return np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)


def boundary_rgb(entry: RunEntry, weights) -> np.ndarray:
    """The model's output over the plane, (SIDE_PX, SIDE_PX, 3) uint8, high x2 at the top."""
    ds = entry.dataset
    pts = ds.points_train.numpy()
    grid = plane_grid(pts, resolution=GRID)
    z = boundary_values(_model(entry, weights), grid, ds.features, ds.task)     # (G, G)
    if ds.task == "regression":
        span = float(max(np.abs(z).max(initial=0), 1e-9))
        rgb = diverging_rgb(z, -span, span)
    elif ds.num_classes <= 2:
        rgb = diverging_rgb(z, 0.0, 1.0)
    else:
        rgb = diverging_rgb(z, 0.0, float(ds.num_classes - 1))
    rgb = _scaled(np.flipud(rgb).copy())
    side = rgb.shape[0]
    if ds.task == "classification" and ds.num_classes <= 2:
        # a few training points as 2x2 dots in their class colour
        x0, x1 = float(grid.xs[0]), float(grid.xs[-1])
        y0, y1 = float(grid.ys[0]), float(grid.ys[-1])
        p = pts[:POINTS_SHOWN]
        cols = np.clip(((p[:, 0] - x0) / (x1 - x0) * (side - 2)).astype(int), 0, side - 2)
        rows = np.clip(((y1 - p[:, 1]) / (y1 - y0) * (side - 2)).astype(int), 0, side - 2)
        colour = POINT_COLOURS[np.clip(ds.y_train[:POINTS_SHOWN].numpy(), 0, 1)]
        for dr in (0, 1):
            for dc in (0, 1):
                rgb[rows + dr, cols + dc] = colour
    return rgb


def confusion_rgb(entry: RunEntry, weights) -> np.ndarray:
    """Row shares of the confusion matrix on the first CONFUSION_LIMIT test images (white ->
    blue; a good model is a blue diagonal)."""
    ds = entry.dataset
    p = predict_test_set(_model(entry, weights), ds.x_test, ds.y_test, CONFUSION_LIMIT)
    m = p.confusion(ds.num_classes).astype(np.float64)                          # (K, K)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    return _scaled(diverging_rgb(share, -1.0, 1.0))


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def thumbnail_png(entry: RunEntry, kind: str, step: int) -> bytes | None:
    """The board's picture of ``entry`` at its snapshot ``step`` ("boundary" or "confusion")."""
    weights = entry.handle.snapshot(step).weights
    if kind == "boundary":
        return png(boundary_rgb(entry, weights))
    if kind == "confusion":
        return png(confusion_rgb(entry, weights))
    return None
