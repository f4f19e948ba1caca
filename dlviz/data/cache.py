"""An on-disk cache of generated arrays, shared across processes.

Synthetic datasets take a second or two to render; the in-memory cache in
``registry.py`` only lasts one process. ``cached_arrays`` stores what a
builder returns as one ``.npz`` file under ``$DLVIZ_CACHE_DIR`` (or
``~/.cache/dlviz``), named by a hash of (name, key, CACHE_VERSION), so the
next process (another Streamlit worker, the CLI, a test run) reads it back.

Rules that keep it safe:
- files are written to a temporary name and moved into place with
  ``os.replace``, so a reader never sees half a file, even with two writers;
- a file that cannot be read (truncated, corrupt, wrong content) is rebuilt;
- a cache folder that cannot be written only costs the speed-up;
- nothing is unpickled: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

# Bump when the file layout changes; every old file then stops matching.
CACHE_VERSION = 1

Arrays = dict[str, np.ndarray]


def cache_dir() -> Path:
    """The folder cache files live in: $DLVIZ_CACHE_DIR, else ~/.cache/dlviz."""
    env = os.environ.get("DLVIZ_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dlviz"


def cache_path(name: str, key: dict) -> Path:
    """Where the arrays for (name, key) are stored. ``key`` must be JSON-able."""
    blob = json.dumps({"name": name, "key": key, "version": CACHE_VERSION},
                      sort_keys=True, default=_json_default)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:20]
    return cache_dir() / f"{_safe(name)}-{digest}.npz"


def cached_arrays(name: str, key: dict, builder: Callable[[], Arrays]) -> Arrays:
    """Return the arrays stored for (name, key), calling ``builder`` only on a miss.

    ``builder`` returns a dict of numeric numpy arrays (no object arrays).
    The same dict content comes back on a hit, read from disk.
    """
    path = cache_path(name, key)
    arrays = _read(path)
    if arrays is not None:
        return arrays
    arrays = builder()
    _check(arrays)
    _write(path, arrays)
    return arrays


def _read(path: Path) -> Arrays | None:
    """The arrays in ``path``, or None when it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # a truncated or foreign file: rebuild rather than fail
        warnings.warn(f"ignoring unreadable cache file {path}: {exc}", RuntimeWarning, stacklevel=3)
        return None


def _write(path: Path, arrays: Arrays) -> None:
    """Write atomically: a temp file in the same folder, then os.replace."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            # uncompressed: noisy images barely compress, and zlib would cost ~1 s
            np.savez(f, **arrays)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        # read-only home, full disk: the data is still good, only not cached
        warnings.warn(f"could not write cache file {path}: {exc}", RuntimeWarning, stacklevel=3)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _check(arrays: Arrays) -> None:
    if not isinstance(arrays, dict) or not arrays:
        raise TypeError("cache builder must return a non-empty dict of numpy arrays")
    for k, v in arrays.items():
        if not isinstance(v, np.ndarray) or v.dtype == object:
            raise TypeError(f"cache entry '{k}' must be a numeric numpy array, got {type(v).__name__}")


def _safe(name: str) -> str:
    """A file-name-safe version of ``name`` (the hash carries the uniqueness)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "arrays"


def _json_default(obj):
    # tuples already become lists; anything else (a Path, a numpy scalar) by its text
    return str(obj)
