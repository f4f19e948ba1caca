"""Which datasets a page may open: built-in ones always, paths only under allowed folders.

A link (``?net=``) names its dataset by key, so on a shared server a link
could name ``folder:/some/server/dir`` and show that folder's images and
class names, and "path not found" would tell whether a path exists. Pages
therefore check a key here before loading it: built-in keys always pass; a
``folder:``/``idx:`` path passes only if it lies, after ``~``, ``..`` and
symlinks are resolved, inside one of the allowed folders (the session's own
uploads and the folders the operator lists in ``DLVIZ_DATA_DIRS``). Anything
else gets one message that is the same whether or not the path exists.

The CLI runs as the user on their own machine and does not call this.
"""

from __future__ import annotations

import os
from typing import Sequence

from dlviz.data.registry import PATH_LOADERS
from dlviz.errors import UserError

NOT_ALLOWED = ("this server opens only its built-in datasets, your own uploads in this "
               "session, and the data folders its operator allows; choose a dataset on the "
               "Build page or upload a zip")


def resolve(path: str) -> str:
    """``path`` as an absolute path with ``~``, ``..`` and every symlink resolved."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def is_within(path: str, root: str) -> bool:
    """True if resolved ``path`` is ``root`` or lies below it (both resolved here)."""
    path, root = resolve(path), resolve(root)
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:              # different drives on Windows
        return False


def check_dataset_access(key: str, allowed_roots: Sequence[str]) -> None:
    """Raise ``UserError`` unless a page may open the dataset ``key``.

    Built-in keys (no ``kind:`` prefix) always pass, as do unknown kinds, which
    ``load_dataset`` rejects without touching the disk. A path kind passes only
    when its path resolves inside one of ``allowed_roots``; empty roots are
    ignored. The message never depends on whether the path exists.
    """
    prefix, sep, path = key.partition(":")
    if not sep or prefix not in PATH_LOADERS:
        return
    if not path.strip() or "\0" in path:
        raise UserError(NOT_ALLOWED)
    try:
        if any(is_within(path, root) for root in allowed_roots if root and root.strip()):
            return
    except (OSError, ValueError):   # an unresolvable path is not allowed, whatever the reason
        pass
    raise UserError(NOT_ALLOWED)
