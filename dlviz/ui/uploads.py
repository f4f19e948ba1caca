"""Uploaded datasets on a shared server: one folder per browser session, bounded, swept.

An uploaded zip is written to ``<temp>/dlviz-uploads/server-<port>/<session>/``
(named by its content hash, so uploading it twice stores it once). Each
session keeps its last ``KEEP_PER_SESSION`` uploads and at most that many
times the upload limit in bytes; older ones are deleted when a new one comes.
``sweep_uploads`` (called by the server's upkeep thread) removes the folders
of sessions that have ended (after a grace for a reconnect) and every upload
older than ``settings().upload_ttl_s``.

The session's folder is also what a page may open besides the built-in
datasets and the operator's ``DLVIZ_DATA_DIRS`` (``allowed_roots``): a link
cannot name another session's upload or any other path on the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable

import streamlit as st

from dlviz.data.access import check_dataset_access
from dlviz.errors import UserError
from dlviz.settings import settings

KEEP_PER_SESSION = 3             # uploads kept per session, newest first
RECONNECT_GRACE_S = 300.0        # an ended session's folder waits this long (Streamlit keeps a
                                 # dropped connection's session 2 minutes for a reconnect)
SESSION_KEY = "dlviz_upload_session"    # this session's folder name
FILES_KEY = "dlviz_upload_files"        # uploader file_id -> stored path (no re-hash per rerun)
UPLOADS_BASE: str | None = None  # tests point this elsewhere; None: <temp>/dlviz-uploads
PARTIAL = ".part"                # a file being written (renamed into place when complete)
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SWEEP_LOCK = threading.Lock()
_SEEN: dict[str, float] = {}     # session id -> when a sweep last found it alive (under the lock)


# -- where ---------------------------------------------------------------------

def uploads_base() -> str:
    return UPLOADS_BASE or os.path.join(tempfile.gettempdir(), "dlviz-uploads")


def server_root() -> str:
    """This server's uploads (by port: two servers on one machine never sweep each other's)."""
    try:
        port = int(st.get_option("server.port"))
    except Exception:  # noqa: BLE001 - no config: one default folder
        port = 0
    return os.path.join(uploads_base(), f"server-{port}")


def folder_name(session_id: str, token: str = "") -> str:
    """A folder name for a session: its id (Streamlit's are UUIDs; any other in a
    reversible base64 form) and a random ``token`` of the session's, so that two
    sessions never share a folder even where ids repeat (AppTest, a reused id)."""
    name = session_id if _SAFE.match(session_id) and not session_id.startswith("x-") else \
        "x-" + base64.urlsafe_b64encode(session_id.encode()).decode().rstrip("=")
    return f"{name}.{token}" if token else name


def session_of(name: str) -> str | None:
    """The session id a folder belongs to (None when the name is not one of ours)."""
    name = name.rsplit(".", 1)[0]
    if not name.startswith("x-"):
        return name if _SAFE.match(name) else None
    try:
        raw = name[2:] + "=" * (-len(name[2:]) % 4)
        return base64.urlsafe_b64decode(raw.encode()).decode()
    except (binascii.Error, ValueError):
        return None


def session_dir() -> str:
    """This browser session's upload folder (not created here)."""
    name = st.session_state.get(SESSION_KEY)
    if not name:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        ctx = get_script_run_ctx()
        sid = (ctx.session_id if ctx is not None else "") or "no-session"
        name = folder_name(sid, secrets.token_hex(8))
        st.session_state[SESSION_KEY] = name
    return os.path.join(server_root(), name)


def allowed_roots() -> list[str]:
    """Folders this session's pages may open datasets from: its uploads and the operator's."""
    return [session_dir(), *settings().data_dirs]


def check_workspace_dataset(ws):
    """``ws`` itself if this session may open ``ws.dataset``; else ``UserError`` (one
    message, whether or not the path exists)."""
    check_dataset_access(ws.dataset, allowed_roots())
    return ws


# -- what a page's uploader gives -----------------------------------------------

def kept_name(up, suffixes: tuple[str, ...], default: str) -> str:
    """The suffix an upload is stored with after its content hash: ``.`` + its own name,
    reduced to safe characters and bounded, so messages and labels can name the file as
    its owner knows it (``data/csv_file.shown_name``); ``default`` when the name does
    not end in one of ``suffixes``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(str(getattr(up, "name", ""))))[-60:]
    name = name.lstrip("._")
    return f".{name}" if name.lower().endswith(suffixes) else default


def upload_dataset_key(up, ws, scheme: str = "folder", suffix: str = ".zip") -> str | None:
    """The dataset a page's uploader stands for: ``<scheme>:PATH`` of the file just
    uploaded (stored in this session's folder as ``<hash><suffix>``), else the
    workspace's earlier upload of that scheme when this session may open it, else
    None (nothing uploaded yet). ``scheme`` "folder": a zip of class folders.

    Raises ``UserError`` with the one line to show (a page only renders it)."""
    if up is None:
        if not ws.dataset.startswith(f"{scheme}:"):
            return None
        check_workspace_dataset(ws)     # only this session's own uploads (or the operator's data folders)
        return ws.dataset
    try:
        return f"{scheme}:{save_upload(up, suffix)}"
    except UserError as e:
        raise UserError(f"The upload could not be stored: {e}") from None
    except OSError as e:
        raise UserError(f"The upload could not be stored ({e.strerror or type(e).__name__}).") from None


@dataclass(frozen=True)
class ReadOnce:
    """What came of an uploaded file read once: ``fresh`` on the run that read it (then
    ``value`` is what ``read`` returned); ``error`` is kept while the file stays in the box."""
    fresh: bool
    value: object = None
    error: str | None = None


def read_once(up, state_key: str, read: Callable[[bytes], object],
              message: Callable[[UserError], str]) -> ReadOnce:
    """Read an uploader's file once per content (``read(bytes)``), keeping under
    ``state_key`` what came of it: a message drawn only on the run that read the
    file vanished at the next click. ``message(error)`` words a ``UserError``."""
    data = up.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    held = st.session_state.get(state_key)
    if held is not None and held[0] == digest:
        return ReadOnce(False, None, held[1])
    try:
        value = read(data)
    except UserError as e:
        st.session_state[state_key] = (digest, message(e))
        return ReadOnce(True, None, st.session_state[state_key][1])
    st.session_state[state_key] = (digest, None)
    return ReadOnce(True, value, None)


# -- storing an upload ---------------------------------------------------------

def max_upload_bytes() -> int:
    try:
        return int(st.get_option("server.maxUploadSize")) * 2**20
    except Exception:  # noqa: BLE001
        return 200 * 2**20          # Streamlit's default


def save_upload(up, suffix: str = ".zip") -> str:
    """Store a ``st.file_uploader`` file (a zip by default) in this session's folder; returns its path.

    Reruns with the same uploaded file reuse the stored path without reading it again."""
    known = st.session_state.setdefault(FILES_KEY, {})
    file_id = getattr(up, "file_id", None)
    path = known.get(file_id) if file_id else None
    if path and os.path.isfile(path):
        return path
    folder = session_dir()
    _private_dirs(folder)
    path = store_upload(up.getvalue(), folder, max_bytes=max_upload_bytes(), suffix=suffix)
    if file_id:
        known.clear()               # one uploader: only its current file matters
        known[file_id] = path
    return path


def store_upload(data: bytes, folder: str, keep: int = KEEP_PER_SESSION,
                 max_bytes: int | None = None, suffix: str = ".zip") -> str:
    """Write ``data`` into ``folder`` under its content hash and keep only the newest
    ``keep`` uploads there (and no more than ``keep * max_bytes`` bytes in all)."""
    max_bytes = max_bytes or max_upload_bytes()
    if len(data) > max_bytes:
        raise UserError(f"that file is {len(data) / 2**20:.0f} MB; the limit is "
                        f"{max_bytes / 2**20:.0f} MB")
    path = os.path.join(folder, hashlib.sha256(data).hexdigest()[:16] + suffix)
    for attempt in (1, 2):          # a sweep may remove an old, empty folder meanwhile
        try:
            _write(data, folder, path)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    _prune(folder, keep=path, count=keep, total_bytes=keep * max_bytes)
    return path


def _write(data: bytes, folder: str, path: str) -> None:
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if os.path.isfile(path):
        os.utime(path)              # uploaded again: now the newest
        return
    fd, part = tempfile.mkstemp(dir=folder, suffix=PARTIAL)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(part, path)      # readers never see a half-written zip
    except BaseException:
        _remove(part)
        raise


def _prune(folder: str, keep: str, count: int, total_bytes: int) -> None:
    """Delete all but the newest ``count`` uploads in ``folder`` (``keep`` always stays),
    and older ones beyond ``total_bytes`` together."""
    files = []
    for e in _entries(folder):
        try:
            if e.is_file(follow_symlinks=False) and not e.name.endswith(PARTIAL):
                st_ = e.stat(follow_symlinks=False)
                files.append((e.path == keep, st_.st_mtime, st_.st_size, e.path))
        except OSError:             # swept meanwhile
            continue
    files.sort(reverse=True)        # the one just stored first, then newest first
    kept, used = 0, 0
    for is_new, _, size, path in files:
        if is_new or (kept < count and used + size <= total_bytes):
            kept += 1
            used += size
        else:
            _remove(path)


# -- sweeping ------------------------------------------------------------------

def sweep_uploads(now: float | None = None,
                  is_alive: Callable[[str], bool] | None = None) -> int:
    """Remove ended sessions' upload folders and uploads older than the TTL; returns
    how many files and folders went. Safe from any thread; never raises.

    ``is_alive(session_id)`` says whether a session is active; by default
    Streamlit's runtime is asked. A session's folder goes once it has not been
    active for ``RECONNECT_GRACE_S`` (by the sweeps that saw it, else by its
    last upload), so a dropped connection that comes back keeps its uploads.
    Without a runtime only the age applies.
    """
    try:
        with _SWEEP_LOCK:
            return _sweep(time.time() if now is None else now,
                          is_alive if is_alive is not None else _runtime_is_alive())
    except Exception:  # noqa: BLE001 - an upkeep thread must not die of a full disk
        return 0


def _sweep(now: float, is_alive: Callable[[str], bool] | None) -> int:
    base = uploads_base()
    if not os.path.isdir(base) or os.path.islink(base):
        return 0
    cutoff = now - settings().upload_ttl_s
    mine = os.path.basename(server_root())
    removed = 0
    present = set()
    for entry in _entries(base):
        if entry.name == mine and entry.is_dir(follow_symlinks=False):
            for sess in _entries(entry.path):
                sid = session_of(sess.name) if sess.is_dir(follow_symlinks=False) else None
                if sid is not None and is_alive is not None:
                    present.add(sid)
                    if _alive(is_alive, sid):
                        _SEEN[sid] = now
                    elif now - _SEEN.get(sid, _mtime(sess)) > RECONNECT_GRACE_S:
                        removed += _remove(sess.path)
                        continue
                removed += _remove_old(sess, cutoff)
        else:
            # files from before per-session folders, another server's folders: by age only
            removed += _remove_old(entry, cutoff)
    for sid in [s for s in _SEEN if s not in present]:
        del _SEEN[sid]
    return removed


def _mtime(entry: os.DirEntry) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def _runtime_is_alive() -> Callable[[str], bool] | None:
    try:
        from streamlit import runtime
        if not runtime.exists():
            return None
        return runtime.get_instance().is_active_session     # documented safe from any thread
    except Exception:  # noqa: BLE001
        return None


def _alive(is_alive: Callable[[str], bool], sid: str) -> bool:
    try:
        return bool(is_alive(sid))
    except Exception:  # noqa: BLE001 - unknown: keep the folder, the TTL still applies
        return True


def _remove_old(entry: os.DirEntry, cutoff: float) -> int:
    """Remove what under ``entry`` was last changed before ``cutoff`` (folders once empty)."""
    try:
        if entry.is_dir(follow_symlinks=False):
            # its own time before its children go (removing them makes it look new)
            old = entry.stat(follow_symlinks=False).st_mtime < cutoff
            removed = sum(_remove_old(e, cutoff) for e in _entries(entry.path))
            if old and not _entries(entry.path):
                removed += _remove(entry.path)
            return removed
        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
            return _remove(entry.path)
    except OSError:
        pass
    return 0


def _remove(path: str) -> int:
    """Delete a file, link or folder tree; 1 if it went (0 if it was gone already)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            return 0 if os.path.lexists(path) else 1
        os.remove(path)
        return 1
    except OSError:
        return 0


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []


def _private_dirs(folder: str) -> None:
    """Make the uploads base, this server's folder and ``folder`` below it as folders only
    this user can enter; refuse any that is a link or someone else's (in a shared
    temporary folder another user could have made it first)."""
    root = server_root()
    for p in (uploads_base(), root, folder):
        os.makedirs(p, mode=0o700, exist_ok=True)
        info = os.lstat(p)
        if os.path.islink(p) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            raise UserError("the server's upload folder is not private; ask its operator "
                            "to check the temporary folder")
