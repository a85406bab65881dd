"""The OMOP CDM reader: visits, persons and providers of an OMOP Common Data Model.

Sources
-------
- **A folder of CDM tables** as CSV (comma or tab separated, ``.csv``,
  ``.tsv``, optionally gzipped) or Parquet, file names in any case
  (``VISIT_OCCURRENCE.csv``, ``visit_occurrence.tsv``). Read with embedded
  DuckDB.
- **A DuckDB database file** (``cdm.duckdb``) holding the CDM tables; it is
  attached read-only.
- **Any database Ibis connects to** (``con=ibis.postgres.connect(...)``,
  ``schema="cdm"``). Every check, join and count runs inside that database as
  SQL; only counts, a few distinct concept ids and the measures' results come
  back to Python.

Tables
------
``visit_occurrence`` (required) becomes the encounters; ``person`` (with
``death``) the patients; ``provider`` (with ``concept`` for specialty names)
the clinicians. ``visit_detail`` supplies a visit's clinician when
``visit_occurrence.provider_id`` is empty: the provider of the visit's first
detail row that has one (earliest ``visit_detail_start_datetime``, then
``visit_detail_start_date``, then ``visit_detail_id``). ``care_site`` is only
used to count visits naming a care site it lacks. Column names are matched
ignoring case; CDM 5.4, 5.3 and 5.0 names are understood (5.0 has
``visit_start_time`` instead of ``visit_start_datetime``).

================  ======================================================
canonical         OMOP
================  ======================================================
encounter_id      ``visit_occurrence_id``
patient_id        ``person_id``
clinician_id      ``visit_occurrence.provider_id``, else the first
                  ``visit_detail.provider_id`` of the visit
practice_id       ``visit_occurrence.care_site_id``, else the
                  clinician's ``provider.care_site_id``
start             ``visit_start_datetime``, else ``visit_start_date``
                  (5.0: ``visit_start_date`` + ``visit_start_time``)
setting           ``visit_concept_id`` through :data:`VISIT_CONCEPTS`
birth_date        ``birth_datetime``, else ``year_of_birth`` /
                  ``month_of_birth`` / ``day_of_birth`` (a missing month
                  or day is 1, as OHDSI ages count whole years)
sex               ``gender_concept_id``: 8507 ``M``, 8532 ``F``, else empty
death_date        earliest ``death.death_date`` (or ``death_datetime``)
clinicians        ``provider_id``; ``care_site_id`` as practice;
                  specialty = ``concept_name`` of ``specialty_concept_id``,
                  else ``specialty_source_value``; role ``physician`` for a
                  primary-care specialty concept, ``np`` / ``pa`` when the
                  specialty names a nurse practitioner or physician
                  assistant, else empty
================  ======================================================

Settings
--------
:data:`VISIT_CONCEPTS` maps standard visit concepts to settings; the value
``by_specialty`` (outpatient and office visits) means ``primary_care`` when
the visit's clinician has a primary-care specialty concept
(:data:`PRIMARY_CARE_SPECIALTIES`: the CMS Shared Savings Program's general
practice, family practice, internal medicine, pediatric and geriatric
medicine) or no known specialty (empty, 0 or 38004514 "Unknown Physician
Specialty"; counted in a remark), and ``specialty`` otherwise.

Visit concept 262 (Emergency Room and Inpatient Visit) becomes **one**
encounter with setting ``emergency``: the canonical table has one setting per
encounter, the visit starts in the emergency room (its start time is the
arrival there), splitting it into two rows would count one OMOP row twice and
need invented ids, and neither setting counts as a continuity visit by
default. Map it to ``inpatient`` to count the admission instead.

A visit whose ``visit_concept_id`` is not in the mapping (including 0, "No
matching concept") is quarantined as ``unknown_visit_concept``; a remark lists
the concept ids concerned. Override or extend the mapping with
``visit_concepts`` (``{581478: "emergency"}``, the text
``"9202=primary_care,262=inpatient"``, or a file of ``id=setting`` lines or
``visit_concept_id,setting`` CSV rows); the CLI option is ``--visit-concepts``.

Rows and counts
---------------
``visit_occurrence``, ``person`` and ``provider`` each get a reconciliation
line (``read = accepted + quarantined``). In CSV files ``row`` is the data row
(header excluded); in database tables, which have no row order, it is the
row's position in key order (``ORDER BY visit_occurrence_id``, 1-based).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path

import ibis

from carethread import engine, validate
from carethread.data import CanonicalData, ReadCount, plural
from carethread.errors import InputError, OptionError
from carethread.readers.generic import SourceFile, _extraction_date, _kind, _norm_stem, _open_csv
from carethread.readers.omop_concepts import (
    BY_SPECIALTY,
    GENDERS,
    KNOWN_CONCEPT_NAMES,
    PRIMARY_CARE_SPECIALTIES,
    UNKNOWN_SPECIALTIES,
    VISIT_CONCEPTS,
    parse_visit_concepts,
)
from carethread.readers.omop_sources import DUCKDB_SUFFIXES, Table, as_int, as_text, open_tables
from carethread.schema import SETTINGS

__all__ = [
    "BY_SPECIALTY",
    "PRIMARY_CARE_SPECIALTIES",
    "VISIT_CONCEPTS",
    "looks_like_omop",
    "parse_visit_concepts",
    "read_omop",
]

# --- detection ----------------------------------------------------------------------------------


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
        candidates = [p for p in target.iterdir() if p.is_file() and _kind(p) and _norm_stem(p) == "visit_occurrence"]
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
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    file = SourceFile(path, path.name, "csv")
    _open_csv(file)
    return file.columns


# --- values (portable Ibis) -------------------------------------------------------------------


def _moment(t: ibis.Table, date: str, datetime: str, time: str | None = None) -> ibis.Value | None:
    """The datetime column, else the date (5.0: date plus the time text).

    A timestamp when the source columns are typed (databases, Parquet), else
    text that the encounter checks parse (and quarantine when unparseable).
    """
    parts = [t[c] for c in (datetime, date) if c in t.columns]
    if not parts:
        return None
    if all(p.type().is_temporal() for p in parts) and (time is None or time not in t.columns):
        return ibis.coalesce(*(p.cast("timestamp") for p in parts)) if len(parts) > 1 else parts[0].cast("timestamp")
    texts = [as_text(p) for p in parts]
    if time is not None and time in t.columns and date in t.columns and datetime not in t.columns:
        day, clock = as_text(t[date]), as_text(t[time])
        return ibis.ifelse(clock.notnull(), day.concat(" ", clock), day)
    return ibis.coalesce(*texts) if len(texts) > 1 else texts[0]


def _days_in_month(year: ibis.IntegerValue, month: ibis.IntegerValue) -> ibis.IntegerValue:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return ibis.cases((month == 2, ibis.ifelse(leap, 29, 28)), (month.isin([4, 6, 9, 11]), 30), else_=31)


# --- the three canonical tables -----------------------------------------------------------------


def _first_detail_providers(detail: Table) -> ibis.Table:
    """Per visit, the provider of its first visit_detail row that has one."""
    d = detail.table
    when = _moment(d, "visit_detail_start_date", "visit_detail_start_datetime")
    rows = d.select(
        __dvid=as_text(d.visit_occurrence_id),
        __dprovider=as_text(d.provider_id),
        __dwhen=when if when is not None else ibis.null("string"),
        __did=as_int(d.visit_detail_id) if detail.has("visit_detail_id") else ibis.null("int64"),
    )
    rows = rows.filter(rows.__dvid.notnull(), rows.__dprovider.notnull())
    first = ibis.row_number().over(group_by=rows.__dvid, order_by=[rows.__dwhen, rows.__did, rows.__dprovider])
    return rows.mutate(__n=first).filter(ibis._.__n == 0).select("__dvid", "__dprovider")


def _provider_lookup(provider: Table) -> ibis.Table:
    """One row per provider_id (its first row, as the clinicians table keeps)."""
    p = provider.table
    rows = p.select(
        __lpid=as_text(p.provider_id),
        __lspec=as_int(p.specialty_concept_id) if provider.has("specialty_concept_id") else ibis.null("int64"),
        __lsite=as_text(p.care_site_id) if provider.has("care_site_id") else ibis.null("string"),
        __lrow=p.__file.cast("int64") * 2**40 + p.__row,
    )
    rows = rows.filter(rows.__lpid.notnull())
    first = ibis.row_number().over(group_by=rows.__lpid, order_by=rows.__lrow)
    return rows.mutate(__n=first).filter(ibis._.__n == 0).select("__lpid", "__lspec", "__lsite")


def _encounters_raw(
    tables: dict[str, Table], concepts: Mapping[int, str], primary: set[int]
) -> tuple[ibis.Table, dict[str, str]]:
    """visit_occurrence joined to its lookups: raw columns, ``__reject``, ``__flag_*``.

    Returns the table and the remark template of every flag it carries.
    """
    vo = tables["visit_occurrence"].table
    start = _moment(vo, "visit_start_date", "visit_start_datetime", "visit_start_time")
    e = vo.select(
        __vid=as_text(vo.visit_occurrence_id),
        __pid=as_text(vo.person_id),
        __own_provider=as_text(vo.provider_id) if "provider_id" in vo.columns else ibis.null("string"),
        __own_site=as_text(vo.care_site_id) if "care_site_id" in vo.columns else ibis.null("string"),
        __start=start,
        __concept=as_int(vo.visit_concept_id),
        __concept_text=as_text(vo.visit_concept_id),
        __file=vo.__file,
        __row=vo.__row,
    )
    flags: dict[str, str] = {}
    detail = tables.get("visit_detail")
    if detail is not None:
        first = _first_detail_providers(detail)
        e = e.left_join(first, e.__vid == first.__dvid)
        clinician = ibis.coalesce(e.__own_provider, e.__dprovider)
        e = e.mutate(__flag_detail_provider=(e.__own_provider.isnull() & e.__dprovider.notnull()).fill_null(False))
        flags["__flag_detail_provider"] = (
            "{n} accepted {encounters} {have} no provider_id; {they_were} given the provider of the "
            "visit's first visit_detail row."
        )
    else:
        clinician = e.__own_provider
    e = e.mutate(__clinician=clinician)
    provider = tables.get("provider")
    if provider is not None:
        lookup = _provider_lookup(provider)
        e = e.left_join(lookup, e.__clinician == lookup.__lpid)
        specialty, provider_site = e.__lspec, e.__lsite
        e = e.mutate(__flag_unknown_provider=(e.__clinician.notnull() & e.__lpid.isnull()).fill_null(False))
        flags["__flag_unknown_provider"] = (
            "{n} accepted {encounters} {have} a provider_id missing from the provider table "
            "(counted for continuity; the clinician's specialty is unknown)."
        )
    else:
        specialty, provider_site = ibis.null("int64"), ibis.null("string")
    kind = e.__concept.substitute(dict(concepts), else_=ibis.null("string"))
    by_specialty = (kind == BY_SPECIALTY).fill_null(False)
    unknown_specialty = specialty.isnull() | specialty.isin(list(UNKNOWN_SPECIALTIES))
    is_primary = specialty.isin(sorted(primary)).fill_null(False) if primary else ibis.literal(False)
    setting = ibis.cases(
        (by_specialty & (is_primary | unknown_specialty), ibis.literal("primary_care")),
        (by_specialty, ibis.literal("specialty")),
        else_=kind,
    )
    e = e.mutate(
        __practice=ibis.coalesce(e.__own_site, provider_site),
        __setting=setting,
        __reject=ibis.ifelse(kind.isnull(), ibis.literal("unknown_visit_concept"), ibis.null("string")),
        __reject_value=e.__concept_text,
        __flag_unknown_specialty=by_specialty & unknown_specialty,
        __flag_specialist=by_specialty & ~is_primary & ~unknown_specialty,
    )
    flags["__flag_unknown_specialty"] = (
        "{n} accepted outpatient {encounters} {have} a clinician with no known specialty; "
        "{they_were} counted as primary_care (pass --visit-concepts 9202=specialty to count them as "
        "specialty care)."
    )
    flags["__flag_specialist"] = (
        "{n} accepted outpatient {encounters} {have} a clinician whose specialty is not primary care; "
        "{they_were} given the setting specialty."
    )
    if 262 in concepts:
        e = e.mutate(__flag_er_inpatient=(e.__concept == 262).fill_null(False))
        flags["__flag_er_inpatient"] = (
            "{n} accepted {encounters} {have} visit_concept_id 262 (emergency room and inpatient visit); "
            f"{{they_were}} given the setting {_setting_name(concepts[262])} (one row per visit)."
        )
    person = tables.get("person")
    if person is not None:
        known = person.table.select(__kpid=as_text(person.table.person_id)).distinct()
        e = e.left_join(known, e.__pid == known.__kpid)
        e = e.mutate(__flag_unknown_person=(e.__pid.notnull() & e.__kpid.isnull()).fill_null(False))
        flags["__flag_unknown_person"] = (
            "{n} accepted {encounters} {have} a person_id missing from the person table "
            "(counted for continuity; the patient has no birth date or sex)."
        )
    sites = tables.get("care_site")
    if sites is not None:
        known_sites = sites.table.select(__ksite=as_text(sites.table.care_site_id)).distinct()
        e = e.left_join(known_sites, e.__practice == known_sites.__ksite)
        e = e.mutate(__flag_unknown_site=(e.__practice.notnull() & e.__ksite.isnull()).fill_null(False))
        flags["__flag_unknown_site"] = (
            "{n} accepted {encounters} {have} a care_site_id missing from the care_site table (kept as the practice)."
        )
    keep = [
        "__vid",
        "__pid",
        "__clinician",
        "__practice",
        "__start",
        "__setting",
        "__file",
        "__row",
        "__reject",
        "__reject_value",
        *flags,
    ]
    return e.select(*keep), flags


def _setting_name(value: str) -> str:
    return "by the clinician's specialty" if value == BY_SPECIALTY else value


def _patients_raw(tables: dict[str, Table]) -> ibis.Table:
    person = tables["person"]
    p = person.table
    parts: dict[str, ibis.Value] = {}
    given_parts = []
    if person.has("year_of_birth"):
        year = as_int(p.year_of_birth)
        month = as_int(p.month_of_birth).fill_null(1) if person.has("month_of_birth") else ibis.literal(1, "int64")
        day = as_int(p.day_of_birth).fill_null(1) if person.has("day_of_birth") else ibis.literal(1, "int64")
        valid = (month >= 1) & (month <= 12) & (day >= 1) & (day <= _days_in_month(year, month))
        ymd = ibis.ifelse(year.notnull() & valid, ibis.date(year, month, day), ibis.null("date"))
        texts = [as_text(p[c]) for c in ("year_of_birth", "month_of_birth", "day_of_birth") if person.has(c)]
        shown = texts[0]
        for more in texts[1:]:
            shown = shown.concat("-", more.fill_null(""))
        # A year, month or day that is there but does not make a date.
        bad_parts = ibis.literal(False)
        for text, number in zip(texts, [year, month, day]):
            bad_parts = bad_parts | (text.notnull() & number.isnull())
        bad_ymd = (texts[0].notnull() & (bad_parts | ~valid.fill_null(False))).fill_null(False)
        given_parts.append((bad_ymd, shown))
        parts["ymd"] = ymd
    birth = None
    if person.has("birth_datetime"):
        col = p.birth_datetime
        if col.type().is_temporal():
            exact = col.cast("date")
        else:
            text = as_text(col)
            exact = engine.try_cast(text, "timestamp").cast("date")
            given_parts.insert(0, ((text.notnull() & exact.isnull()).fill_null(False), text))
        birth = exact
    if "ymd" in parts:
        birth = ibis.coalesce(birth, parts["ymd"]) if birth is not None else parts["ymd"]
    reject = ibis.null("string")
    value = ibis.null("string")
    for bad, shown in reversed(given_parts):
        reject = ibis.ifelse(bad, ibis.literal("unparseable_birth_date"), reject)
        value = ibis.ifelse(bad, shown, value)
    raw = p.select(
        __pid=as_text(p.person_id),
        __birth=birth if birth is not None else ibis.null("date"),
        __sex=as_int(p.gender_concept_id).substitute(GENDERS, else_=ibis.null("string"))
        if person.has("gender_concept_id")
        else ibis.null("string"),
        __file=p.__file,
        __row=p.__row,
        __reject=reject,
        __reject_value=value,
    )
    death = tables.get("death")
    if death is not None:
        d = death.table
        when = _moment(d, "death_date", "death_datetime")
        dates = d.select(__dpid=as_text(d.person_id), __dwhen=when.cast("date") if when.type().is_temporal() else when)
        first = dates.filter(dates.__dpid.notnull()).group_by("__dpid").aggregate(__death=dates.__dwhen.min())
        raw = raw.left_join(first, raw.__pid == first.__dpid).drop("__dpid")
    return raw


def _clinicians_raw(tables: dict[str, Table], primary: set[int]) -> ibis.Table:
    provider = tables["provider"]
    p = provider.table
    specialty_id = as_int(p.specialty_concept_id) if provider.has("specialty_concept_id") else ibis.null("int64")
    raw = p.select(
        __cid=as_text(p.provider_id),
        __site=as_text(p.care_site_id) if provider.has("care_site_id") else ibis.null("string"),
        __spec_id=specialty_id,
        __spec_text=as_text(p.specialty_source_value)
        if provider.has("specialty_source_value")
        else ibis.null("string"),
        __file=p.__file,
        __row=p.__row,
    )
    concept = tables.get("concept")
    name = raw.__spec_text
    if concept is not None:
        c = concept.table
        names = c.select(__ncid=as_int(c.concept_id), __nname=as_text(c.concept_name))
        names = names.filter(names.__ncid.notnull()).group_by("__ncid").aggregate(__name=names.__nname.min())
        raw = raw.left_join(names, raw.__spec_id == names.__ncid)
        # "No matching concept" is no specialty; the source value says more.
        name = ibis.ifelse(raw.__spec_id.isin(list(UNKNOWN_SPECIALTIES)), ibis.null("string"), raw.__name)
        name = ibis.coalesce(name, raw.__spec_text)
    lowered = name.lower()
    role = ibis.cases(
        (lowered.contains("nurse practitioner"), ibis.literal("np")),
        (lowered.contains("physician assistant"), ibis.literal("pa")),
        (raw.__spec_id.isin(sorted(primary)) if primary else ibis.literal(False), ibis.literal("physician")),
        else_=ibis.null("string"),
    )
    return raw.select("__cid", "__site", "__file", "__row", __specialty=name, __role=role)


# --- reading ------------------------------------------------------------------------------------


def _finish(con, checked: validate.Checked, source: Table, extraction: _dt.date, relabel: Mapping[str, str]):
    checked.table = engine.stage(con, checked.table, f"omop_{checked.spec.name}")
    done = validate.finish(
        con, checked, sources=[source.source], stems=[source.stem], rejected=source.rejected, extraction_date=extraction
    )
    q = done.quarantine
    done.quarantine = q.mutate(column=q.column.substitute(dict(relabel), else_=q.column))
    done.remarks = source.notes + done.remarks
    return done


def _unknown_concepts_remark(checked: validate.Checked, source: Table, tables: dict[str, Table]) -> str | None:
    """Which visit_concept_id values had no setting (concept ids are vocabulary, not identifiers)."""
    t = checked.table
    found = (
        t.filter(t.__reason == "unknown_visit_concept")
        .group_by(value=t.__value)
        .aggregate(n=ibis._.count())
        .order_by([ibis.desc("n"), "value"])
        .limit(6)
        .to_pyarrow()
        .to_pylist()
    )
    if not found:
        return None
    names = dict(KNOWN_CONCEPT_NAMES)
    concept = tables.get("concept")
    ids = [int(r["value"]) for r in found if r["value"] is not None and str(r["value"]).lstrip("-").isdigit()]
    if concept is not None and ids:
        c = concept.table
        looked = c.select(i=as_int(c.concept_id), name=as_text(c.concept_name))
        for row in looked.filter(looked.i.isin(ids)).to_pyarrow().to_pylist():
            names[row["i"]] = row["name"]
    parts = []
    for row in found[:5]:
        value = row["value"]
        label = "empty" if value is None else str(value)
        name = names.get(int(value)) if value is not None and str(value).lstrip("-").isdigit() else None
        parts.append(f"{label}{' ' + name if name else ''} ({plural(row['n'], 'row')})")
    more = ", ..." if len(found) > 5 else ""
    return (
        f"{source.source}: visit_concept_id values with no setting: {', '.join(parts)}{more}. "
        "Map them with --visit-concepts ID=SETTING (a setting or by_specialty)."
    )


def _orphan_deaths_remark(tables: dict[str, Table]) -> str | None:
    death, person = tables.get("death"), tables.get("person")
    if death is None or person is None:
        return None
    d = death.table
    ids = person.table.select(k=as_text(person.table.person_id))
    ids = ids.filter(ids.k.notnull())  # NOT IN over a NULL would match nothing
    n = int(d.filter(~as_text(d.person_id).isin(ids.k) | as_text(d.person_id).isnull()).count().execute())
    if not n:
        return None
    return f"{death.source}: {plural(n, 'row')} name no person of the person table and {'was' if n == 1 else 'were'} ignored."


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
    >>> cdm = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (cdm / "VISIT_OCCURRENCE.csv").write_text(
    ...     "visit_occurrence_id,person_id,visit_concept_id,visit_start_date,provider_id\\n"
    ...     "1,7,9202,2024-01-02,10\\n2,7,9203,2024-01-09,11\\n3,7,0,2024-02-01,10\\n")
    >>> data = read_omop(cdm, extraction_date="2024-06-30")
    >>> print(data.reconciliation())
    VISIT_OCCURRENCE.csv: 3 rows read = 2 accepted + 1 quarantined
    >>> data.encounters.select("encounter_id", "clinician_id", "setting").to_pyarrow().to_pylist()
    [{'encounter_id': '1', 'clinician_id': '10', 'setting': 'primary_care'}, {'encounter_id': '2', 'clinician_id': '11', 'setting': 'emergency'}]
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
    extraction = _extraction_date(extraction_date)
    con = engine.connect() if con is None else con
    if date_format is not None and not (engine.is_duckdb(con) and engine.check_strptime_format(con, date_format)):
        raise OptionError(
            f"--date-format {date_format!r} is not a strptime pattern DuckDB understands (e.g. %d/%m/%Y); "
            "it applies to CSV files read with the embedded DuckDB engine."
        )
    tables = open_tables(con, path, schema)
    visits = tables["visit_occurrence"]
    text_columns = ("__vid", "__pid", "__clinician", "__practice")
    raw, flags = _encounters_raw(tables, concepts, primary)
    profile = validate.Profile(trim=False, blank=dict.fromkeys(text_columns, 0), values={"__setting": list(SETTINGS)})
    checked = validate.check_encounters(
        raw,
        {
            "encounter_id": "__vid",
            "patient_id": "__pid",
            "clinician_id": "__clinician",
            "practice_id": "__practice",
            "start": "__start",
            "setting": "__setting",
        },
        extraction_date=extraction,
        date_format=date_format,
        source=visits.source,
        profile=profile,
    )
    checked.flags.update(flags)
    encounters = _finish(
        con,
        checked,
        visits,
        extraction,
        {
            "__vid": "visit_occurrence_id",
            "__pid": "person_id",
            "__clinician": "provider_id",
            "__practice": "care_site_id",
            "__start": "visit_start_date",
            "__setting": "visit_concept_id",
        },
    )
    remarks = list(encounters.remarks)
    concept_remark = _unknown_concepts_remark(checked, visits, tables)
    if concept_remark:
        remarks.append(concept_remark)
    finished = [encounters]
    patients = clinicians = None
    if "person" in tables:
        checked_p = validate.check_patients(
            _patients_raw(tables),
            {
                "patient_id": "__pid",
                "birth_date": "__birth",
                "sex": "__sex",
                **({"death_date": "__death"} if "death" in tables else {}),
            },
            extraction_date=extraction,
            date_format=date_format,
            source=tables["person"].source,
            profile=validate.Profile(trim=False, blank={"__pid": 0, "__sex": 0}),
        )
        done = _finish(
            con,
            checked_p,
            tables["person"],
            extraction,
            {
                "__pid": "person_id",
                "__birth": "year_of_birth",
                "__sex": "gender_concept_id",
                "__death": "death_date",
            },
        )
        patients = done.accepted
        finished.append(done)
        remarks += done.remarks
        orphan = _orphan_deaths_remark(tables)
        if orphan:
            remarks.append(orphan)
    else:
        remarks.append("The input has no person table: patients have no birth date, sex or death date.")
    if "provider" in tables:
        checked_c = validate.check_clinicians(
            _clinicians_raw(tables, primary),
            {"clinician_id": "__cid", "practice_id": "__site", "specialty": "__specialty", "role": "__role"},
            extraction_date=extraction,
            date_format=date_format,
            source=tables["provider"].source,
            profile=validate.Profile(trim=False, blank={"__cid": 0, "__site": 0}),
        )
        done = _finish(
            con,
            checked_c,
            tables["provider"],
            extraction,
            {
                "__cid": "provider_id",
                "__site": "care_site_id",
            },
        )
        clinicians = done.accepted
        finished.append(done)
        remarks += done.remarks
    else:
        remarks.append(
            "The input has no provider table: clinicians have no specialty, and outpatient visits were "
            "counted as primary_care."
        )
    for name in ("visit_detail", "death", "care_site", "concept"):
        table = tables.get(name)
        if table is not None and table.rejected:
            remarks.append(
                f"{table.source}: {plural(len(table.rejected), 'line')} could not be parsed and "
                f"{'was' if len(table.rejected) == 1 else 'were'} ignored (malformed CSV)."
            )
    counts: list[ReadCount] = [c for done in finished for c in done.counts]
    quarantine = finished[0].quarantine
    for done in finished[1:]:
        quarantine = quarantine.union(done.quarantine)
    return CanonicalData(
        encounters=encounters.accepted,
        clinicians=clinicians,
        patients=patients,
        quarantine=quarantine,
        counts=counts,
        remarks=remarks,
        format="omop",
    )
