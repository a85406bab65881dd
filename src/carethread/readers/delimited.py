"""Delimited text files (CSV, TSV, ``.gz``): the header, then every row stored once.

The header is read here in Python (names, delimiter) so nothing is guessed by a
sniffer; the rows come from :mod:`carethread.readers.lines` (every line accounted
for) and are split into fields by DuckDB (:func:`carethread.engine.csv_rows`).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import ibis

from carethread import engine
from carethread.data import format_count, plural
from carethread.errors import InputError, SchemaError
from carethread.readers import lines
from carethread.readers.columns import columns_present, looks_like_data
from carethread.readers.files import SourceFile

#: How much of a file its header line may take.
HEADER_BYTES = 1 << 20


def _sniff_delimiter(line: str, path: Path) -> str:
    if path.name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _head(file: SourceFile) -> bytes:
    """The first bytes of a file (decompressed), or an :class:`InputError` that says why not."""
    gz = file.path.name.lower().endswith(".gz")
    try:
        with gzip.open(file.path, "rb") if gz else open(file.path, "rb") as fh:
            return fh.read(HEADER_BYTES)
    except gzip.BadGzipFile:
        raise InputError(f"{file.source} is not a valid gzip file. Decompress it or export it again.") from None
    except (EOFError, zlib.error):
        raise InputError(
            f"{file.source} is a damaged gzip file: it ends or breaks near its start. "
            "Download or export it again (`gzip -t` checks a copy)."
        ) from None
    except OSError as exc:
        raise InputError(
            f"{file.source} could not be opened ({exc.strerror or 'read error'}). Check the path and its permissions."
        ) from None


def _first_line(file: SourceFile, head: bytes) -> str:
    if not head.strip():
        raise InputError(
            f"{file.source} is empty: it has no header row and no data. Export the data again, or remove the file."
        )
    cut = head.find(b"\n")
    first = head if cut < 0 else head[:cut]
    first = first[:-1] if first.endswith(b"\r") else first
    if b"\r" in first:
        raise InputError(
            f"{file.source} ends its lines with a carriage return alone (the old Mac OS format), which "
            "carethread does not read: its first line holds a carriage return that is not followed by a line "
            f"feed. Convert the line ends to LF or CRLF (for example: tr '\\r' '\\n' < {file.path.name} > "
            "converted.csv) and read the converted file."
        )
    if cut < 0 and len(head) == HEADER_BYTES:
        raise InputError(
            f"The first line of {file.source} is longer than {HEADER_BYTES // 2**20} MiB, so it is not a header "
            "row. Check that the right file was given, and that it is CSV or TSV text."
        )
    if not first.strip(b" \t"):
        raise InputError(
            f"The first line of {file.source} is blank. The header row (patient_id, start, ...) must be the "
            "first line: remove the lines above it."
        )
    try:
        return first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"The header of {file.source} is not UTF-8 text. Re-save the file as UTF-8 (in Excel: CSV UTF-8)."
        ) from None


def open_csv(file: SourceFile) -> None:
    """Read the header of a CSV file (names, delimiter) without DuckDB's sniffer.

    Sets ``file.columns``, ``file.delimiter`` and ``file.header_looks_like_data``.
    Messages name column positions, never the names, when the first line looks
    like data (:func:`~carethread.readers.columns.looks_like_data`).
    """
    line = _first_line(file, _head(file))
    file.delimiter = _sniff_delimiter(line, file.path)
    names = lines.split_record(line, file.delimiter)
    if names is None:
        raise SchemaError(
            f"The header row of {file.source} has a quote that does not close (or a quote inside an "
            "unquoted name). Fix the first line: names are separated by the delimiter, quoted names "
            'are enclosed in "...".'
        )
    names = [n.strip() or f"column{i}" for i, n in enumerate(names, 1)]
    data_like = looks_like_data(names)
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if name.lower() in seen:
            if data_like:
                raise SchemaError(f"{file.source} has no header row. {columns_present(names)} Add a header row.")
            raise SchemaError(
                f"{file.source} has two columns named `{name}` (columns {seen[name.lower()]} and {position}; "
                "names are compared ignoring case). Rename one of them."
            )
        if name.startswith("__"):
            shown = f"column {position}" if data_like else f"`{name}` (column {position})"
            raise SchemaError(
                f"{file.source}: the name of {shown} starts with `__`, which carethread keeps for its own "
                "columns. Rename that column."
            )
        seen[name.lower()] = position
    file.columns = names
    file.header_looks_like_data = data_like


def store_csv(con, files: Sequence[SourceFile], build: Callable[[ibis.Table], ibis.Table], prefix: str):
    """Read the rows of CSV files once into a temporary table; ``build(raw)`` is what is stored.

    ``raw`` is :func:`carethread.engine.csv_rows` over the files' rows
    (:func:`carethread.readers.lines.row_batches`): the source columns as text,
    ``__file``, ``__row`` and ``__reject`` / ``__reject_value`` for a row that
    cannot be split into the header's fields. Returns the stored table's name and
    one :class:`~carethread.readers.lines.LineCount` per file.

    Raises
    ------
    InputError
        A file could not be read to the end (a damaged gzip stream, an I/O error).
    """
    counts = [lines.LineCount(f.source) for f in files]
    stored = []
    try:
        for file, count in zip(files, counts, strict=True):
            stored.append(
                engine.store_rows(con, lines.row_batches(file.path, file.delimiter, len(file.columns), count))
            )
            if count.failure:
                raise InputError(count.failure)
            if count.lines != count.rows + count.blank + count.continued:
                raise AssertionError(f"{count.source}: {count} does not add up; a reader lost lines")
        raw = engine.csv_rows(
            con,
            [(t, f.columns, f.delimiter, lines.field_pattern(f.delimiter)) for t, f in zip(stored, files, strict=True)],
        )
        _stored, name = engine.materialize(con, build(raw), prefix)
        engine.drop(con, [raw.get_name()])
    finally:
        engine.drop(con, stored, kind="TABLE")
    return name, counts


def line_remarks(counts: Sequence[lines.LineCount]) -> list[str]:
    """What the line structure of CSV files changed about rows (no values): rows over several
    lines, and blank lines."""
    remarks = []
    for count in counts:
        if count.spanning:
            n = count.spanning
            remarks.append(
                f"{count.source}: {plural(n, 'row')} {'holds' if n == 1 else 'hold'} a quoted value that spans "
                f"lines ({format_count(count.continued + n)} lines in all; the first is data row "
                f"{format_count(count.first_spanning)}); each counts as one row, numbered by its first line, "
                "so data row N is still on line N + 1."
            )
        if count.blank:
            remarks.append(
                f"{count.source}: {plural(count.blank, 'blank line')} {'was' if count.blank == 1 else 'were'} "
                "skipped (no row)."
            )
    return remarks
