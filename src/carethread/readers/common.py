"""What every reader shares: input files, CSV headers, the extraction date, column
suggestions, and checking and finishing one canonical table.

The format readers (generic, Synthea, FHIR, OMOP) import these by their
public names; nothing here knows a format. Files are described in
:mod:`~carethread.readers.files`, column names in messages in
:mod:`~carethread.readers.columns`, CSV headers and rows in
:mod:`~carethread.readers.delimited`; their names are importable from here too.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping, Sequence

import ibis

from carethread import engine, validate
from carethread.data import ReadCount
from carethread.errors import InputError, OptionError
from carethread.readers.columns import ALIASES, columns_present, looks_like_data, suggest_column
from carethread.readers.delimited import line_remarks, open_csv, store_csv
from carethread.readers.files import SUFFIXES, SourceFile, data_files, file_kind, norm_stem

__all__ = [
    "ALIASES",
    "SUFFIXES",
    "SourceFile",
    "check_date_format",
    "columns_present",
    "combine",
    "data_files",
    "file_kind",
    "looks_like_data",
    "norm_stem",
    "open_csv",
    "parse_extraction_date",
    "read_table",
    "store_csv",
    "suggest_column",
    "unreadable_as",
]


@contextlib.contextmanager
def unreadable_as(message: str) -> Iterator[None]:
    """Within the block, the engine's error for a file it cannot open becomes an
    :class:`InputError` saying ``message`` (which names the file and the fix)."""
    try:
        yield
    except engine.BackendError:
        raise InputError(message) from None


# --- reading -----------------------------------------------------------------


def parse_extraction_date(value) -> _dt.date:
    """The extraction date a reader was given (a date, a datetime or ISO text); today when None.

    >>> parse_extraction_date("2024-06-30T12:00")
    datetime.date(2024, 6, 30)
    >>> parse_extraction_date("someday")
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: extraction_date 'someday' is not a date; write it as YYYY-MM-DD (e.g. 2024-06-30).
    """
    if value is None:
        return _dt.date.today()
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        parsed = _dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise OptionError(
            f"extraction_date {str(value)!r} is not a date; write it as YYYY-MM-DD (e.g. 2024-06-30)."
        ) from None
    if parsed.year < 1900:
        raise OptionError("extraction_date must be 1900-01-01 or later.")
    return parsed


def check_date_format(con, date_format: str | None, *, reader: str = "generic") -> None:
    """Raise :class:`OptionError` unless ``date_format`` is None or a strptime pattern DuckDB accepts.

    ``"auto"`` is for the generic reader only (it reads it itself); other formats write ISO dates.
    """
    if str(date_format).strip().lower() == "auto":
        raise OptionError(
            f"--date-format auto applies to --format generic; the {reader} format writes ISO dates. "
            "Pass a strptime pattern (e.g. %m/%d/%Y) if the files were re-saved with other dates."
        )
    if date_format is not None and not engine.check_strptime_format(con, date_format):
        raise OptionError(
            f"--date-format {date_format!r} is not a strptime pattern DuckDB understands "
            "(e.g. %d/%m/%Y or %m/%d/%Y %H:%M)."
        )


def read_table(
    con,
    table: str,
    files: Sequence[SourceFile],
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: str | None,
    check=None,
    optional: bool = False,
) -> validate.Finished:
    """Check and finish one canonical table read from ``files``.

    ``check`` defaults to the table's function in :data:`validate.CHECKS`; a
    format reader passes its own wrapper (same signature) to add derived
    columns or a ``__reject`` code to the raw rows before the checks run. An
    ``optional`` table (clinicians, patients) without a valid row is set aside
    with a remark (see :func:`carethread.validate.finish`).
    """
    spec = validate.SPECS[table]
    kinds = {f.kind for f in files}
    label = files[0].source if len(files) == 1 else f"{table} ({len(files)} files)"
    if len(kinds) > 1:
        raise InputError(f"The {table} files mix CSV and Parquet; convert them to one format.")
    check = check or validate.CHECKS[table]
    read = dict(extraction_date=extraction_date, date_format=date_format, source=label)
    lines_read = None
    try:
        if kinds == {"parquet"}:
            paths = [str(f.path) for f in files]
            raw = engine.parquet_table(con, paths)
            checked = check(raw, columns, profile=validate.profile(con, raw, columns, spec, paths=paths), **read)
        else:
            made: list[validate.Checked] = []

            def build(raw: ibis.Table) -> ibis.Table:
                made.append(check(raw, columns, **read))
                return made[-1].table

            name, lines_read = store_csv(con, files, build, spec.name)
            checked = made[-1]
            checked.table = con.table(name)
            checked.notes += line_remarks(lines_read)
        done = validate.finish(
            con,
            checked,
            sources=[f.source for f in files],
            stems=[f.stem for f in files],
            extraction_date=extraction_date,
            numbering="row" if lines_read is None else "data_row",
            optional=optional,
        )
    except engine.BackendError as exc:
        if not engine.is_data_error(exc):
            raise
        raise InputError(
            f"{label} could not be read to the end (the file may be truncated or corrupt). "
            "Export it again, or check that the right file was given."
        ) from None
    for count, lines in zip(done.counts, lines_read or (), strict=False):
        if count.read != lines.rows:
            raise AssertionError(f"{count.source}: {lines.rows} rows split but {count.read} counted; rows were lost")
        count.lines = lines.lines
    return done


def combine(finished: Iterable[validate.Finished]) -> tuple[list[ReadCount], list[str], ibis.Table]:
    """The counts, remarks and quarantine of a reader's finished tables, in the order given.

    The quarantines are stacked (``UNION ALL``) in that order too.
    """
    counts: list[ReadCount] = []
    remarks: list[str] = []
    quarantine = None
    for done in finished:
        counts += done.counts
        remarks += done.remarks
        quarantine = done.quarantine if quarantine is None else quarantine.union(done.quarantine)
    return counts, remarks, quarantine
