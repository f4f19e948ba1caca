"""Synthetic MNIST-like digits, rendered offline.

No download: each digit is drawn with Pillow from the fonts on this machine
(its scalable built-in font ``ImageFont.load_default(size)`` always, plus any
TrueType fonts found under the usual font folders), then bent so that it
looks handwritten rather than printed:

1. glyph templates, once per (font, stroke width, digit), 56x56 (2x the
   final size), the digit fitted into a 40x40 box and centred by its centre
   of mass, as MNIST does at 20x20 in 28x28;
2. per image, one ``F.grid_sample`` over a batch of templates with a random
   affine grid (rotation, scale, aspect, shear, translation) plus a smooth
   random displacement field (Gaussian-blurred noise: elastic distortion);
3. a pen width per image: a random target stroke width picks the (font,
   stroke) template closest to it, so light and bold fonts share one range;
4. 2x2 average pooling to 28x28 (anti-aliasing), contrast, pixel noise.

The uint8 images are cached on disk (``cache.py``); ``build`` normalises
with the mean / std of the train split.
"""

from __future__ import annotations

import functools
import glob
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from dlviz.data.cache import cached_arrays
from dlviz.data.dataset import Dataset
from dlviz.data.params import DatasetParams

DEFAULT_SAMPLES = 12000          # train + test
DEFAULT_NOISE = 0.1              # std of the pixel noise is 0.5 * noise
CLASSES = tuple("0123456789")
SIZE = 28                        # final side length
_UP = 2                          # rendering / distortion happen at 2x, then pooled
_T = SIZE * _UP                  # template side length: 56
_BOX = 20 * _UP                  # the digit's bounding box inside a template: 40
_STROKES = (0, 2, 4, 6)          # stroke widening, px at the render size
_STROKE_RANGE = (3.5, 7.5)       # target stroke width in 56px pixels (1.75 to 3.75 at 28)
_STROKE_TOL = 1.0                # how far (56px) a font's best stroke may miss the target
_ELASTIC_SIGMA = 4.0             # smoothness of the elastic field, px at 28x28
_ELASTIC_RMS = (0.5, 1.5)        # per-image RMS elastic displacement, px at 28x28
_GAIN = 1.3                      # contrast after pooling
_RENDER_PX = 96                  # font size glyphs are rasterised at before resizing
_MAX_FONTS = 16                  # bound the template cost on machines with many fonts
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts")
# glyphs that read as printed / symbolic rather than handwritten
_SKIP_FONT_WORDS = ("mono", "math", "symbol", "emoji", "dingbat", "icon")
_GEN_VERSION = 1                 # bump when the rendering changes: a new cache file
_CHUNK = 512                     # images per grid_sample call: small buffers stay in cache


# --------------------------------------------------------------------------- build

def build(params: DatasetParams) -> Dataset:
    """The ``digits`` dataset: (N, 1, 28, 28) float32 normalised, labels int64.

    Defaults: ``n_samples`` None -> 12000, ``noise`` None -> 0.1 (pixel noise
    std 0.05 on a [0, 1] image). Classes are balanced in both splits. The same
    params (and the same fonts on the machine) always give the same images.
    """
    n = params.n_samples or DEFAULT_SAMPLES
    noise = DEFAULT_NOISE if params.noise is None else float(params.noise)
    n_test = min(max(int(round(n * params.test_fraction)), 1), n - 1)
    fonts = tuple(find_fonts())
    key = {"n": n, "n_test": n_test, "noise": noise, "seed": params.seed,
           "fonts": [_font_name(f) for f in fonts], "version": _GEN_VERSION}
    arrays = cached_arrays("digits", key, lambda: generate(n, n_test, noise, params.seed, fonts))

    train = torch.from_numpy(arrays["x_train"]).float().div_(255.0)   # (Ntr, 28, 28)
    mean, std = train.mean().item(), train.std().item()
    return Dataset(
        key="digits",
        task="classification",
        input_shape=(1, SIZE, SIZE),
        classes=CLASSES,
        x_train=_normalise(arrays["x_train"], mean, std),
        y_train=torch.from_numpy(arrays["y_train"]).long(),
        x_test=_normalise(arrays["x_test"], mean, std),
        y_test=torch.from_numpy(arrays["y_test"]).long(),
        description="28x28 handwritten-looking digits 0-9, rendered offline from fonts "
                    "with random affine and elastic distortion",
        norm_mean=(mean,),
        norm_std=(std,),
        extra={"fonts": ["load_default"] + [_font_name(f) for f in fonts]},  # fonts tried
    )


def _normalise(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)     # (N, 1, 28, 28)
    return (x - mean) / max(std, 1e-6)


def generate(n: int, n_test: int, noise: float, seed: int,
             fonts: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Render ``n`` digits; returns uint8 images (N, 28, 28) and int64 labels.

    Labels cycle 0..9 within each split (so each split is balanced to within
    one image) and are shuffled. Each random stage draws from its own RNG
    stream, so e.g. a different noise level leaves the digit shapes alone.
    """
    n_train = n - n_test
    rng = np.random.default_rng([seed, 0])
    y = np.concatenate([rng.permutation(np.arange(n_train) % 10),
                        rng.permutation(np.arange(n_test) % 10)]).astype(np.int64)
    templates = glyph_templates(fonts)                                # (F, S, 10, 56, 56)
    images = distort(templates, y, seed)                              # (N, 28, 28) in [0, 1]
    images = add_pixel_noise(images, noise, np.random.default_rng([seed, 3]))
    u8 = (images * 255.0).round().clamp_(0, 255).to(torch.uint8).numpy()
    return {"x_train": u8[:n_train], "y_train": y[:n_train],
            "x_test": u8[n_train:], "y_test": y[n_train:]}


# --------------------------------------------------------------------------- fonts

def find_fonts() -> list[str]:
    """TrueType / OpenType files on this machine that may draw digits.

    Sorted (so the choice is stable) and capped at ``_MAX_FONTS``. May be
    empty: ``ImageFont.load_default`` is always used as well.
    """
    found: set[str] = set()
    for d in _FONT_DIRS:
        root = os.path.expanduser(d)
        for ext in ("ttf", "otf"):
            found.update(glob.glob(os.path.join(root, "**", f"*.{ext}"), recursive=True))
    keep = [f for f in sorted(found)
            if not any(w in os.path.basename(f).lower() for w in _SKIP_FONT_WORDS)]
    return keep[:_MAX_FONTS]


def _font_name(path: str) -> str:
    return os.path.basename(path)


def _load_font(path: str | None) -> ImageFont.ImageFont | ImageFont.FreeTypeFont | None:
    """The font at ``path`` at the render size (None = Pillow's own), or None if unusable."""
    try:
        if path is None:
            return ImageFont.load_default(_RENDER_PX)
        return ImageFont.truetype(path, _RENDER_PX)
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- templates

@functools.lru_cache(maxsize=4)
def glyph_templates(fonts: tuple[str, ...]) -> torch.Tensor:
    """(F, S, 10, 56, 56) float32 in [0, 1]: one 56x56 glyph per font, stroke, digit.

    F counts the usable fonts (``load_default`` first), S = len(_STROKES).
    A font whose digits do not render as ten different, non-empty glyphs
    (a symbol font, a missing glyph box) is left out.
    """
    per_font = [g for g in map(_font_templates, (None, *fonts)) if g is not None]
    if not per_font:
        raise RuntimeError("no font could render digits (Pillow's load_default failed too)")
    return torch.from_numpy(np.stack(per_font))


def _font_templates(path: str | None) -> np.ndarray | None:
    """(S, 10, 56, 56) glyphs of one font (None = Pillow's own), or None if unusable."""
    font = _load_font(path)
    if font is None:
        return None
    try:
        glyphs = np.stack([np.stack([_render_glyph(font, d, s) for d in CLASSES])
                           for s in _STROKES])
    except (OSError, ValueError):       # a font that loads but cannot draw at this size
        return None
    return glyphs if _usable(glyphs[0]) else None


def _render_glyph(font, digit: str, stroke: int) -> np.ndarray:
    """One digit, white on black, fitted to a 40px box in 56x56, centred by mass.

    ``stroke`` > 0 widens every edge by that many pixels at the render size.
    (Eroding bold fonts instead breaks their thin joins, e.g. the top of a 0.)
    """
    canvas = Image.new("L", (_RENDER_PX * 2, _RENDER_PX * 2), 0)
    draw = ImageDraw.Draw(canvas)
    can_stroke = isinstance(font, ImageFont.FreeTypeFont)   # a bitmap fallback cannot
    kw = {"stroke_width": stroke, "stroke_fill": 255} if stroke > 0 and can_stroke else {}
    draw.text((_RENDER_PX // 2, _RENDER_PX // 2), digit, fill=255, font=font, **kw)
    if stroke > 0 and not can_stroke:
        canvas = canvas.filter(ImageFilter.MaxFilter(2 * stroke + 1))
    bbox = canvas.getbbox()
    if bbox is None:
        return np.zeros((_T, _T), np.float32)
    glyph = canvas.crop(bbox)
    w, h = glyph.size
    scale = _BOX / max(w, h)                    # keep the aspect ratio, as MNIST does
    glyph = glyph.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    return _centre_by_mass(np.asarray(glyph, np.float32) / 255.0)


def _centre_by_mass(glyph: np.ndarray) -> np.ndarray:
    """Paste (h, w) into a (56, 56) canvas so its centre of mass is in the middle."""
    h, w = glyph.shape
    total = glyph.sum()
    if total <= 0:
        return np.zeros((_T, _T), np.float32)
    cy = (glyph.sum(1) * np.arange(h)).sum() / total
    cx = (glyph.sum(0) * np.arange(w)).sum() / total
    top = int(round(_T / 2 - 0.5 - cy))
    left = int(round(_T / 2 - 0.5 - cx))
    top = min(max(top, 0), _T - h)             # never clip the glyph
    left = min(max(left, 0), _T - w)
    out = np.zeros((_T, _T), np.float32)
    out[top:top + h, left:left + w] = np.clip(glyph, 0.0, 1.0)
    return out


def _usable(glyphs: np.ndarray) -> bool:
    """(10, 56, 56): ten non-empty, pairwise different glyphs (not ten .notdef boxes)."""
    flat = glyphs.reshape(len(glyphs), -1)
    if (flat.sum(1) < 1.0).any():
        return False
    diff = np.abs(flat[:, None] - flat[None]).mean(-1)                 # (10, 10)
    return bool((diff + np.eye(len(glyphs)) > 1e-3).all())


# --------------------------------------------------------------------------- distortion

def distort(templates: torch.Tensor, y: np.ndarray, seed: int) -> torch.Tensor:
    """(N, 28, 28) float32 in [0, 1]: templates for labels ``y``, bent per image."""
    n = len(y)
    rng = np.random.default_rng([seed, 1])
    font, stroke = pick_glyphs(stroke_thickness(templates), y, rng)
    theta = torch.from_numpy(random_affine(n, rng))                   # (N, 2, 3)
    field = random_field(n, np.random.default_rng([seed, 2]))         # (N, 2, 14, 14)

    out = torch.empty(n, SIZE, SIZE)
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        src = templates[font[sl], stroke[sl], y[sl]].unsqueeze(1)    # (B, 1, 56, 56)
        out[sl] = _warp(src, theta[sl], smooth_field(field[sl]))
    return out


def stroke_thickness(templates: torch.Tensor) -> torch.Tensor:
    """(F, S, 10) mean stroke width of each template, in 56px pixels.

    A stroke of width w and length L has area w*L and outline 2*L, so
    w ~ 2 * area / outline; the outline is the summed gradient magnitude.
    """
    t = templates                                                     # (F, S, 10, 56, 56)
    gy = t[..., 1:, :-1] - t[..., :-1, :-1]
    gx = t[..., :-1, 1:] - t[..., :-1, :-1]
    outline = (gx ** 2 + gy ** 2).sqrt().sum((-2, -1))
    return 2.0 * t.sum((-2, -1)) / outline.clamp_min(1e-6)


def pick_glyphs(thick: torch.Tensor, y: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(font, stroke) indices per image, each (N,), for a random pen width.

    Each image draws a target stroke width; it then takes a random font among
    those that can come within ``_STROKE_TOL`` of it (the closest font if
    none can), in the stroke option closest to it. So light and bold fonts
    share one MNIST-like width range (about 1.75 to 3.75 px at 28x28), and
    a bold font only shows up as a thick pen.
    """
    n = len(y)
    target = rng.uniform(*_STROKE_RANGE, n)                           # (N,) 56px units
    widths = thick[:, :, y].permute(2, 0, 1).numpy()                  # (N, F, S)
    err = np.abs(widths - target[:, None, None])                      # (N, F, S)
    stroke = err.argmin(2)                                            # (N, F) best per font
    best = err.min(2)                                                 # (N, F)
    ok = best <= np.maximum(_STROKE_TOL, best.min(1, keepdims=True))  # >= 1 font per image
    font = np.where(ok, rng.random(best.shape), -1.0).argmax(1)       # random allowed font
    return font, stroke[np.arange(n), font]


def _warp(src: torch.Tensor, theta: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """One chunk: affine + elastic grid_sample, then pool to 28x28.

    src (B, 1, 56, 56), theta (B, 2, 3), field (B, 2, 56, 56) in [-1, 1] units.
    """
    # affine_grid by hand: elementwise maths is much faster than F.affine_grid on CPU
    c = (torch.arange(_T, dtype=torch.float32) * 2 + 1) / _T - 1     # pixel centres
    xs, ys = c.view(1, 1, -1), c.view(1, -1, 1)
    th = theta.view(-1, 6, 1, 1)
    gx = th[:, 0] * xs + th[:, 1] * ys + th[:, 2] + field[:, 0]      # (B, 56, 56)
    gy = th[:, 3] * xs + th[:, 4] * ys + th[:, 5] + field[:, 1]
    grid = torch.stack([gx, gy], -1)                                  # (B, 56, 56, 2)
    img = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    img = F.avg_pool2d(img, _UP)                                      # (B, 1, 28, 28)
    # pooling softens the strokes; MNIST's stroke cores are saturated
    return (img * _GAIN).clamp_(0.0, 1.0)[:, 0]


def random_affine(n: int, rng: np.random.Generator) -> np.ndarray:
    """(N, 2, 3) float32 ``affine_grid`` matrices: output coords -> template coords.

    The forward map (template -> image) is rotate . shear . scale, then a
    shift; grid_sample needs its inverse.
    """
    angle = np.deg2rad(rng.uniform(-15, 15, n))
    scale = rng.uniform(0.85, 1.1, n)
    aspect = np.exp(rng.uniform(-0.15, 0.15, n))
    shear = rng.uniform(-0.3, 0.3, n)
    shift = rng.uniform(-1.5, 1.5, (n, 2)) * (2.0 / SIZE)              # px -> [-1, 1]
    c, s = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (N, 2, 2)
    shr = np.tile(np.eye(2), (n, 1, 1))
    shr[:, 0, 1] = shear
    scl = np.zeros((n, 2, 2))
    scl[:, 0, 0], scl[:, 1, 1] = scale * aspect, scale / aspect
    inv = np.linalg.inv(rot @ shr @ scl)                               # (N, 2, 2)
    t = -np.einsum("nij,nj->ni", inv, shift)
    return np.concatenate([inv, t[:, :, None]], -1).astype(np.float32)


def random_field(n: int, rng: np.random.Generator) -> torch.Tensor:
    """(N, 2, 14, 14) float32 coarse elastic displacement noise (x, y).

    White noise on a 14x14 grid, already scaled so that after ``smooth_field``
    (Gaussian blur with sigma ``_ELASTIC_SIGMA`` px at 28x28, Simard et al.
    2003) each image's RMS displacement is drawn from ``_ELASTIC_RMS`` px.
    14x14 is enough: the blurred field is smooth at that scale.
    """
    res = SIZE // 2
    noise = torch.from_numpy(rng.standard_normal((n, 2, res, res), dtype=np.float32))
    # blurring white noise of std 1 leaves std sum(k^2) (the 2-D kernel is k k^T)
    gain = 1.0 / float((_field_kernel() ** 2).sum()) * (2.0 / SIZE)    # px -> [-1, 1]
    rms = torch.from_numpy(rng.uniform(*_ELASTIC_RMS, n).astype(np.float32))
    return noise * (rms * gain).view(-1, 1, 1, 1)


def smooth_field(coarse: torch.Tensor) -> torch.Tensor:
    """(B, 2, 14, 14) noise -> (B, 2, 56, 56) smooth displacement field.

    Reflect-padded blur and bilinear upsampling are both linear per axis, so
    they fold into one (56, 14) matrix M: field = M @ noise @ M^T, done as
    two plain 2-D matmuls (depthwise conv2d is slow on CPU for tiny images).
    """
    b, c, h, w = coarse.shape
    m = _field_matrix()                                               # (56, 14)
    x = coarse.reshape(-1, w) @ m.T                                   # (B*2*14, 56): along x
    x = x.view(b * c, h, _T).transpose(1, 2).reshape(-1, h) @ m.T     # (B*2*56, 56): along y
    return x.view(b, c, _T, _T).transpose(2, 3)                       # (B, 2, 56, 56)


@functools.lru_cache(maxsize=1)
def _field_kernel() -> torch.Tensor:
    return _gauss_kernel(_ELASTIC_SIGMA * (SIZE // 2) / SIZE)


@functools.lru_cache(maxsize=1)
def _field_matrix() -> torch.Tensor:
    res = SIZE // 2
    return _upsample_matrix(res, _T) @ _blur_matrix(res, _field_kernel())


def _gauss_kernel(sigma: float) -> torch.Tensor:
    """(2r+1,) normalised 1-D Gaussian, r = ceil(2.5 sigma)."""
    r = max(1, int(math.ceil(2.5 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur_matrix(n: int, k: torch.Tensor) -> torch.Tensor:
    """(n, n) matrix of a 1-D convolution with ``k``, reflect padding at the ends.

    A per-axis matmul: depthwise conv2d is slow on CPU for tiny images.
    """
    r = len(k) // 2
    m = torch.zeros(n, n)
    for i in range(n):
        for t in range(-r, r + 1):
            j = _reflect(i + t, n)
            m[i, j] += k[t + r]
    return m


def _reflect(j: int, n: int) -> int:
    # "reflect" as in np.pad / F.pad: the edge sample is not repeated
    period = 2 * (n - 1)
    j = abs(j) % period
    return period - j if j >= n else j


def _upsample_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) bilinear upsampling with half-pixel centres (align_corners=False)."""
    eye = torch.eye(n_in).view(n_in, 1, n_in)                         # one basis row each
    up = F.interpolate(eye, size=n_out, mode="linear", align_corners=False)
    return up.view(n_in, n_out).T.contiguous()


def add_pixel_noise(images: torch.Tensor, noise: float, rng: np.random.Generator) -> torch.Tensor:
    """Add Gaussian noise of std ``0.5 * noise`` to (N, 28, 28), clip to [0, 1]."""
    if noise <= 0:
        return images
    z = torch.from_numpy(rng.standard_normal(images.shape, dtype=np.float32))
    return (images + 0.5 * noise * z).clamp_(0.0, 1.0)
