"""Reading a CSV file into a header and rows of text, bounded, with one message per fault.

The parsing is the standard library's ``csv`` module (quoting, embedded commas
and newlines, a ``;`` or tab delimiter found by ``csv.Sniffer``); this module
only bounds it and turns its faults into ``UserError`` lines that name the
file and the line. What the columns mean is ``tabular.py``'s business.

Bounds, checked before the work they limit: the file's size (read at most
``MAX_BYTES + 1`` bytes), the number of columns (on the header), the number of
data rows (reading stops at ``MAX_ROWS + 1``) and one field's length.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass

from dlviz.errors import UserError

MAX_BYTES = 50_000_000          # one CSV file (an upload is bounded by the server's own limit)
MAX_ROWS = 100_000              # data rows, after blank lines are skipped
MAX_COLUMNS = 500               # columns on the header line
MAX_CELLS = 2_000_000           # rows x columns: each value is a Python string (~60 bytes) while parsed
MAX_NAME_CHARS = 100            # a column name, as shown
SNIFF_CHARS = 64_000            # what csv.Sniffer looks at to find the delimiter
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as text: ``rows[i][j]`` is row i's value in column ``header[j]``."""
    name: str                    # the file's base name, for messages
    header: tuple[str, ...]
    rows: list[list[str]]        # every row has len(header) fields
    encoding: str                # "utf-8" or "latin-1" (a file that is not UTF-8)


# an upload is stored under its content hash, then its own name (dlviz/ui/uploads.py)
_STORED = re.compile(r"^[0-9a-f]{16}\.(?=.+\.)")


def shown_name(path: str) -> str:
    """The file's name as its owner knows it: an upload's stored hash prefix left out."""
    name = os.path.basename(path) or path
    return _STORED.sub("", name)


def read_csv(path: str) -> CsvTable:
    """Read and parse ``path``; every fault is one ``UserError`` naming the file."""
    name = shown_name(path)
    if not os.path.isfile(path):
        raise UserError(f"{name}: not a file (a csv: dataset is one .csv file)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as e:
        raise UserError(f"{name}: cannot read this file ({e.strerror or e})") from None
    return parse_csv(data, name)


HEADER_BYTES = 1 << 20          # what read_header reads: the first line of any sane table


def read_header(path: str) -> tuple[str, ...]:
    """The column names of the CSV file ``path``, from its first MiB only (a page asks on
    every rerun, to offer the target column). Raises ``UserError`` as ``read_csv``."""
    name = shown_name(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(HEADER_BYTES)
    except OSError as e:
        raise UserError(f"{name}: cannot read this file ({e.strerror or e})") from None
    _check_text(data, name)
    text = data.decode("utf-8-sig", errors="replace")
    try:
        for fields in csv.reader(io.StringIO(text, newline=""), _dialect(text)):
            if fields and any(f.strip() for f in fields):
                return _header(fields, name)
    except csv.Error as e:
        raise UserError(f"{name}: the header line cannot be read as CSV ({e})") from None
    raise UserError(f"{name}: the file is empty")


def parse_csv(data: bytes, name: str) -> CsvTable:
    """Parse CSV bytes (see ``read_csv``)."""
    if len(data) > MAX_BYTES:
        size = f"{MAX_BYTES // 1_000_000} MB" if MAX_BYTES >= 1_000_000 else f"{MAX_BYTES} bytes"
        raise UserError(f"{name}: larger than {size}, the limit for a table on a shared server")
    _check_text(data, name)
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"   # every byte decodes: old Excel exports
    header, rows = _parse(text, name)
    return CsvTable(name, header, rows, encoding)


def _check_text(data: bytes, name: str) -> None:
    if not data.strip():
        raise UserError(f"{name}: the file is empty")
    if _looks_binary(data):
        raise UserError(f"{name}: this is not a CSV text file (it holds binary data); "
                        "save the table as CSV (comma-separated values) first")


def _looks_binary(data: bytes) -> bool:
    """NUL bytes, or many control characters, in the first 8 KB: an image, a zip, a
    spreadsheet (.xlsx is a zip) rather than text."""
    head = data[:8192]
    if b"\0" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return control > len(head) // 100


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:SNIFF_CHARS], delimiters=DELIMITERS)
    except csv.Error:            # one column, or nothing to tell by: plain commas
        return csv.excel


def _parse(text: str, name: str) -> tuple[tuple[str, ...], list[list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text), strict=False)
    header: tuple[str, ...] | None = None
    rows: list[list[str]] = []
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue                                  # a blank line (or one of bare commas)
            if header is None:
                header = _header(fields, name)
                continue
            if len(fields) != len(header):
                raise UserError(f"{name}: line {reader.line_num} has {_values(len(fields))}, the header "
                                f"has {len(header)} columns (every row needs one value per column)")
            if len(rows) == MAX_ROWS:
                raise UserError(f"{name}: more than {MAX_ROWS:,} data rows; the limit on a shared "
                                "server")
            if (len(rows) + 1) * len(header) > MAX_CELLS:
                raise UserError(f"{name}: more than {MAX_CELLS:,} values ({len(header)} columns x "
                                f"{len(rows) + 1:,} rows so far); the limit on a shared server")
            rows.append(fields)
    except csv.Error as e:      # e.g. a field over csv's limit of 131,072 characters
        raise UserError(f"{name}: line {reader.line_num} cannot be read as CSV ({e})") from None
    if header is None:
        raise UserError(f"{name}: the file is empty")
    if not rows:
        raise UserError(f"{name}: a header line but no data rows")
    return header, rows


def _header(fields: list[str], name: str) -> tuple[str, ...]:
    if len(fields) > MAX_COLUMNS:
        raise UserError(f"{name}: {len(fields):,} columns; the limit on a shared server is "
                        f"{MAX_COLUMNS}")
    names = [f.strip()[:MAX_NAME_CHARS] or f"column {i + 1}" for i, f in enumerate(fields)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise UserError(f"{name}: columns {seen[n] + 1} and {i + 1} are both named '{n}'; "
                            "column names must differ")
        seen[n] = i
    return tuple(names)


def _values(n: int) -> str:
    return "1 value" if n == 1 else f"{n} values"
