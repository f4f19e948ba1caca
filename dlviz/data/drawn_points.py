"""Your own 2-D points: clicked on the Build page's plane, a dataset like any other.

The points live in the dataset key itself, ``drawn:CODE``, so a shared link
carries them with no change to the link's format (the key is one string of
the link, like ``folder:PATH``), and ``load_dataset`` builds them like any
other key: a train/test split, the chosen input features, optional noise.

CODE is base64url, 4 characters (3 bytes, 24 bits) per point:
``x`` 10 bits | ``y`` 10 bits | class 4 bits, big-endian. x and y are steps
0 .. 1,020 of a grid over the plane's [-6, 6] (a step of 1/85, finer than a
click can aim; 0 is step 510); 200 points are 800 characters, well inside the
link's limits.

    code = encode([(1.0, 2.0, 0), (-3.5, 0.25, 1)])
    ds = load_dataset(dataset_key(points))          # "drawn:" + code
    decode(code) == [snap(1.0, 2.0, 0), snap(-3.5, 0.25, 1)]

Every bound (how many points, the plane's range, the classes) is checked
before anything is built; each breach is one ``UserError`` that says which
point and what is allowed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import numbers
import re
from typing import Iterable, Sequence

import torch

from dlviz.data.dataset import Dataset
from dlviz.data.features import featurize
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

PREFIX = "drawn"                # the dataset key is "drawn:CODE"
LIMIT = 6.0                     # the plane is [-LIMIT, LIMIT]^2, as the built-in 2-D sets (toy2d.py)
STEPS = 1020                    # grid steps per axis (10 bits hold 1,023); even, so 0 is on the grid
MIN_POINTS = 4                  # at least one test point and a few to train on
MAX_POINTS = 200                # what one person clicks; 800 characters of link
MAX_CLASSES = 4                 # classes 0 .. 3 (the code has room for 16)
NOISE_SCALE = 1.0               # noise = 1 jitters each point by up to 1.0 in x and in y
CHARS_PER_POINT = 4
_CODE = re.compile(r"[A-Za-z0-9_-]*")

Point = tuple[float, float, int]          # (x, y, class index)


def snap(x: float, y: float, c: int) -> Point:
    """The point as the code stores it (x and y on the grid): what a round trip gives back."""
    return (_value(_step(x)), _value(_step(y)), int(c))


def check_points(points: Sequence) -> list[Point]:
    """``points`` typed and bounded: a list of (x, y, class); raises ``UserError`` naming the point."""
    if not isinstance(points, (list, tuple)):
        raise UserError(f"drawn points must be a list of (x, y, class), got {type(points).__name__}")
    if len(points) > MAX_POINTS:
        raise UserError(f"{len(points):,} drawn points is over the limit of {MAX_POINTS}; remove some")
    out = []
    for i, p in enumerate(points, 1):
        if not isinstance(p, (list, tuple)) or len(p) != 3:
            raise UserError(f"drawn point {i} must be (x, y, class), got {p!r:.60}")
        x, y, c = p
        if not all(_is_number(v) for v in (x, y)) or not all(-LIMIT <= float(v) <= LIMIT for v in (x, y)):
            raise UserError(f"drawn point {i} is at {_shown(x)}, {_shown(y)}: outside the plane; "
                            f"x and y must be numbers from {-LIMIT:g} to {LIMIT:g}")
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 0 <= c < MAX_CLASSES:
            raise UserError(f"drawn point {i} has class {c!r:.20}; the classes are 0 to {MAX_CLASSES - 1}")
        out.append((float(x), float(y), int(c)))
    return out


def encode(points: Sequence) -> str:
    """Points -> CODE (see the module docstring); checked first."""
    data = bytearray()
    for x, y, c in check_points(points):
        data += ((_step(x) << 14) | (_step(y) << 4) | c).to_bytes(3, "big")
    return base64.urlsafe_b64encode(bytes(data)).decode("ascii")           # 3 bytes: no padding


def decode(code: str) -> list[Point]:
    """CODE -> points, refusing anything malformed or out of bounds before decoding it."""
    if not isinstance(code, str):
        raise UserError("the drawn points are damaged (not text)")
    if len(code) > MAX_POINTS * CHARS_PER_POINT:
        raise UserError(f"the drawn points hold over {MAX_POINTS} points, the limit")
    if len(code) % CHARS_PER_POINT or not _CODE.fullmatch(code):
        raise UserError("the drawn points are damaged (the code is not whole points)")
    data = base64.urlsafe_b64decode(code)
    points = []
    for i in range(0, len(data), 3):
        v = int.from_bytes(data[i:i + 3], "big")
        c, qx, qy = v & 0xF, v >> 14, (v >> 4) & 0x3FF
        if max(qx, qy) > STEPS:
            raise UserError(f"drawn point {i // 3 + 1} is outside the plane (the code is damaged)")
        if c >= MAX_CLASSES:
            raise UserError(f"drawn point {i // 3 + 1} has class {c}; the classes are 0 to {MAX_CLASSES - 1}")
        points.append((_value(qx), _value(qy), c))
    return points


def dataset_key(points: Sequence) -> str:
    return f"{PREFIX}:{encode(points)}"


def points_of(key: str) -> list[Point] | None:
    """The points of a ``drawn:CODE`` key; None for any other key."""
    prefix, sep, code = key.partition(":")
    return decode(code) if sep and prefix == PREFIX else None


def load(code: str, params: DatasetParams) -> Dataset:
    """The drawn points as a Dataset (cached: every page rerun asks for the same one)."""
    return _build(code, params)


@functools.lru_cache(maxsize=16)
def _build(code: str, params: DatasetParams) -> Dataset:
    points = decode(code)
    n = len(points)
    if n < MIN_POINTS:
        raise UserError(f"draw at least {MIN_POINTS} points to make a dataset (there {_are(n)})")
    pts = torch.tensor([(x, y) for x, y, _ in points], dtype=torch.float32)          # (n, 2)
    y = torch.tensor([c for _, _, c in points], dtype=torch.long)                     # (n,)
    g = torch.Generator().manual_seed(params.seed)
    if params.noise:
        # jitter the points themselves, uniform in [-s, s] per axis, then keep them on the plane
        s = NOISE_SCALE * float(params.noise)
        pts = (pts + (torch.rand(n, 2, generator=g) * 2 - 1) * s).clamp(-LIMIT, LIMIT)
    # the split as the built-in 2-D sets make it (toy2d.build): its own stream, at least one each side
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(params.seed + 1))
    n_test = min(max(round(n * params.test_fraction), 1), n - 1)
    test, train = perm[:n_test], perm[n_test:]
    k = max(2, int(y.max()) + 1)
    features = tuple(params.features)
    return Dataset(
        key=f"{PREFIX}:{code}", task="classification", input_shape=(len(features),),
        classes=tuple(f"class {c}" for c in range(k)),
        x_train=featurize(pts[train], features), y_train=y[train],
        x_test=featurize(pts[test], features), y_test=y[test],
        description=f"2-D: {describe(points)}",
        features=features, points_train=pts[train], points_test=pts[test],
        extra={"label": label(f"{PREFIX}:{code}")},
    )


def label(key: str) -> str:
    """A drawn-points key as a person reads it: "20 drawn points · 3fa1" (the 4 hex digits
    tell two drawings apart); any other key as it is."""
    prefix, sep, code = key.partition(":")
    if not (sep and prefix == PREFIX):
        return key
    n = len(code) // CHARS_PER_POINT
    return f"{n} drawn point{'s' if n != 1 else ''} · {hashlib.sha1(code.encode()).hexdigest()[:4]}"


def describe(points: Sequence[Point]) -> str:
    """"20 points you drew: 10 of class 0, 10 of class 1" (every class up to the highest used)."""
    k = max(2, max((c for _, _, c in points), default=0) + 1)
    counts = ", ".join(f"{sum(1 for p in points if p[2] == c)} of class {c}" for c in range(k))
    return f"{len(points)} point{'s' if len(points) != 1 else ''} you drew: {counts}"


def _step(v: float) -> int:
    return min(STEPS, max(0, round((float(v) + LIMIT) / (2 * LIMIT) * STEPS)))


def _value(q: int) -> float:
    return -LIMIT + 2 * LIMIT * q / STEPS


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _shown(v) -> str:
    return f"{v:.3g}" if _is_number(v) else f"{v!r:.20}"


def _are(n: int) -> str:
    return "is 1" if n == 1 else f"are {n}"


def snapped(points: Iterable[Point]) -> list[Point]:
    """``points`` snapped to the grid, in order (what a link would give back)."""
    return [snap(*p) for p in points]
