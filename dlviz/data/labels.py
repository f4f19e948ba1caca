"""A dataset key as a person reads it: the sidebar, run labels and summaries show this,
never the server's path of an upload."""

from __future__ import annotations

import os

from dlviz.data import drawn_points
from dlviz.data.csv_file import shown_name


def dataset_label(key: str) -> str:
    """Drawn points counted, a file by its own name; a built-in key as it is."""
    prefix, sep, rest = key.partition(":")
    if not sep:
        return key
    if prefix == drawn_points.PREFIX:
        return drawn_points.label(key)
    if prefix == "csv":
        return f"table {shown_name(rest)}"
    return f"{prefix} {os.path.basename(rest.rstrip('/')) or rest}"


def class_name(classes, i: int) -> str:
    """Class ``i``'s name, or its number when the dataset names no such class."""
    return str(classes[i]) if classes is not None and 0 <= i < len(classes) else str(i)
