"""MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST) from a local folder.

An IDX file is a 4-byte magic number (0x00 0x00, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values row-major.
The folder holds the standard names, raw or gzipped:

    train-images-idx3-ubyte   train-labels-idx1-ubyte     (required)
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte      (the test split, optional)

("train-images.idx3-ubyte", as some mirrors name them, works too.)

The header is untrusted: the size it claims is checked against a cap before
anything is allocated, and against the real length of the file.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np
import torch

from dlviz.data.dataset import Dataset
from dlviz.data.folder import normalise_images, stratified_split
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError

MAX_IDX_BYTES = 100_000_000   # data bytes one file may claim; MNIST train images are 47 MB
MAX_SIDE = 1024               # image rows / cols
MAX_CLASSES = 1000

# IDX type code -> (numpy big-endian dtype, name used in messages)
_TYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}


def load(path: str, params: DatasetParams) -> Dataset:
    """Build a classification dataset from the IDX files in folder ``path``
    (or the folder of the file ``path``).

    Images become float32 (N, 1, H, W), /255 then normalised with the training
    mean/std. The t10k files, when present, are the test split; otherwise the
    training files are split stratified by ``params.test_fraction``.
    ``params.n_samples`` caps train + test together (seeded random subsets;
    with t10k files, ``test_fraction`` of the cap is drawn from them).
    """
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    train_img_f = _find(folder, "train", "images", "idx3")
    train_lab_f = _find(folder, "train", "labels", "idx1")
    if train_img_f is None or train_lab_f is None:
        missing = [_expected("train", k, n) for k, n, f in
                   (("images", "idx3", train_img_f), ("labels", "idx1", train_lab_f)) if f is None]
        raise UserError(f"{path}: missing MNIST-format training file(s); expected "
                        + " and ".join(missing))
    test_img_f = _find(folder, "t10k", "images", "idx3")
    test_lab_f = _find(folder, "t10k", "labels", "idx1")
    if (test_img_f is None) != (test_lab_f is None):
        kind, idxn = ("labels", "idx1") if test_lab_f is None else ("images", "idx3")
        raise UserError(f"{path}: found the t10k {'images' if kind == 'labels' else 'labels'} "
                        f"but not the t10k {kind}; expected {_expected('t10k', kind, idxn)}")

    x_tr, y_tr = _read_pair(train_img_f, train_lab_f)
    classes, to_index = _classes(y_tr, train_lab_f)
    rng = np.random.default_rng([params.seed, 0])
    n = params.n_samples
    if test_img_f is not None:
        x_te, y_te = _read_pair(test_img_f, test_lab_f)
        if x_te.shape[1:] != x_tr.shape[1:]:
            raise UserError(f"{os.path.basename(test_img_f)}: images are "
                            f"{x_te.shape[1]}x{x_te.shape[2]} but the training images are "
                            f"{x_tr.shape[1]}x{x_tr.shape[2]}")
        y_te_idx = to_index(y_te, test_lab_f)
        y_tr_idx = to_index(y_tr, train_lab_f)
        if n is not None and n < len(y_tr) + len(y_te):
            n_test = min(len(y_te), max(1, int(np.floor(n * params.test_fraction + 0.5))))
            n_train = min(len(y_tr), n - n_test)
            tr = np.sort(rng.choice(len(y_tr), n_train, replace=False))
            te = np.sort(rng.choice(len(y_te), n_test, replace=False))
            x_tr, y_tr_idx, x_te, y_te_idx = x_tr[tr], y_tr_idx[tr], x_te[te], y_te_idx[te]
    else:
        y_all = to_index(y_tr, train_lab_f)
        x_all = x_tr
        if n is not None and n < len(y_all):
            keep = np.sort(rng.choice(len(y_all), n, replace=False))
            x_all, y_all = x_all[keep], y_all[keep]
        tr, te = stratified_split(y_all, params.test_fraction, params.seed)
        x_tr, y_tr_idx, x_te, y_te_idx = x_all[tr], y_all[tr], x_all[te], y_all[te]

    # (N, H, W) uint8 -> (N, 1, H, W)
    x_train, x_test, mean, std = normalise_images(torch.from_numpy(np.ascontiguousarray(x_tr))[:, None],
                                                  torch.from_numpy(np.ascontiguousarray(x_te))[:, None])
    h, w = x_train.shape[2:]
    return Dataset(
        key=f"idx:{path}",
        task="classification",
        input_shape=(1, int(h), int(w)),
        classes=classes,
        x_train=x_train,
        y_train=torch.from_numpy(np.ascontiguousarray(y_tr_idx, dtype=np.int64)),
        x_test=x_test,
        y_test=torch.from_numpy(np.ascontiguousarray(y_te_idx, dtype=np.int64)),
        description=(f"IDX files in {folder}: {len(x_train)} train / {len(x_test)} test "
                     f"{h}x{w} grayscale images, {len(classes)} classes"),
        norm_mean=mean,
        norm_std=std,
        extra={"files": [os.path.basename(f) for f in
                         (train_img_f, train_lab_f, test_img_f, test_lab_f) if f]},
    )


# -- finding files ---------------------------------------------------------------

def _names(prefix: str, kind: str, idxn: str) -> list[str]:
    base = [f"{prefix}-{kind}-{idxn}-ubyte", f"{prefix}-{kind}.{idxn}-ubyte"]
    return base + [b + ".gz" for b in base]   # raw first: no decompression needed


def _expected(prefix: str, kind: str, idxn: str) -> str:
    return f"{prefix}-{kind}-{idxn}-ubyte (or .gz)"


def _find(folder: str, prefix: str, kind: str, idxn: str) -> str | None:
    for name in _names(prefix, kind, idxn):
        full = os.path.join(folder, name)
        if os.path.isfile(full):
            return full
    return None


# -- reading and checking --------------------------------------------------------

def read_idx(path: str, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (gzipped if the name ends in .gz) into a numpy array.

    Raises ``UserError`` naming the file for a bad magic number, a header that
    claims more than ``max_bytes`` of data, or a file shorter or longer than
    its header says.
    """
    name = os.path.basename(path)
    gz = path.endswith(".gz")
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4:
                raise UserError(f"{name}: truncated (no IDX header; {len(head)} bytes)")
            if head[0] != 0 or head[1] != 0 or head[2] not in _TYPES or not 1 <= head[3] <= 4:
                raise UserError(f"{name}: bad magic number 0x{head.hex()}; not an IDX file "
                                "(expected 0x0000, a type code such as 08, and 1-4 dimensions)")
            dtype, _ = _TYPES[head[2]]
            ndim = head[3]
            raw = f.read(4 * ndim)
            if len(raw) < 4 * ndim:
                raise UserError(f"{name}: truncated inside the IDX header")
            dims = struct.unpack(f">{ndim}I", raw)
            n_bytes = math.prod(dims) * dtype.itemsize
            shape = "x".join(str(d) for d in dims)
            if n_bytes > max_bytes:
                raise UserError(f"{name}: header claims {shape} values ({n_bytes:,} bytes); "
                                f"the limit is {max_bytes:,} bytes")
            if not gz:   # for a raw file the length is known without reading it
                actual = os.fstat(f.fileno()).st_size - 4 - 4 * ndim
                if actual != n_bytes:
                    raise UserError(_length_message(name, shape, n_bytes, actual))
            body = f.read(n_bytes)   # bounded by the checked header, never by the file
            if len(body) < n_bytes:
                raise UserError(_length_message(name, shape, n_bytes, len(body)))
            if f.read(1):
                raise UserError(f"{name}: longer than its header ({shape}) says; "
                                "is this the right file?")
    except EOFError as e:   # gzip stream cut off
        raise UserError(f"{name}: truncated (the gzip data ends early)") from e
    except (gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{name}: not a valid gzip file ({e})") from e
    except OSError as e:
        raise UserError(f"{name}: cannot read ({e.strerror or e})") from e
    # copy: an array over the bytes object would be read-only
    return np.frombuffer(body, dtype=dtype).reshape(dims).copy()


def _length_message(name: str, shape: str, expected: int, actual: int) -> str:
    if actual < expected:
        return (f"{name}: truncated: the header says {shape} ({expected:,} bytes of data) "
                f"but the file has {max(actual, 0):,}")
    return f"{name}: longer than its header ({shape}) says; is this the right file?"


def write_idx(path: str, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped if ``path`` ends in .gz).

    Used by tests and to prepare small example sets.
    """
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise TypeError(f"write_idx writes uint8 arrays, got {a.dtype}")
    if not 1 <= a.ndim <= 4:
        raise ValueError(f"write_idx takes 1 to 4 dimensions, got {a.ndim}")
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    with (gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")) as f:
        f.write(header)
        f.write(np.ascontiguousarray(a).tobytes())


def _read_pair(images_f: str, labels_f: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and check matching image and label files: (N, H, W) uint8, (N,) ints."""
    img_name, lab_name = os.path.basename(images_f), os.path.basename(labels_f)
    x = read_idx(images_f)
    if x.dtype != np.uint8:
        raise UserError(f"{img_name}: images must be unsigned bytes (IDX type 08), "
                        f"this file holds {_type_name(x.dtype)} values")
    if x.ndim != 3:
        raise UserError(f"{img_name}: expected 3 dimensions (count, rows, columns), "
                        f"the header has {x.ndim}")
    n, h, w = x.shape
    if n == 0:
        raise UserError(f"{img_name}: holds no images")
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise UserError(f"{img_name}: images are {h}x{w}; rows and columns must be "
                        f"between 1 and {MAX_SIDE}")
    y = read_idx(labels_f)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise UserError(f"{lab_name}: labels must be one integer per image, this file holds "
                        f"{_type_name(y.dtype)} values with {y.ndim} dimension(s)")
    if len(y) != n:
        raise UserError(f"{lab_name}: {len(y):,} labels but {img_name} has {n:,} images")
    return x, y.astype(np.int64)


def _type_name(dtype: np.dtype) -> str:
    return next((nm for dt, nm in _TYPES.values() if dt.kind == dtype.kind
                 and dt.itemsize == dtype.itemsize), str(dtype))


def _classes(y_train: np.ndarray, labels_f: str):
    """Class names from the training labels, and a label -> index mapper that
    rejects labels the training set does not have.

    The classes are the sorted distinct labels of the whole training file
    (before any n_samples subset, so a small subset cannot lose a class):
    "0".."9" for MNIST, "1".."26" for EMNIST letters, "3", "8" for a 3-vs-8 set.
    """
    name = os.path.basename(labels_f)
    if y_train.min() < 0:
        raise UserError(f"{name}: label {int(y_train.min())} is out of range (labels must be >= 0)")
    values = np.unique(y_train)
    if len(values) > MAX_CLASSES:
        raise UserError(f"{name}: {len(values)} different labels; the limit is {MAX_CLASSES} classes")
    if len(values) < 2:
        raise UserError(f"{name}: need at least 2 classes, every label is {int(values[0])}")
    span = (f"{int(values[0])}..{int(values[-1])}"
            if values[-1] - values[0] + 1 == len(values) else f"{len(values)} values")

    def to_index(y: np.ndarray, f: str) -> np.ndarray:
        idx = np.searchsorted(values, y)
        bad = (idx >= len(values)) | (values[np.minimum(idx, len(values) - 1)] != y)
        if bad.any():
            raise UserError(f"{os.path.basename(f)}: label {int(y[bad][0])} is out of range; "
                            f"the training labels are {span}")
        return idx.astype(np.int64)

    return tuple(str(int(v)) for v in values), to_index
