"""How much attribution falls on the object, given its ground-truth mask (synthetic shapes).

share = attribution mass inside the mask / total mass
area  = mask pixels / all pixels
ratio = share / area: 1 means no better than spreading the mass evenly;
        a map that points at the object scores clearly above 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlviz.errors import UserError


@dataclass(frozen=True)
class MaskShare:
    share: float
    area: float
    ratio: float


def mask_share(map2d: np.ndarray, mask: np.ndarray, mode: str = "abs") -> MaskShare:
    """``mode``: "abs" counts |attribution| (evidence for and against alike);
    "positive" counts only the positive part (evidence for the class)."""
    m = np.asarray(map2d, dtype=np.float64)
    k = np.asarray(mask, dtype=bool)
    if m.shape != k.shape:
        raise UserError(f"the map has shape {list(m.shape)}, the mask {list(k.shape)}")
    if mode not in ("abs", "positive"):
        raise UserError(f"mode must be 'abs' or 'positive', got {mode!r}")
    area = float(k.mean()) if k.size else 0.0
    if area == 0.0:
        raise UserError("the mask is empty: there is no object to compare with")
    mass = np.abs(m) if mode == "abs" else np.clip(m, 0.0, None)
    total = float(mass.sum())
    share = float(mass[k].sum() / total) if total > 0 else 0.0
    return MaskShare(share, area, share / area)
