"""Example images of human concepts, for concept attribution (dlviz/explain/concepts.py).

Three sources, all returning float32 (n, *ds.input_shape) normalised with the
dataset's own ``norm_mean`` / ``norm_std`` (the network sees them as it sees its
training data):

- built-in concepts for the shapes data, drawn with the shapes generator's own
  geometry (``shapes.draw_masks``): shapes of every class painted one colour on
  backgrounds far from that colour, filled or outlined shapes, and random pixels;
- random sets: random training images, the counter-examples a CAV is learned against;
- a folder or a .zip with one sub-folder per concept, read with the folder loader's
  bounded listing and ``open_image`` (dlviz/data/folder.py, dlviz/data/image_files.py).

See docs/ARCHITECTURE.md, "Concept attribution".
"""

from __future__ import annotations

import math
import zipfile
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps

from dlviz.data import shapes, shapes_biased
from dlviz.data.dataset import Dataset
from dlviz.data.folder import MAX_FILE_BYTES, MAX_TOTAL_BYTES, _class_root, with_listing
from dlviz.data.image_files import open_image
from dlviz.errors import UserError

MIN_CONCEPT_IMAGES = 5
MAX_CONCEPT_IMAGES = 200
MAX_FILES_TRIED = 2 * MAX_CONCEPT_IMAGES    # per concept: unreadable files do not get a free run
MAX_CONCEPT_FOLDERS = 8          # = dlviz.explain.concepts.MAX_CONCEPTS (data must not import explain)
MAX_RANDOM_SETS = 10             # = dlviz.explain.concepts.MAX_RANDOM_SETS
SHAPES_KEYS = ("shapes", shapes_biased.KEY)

# Concept colours (RGB in [0, 1]); red is the biased set's red, so the concept matches it.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": tuple(float(c) for c in shapes_biased.RED),
    "green": (0.1, 0.75, 0.15),
    "blue": (0.1, 0.25, 0.9),
    "yellow": (0.95, 0.85, 0.1),
}
COLOUR_JITTER = 0.08             # each channel within +-0.08, as the biased set's red
FAR_FROM_COLOUR = 0.55           # background at least this RGB distance from the concept colour
OUTLINE_PX = 1                   # outline width: a shape's pixels with a non-shape 4-neighbour

_DESCRIPTIONS = {
    **{name: f"shapes of every class painted {name}, on backgrounds far from {name}"
       for name in COLOURS},
    "filled": "shapes of every class, filled, in random contrasting colours",
    "outlined": "shapes of every class drawn as a 1-pixel outline, in random contrasting colours",
    "noise": "random pixels, no shape at all: not a null control (networks react to noise, "
             "so it often tests significant)",
}


def builtin_concepts(ds: Dataset) -> dict[str, str]:
    """Built-in concept name -> one-line description; {} for datasets other than the shapes."""
    return dict(_DESCRIPTIONS) if ds.key in SHAPES_KEYS else {}


def builtin_concept(ds: Dataset, name: str, n: int = 50, seed: int = 0) -> torch.Tensor:
    """``n`` examples of built-in concept ``name``: float32 (n, 3, 32, 32) normalised."""
    if name not in builtin_concepts(ds):
        known = ", ".join(builtin_concepts(ds)) or "none for this dataset"
        raise UserError(f"unknown built-in concept {name!r}; built-in concepts: {known}")
    n = _count(n, "concept images", MIN_CONCEPT_IMAGES, MAX_CONCEPT_IMAGES)
    # "filled" and "outlined" share a stream: the same shapes in the same colours, so the
    # two differ only in the interior
    stream = "filled" if name == "outlined" else name
    rng = np.random.default_rng([int(seed), sorted(_DESCRIPTIONS).index(stream)])
    if name == "noise":
        images = rng.random((n, 3, shapes.SIZE, shapes.SIZE), dtype=np.float32)
    else:
        images = _draw(rng, n, name)
    return _normalise(images, ds)


def random_sets(ds: Dataset, n_sets: int, n: int = 50, seed: int = 0) -> list[torch.Tensor]:
    """``n_sets`` sets of ``n`` random training images each, (n, *input_shape), as stored
    (already normalised). For classification the sets are stratified: each holds the same
    number of images of every class (to within one), so sets differ by chance in which
    images they hold, not in how many of each class; how many images of the explained
    class a set holds would otherwise dominate its direction (docs/ARCHITECTURE.md,
    "Concept attribution"). Sets are disjoint while the training set is large enough."""
    n_sets = _count(n_sets, "random sets", 1, MAX_RANDOM_SETS)
    n = _count(n, "random images per set", MIN_CONCEPT_IMAGES, MAX_CONCEPT_IMAGES)
    total = len(ds.x_train)
    if total < n:
        raise UserError(f"{n} random images per set asked for, the training set has {total}")
    rng = np.random.default_rng([int(seed), 1])
    if ds.task == "classification" and ds.num_classes > 0:
        groups = [np.flatnonzero(ds.y_train.numpy() == k) for k in range(ds.num_classes)]
    else:
        groups = [np.arange(total)]
    groups = [rng.permutation(g) for g in groups if len(g)]
    picks = []
    for i in range(n_sets):
        # the remainder of n over the groups goes to a different few groups in each set
        quota = np.full(len(groups), n // len(groups))
        quota[rng.permutation(len(groups))[:n % len(groups)]] += 1
        pick = []
        for g, q in zip(groups, quota):
            start = (i * q) % len(g)            # disjoint chunks while they last, then wrap
            pick.append(np.resize(np.roll(g, -start), min(q, len(g))))
        pick = np.concatenate(pick)
        if len(pick) < n:                        # a class too small for its quota: fill up
            rest = np.setdiff1d(np.arange(total), pick)
            pick = np.concatenate([pick, rng.choice(rest, n - len(pick), replace=False)])
        picks.append(np.sort(pick))
    return [ds.x_train[torch.from_numpy(p)].clone() for p in picks]


def class_examples(ds: Dataset, target: int, most: int) -> torch.Tensor:
    """Up to ``most`` examples of class ``target``, (n, *input_shape): the test split's, else
    the training split's when the test split has fewer than two (the inputs TCAV scores)."""
    for x, y in ((ds.x_test, ds.y_test), (ds.x_train, ds.y_train)):
        idx = torch.nonzero(y == target).flatten()[:most]
        if len(idx) >= 2:
            return x[idx]
    return ds.x_test[:0]


def read_concepts(path: str, ds: Dataset, notes: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Concepts from a folder or a .zip: one sub-folder per concept (at the top, or inside
    one top-level folder), any images inside. Each image is converted to the dataset's
    channels (grey <-> RGB), resized (shorter side, then centre crop) to its size and
    normalised with its mean / std. Hidden files are ignored; unreadable or oversized
    files are skipped; a concept with more than MAX_CONCEPT_IMAGES images keeps the first
    ones by name. Each of those is written to ``notes`` when given. A concept with fewer
    than MIN_CONCEPT_IMAGES readable images is refused (UserError)."""
    if not ds.is_image or ds.input_shape[0] not in (1, 3):
        raise UserError("concept images need an image dataset with 1 or 3 channels")
    notes = [] if notes is None else notes
    return with_listing(path, lambda listing: _read(path, listing, ds, notes), "concept folders")


# --------------------------------------------------------------------------- drawing

def _draw(rng: np.random.Generator, n: int, name: str) -> np.ndarray:
    """Shapes of all classes (cycled, shuffled) in [0, 1], float32 (n, 3, 32, 32)."""
    size = shapes.SIZE
    labels = rng.permutation(np.arange(n) % len(shapes.CLASSES))
    scale = rng.uniform(*shapes.SCALE_RANGE, n)
    cx = rng.uniform(scale, size - 1 - scale)
    cy = rng.uniform(scale, size - 1 - scale)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    masks = shapes.draw_masks(labels, cx, cy, scale, angle, size)           # (n, H, W)
    if name in COLOURS:
        colour = np.array(COLOURS[name], dtype=np.float32)
        fg = np.clip(colour + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, (n, 3)), 0, 1)
        bg = _far_backgrounds(rng, fg.astype(np.float32), colour)
    else:
        bg, fg = shapes._colours(rng, n)
        if name == "outlined":
            masks = masks & ~_interior(masks)
    images = np.where(masks[:, None], fg[:, :, None, None], bg[:, :, None, None]).astype(np.float32)
    noise = np.float32(shapes.NOISE_STD * shapes.DEFAULT_NOISE)            # the dataset's pixel noise
    images += rng.standard_normal(images.shape, dtype=np.float32) * noise
    return np.clip(images, 0.0, 1.0, out=images)


def _far_backgrounds(rng: np.random.Generator, fg: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Backgrounds float32 (n, 3): far from the concept colour and contrasting with ``fg``
    as the shapes' colours do (RGB distance and brightness)."""
    bg = rng.random(fg.shape, dtype=np.float32)

    def bad() -> np.ndarray:
        return ((np.linalg.norm(bg - colour, axis=1) < FAR_FROM_COLOUR)
                | (np.linalg.norm(fg - bg, axis=1) < shapes.MIN_COLOUR_DIST)
                | (np.abs((fg - bg) @ shapes._LUMA) < shapes.MIN_LUMA_DIFF))

    for _ in range(64):
        redo = bad()
        if not redo.any():
            return bg
        bg[redo] = rng.random((int(redo.sum()), 3), dtype=np.float32)
    redo = bad()
    bg[redo] = np.where(fg[redo] @ shapes._LUMA > 0.5, 0.0, 1.0)[:, None]   # black or white
    return bg


def _interior(masks: np.ndarray) -> np.ndarray:
    """Shape pixels whose four neighbours are all shape pixels, bool (n, H, W)."""
    inner = masks.copy()
    for _ in range(OUTLINE_PX):
        p = np.pad(inner, ((0, 0), (1, 1), (1, 1)))
        inner = inner & p[:, :-2, 1:-1] & p[:, 2:, 1:-1] & p[:, 1:-1, :-2] & p[:, 1:-1, 2:]
    return inner


def _normalise(images: np.ndarray, ds: Dataset) -> torch.Tensor:
    """[0, 1] float32 (n, C, H, W) -> the dataset's normalisation."""
    c = images.shape[1]
    mean = np.asarray(ds.norm_mean or (0.0,) * c, dtype=np.float32)[:, None, None]
    std = np.asarray(ds.norm_std or (1.0,) * c, dtype=np.float32)[:, None, None]
    return torch.from_numpy(np.ascontiguousarray((images - mean) / std, dtype=np.float32))


# --------------------------------------------------------------------------- reading

def _read(path: str, listing, ds: Dataset, notes: list[str]) -> dict[str, torch.Tensor]:
    root = _class_root(listing)
    depth = len(root) + 1
    names = sorted(d[-1] for d in listing.dirs if len(d) == depth and d[:-1] == root)
    if not names:
        raise UserError(f"{path}: no concept sub-folders found; put each concept's images in "
                        "its own folder (e.g. striped/, dotted/)")
    if len(names) > MAX_CONCEPT_FOLDERS:
        raise UserError(f"{path}: {len(names)} concept folders; at most {MAX_CONCEPT_FOLDERS} "
                        "concepts at a time")
    files: dict[str, list] = {n: [] for n in names}
    for parts, nbytes in sorted(listing.files):
        if len(parts) > depth and parts[:len(root)] == root and parts[len(root)] in files:
            files[parts[len(root)]].append((parts, nbytes))
    budget = [MAX_TOTAL_BYTES]                     # bytes left to read, over all concepts
    return {name: _read_concept(path, name, files[name], listing, ds, notes, budget)
            for name in names}


def _read_concept(path: str, name: str, files: list, listing, ds: Dataset,
                  notes: list[str], budget: list[int]) -> torch.Tensor:
    c, h, w = ds.input_shape
    images = []
    for tried, (parts, nbytes) in enumerate(files):
        if len(images) == MAX_CONCEPT_IMAGES:
            notes.append(f"concept '{name}': kept the first {MAX_CONCEPT_IMAGES} of "
                         f"{len(files)} files")
            break
        if tried == MAX_FILES_TRIED:
            notes.append(f"concept '{name}': stopped after {MAX_FILES_TRIED} files")
            break
        shown = "/".join(parts)
        if nbytes > MAX_FILE_BYTES:
            notes.append(f"{shown}: skipped, larger than {MAX_FILE_BYTES // 1_000_000} MB")
            continue
        try:
            data = listing.read(parts)
        except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                zlib.error) as e:
            notes.append(f"{shown}: skipped, cannot read ({e})")
            continue
        budget[0] -= len(data)
        if budget[0] < 0:
            raise UserError(f"{path}: more than {MAX_TOTAL_BYTES / 1e9:.0f} GB of concept images")
        try:
            if len(data) > MAX_FILE_BYTES:
                raise UserError(f"{shown}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
            img = open_image(data, shown, min_size=max(h, w))
        except UserError as e:
            notes.append(f"{e}; skipped")
            continue
        img = img.convert("L" if c == 1 else "RGB")
        fitted = ImageOps.fit(img, (w, h), method=Image.Resampling.BICUBIC)
        a = np.asarray(fitted, dtype=np.float32) / 255.0                    # (H, W) or (H, W, 3)
        images.append(a[None] if c == 1 else a.transpose(2, 0, 1))
    if len(images) < MIN_CONCEPT_IMAGES:
        raise UserError(f"{path}: concept '{name}' has {len(images)} readable images; "
                        f"at least {MIN_CONCEPT_IMAGES} are needed")
    return _normalise(np.stack(images), ds)


def _count(value, what: str, low: int, high: int) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise UserError(f"the number of {what} must be a whole number") from None
    if not low <= value <= high:
        raise UserError(f"the number of {what} must be between {low} and {high}, got {value}")
    return value
