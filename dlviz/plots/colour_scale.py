"""Numbers -> RGB for feature maps, kernels and enlarged maps (numpy, no matplotlib).

One convention across the app: TensorFlow Playground's orange for negative,
white for zero, blue for positive (as ``filters_mosaic`` and the Plotly
``DIVERGING`` scale). A non-negative map (after ReLU) is then white to blue.
``centre_zero=False`` maps [lo, hi] to white..blue instead, for values such as
sigmoid outputs that never reach zero and would otherwise all look pale.
"""

from __future__ import annotations

import numpy as np

NEG = np.array([245, 147, 34], dtype=np.float32)     # style.ORANGE
POS = np.array([8, 119, 189], dtype=np.float32)      # style.BLUE


def colour_range(lo: float, hi: float, centre_zero: bool = True) -> tuple[float, float]:
    """The colour scale's ends for values in [lo, hi]: symmetric around 0, or [lo, hi]."""
    lo, hi = float(lo), float(hi)
    if centre_zero:
        m = max(abs(lo), abs(hi), 1e-12)
        return (-m if lo < 0 else 0.0), m
    return lo, (hi if hi > lo else lo + 1e-12)


def to_rgb(values: np.ndarray, lo: float, hi: float, centre_zero: bool = True) -> np.ndarray:
    """float (...) -> uint8 (..., 3). ``centre_zero``: white at 0, full colour at
    max(|lo|, |hi|); else white at ``lo``, full blue at ``hi``."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    if centre_zero:
        m = max(abs(float(lo)), abs(float(hi)), 1e-12)
        t = np.clip(v / m, -1.0, 1.0)
    else:
        t = np.clip((v - lo) / max(float(hi) - float(lo), 1e-12), 0.0, 1.0)
    a = np.abs(t)[..., None]
    colour = np.where(t[..., None] < 0, NEG, POS)
    return np.clip((255 * (1 - a) + colour * a).round(), 0, 255).astype(np.uint8)


def colour_bar(width: int, height: int, lo: float, hi: float, centre_zero: bool = True) -> np.ndarray:
    """uint8 (height, width, 3): the scale from ``lo`` (left) to ``hi`` (right)."""
    ramp = np.linspace(lo, hi, max(width, 2), dtype=np.float32)[:width]
    return np.repeat(to_rgb(ramp, lo, hi, centre_zero)[None], height, axis=0)
