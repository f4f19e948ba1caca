"""Arrays as small PNG pictures for Plotly figures (a data URI per picture)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from dlviz.plots.style import BLUE, ORANGE

_WHITE = np.array([255.0, 255.0, 255.0])


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


_LOW, _HIGH = _rgb(ORANGE), _rgb(BLUE)


def _diverging_lut() -> np.ndarray:
    """(255, 3) uint8: ORANGE -> white -> BLUE, as ``style.DIVERGING`` (odd, so that
    the middle entry, 127, is exactly white)."""
    t = np.linspace(0.0, 1.0, 255)[:, None]
    low = _LOW + (_WHITE - _LOW) * (t / 0.5)
    high = _WHITE + (_HIGH - _WHITE) * ((t - 0.5) / 0.5)
    return np.where(t < 0.5, low, high).round().astype(np.uint8)


_LUT = _diverging_lut()


def diverging_rgb(z: np.ndarray, zmin: float, zmax: float) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 on the style's diverging scale (ORANGE at
    ``zmin``, white at the middle, BLUE at ``zmax``); NaN is white. A 255-entry
    lookup: ~0.1 ms for a 60x60 tile."""
    z = np.asarray(z, dtype=np.float64)
    span = zmax - zmin
    if not np.isfinite(span) or span <= 0:
        return np.broadcast_to(_LUT[127], (*z.shape, 3)).copy()
    t = np.nan_to_num((z - zmin) / span, nan=0.5, posinf=1.0, neginf=0.0)
    return _LUT[np.clip(np.rint(t * 254), 0, 254).astype(np.uint8)]


def png_bytes(img: Image.Image) -> bytes:
    """A PIL picture as PNG bytes, compress level 1: the live pictures are redrawn twice a
    second, and level 1 is ~5x faster than the default for ~1.3x the bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_data_uri(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 -> 'data:image/png;base64,...'."""
    png = png_bytes(Image.fromarray(np.ascontiguousarray(rgb), "RGB"))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
