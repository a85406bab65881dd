"""What every reader shares: input files, CSV headers, the extraction date, column
suggestions, and checking and finishing one canonical table.

The format readers (generic, Synthea, FHIR, OMOP) import these by their
public names; nothing here knows a format.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import difflib
import gzip
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis

from carethread import engine, validate
from carethread.data import ReadCount
from carethread.errors import InputError, OptionError, SchemaError

#: File name endings the readers understand, and how they read them.
SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".tsv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


#: Source column names worth suggesting for a canonical column (never used silently).
ALIASES: dict[str, tuple[str, ...]] = {
    "patient_id": ("patient", "pat_id", "mrn", "person_id", "member_id", "subject_id", "client_id"),
    "start": (
        "date",
        "start_date",
        "visit_date",
        "encounter_date",
        "service_date",
        "admit_date",
        "appointment_date",
        "datetime",
        "timestamp",
        "start_time",
        "period_start",
    ),
    "clinician_id": (
        "clinician",
        "provider",
        "provider_id",
        "npi",
        "doctor",
        "physician",
        "physician_id",
        "practitioner",
        "practitioner_id",
        "prescriber_id",
        "gp",
    ),
    "practice_id": ("practice", "site", "site_id", "clinic", "clinic_id", "organization", "organization_id"),
    "setting": ("care_setting", "encounter_class", "encounter_type", "visit_type", "class", "place_of_service"),
    "encounter_id": ("encounter", "visit_id", "id", "appointment_id"),
    "birth_date": ("dob", "birthdate", "date_of_birth"),
    "death_date": ("dod", "deathdate", "date_of_death"),
    "sex": ("gender",),
}

_DATA_LIKE = re.compile(r"^\s*[-+]?\d+([.,:/\- T]\d+)*(Z|[+-]\d\d:?\d\d)?\s*$")


@dataclass
class SourceFile:
    """One input file: where it is, how messages name it, what it holds."""

    path: Path
    source: str
    kind: str
    columns: list[str] = field(default_factory=list)
    delimiter: str = ","
    header_looks_like_data: bool = False

    @property
    def stem(self) -> str:
        """The source name without its suffix (``encounters/part-0``)."""
        for suffix in SUFFIXES:
            if self.source.lower().endswith(suffix):
                return self.source[: -len(suffix)]
        return self.source


# --- files -------------------------------------------------------------------


def file_kind(path: Path) -> str | None:
    """``'csv'`` or ``'parquet'`` by the file name's ending (:data:`SUFFIXES`), else None.

    >>> file_kind(Path("Encounters.CSV.gz")), file_kind(Path("notes.txt"))
    ('csv', None)
    """
    name = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def data_files(folder: Path, *, recursive: bool) -> list[Path]:
    """The CSV and Parquet files in ``folder`` (and below it when ``recursive``),
    sorted; hidden names (``.x``, ``_x``) are left out."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and file_kind(p) and not p.name.startswith((".", "_")))


def norm_stem(path: Path) -> str:
    """The file name in lower case without its :data:`SUFFIXES` ending.

    >>> norm_stem(Path("data/VISIT_OCCURRENCE.tsv.gz"))
    'visit_occurrence'
    """
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _sniff_delimiter(line: str, path: Path) -> str:
    if path.name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def open_csv(file: SourceFile) -> None:
    """Read the header of a CSV file (names, delimiter) without DuckDB's sniffer."""
    opener = gzip.open if file.path.name.lower().endswith(".gz") else open
    try:
        with opener(file.path, "rb") as fh:
            head = fh.read(1 << 16)
    except gzip.BadGzipFile:
        raise InputError(f"{file.source} is not a valid gzip file. Decompress it or export it again.") from None
    except OSError as exc:
        raise InputError(
            f"{file.source} could not be opened ({exc.strerror or 'read error'}). Check the path and its permissions."
        ) from None
    if not head.strip():
        raise InputError(
            f"{file.source} is empty: it has no header row and no data. Export the data again, or remove the file."
        )
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"The header of {file.source} is not UTF-8 text. Re-save the file as UTF-8 (in Excel: CSV UTF-8)."
        ) from None
    file.delimiter = _sniff_delimiter(line, file.path)
    names = next(csv.reader([line], delimiter=file.delimiter), [])
    names = [n.strip() or f"column{i}" for i, n in enumerate(names, 1)]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if name.lower() in seen:
            raise SchemaError(
                f"{file.source} has two columns named `{name}` (columns {seen[name.lower()]} and "
                f"{position}; names are compared ignoring case). Rename one of them."
            )
        seen[name.lower()] = position
    file.columns = names
    file.header_looks_like_data = any(_DATA_LIKE.match(n) for n in names)


@contextlib.contextmanager
def unreadable_as(message: str) -> Iterator[None]:
    """Within the block, the engine's error for a file it cannot open becomes an
    :class:`InputError` saying ``message`` (which names the file and the fix)."""
    try:
        yield
    except engine.BackendError:
        raise InputError(message) from None


# --- columns -----------------------------------------------------------------


def _normalised(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name).lower()


def suggest_column(wanted: str, present: Sequence[str], *, aliases: bool = True) -> str | None:
    """The column in ``present`` most likely meant by ``wanted``, if any.

    The same name ignoring case, spaces, ``_``, ``-`` and ``.``; else a close
    spelling; else (with ``aliases``) one of :data:`ALIASES` for ``wanted``.
    Used in messages only, never to read a column silently.

    >>> suggest_column("patient_id", ["PatientID", "VisitDate"])
    'PatientID'
    >>> suggest_column("start", ["pid", "visit_date"]), suggest_column("start", ["pid"])
    ('visit_date', None)
    """
    if not present:
        return None
    by_norm = {}
    for column in present:
        by_norm.setdefault(_normalised(column), column)
    if _normalised(wanted) in by_norm:
        return by_norm[_normalised(wanted)]
    close = difflib.get_close_matches(_normalised(wanted), list(by_norm), n=1, cutoff=0.8)
    if close:
        return by_norm[close[0]]
    if aliases:
        for alias in ALIASES.get(wanted, ()):
            if _normalised(alias) in by_norm:
                return by_norm[_normalised(alias)]
    return None


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


def check_date_format(con, date_format: str | None) -> None:
    """Raise :class:`OptionError` unless ``date_format`` is None or a strptime pattern DuckDB accepts."""
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
) -> validate.Finished:
    """Check and finish one canonical table read from ``files``.

    ``check`` defaults to the table's function in :data:`validate.CHECKS`; a
    format reader passes its own wrapper (same signature) to add derived
    columns or a ``__reject`` code to the raw rows before the checks run.
    """
    spec = validate.SPECS[table]
    kinds = {f.kind for f in files}
    label = files[0].source if len(files) == 1 else f"{table} ({len(files)} files)"
    if len(kinds) > 1:
        raise InputError(f"The {table} files mix CSV and Parquet; convert them to one format.")
    check = check or validate.CHECKS[table]
    sources = [f.source for f in files]
    try:
        if kinds == {"parquet"}:
            paths = [str(f.path) for f in files]
            raw = engine.parquet_table(con, paths)
            facts = validate.profile(con, raw, columns, spec, paths=paths)
            checked = check(
                raw, columns, extraction_date=extraction_date, date_format=date_format, source=label, profile=facts
            )
            rejected: list = []
        else:
            made: list[validate.Checked] = []

            def build(raw: ibis.Table) -> ibis.Table:
                made.append(check(raw, columns, extraction_date=extraction_date, date_format=date_format, source=label))
                return made[-1].table

            name, rejected, strict = store_csv(con, files, build, spec.name)
            checked = made[-1]
            checked.table = con.table(name)
            if not strict:
                checked.notes.append(
                    f"{label} is not strictly valid CSV (a carriage return or quote inside an unquoted "
                    "value?); it was read leniently: such characters ended a row and extra fields were "
                    "dropped, so row numbers may not match a text editor's."
                )
        return validate.finish(
            con,
            checked,
            sources=sources,
            stems=[f.stem for f in files],
            rejected=rejected,
            extraction_date=extraction_date,
        )
    except engine.BackendError as exc:
        if not engine.is_data_error(exc):
            raise
        raise InputError(
            f"{label} could not be read to the end (the file may be truncated or corrupt). "
            "Export it again, or check that the right file was given."
        ) from None


def store_csv(con, files: Sequence[SourceFile], build, prefix: str) -> tuple[str, list, bool]:
    """Parse CSV files once into a temporary table; ``build(raw)`` is what is stored.

    ``raw`` is :func:`carethread.engine.csv_table` over ``files``. Returns the
    stored table's name, the rows DuckDB could not parse (as
    :func:`carethread.validate.finish` takes them: ``malformed_row`` or
    ``invalid_encoding``) and whether the strict parser was used. DuckDB's
    strict parser is tried first (rows with the wrong number of fields are
    rejected and quarantined); if it gives up on the file, a lenient parse
    follows. A :data:`carethread.engine.BackendError` of the lenient parse is
    raised for the caller to explain.
    """
    specs = [(str(f.path), f.columns, f.delimiter) for f in files]
    for strict in (True, False):
        raw, reject_tables = engine.csv_table(con, specs, strict=strict)
        try:
            # The rows are stored, so later queries never re-read the text.
            _stored, name = engine.materialize(con, build(raw), prefix)
        except engine.BackendError as exc:
            engine.drop(con, [raw.get_name()])
            engine.drop(con, [n for pair in reject_tables for n in pair], kind="TABLE")
            if strict and engine.is_data_error(exc):
                continue
            raise
        unparsed = engine.csv_rejects(con, reject_tables)
        engine.renumber_after_rejects(con, name, [(f, r) for f, r, *_ in unparsed])
        engine.drop(con, [raw.get_name()])
        rejected = [
            (f, r, "invalid_encoding" if "ENCODING" in kind.upper() else "malformed_row", col, text)
            for f, r, kind, col, text in unparsed
        ]
        return name, rejected, strict
    raise AssertionError("unreachable")


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
