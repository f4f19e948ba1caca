"""Attribution maps drawn over the input: PIL images from numpy arrays (no model, no torch).

    overlay(shown, map2d, signed=True)      one heat overlay on the image the model saw
    colour_scale(signed, vmax)              a small legend for it
    explanation_sheet(shown, maps, labels)  the input and every overlay side by side, one PNG
    feature_bars(values, names)             a Plotly bar chart for models on a few features

Colours: signed maps use a diverging scale symmetric around 0 (red raises the
class score, blue lowers it; ColorBrewer RdBu), magnitudes a sequential one
(YlOrRd). The overlay's opacity grows with |value| (square root, so middling
values still show), over a grey copy of the image: the map's colours are not
confused with the image's. Each map is scaled to its own ``vmax``, by default
the 99.5th percentile of |map|, so one extreme pixel does not wash it out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from dlviz.plots.pil_draw import INK, MUTED, fit_text, pil_font
from dlviz.plots.style import MUTED as MUTED_CSS
from dlviz.plots.style import base_layout, fmt_number, placeholder, px

# ColorBrewer RdBu, blue (-1) .. near white (0) .. red (+1)
_DIVERGING = np.array([[5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240],
                       [247, 247, 247], [253, 219, 199], [244, 165, 130], [214, 96, 77],
                       [178, 24, 43], [103, 0, 31]], dtype=np.float32)
# ColorBrewer YlOrRd, 0 .. 1
_SEQUENTIAL = np.array([[255, 255, 204], [255, 237, 160], [254, 217, 118], [254, 178, 76],
                        [253, 141, 60], [252, 78, 42], [227, 26, 28], [189, 0, 38], [128, 0, 38]],
                       dtype=np.float32)
POSITIVE, NEGATIVE = "#b2182b", "#2166ac"     # bar colours, the ends of the diverging scale
TILE = 168                                     # default tile side in the sheet, px


def robust_vmax(map2d: np.ndarray, q: float = 99.5) -> float:
    """The value the colour scale ends at: a high percentile of |map| (never 0)."""
    a = np.abs(np.nan_to_num(np.asarray(map2d, dtype=np.float64)))
    v = float(np.percentile(a, q)) if a.size else 0.0
    if v <= 0:
        v = float(a.max()) if a.size else 0.0
    return v if v > 0 else 1.0


def colourise(map2d: np.ndarray, signed: bool, vmax: float | None = None
              ) -> tuple[np.ndarray, np.ndarray, float]:
    """map (H, W) -> colours float32 (H, W, 3) in 0..255, strength (H, W) in 0..1, vmax used."""
    m = np.nan_to_num(np.asarray(map2d, dtype=np.float32))
    vmax = float(vmax) if vmax and vmax > 0 else robust_vmax(m)
    if signed:
        t = np.clip(m / vmax, -1.0, 1.0)                       # -1 .. 1
        colours = _lookup(_DIVERGING, (t + 1.0) / 2.0)
        strength = np.abs(t)
    else:
        t = np.clip(np.abs(m) / vmax, 0.0, 1.0)                # 0 .. 1
        colours = _lookup(_SEQUENTIAL, t)
        strength = t
    return colours, strength, vmax


def _lookup(lut: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation in a (K, 3) colour table at t in [0, 1]: (...,) -> (..., 3)."""
    pos = t * (len(lut) - 1)
    i = np.clip(np.floor(pos).astype(np.int64), 0, len(lut) - 2)
    f = (pos - i)[..., None]
    return lut[i] * (1 - f) + lut[i + 1] * f


def _rgb(shown: np.ndarray) -> np.ndarray:
    a = np.asarray(shown)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"the image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return a[..., :3]


def _scale_for(h: int, w: int, scale: int | None, tile: int = TILE) -> int:
    return max(1, int(scale)) if scale else max(1, tile // max(h, w))


def overlay(shown: np.ndarray, map2d: np.ndarray, signed: bool = True, opacity: float = 0.7,
            scale: int | None = None, vmax: float | None = None) -> Image.Image:
    """The map over a grey copy of the image, both upscaled ``scale`` times (nearest).

    shown: uint8 (H, W, 3) (or (H, W)); map2d: (H, W). ``scale`` None: the
    longer side becomes about 168 px. ``opacity`` 0 shows the image alone,
    1 paints the strongest pixels in pure colour.
    """
    img = _rgb(shown).astype(np.float32)                                   # (H, W, 3)
    m = np.asarray(map2d, dtype=np.float32)
    if m.shape != img.shape[:2]:
        raise ValueError(f"map {m.shape} and image {img.shape[:2]} differ in size")
    grey = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)          # (H, W)
    base = np.repeat((0.35 * 255 + 0.65 * grey)[..., None], 3, axis=-1)     # lightened grey
    colours, strength, _ = colourise(m, signed, vmax)
    alpha = (float(np.clip(opacity, 0.0, 1.0)) * np.sqrt(strength))[..., None]
    out = np.clip(base * (1 - alpha) + colours * alpha, 0, 255).round().astype(np.uint8)
    s = _scale_for(*m.shape, scale)
    return Image.fromarray(np.repeat(np.repeat(out, s, axis=0), s, axis=1))


def heatmap(map2d: np.ndarray, signed: bool = True, scale: int | None = None,
            vmax: float | None = None) -> Image.Image:
    """The map alone (no image under it), for maps that are not aligned with pixels."""
    colours, strength, _ = colourise(map2d, signed, vmax)
    if not signed:                      # white at 0, like the diverging scale's middle
        colours = 255 * (1 - strength[..., None]) + colours * strength[..., None]
    out = np.clip(colours, 0, 255).round().astype(np.uint8)
    s = _scale_for(*np.shape(map2d), scale)
    return Image.fromarray(np.repeat(np.repeat(out, s, axis=0), s, axis=1))


def _fmt(v: float) -> str:
    return fmt_number(v, 2)


def range_text(signed: bool, vmax: float) -> str:
    """A map's colour range in words: '±0.42' or '0 to 0.2' (not '0..0.2', read as '0.0.2')."""
    return f"±{_fmt(vmax)}" if signed else f"0 to {_fmt(vmax)}"


def colour_scale(signed: bool, vmax: float, width: int = 220, height: int = 40) -> Image.Image:
    """A horizontal legend: -vmax .. 0 .. +vmax (signed) or 0 .. vmax, with labels."""
    bar_h, pad = max(8, height // 3), 8
    height += px(11) - 11               # the labels under the bar grow with the font scale
    t = np.linspace(-1.0, 1.0, width - 2 * pad) if signed else np.linspace(0.0, 1.0, width - 2 * pad)
    colours = _lookup(_DIVERGING, (t + 1) / 2) if signed else _lookup(_SEQUENTIAL, t)
    img = Image.new("RGB", (width, height), (255, 255, 255))
    strip = np.repeat(colours[None].round().astype(np.uint8), bar_h, axis=0)   # (bar_h, W', 3)
    img.paste(Image.fromarray(strip), (pad, 2))
    draw = ImageDraw.Draw(img)
    font = pil_font(px(11))
    y = 2 + bar_h + 3
    left = f"-{_fmt(vmax)}" if signed else "0"
    draw.text((pad, y), left, fill=MUTED, font=font, anchor="la")
    draw.text((width - pad, y), f"+{_fmt(vmax)}" if signed else _fmt(vmax), fill=MUTED, font=font,
              anchor="ra")
    if signed:
        draw.text((width / 2, y), "0", fill=MUTED, font=font, anchor="ma")
    return img


def _bars_tile(values: np.ndarray, size: int, signed: bool) -> Image.Image:
    """A tiny bar chart for a 1-D attribution (features or units), for the sheet."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel())
    if not signed:
        v = np.abs(v)
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    n = max(1, len(v))
    vmax = float(np.abs(v).max()) or 1.0
    mid = size / 2 if signed and (v < 0).any() else size - 4
    half = (size / 2 - 4) if mid == size / 2 else size - 8
    bw = max(1.0, (size - 8) / n)
    for i, val in enumerate(v):
        x0 = 4 + i * bw
        y1 = mid - half * val / vmax
        draw.rectangle([x0, min(mid, y1), x0 + max(1.0, bw - 1), max(mid, y1)],
                       fill=POSITIVE if val >= 0 else NEGATIVE)
    draw.line([4, mid, size - 4, mid], fill=MUTED)
    return img


def explanation_sheet(shown: np.ndarray | None, maps: Sequence, labels: Sequence[str] | None = None,
                      signed: bool | Sequence[bool] = True, opacity: float = 0.7, title: str = "",
                      tile: int = TILE, cols: int = 6) -> Image.Image:
    """One PNG-ready image: the input, then one overlay per map, each titled and scaled.

    ``maps``: (H, W) arrays (an ``Attribution``'s ``map2d``); a 1-D map (features,
    or a dense layer's units) is drawn as a small bar chart. ``labels`` None: "map 1", ...
    ``signed``: one flag for all, or one per map. ``shown`` None: no input tile.
    """
    arrays = [np.asarray(m, dtype=np.float32) for m in maps]
    names = list(labels) if labels is not None else [f"map {i + 1}" for i in range(len(arrays))]
    if len(names) != len(arrays):
        raise ValueError(f"{len(arrays)} maps but {len(names)} labels")
    flags = [bool(signed)] * len(arrays) if isinstance(signed, (bool, np.bool_)) else list(signed)
    if len(flags) != len(arrays):
        raise ValueError(f"{len(arrays)} maps but {len(flags)} signed flags")
    tiles: list[tuple[Image.Image, str, str]] = []          # image, caption, scale text
    if shown is not None:
        img = _rgb(shown)
        s = _scale_for(*img.shape[:2], None, tile)
        tiles.append((Image.fromarray(np.repeat(np.repeat(img, s, 0), s, 1)), "input", ""))
    bars = []                                                # 1-D maps: drawn once the side is known
    for a, name, sg in zip(arrays, names, flags):
        vmax = robust_vmax(a)
        if a.ndim == 2 and shown is not None and a.shape == _rgb(shown).shape[:2]:
            im = overlay(shown, a, sg, opacity, _scale_for(*a.shape, None, tile), vmax)
        elif a.ndim == 2:
            im = heatmap(a, sg, _scale_for(*a.shape, None, tile), vmax)
        else:
            im = None
            bars.append((len(tiles), a, sg))
        tiles.append((im, name, range_text(sg, vmax)))
    drawn = [max(t.size) for t, _, _ in tiles if t is not None]
    for i, a, sg in bars:                                     # as big as the image tiles
        tiles[i] = (_bars_tile(a, max(drawn) if drawn else tile, sg),) + tiles[i][1:]
    if not tiles:
        tiles.append((Image.new("RGB", (tile, tile), (255, 255, 255)), "nothing to show", ""))

    side = max(max(t.size) for t, _, _ in tiles)
    gap, cap_h = 10, px(34)
    title_h = px(30) if title else 0
    cols = max(1, min(cols, len(tiles)))
    rows = -(-len(tiles) // cols)
    sheet = Image.new("RGB", (gap + cols * (side + gap), title_h + gap + rows * (side + cap_h + gap)),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if title:
        big = pil_font(px(15))
        draw.text((gap, gap), fit_text(big, title, sheet.width - 2 * gap), fill=INK, font=big)
    font, small = pil_font(px(12)), pil_font(px(10))
    for i, (im, caption, scale_text) in enumerate(tiles):
        r, c = divmod(i, cols)
        x0, y0 = gap + c * (side + gap), title_h + gap + r * (side + cap_h + gap)
        sheet.paste(im, (x0 + (side - im.width) // 2, y0 + (side - im.height) // 2))
        draw.text((x0 + side / 2, y0 + side + 3), fit_text(font, caption, side), fill=INK, font=font,
                  anchor="ma")
        if scale_text:
            draw.text((x0 + side / 2, y0 + side + px(19)), scale_text, fill=MUTED, font=small, anchor="ma")
    return sheet


def feature_bars(values: np.ndarray, names: Sequence[str] | None = None, title: str = "",
                 signed: bool = True) -> go.Figure:
    """Per-feature (or per-unit) attribution as horizontal bars, red for positive, blue negative."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel())
    fig = go.Figure()
    if v.size == 0:
        return placeholder(base_layout(fig, height=160), "no features")
    if not signed:
        v = np.abs(v)
    labels = list(names) if names is not None else [f"feature {i + 1}" for i in range(len(v))]
    if len(labels) != len(v):
        raise ValueError(f"{len(v)} values but {len(labels)} names")
    fig.add_trace(go.Bar(x=v, y=labels, orientation="h",
                         marker_color=[POSITIVE if a >= 0 else NEGATIVE for a in v],
                         hovertemplate="%{y}: %{x:.3g}<extra></extra>"))
    base_layout(fig, height=max(140, 60 + px(24) * len(v)), legend_top=False,
                margin=dict(l=8, r=16, t=36 if title else 12, b=36))
    fig.update_layout(title=dict(text=title, font_size=px(13)) if title else None, showlegend=False)
    # every feature named (Plotly thins category labels that look crowded)
    fig.update_yaxes(autorange="reversed", automargin=True, dtick=1)
    fig.update_xaxes(title_text="attribution", zeroline=True, zerolinecolor=MUTED_CSS)
    return fig

