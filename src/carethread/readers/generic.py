"""The generic reader: canonical tables from plain CSV or Parquet files.

Input layouts
-------------
- **One file** (``visits.csv``, ``encounters.parquet``): the encounters.
- **A glob** (``'extract/*.csv'``): every CSV or Parquet file it matches holds
  encounters.
- **A folder**: ``encounters.csv`` / ``encounters.parquet``, or an
  ``encounters/`` folder of parts (``encounters/part-0.parquet``, ...), plus
  optional ``clinicians`` and ``patients`` tables laid out the same way. If the
  folder has no ``encounters`` table, every CSV or Parquet file directly in it
  holds encounters. Other files (the synthetic generator's ``true_*.parquet``
  ground truth, for example) are ignored.

Column names must match the canonical ones (:mod:`carethread.schema`) or be
given with ``mapping`` (``--map patient_id=PAT_ID,start=VISIT_DT``). Nothing is
guessed: a near-miss such as ``PatientID`` is suggested in the error, never
used silently.

Row numbers
-----------
Quarantine rows and messages count **data rows from 1**, the header excluded:
in a CSV file row 1 is the line after the header (line 2 of the file, when no
quoted value spans lines); in Parquet it is the first row of the file.
"""

from __future__ import annotations

import datetime as _dt
import functools
import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from carethread import engine, validate
from carethread.data import CanonicalData
from carethread.errors import InputError, OptionError, SchemaError
from carethread.readers.columns import columns_present, no_header_fix, suggest_column
from carethread.readers.common import (
    SourceFile,
    check_date_format,
    combine,
    data_files,
    file_kind,
    norm_stem,
    open_csv,
    parse_extraction_date,
    read_table,
    unreadable_as,
)
from carethread.readers.values import auto_date_formats, parse_setting_map

TABLES: tuple[str, ...] = ("encounters", "clinicians", "patients")

#: Every canonical column a mapping may name.
CANONICAL_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(name for spec in validate.SPECS.values() for name in spec.schema.names)
)


# --- mapping -------------------------------------------------------------------


def parse_mapping(text: str) -> dict[str, str]:
    """Parse ``--map``: ``"patient_id=PAT_ID,start=VISIT_DT"`` → a dict.

    Keys are canonical columns (see :data:`CANONICAL_COLUMNS`), values the
    column names in the file. Spaces around names are ignored.

    Raises
    ------
    OptionError
        For an item without ``=``, an empty name, a repeated key or an
        unknown canonical column (with a suggestion).

    Examples
    --------
    >>> parse_mapping("patient_id=PAT_ID, start=VISIT_DT")
    {'patient_id': 'PAT_ID', 'start': 'VISIT_DT'}
    >>> parse_mapping("patientid=PAT_ID")
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --map: `patientid` is not a canonical column; did you mean `patient_id`? ...
    """
    out: dict[str, str] = {}
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            continue
        if "=" not in item:
            raise OptionError(
                f"--map: `{item}` has no `=`; write canonical=source pairs separated by commas, "
                "e.g. --map patient_id=PAT_ID,start=VISIT_DT."
            )
        key, _, value = (s.strip() for s in item.partition("="))
        if not key or not value:
            raise OptionError(f"--map: `{item}` needs a name on both sides of `=` (e.g. patient_id=PAT_ID).")
        if key in out:
            raise OptionError(f"--map: `{key}` is given twice; keep one source column for it.")
        out[key] = value
    return check_mapping(out)


def check_mapping(mapping: Mapping[str, str] | str | None) -> dict[str, str]:
    """Validate a mapping given as a dict (or parse one given as a string)."""
    if mapping is None:
        return {}
    if isinstance(mapping, str):
        return parse_mapping(mapping)
    out = {}
    for key, value in mapping.items():
        if key not in CANONICAL_COLUMNS:
            hint = ""
            if value in CANONICAL_COLUMNS:
                hint = f"; it looks reversed: write --map {value}={key} (canonical=source)."
            else:
                near = suggest_column(key, CANONICAL_COLUMNS, aliases=False)
                hint = f"; did you mean `{near}`?" if near else "."
            raise OptionError(
                f"--map: `{key}` is not a canonical column{hint} Canonical columns: {', '.join(CANONICAL_COLUMNS)}."
            )
        if not isinstance(value, str) or not value.strip():
            raise OptionError(f"--map: the source column for `{key}` is empty.")
        out[key] = value.strip()
    return out


# --- finding and opening files -------------------------------------------------


def _named(base: Path, files: Sequence[Path]) -> list[SourceFile]:
    return [
        SourceFile(p, Path(os.path.relpath(p, base)).as_posix(), file_kind(p))  # type: ignore[arg-type]
        for p in files
    ]


def _table_in_folder(folder: Path, table: str) -> list[Path]:
    direct = [p for p in data_files(folder, recursive=False) if norm_stem(p) == table]
    sub = folder / table
    parts = data_files(sub, recursive=True) if sub.is_dir() else []
    if len(direct) > 1 or (direct and parts):
        names = [p.name for p in direct] + ([f"{table}/"] if parts else [])
        raise InputError(
            f"{folder} has more than one {table} table ({', '.join(names)}). "
            "Keep one, or pass the file to read as INPUT."
        )
    if sub.is_dir() and not parts:
        raise InputError(f"{sub} is a folder but holds no CSV or Parquet file.")
    return direct or parts


def discover(path: str | os.PathLike) -> dict[str, list[SourceFile]]:
    """Which files hold which canonical table (see the module docstring)."""
    text = os.fspath(path)
    target = Path(text).expanduser()
    if not target.exists() and glob.has_magic(text):
        matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True))
        files = [p for p in matches if p.is_file() and file_kind(p)]
        if not files:
            raise InputError(
                f"No CSV or Parquet file matches {text!s}. Check the pattern; "
                "files must end in .csv, .csv.gz, .tsv or .parquet."
            )
        base = Path(os.path.commonpath([p.parent for p in files]))
        return {"encounters": _named(base, files)}
    if not target.exists():
        raise InputError(
            f"{text} does not exist. Pass a CSV or Parquet file, a folder that holds "
            "encounters.csv or encounters.parquet, or a glob such as 'data/*.parquet'."
        )
    if target.is_file():
        if file_kind(target) is None:
            raise InputError(
                f"{target.name} is neither CSV nor Parquet (expected a name ending in "
                ".csv, .csv.gz, .tsv or .parquet). Rename it, or convert it to one of these."
            )
        return {"encounters": _named(target.parent, [target])}
    out = {}
    for table in TABLES:
        files = _table_in_folder(target, table)
        if files:
            out[table] = _named(target, files)
    if "encounters" not in out:
        others = [
            p
            for p in data_files(target, recursive=False)
            if norm_stem(p) not in TABLES and not norm_stem(p).startswith("true_")
        ]
        if not others:
            raise InputError(
                f"{target} holds no encounters: expected encounters.csv, encounters.parquet, "
                "an encounters/ folder of parts, or other CSV or Parquet files."
            )
        out["encounters"] = _named(target, others)
    return out


def _open_parquet(con, file: SourceFile) -> None:
    with unreadable_as(
        f"{file.source} is not a readable Parquet file (it may be truncated, corrupt, or "
        "not Parquet at all). Export it again, or check that the right file was given."
    ):
        file.columns = engine.parquet_columns(con, str(file.path))


# --- columns -------------------------------------------------------------------


def _resolve(
    spec: validate.TableSpec, files: Sequence[SourceFile], mapping: Mapping[str, str]
) -> tuple[dict[str, str | None], list[str]]:
    """Canonical → source column for a table, and remarks on near-miss columns."""
    union = list(dict.fromkeys(c for f in files for c in f.columns))
    columns: dict[str, str | None] = {}
    for name in spec.schema.names:
        wanted = mapping.get(name)
        if wanted is not None and wanted in union:
            columns[name] = wanted
        elif name in union and (wanted is None or name not in mapping.values()):
            columns[name] = name
        else:
            columns[name] = None
    for name in spec.required:
        for file in files:
            if columns[name] is None or columns[name] not in file.columns:
                raise SchemaError(_missing_column(file, name, mapping, columns))
    used = {c for c in columns.values() if c is not None}
    free = [c for c in union if c not in used and c not in CANONICAL_COLUMNS]
    label = files[0].source if len(files) == 1 else spec.name
    remarks = []
    for name, source in columns.items():
        if source is None and name not in mapping:
            near = suggest_column(name, free)
            if near is not None:
                remarks.append(f"{label}: column `{near}` was not used; if it holds {name}, pass --map {name}={near}.")
    return columns, remarks


def _missing_column(file: SourceFile, name: str, mapping: Mapping[str, str], columns: Mapping[str, str | None]) -> str:
    wanted = mapping.get(name, name)
    if file.header_looks_like_data:
        # The "names" are values: say where they are, never what they are.
        return (
            f"{file.source} has no header row. {columns_present(file.columns)} {no_header_fix(('patient_id', 'start'))}"
        )
    if name in mapping:
        head = f"{file.source} has no column `{wanted}` (given for {name} by --map {name}={wanted})."
        if name in file.columns:
            return (
                f"{head} The file has a column named `{name}`: drop {name}={wanted} from --map to read it, "
                "or give the name of the column that holds it."
            )
    else:
        head = f"{file.source} has no column `{name}`, which is required."
    taken = {c for c in columns.values() if c is not None}
    candidates = [c for c in file.columns if c not in taken and c not in CANONICAL_COLUMNS]
    body = f" {columns_present(file.columns)}"
    near = suggest_column(wanted, candidates) or (suggest_column(name, candidates) if wanted != name else None)
    if near is not None:
        fix = f" `{near}` looks like {name}: pass --map {name}={near}, or rename the column."
    else:
        fix = f" Rename the column that holds {name}, or pass --map {name}=<column>."
    return head + body + fix


def _check_mapping_used(mapping: Mapping[str, str], plans: Mapping[str, tuple]) -> None:
    for key, value in mapping.items():
        relevant = [(files, cols) for table, (files, cols) in plans.items() if key in validate.SPECS[table].schema]
        if any(cols.get(key) == value for _files, cols in relevant):
            continue
        if not relevant:
            tables = [t for t in TABLES if key in validate.SPECS[t].schema]
            raise SchemaError(
                f"--map {key}={value}: {key} belongs to the {' or '.join(tables)} table, "
                "which the input does not have. Remove it from --map, or add that table."
            )
        files, _cols = relevant[0]
        file = files[0]
        raise SchemaError(_missing_column(file, key, mapping, {}))


# --- reading -------------------------------------------------------------------


def read_generic(
    path: str | os.PathLike,
    *,
    con=None,
    mapping: Mapping[str, str] | str | None = None,
    extraction_date: _dt.date | str | None = None,
    date_format: str | None = None,
    setting_map: Mapping[str, str] | str | os.PathLike | None = None,
) -> CanonicalData:
    """Read encounters (and optional clinicians and patients) from CSV or Parquet.

    Parameters
    ----------
    path
        A CSV or Parquet file, a glob, or a folder (see the module docstring).
    con
        An Ibis DuckDB connection; default :func:`carethread.engine.connect`.
        The tables stay on it as lazy expressions.
    mapping
        Canonical column → source column, e.g. ``{"patient_id": "PAT_ID"}``,
        or the ``--map`` text ``"patient_id=PAT_ID,start=VISIT_DT"``.
    extraction_date
        The day the data was extracted; later dates are rejected. Default:
        today.
    date_format
        A strptime pattern (``"%d/%m/%Y"``) tried before the ISO forms for
        every date column; ``"auto"`` finds, per date column, the one pattern
        that reads the values sampled from each file (see
        :func:`carethread.validate.dates.guess_date_format`) and refuses to
        choose between day-first and month-first readings.
    setting_map
        Source setting values → canonical settings, applied before settings
        are checked: ``"Office Visit=primary_care,ED=emergency"``, a file of
        such lines, or a dict (see :func:`~carethread.readers.values.parse_setting_map`).

    Returns
    -------
    CanonicalData
        Validated tables, the quarantine, one :class:`~carethread.data.ReadCount`
        per file and plain-language remarks.

    Raises
    ------
    InputError
        The input does not exist, is empty, unreadable, or has no valid row.
    SchemaError
        A required column (``patient_id``, ``start``; ``clinician_id`` or
        ``patient_id`` in the side tables) is missing; the message lists the
        columns present and suggests a near-miss.
    OptionError
        An invalid mapping, extraction date or date format.

    Notes
    -----
    Every rejected row goes to the quarantine with a reason code (see
    :mod:`carethread.validate`), and for every file ``read == accepted +
    quarantined``. Identifiers stay strings: CSV is read as text so leading
    zeros survive, and CSV values lose surrounding spaces; Parquet values
    are used as stored (only empty or all-space strings count as missing).

    Parquet stays lazy: the returned tables are views that re-apply the
    (cheap) checks on each query, because DuckDB scans Parquet faster than
    a copy in memory and keeps its dictionary encoding; facts gathered once
    (no blank ids, a strictly increasing key, the distinct settings) keep
    those checks minimal. CSV is parsed once into a temporary table of
    checked rows. Call ``.cache()`` on a table that many queries will scan.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "visits.csv").write_text(
    ...     "PAT_ID,clinician_id,start\\n007,c1,2024-01-02\\n007,c2,2024-02-30\\n")
    >>> data = read_generic(folder / "visits.csv", mapping="patient_id=PAT_ID",
    ...                     extraction_date="2024-06-30")
    >>> print(data.reconciliation())
    visits.csv: 2 rows read = 1 accepted + 1 quarantined
    >>> data.encounters.select("encounter_id", "patient_id", "setting").to_pyarrow().to_pylist()
    [{'encounter_id': 'visits:1', 'patient_id': '007', 'setting': 'primary_care'}]
    >>> data.quarantine.to_pyarrow().to_pylist()
    [{'source': 'visits.csv', 'row': '2', 'column': 'start', 'value': '2024-02-30', 'reason': 'unparseable_start'}]
    """
    mapping = check_mapping(mapping)
    settings = parse_setting_map(setting_map)
    extraction = parse_extraction_date(extraction_date)
    con = engine.connect() if con is None else con
    engine.require_duckdb(con)
    auto = str(date_format).strip().lower() == "auto"
    if not auto:
        check_date_format(con, date_format)
    found = discover(path)
    plans: dict[str, tuple[list[SourceFile], dict[str, str | None]]] = {}
    remarks: list[str] = []
    for table, files in found.items():
        for file in files:
            if file.kind == "csv":
                open_csv(file)
            else:
                _open_parquet(con, file)
        columns, notes = _resolve(validate.SPECS[table], files, mapping)
        plans[table] = (files, columns)
        remarks += notes
    _check_mapping_used(mapping, plans)

    finished = {}
    for table, (files, columns) in plans.items():
        formats = date_format
        if auto:
            formats, notes = auto_date_formats(con, table, files, columns)
            remarks += notes
        check = validate.CHECKS[table]
        if table == "encounters" and settings:
            check = functools.partial(check, setting_map=settings)
        finished[table] = read_table(
            con,
            table,
            files,
            columns,
            extraction_date=extraction,
            date_format=formats,
            check=check,
            optional=table != "encounters",
        )
    counts, table_remarks, quarantine = combine(finished[table] for table in TABLES if table in finished)
    usable = {table: done.accepted for table, done in finished.items() if done.usable}
    return CanonicalData(
        encounters=usable["encounters"],
        clinicians=usable.get("clinicians"),
        patients=usable.get("patients"),
        quarantine=quarantine,
        counts=counts,
        remarks=remarks + table_remarks,
        format="generic",
    )
