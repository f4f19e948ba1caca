"""Image classification data from a folder (or a .zip) with one sub-folder per class.

    pets/                 or   pets.zip: pets/cats/..., pets/dogs/...
      cats/001.jpg                       (or cats/..., dogs/... at the top)
      dogs/xyz.png

Classes are the sub-folder names, sorted. Images inside a class folder may sit
in nested folders. Hidden files and ``__MACOSX`` are ignored; files that do not
decode as images are skipped and counted (``Dataset.skipped_files``).

The path comes from a person on a shared server, so every size is bounded
before work is done: the number of files listed, classes and images, the
bytes read, the uncompressed size a zip claims (checked on its directory,
before any member is read), and the tensor that results. Zip members are
read into memory, never extracted to disk.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np
import torch
from PIL import Image, ImageOps

from dlviz.data.dataset import Dataset
from dlviz.data.image_files import open_image
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

T = TypeVar("T")

DEFAULT_IMAGE_SIZE = 32
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 4, 512

MAX_CLASSES = 100
MAX_IMAGES = 50_000                 # images decoded (after n_samples)
MAX_FILES_LISTED = 500_000          # stops a walk of "/" or a home folder early
MAX_FILE_BYTES = 50_000_000         # one image file; bigger ones are skipped
MAX_TOTAL_BYTES = 2_000_000_000     # a zip's uncompressed total; bytes read from a folder
MAX_TENSOR_BYTES = 1 << 30          # float32 images, train + test

# Names that are never data: macOS resource forks and Windows thumbnails.
_JUNK = {"__MACOSX", "Thumbs.db", "desktop.ini"}

Parts = tuple[str, ...]   # a path relative to the folder / zip root, split on "/"


@dataclass
class _Listing:
    """What a folder or a zip holds, as relative paths, plus a way to read a file."""
    files: list[tuple[Parts, int]]      # (path, size in bytes)
    dirs: set[Parts]
    read: Callable[[Parts], bytes]      # reads at most MAX_FILE_BYTES + 1 bytes


def load(path: str, params: DatasetParams) -> Dataset:
    """Build a dataset from ``path`` (a folder, or a .zip file with the same layout).

    Images are resized (shorter side to ``params.image_size``, default 32,
    then centre-cropped), kept grayscale (C=1) if every image is grayscale and
    RGB (C=3) otherwise, normalised per channel with the training mean/std,
    and split stratified by ``params.test_fraction`` with ``params.seed``.
    ``params.n_samples`` caps the total number of images (a seeded subset that
    keeps the class proportions).
    """
    size = _image_size(params)
    return with_listing(path, lambda listing: _build(path, listing, params, size), "class folders")


def with_listing(path: str, use: Callable[["_Listing"], T], what: str) -> T:
    """``use(listing)`` of a folder, or of a zip kept open meanwhile (the listing reads
    its members); ``what`` names the sub-folders in the message for anything else."""
    if os.path.isdir(path):
        return use(_list_dir(path))
    if os.path.isfile(path) and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                return use(_list_zip(path, zf))
        except zipfile.BadZipFile as e:
            raise UserError(f"{path}: damaged zip file ({e})") from e
    if path.lower().endswith(".zip"):
        raise UserError(f"{path}: not a valid zip file (damaged or incomplete?)")
    raise UserError(f"{path}: not a folder or a .zip file of {what}")


# -- listing -------------------------------------------------------------------

def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _JUNK


def _list_dir(root: str) -> _Listing:
    files: list[tuple[Parts, int]] = []
    dirs: set[Parts] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        here: Parts = () if rel == "." else tuple(rel.split(os.sep))
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))   # prunes the walk
        dirs.update(here + (d,) for d in dirnames)
        for f in sorted(filenames):
            if _hidden(f):
                continue
            try:
                st = os.stat(os.path.join(dirpath, f))
            except OSError:
                st = None   # dangling link: still listed, then skipped and counted
            files.append((here + (f,), st.st_size if st else 0))
        if len(files) > MAX_FILES_LISTED:
            raise UserError(f"{root}: more than {MAX_FILES_LISTED:,} files under this folder; "
                            "point at the folder that holds the class folders")

    def read(parts: Parts) -> bytes:
        with open(os.path.join(root, *parts), "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)

    return _Listing(files, dirs, read)


def _list_zip(path: str, zf: zipfile.ZipFile) -> _Listing:
    infos = zf.infolist()
    if len(infos) > MAX_FILES_LISTED:
        raise UserError(f"{path}: more than {MAX_FILES_LISTED:,} entries in the zip")
    # Zip-bomb defence: the directory states every member's uncompressed size,
    # and zipfile never returns more than that (it checks the CRC at the end),
    # so the sum bounds the work before a byte is decompressed.
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise UserError(f"{path}: the zip unpacks to {total / 1e6:,.0f} MB; the limit on a "
                        f"shared server is {MAX_TOTAL_BYTES / 1e6:,.0f} MB")
    files: list[tuple[Parts, int]] = []
    dirs: set[Parts] = set()
    members: dict[Parts, zipfile.ZipInfo] = {}
    for info in infos:
        # Some Windows tools write backslashes; "." and ".." mean nothing here
        # because nothing is extracted, so they are simply dropped or skipped.
        parts = tuple(p for p in info.filename.replace("\\", "/").split("/") if p not in ("", "."))
        if not parts or any(_hidden(p) or p == ".." for p in parts):
            continue
        is_dir = info.is_dir()
        dirs.update(parts[:k] for k in range(1, len(parts) + (1 if is_dir else 0)))
        if not is_dir:
            files.append((parts, info.file_size))
            members[parts] = info

    def read(parts: Parts) -> bytes:
        with zf.open(members[parts]) as fh:
            return fh.read(MAX_FILE_BYTES + 1)

    return _Listing(files, dirs, read)


def _class_root(listing: _Listing) -> Parts:
    """Where the class folders are: the top, or inside a single top-level folder.

    A zip made by compressing "pets/" has everything under "pets/"; if the
    only top-level folder itself has sub-folders, those are the classes.
    """
    top = {d[0] for d in listing.dirs}
    if len(top) == 1:
        (only,) = top
        if any(len(d) >= 2 and d[0] == only for d in listing.dirs):
            return (only,)
    return ()


# -- building ------------------------------------------------------------------

def _image_size(params: DatasetParams) -> int:
    size = DEFAULT_IMAGE_SIZE if params.image_size is None else int(params.image_size)
    if not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise UserError(f"image size must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}, got {size}")
    return size


def _build(path: str, listing: _Listing, params: DatasetParams, size: int) -> Dataset:
    root = _class_root(listing)
    depth = len(root) + 1
    classes = sorted(d[-1] for d in listing.dirs if len(d) == depth and d[:-1] == root)
    if not classes:
        raise UserError(f"{path}: no class sub-folders found; put each class's images in its "
                        "own folder (e.g. cats/, dogs/)")
    if len(classes) == 1:
        raise UserError(f"{path}: need at least 2 classes, found 1: {classes[0]}")
    if len(classes) > MAX_CLASSES:
        raise UserError(f"{path}: {len(classes)} class folders; the limit on a shared server "
                        f"is {MAX_CLASSES} classes")

    index = {c: i for i, c in enumerate(classes)}
    per_class: list[list[tuple[Parts, int]]] = [[] for _ in classes]
    for parts, nbytes in listing.files:
        if len(parts) > depth and parts[:len(root)] == root and parts[len(root)] in index:
            per_class[index[parts[len(root)]]].append((parts, nbytes))

    counts = [len(f) for f in per_class]
    total = sum(counts)
    target = total if params.n_samples is None else min(params.n_samples, total)
    if target > MAX_IMAGES:
        raise UserError(f"{path}: {total:,} images; the limit on a shared server is "
                        f"{MAX_IMAGES:,} images (set a sample count to use a subset)")
    if target < len(classes):
        raise UserError(f"sample count {target} is smaller than the number of classes "
                        f"({len(classes)}) in {path}")
    tensor_bytes = target * 3 * size * size * 4
    if tensor_bytes > MAX_TENSOR_BYTES:
        raise UserError(f"{path}: {target:,} images at {size}x{size} need "
                        f"{tensor_bytes / 2**30:.1f} GiB; the limit is {MAX_TENSOR_BYTES / 2**30:.0f} GiB "
                        "(use a smaller image size or sample count)")

    images, labels, skipped = _decode(path, listing, classes, per_class,
                                      _quotas(counts, target), size, params.seed)

    gray = all(a.ndim == 2 for a in images)
    # (N, H, W) or (N, H, W, 3) uint8 -> (N, C, H, W)
    if gray:
        x = np.stack(images)[:, None]
    else:
        x = np.stack([np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in images])
        x = x.transpose(0, 3, 1, 2)
    y = np.asarray(labels, dtype=np.int64)
    train_idx, test_idx = stratified_split(y, params.test_fraction, params.seed)

    x = torch.from_numpy(np.ascontiguousarray(x))
    x_train, x_test, mean, std = normalise_images(x[torch.from_numpy(train_idx)],
                                                  x[torch.from_numpy(test_idx)])
    n_skipped = len(skipped)
    note = f", {n_skipped} unreadable files skipped" if n_skipped else ""
    return Dataset(
        key=f"folder:{path}",
        task="classification",
        input_shape=tuple(x_train.shape[1:]),
        classes=tuple(classes),
        x_train=x_train,
        y_train=torch.from_numpy(y[train_idx]),
        x_test=x_test,
        y_test=torch.from_numpy(y[test_idx]),
        description=(f"{len(y)} {'grayscale' if gray else 'RGB'} images of {len(classes)} "
                     f"classes from {os.path.basename(path.rstrip(os.sep)) or path}{note}"),
        norm_mean=mean,
        norm_std=std,
        skipped_files=n_skipped,
        extra={"image_size": size, "skipped_examples": skipped[:10]},
    )


def _quotas(counts: list[int], target: int) -> list[int]:
    """How many images to take per class: proportional, summing to ``target``,
    at least one per class (``target`` >= number of classes is checked before)."""
    total = sum(counts)
    if target >= total:
        return list(counts)
    raw = [target * c / total for c in counts]
    q = [min(c, max(1, int(r))) for c, r in zip(counts, raw)]
    while sum(q) < target:   # largest remainder first
        i = max((i for i in range(len(q)) if q[i] < counts[i]), key=lambda i: raw[i] - q[i])
        q[i] += 1
    while sum(q) > target:   # only when the "at least one" rule overshot
        i = max(range(len(q)), key=lambda i: q[i])
        q[i] -= 1
    return q


def _decode(path: str, listing: _Listing, classes: list[str],
            per_class: list[list[tuple[Parts, int]]], quotas: list[int], size: int,
            seed: int) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Decode up to quotas[c] images per class, in a seeded random order so
    that a subset is a fair sample and an unreadable file is replaced by the
    next one. Returns (H, W) or (H, W, 3) uint8 arrays, labels, skipped names."""
    rng = np.random.default_rng([seed, 0])
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    bytes_read = 0
    for c, files in enumerate(per_class):
        order = rng.permutation(len(files)) if quotas[c] < len(files) else range(len(files))
        got = skipped_here = 0
        for j in order:
            if got == quotas[c]:
                break
            parts, nbytes = files[j]
            name = "/".join(parts)
            if nbytes > MAX_FILE_BYTES:
                skipped.append(f"{name}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
                skipped_here += 1
                continue
            try:
                data = listing.read(parts)
            except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                    zlib.error) as e:
                # unreadable file, or a damaged or encrypted zip member
                skipped.append(f"{name}: cannot read ({e})")
                skipped_here += 1
                continue
            bytes_read += len(data)
            if bytes_read > MAX_TOTAL_BYTES:
                raise UserError(f"{path}: more than {MAX_TOTAL_BYTES / 1e9:.0f} GB of image "
                                "files to read; use a smaller sample count")
            try:
                if len(data) > MAX_FILE_BYTES:   # the listed size was stale
                    raise UserError(f"{name}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
                img = open_image(data, name, min_size=size)
            except UserError as e:
                skipped.append(str(e))
                skipped_here += 1
                continue
            images.append(_fit(img, size))
            labels.append(c)
            got += 1
        if got == 0:
            raise UserError(f"{path}: class '{classes[c]}' has no readable images "
                            f"({skipped_here} files skipped)")
    return images, labels, skipped


def _fit(img: Image.Image, size: int) -> np.ndarray:
    """Shorter side to ``size``, then centre-crop: keeps the aspect ratio
    (squashing a photo into a square would distort what the net learns)."""
    out = ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    return np.asarray(out, dtype=np.uint8)


# -- shared with the IDX loader ---------------------------------------------------

def stratified_split(labels: np.ndarray, test_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): each class split in the same proportion, so a
    small class is in both sets (when it has at least 2 samples)."""
    rng = np.random.default_rng([seed, 1])
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = len(idx)
        k = int(np.floor(n * test_fraction + 0.5))
        k = min(max(k, 1), n - 1) if n >= 2 else 0
        test.append(idx[:k])
        train.append(idx[k:])
    # Interleave classes: a trainer that forgets to shuffle still sees a mix.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def normalise_images(x_train: torch.Tensor, x_test: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, tuple[float, ...], tuple[float, ...]]:
    """uint8 (N, C, H, W) -> float32 normalised per channel with the *train*
    statistics (the test set must not leak into them). Returns mean/std too."""
    tr = x_train.to(torch.float32) / 255.0
    te = x_test.to(torch.float32) / 255.0
    mean = tr.mean(dim=(0, 2, 3))
    std = tr.std(dim=(0, 2, 3)) if len(tr) * tr.shape[2] * tr.shape[3] > 1 else torch.ones_like(mean)
    std = torch.where(std < 1e-6, torch.ones_like(std), std)   # a constant channel: don't blow it up
    m, s = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
    # in place: the float copy of 50k images is already ~600 MB
    return (tr.sub_(m).div_(s), te.sub_(m).div_(s),
            tuple(float(v) for v in mean), tuple(float(v) for v in std))
