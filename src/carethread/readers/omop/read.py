"""The OMOP reader: visits, persons and providers checked into canonical tables.

See :mod:`carethread.readers.omop` for the sources, tables and settings.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path

import ibis

from carethread import engine, validate
from carethread.data import CanonicalData, plural
from carethread.errors import InputError, OptionError
from carethread.readers.common import (
    SourceFile,
    check_date_format,
    combine,
    file_kind,
    norm_stem,
    open_csv,
    parse_extraction_date,
)
from carethread.readers.omop.concepts import PRIMARY_CARE_SPECIALTIES, VISIT_CONCEPTS, parse_visit_concepts
from carethread.readers.omop.people import clinicians_raw, orphan_deaths_remark, patients_raw
from carethread.readers.omop.sources import DUCKDB_SUFFIXES, Table, open_tables
from carethread.readers.omop.visits import unknown_concepts_remark, visits_raw
from carethread.schema import SETTINGS


def looks_like_omop(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an OMOP CDM folder or a DuckDB database file.

    A folder qualifies when it holds a ``visit_occurrence`` CSV or Parquet
    file (any case) whose header names ``visit_occurrence_id`` and
    ``person_id``; only file names and that header are read.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> looks_like_omop(folder)
    False
    >>> _ = (folder / "VISIT_OCCURRENCE.csv").write_text("visit_occurrence_id\\tperson_id\\n")
    >>> looks_like_omop(folder)
    True
    """
    target = Path(os.fspath(path)).expanduser()
    if target.is_file():
        return target.name.lower().endswith(DUCKDB_SUFFIXES)
    if not target.is_dir():
        return False
    try:
        candidates = [
            p for p in target.iterdir() if p.is_file() and file_kind(p) and norm_stem(p) == "visit_occurrence"
        ]
    except OSError:
        return False
    for candidate in candidates:
        try:
            columns = _header(candidate)
        except (InputError, OSError, ValueError):
            continue
        lowered = {c.lower() for c in columns}
        if {"visit_occurrence_id", "person_id"} <= lowered:
            return True
    return False


def _header(path: Path) -> list[str]:
    if file_kind(path) == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    file = SourceFile(path, path.name, "csv")
    open_csv(file)
    return file.columns


#: Per canonical table: (canonical column, the raw column it is checked from, the
#: OMOP column a quarantine row names; None: the canonical name is kept).
_FIELDS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "encounters": (
        ("encounter_id", "__vid", "visit_occurrence_id"),
        ("patient_id", "__pid", "person_id"),
        ("clinician_id", "__clinician", "provider_id"),
        ("practice_id", "__practice", "care_site_id"),
        ("start", "__start", "visit_start_date"),
        ("setting", "__setting", "visit_concept_id"),
    ),
    "patients": (
        ("patient_id", "__pid", "person_id"),
        ("birth_date", "__birth", "year_of_birth"),
        ("sex", "__sex", "gender_concept_id"),
        ("death_date", "__death", "death_date"),
    ),
    "clinicians": (
        ("clinician_id", "__cid", "provider_id"),
        ("practice_id", "__site", "care_site_id"),
        ("specialty", "__specialty", None),
        ("role", "__role", None),
    ),
}


def _columns(table: str, *, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """Canonical column → raw column of a canonical table (see :data:`_FIELDS`)."""
    return {canonical: raw for canonical, raw, _omop in _FIELDS[table] if canonical not in leave_out}


def _check_and_finish(
    con,
    check,
    raw: ibis.Table,
    columns: Mapping[str, str],
    source: Table,
    profile: validate.Profile,
    *,
    extraction: _dt.date,
    date_format: str | None,
    flags: Mapping[str, str] | None = None,
    optional: bool = True,
) -> tuple[validate.Checked, validate.Finished]:
    """One canonical table: ``check`` (a ``validate.check_*``), stage, finish, OMOP column names."""
    checked = check(
        raw, columns, extraction_date=extraction, date_format=date_format, source=source.source, profile=profile
    )
    checked.flags.update(flags or {})
    checked.table = engine.stage(con, checked.table, f"omop_{checked.spec.name}")
    done = validate.finish(
        con,
        checked,
        sources=[source.source],
        stems=[source.stem],
        extraction_date=extraction,
        numbering=source.numbering,
        optional=optional,
    )
    done.counts[0].lines = source.lines
    q = done.quarantine
    omop = {raw: name for _canonical, raw, name in _FIELDS[checked.spec.name] if name is not None}
    done.quarantine = q.mutate(column=q.column.substitute(omop, else_=q.column))
    done.remarks = source.notes + done.remarks
    return checked, done


def read_omop(
    path: str | os.PathLike | None = None,
    *,
    con=None,
    mapping=None,
    extraction_date: _dt.date | str | None = None,
    date_format: str | None = None,
    schema: str | None = None,
    visit_concepts=None,
    primary_care_specialties=None,
) -> CanonicalData:
    """Read an OMOP CDM (folder, DuckDB file or live database) into canonical tables.

    Parameters
    ----------
    path
        A folder of CDM tables (CSV or Parquet), a DuckDB database file, or
        ``None`` to read the tables of ``con`` itself (a database).
    con
        The Ibis connection the tables live on or are loaded into; default
        embedded DuckDB. With ``path=None`` any backend works (PostgreSQL,
        ...) and all work runs inside it.
    mapping
        Not used: OMOP columns are named by the CDM (an error if given).
    extraction_date
        Visits, births and deaths after this day are rejected (default today).
    date_format
        A strptime pattern for date text in CSV files (DuckDB only).
    schema
        The database schema holding the CDM tables (``"cdm"``); for a DuckDB
        file, a schema inside it (default ``main``).
    visit_concepts
        Overrides of :data:`VISIT_CONCEPTS` (see :func:`parse_visit_concepts`).
    primary_care_specialties
        Specialty concept ids that make an outpatient visit primary care,
        replacing :data:`PRIMARY_CARE_SPECIALTIES`.

    Returns
    -------
    CanonicalData
        ``format="omop"``; encounters, clinicians (if there is a provider
        table), patients (if there is a person table), the quarantine, and
        one count per canonical source table.

    Raises
    ------
    InputError
        No visit_occurrence table, a file that cannot be read, or no valid visit.
    SchemaError
        A table lacks a column the CDM requires (the message lists those present).
    OptionError
        A bad ``visit_concepts`` entry, ``mapping`` given, or ``schema`` or
        ``date_format`` where they do not apply.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> visits = ("visit_occurrence_id,person_id,visit_concept_id,visit_start_date,provider_id\\n"
    ...           "1,7,9202,2024-01-02,10\\n2,7,9203,2024-01-09,11\\n3,7,0,2024-02-01,10\\n")
    >>> cdm = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (cdm / "VISIT_OCCURRENCE.csv").write_text(visits)
    >>> data = read_omop(cdm, extraction_date="2024-06-30")
    >>> print(data.reconciliation())
    VISIT_OCCURRENCE.csv: 3 rows read = 2 accepted + 1 quarantined
    >>> data.encounters.select("encounter_id", "clinician_id", "setting").to_pyarrow().to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'encounter_id': '1', 'clinician_id': '10', 'setting': 'primary_care'},
     {'encounter_id': '2', 'clinician_id': '11', 'setting': 'emergency'}]
    >>> data.quarantine.select("row", "column", "value", "reason").to_pyarrow().to_pylist()
    [{'row': '3', 'column': 'visit_concept_id', 'value': '0', 'reason': 'unknown_visit_concept'}]
    """
    if mapping:
        raise OptionError(
            "--map does not apply to the omop format: its columns are named by the OMOP CDM. "
            "Rename columns to their CDM names instead."
        )
    concepts = {**VISIT_CONCEPTS, **parse_visit_concepts(visit_concepts)}
    primary = (
        set(PRIMARY_CARE_SPECIALTIES)
        if primary_care_specialties is None
        else {int(c) for c in primary_care_specialties}
    )
    extraction = parse_extraction_date(extraction_date)
    con = engine.connect() if con is None else con
    if str(date_format).strip().lower() == "auto":
        check_date_format(con, date_format, reader="omop")
    if date_format is not None and not (engine.is_duckdb(con) and engine.check_strptime_format(con, date_format)):
        raise OptionError(
            f"--date-format {date_format!r} is not a strptime pattern DuckDB understands (e.g. %d/%m/%Y); "
            "it applies to CSV files read with the embedded DuckDB engine."
        )
    tables = open_tables(con, path, schema)
    visits = tables["visit_occurrence"]
    text_columns = ("__vid", "__pid", "__clinician", "__practice")
    raw, flags = visits_raw(tables, concepts, primary)
    profile = validate.Profile(trim=False, blank=dict.fromkeys(text_columns, 0), values={"__setting": list(SETTINGS)})
    read = {"extraction": extraction, "date_format": date_format}
    checked, encounters = _check_and_finish(
        con,
        validate.check_encounters,
        raw,
        _columns("encounters"),
        visits,
        profile,
        flags=flags,
        optional=False,
        **read,
    )
    remarks = list(encounters.remarks)
    concept_remark = unknown_concepts_remark(checked, visits, tables)
    if concept_remark:
        remarks.append(concept_remark)
    finished = [encounters]
    patients = clinicians = None
    if "person" in tables:
        columns = _columns("patients", leave_out=() if "death" in tables else ("death_date",))
        profile = validate.Profile(trim=False, blank={"__pid": 0, "__sex": 0})
        _checked, done = _check_and_finish(
            con, validate.check_patients, patients_raw(tables), columns, tables["person"], profile, **read
        )
        patients = done.accepted if done.usable else None
        finished.append(done)
        remarks += done.remarks
        orphan = orphan_deaths_remark(tables)
        if orphan:
            remarks.append(orphan)
    else:
        remarks.append("The input has no person table: patients have no birth date, sex or death date.")
    if "provider" in tables:
        raw = clinicians_raw(tables, primary)
        profile = validate.Profile(trim=False, blank={"__cid": 0, "__site": 0})
        _checked, done = _check_and_finish(
            con, validate.check_clinicians, raw, _columns("clinicians"), tables["provider"], profile, **read
        )
        clinicians = done.accepted if done.usable else None
        finished.append(done)
        remarks += done.remarks
    else:
        remarks.append(
            "The input has no provider table: clinicians have no specialty, and outpatient visits were "
            "counted as primary_care."
        )
    for name in ("visit_detail", "death", "care_site", "concept"):
        table = tables.get(name)
        if table is not None and table.unparsed:
            n = table.unparsed
            remarks.append(
                f"{table.source}: {plural(n, 'line')} could not be parsed and "
                f"{'was' if n == 1 else 'were'} ignored (malformed CSV)."
            )
    counts, _remarks, quarantine = combine(finished)
    return CanonicalData(
        encounters=encounters.accepted,
        clinicians=clinicians,
        patients=patients,
        quarantine=quarantine,
        counts=counts,
        remarks=remarks,
        format="omop",
    )
