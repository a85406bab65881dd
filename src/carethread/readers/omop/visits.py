"""OMOP visits: ``visit_occurrence`` joined to its lookups, ready for the encounter checks.

The clinician comes from the visit or its first ``visit_detail`` row, the
practice from the visit or the clinician's care site, and the setting from
the visit concept and the clinician's specialty (see
:mod:`carethread.readers.omop`).
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis

from carethread import validate
from carethread.data import plural
from carethread.readers.omop.concepts import BY_SPECIALTY, KNOWN_CONCEPT_NAMES, UNKNOWN_SPECIALTIES
from carethread.readers.omop.sources import Table, as_int, as_text, moment, rejection


def _first_detail_providers(detail: Table) -> ibis.Table:
    """Per visit, the provider of its first visit_detail row that has one."""
    d = detail.table
    when = moment(d, "visit_detail_start_date", "visit_detail_start_datetime")
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


#: Visit columns that refer to a table without having to resolve: (table, its id
#: column, the visit column, the flag of a visit naming an id the table lacks, its remark).
_REFERENCES: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "person",
        "person_id",
        "__pid",
        "__flag_unknown_person",
        "{n} accepted {encounters} {have} a person_id missing from the person table "
        "(counted for continuity; the patient has no birth date or sex).",
    ),
    (
        "care_site",
        "care_site_id",
        "__practice",
        "__flag_unknown_site",
        "{n} accepted {encounters} {have} a care_site_id missing from the care_site table (kept as the practice).",
    ),
)


#: OMOP id columns of a visit → the canonical id they become (for ``invalid_<id>``).
_IDS = {
    "visit_occurrence_id": "encounter_id",
    "person_id": "patient_id",
    "provider_id": "clinician_id",
    "care_site_id": "practice_id",
}


def _flag_unknown(e: ibis.Table, table: Table, column: str, key: str, flag: str) -> ibis.Table:
    """``e`` with ``flag``: its ``key`` is given but is no ``column`` value of ``table``."""
    known = table.table.select(__known=as_text(table.table[column])).distinct()
    e = e.left_join(known, e[key] == known.__known)
    return e.mutate(**{flag: (e[key].notnull() & e.__known.isnull()).fill_null(False)}).drop("__known")


def visits_raw(
    tables: dict[str, Table], concepts: Mapping[int, str], primary: set[int]
) -> tuple[ibis.Table, dict[str, str]]:
    """visit_occurrence joined to its lookups: raw columns, ``__reject``, ``__flag_*``.

    Returns the table and the remark template of every flag it carries.
    """
    vo = tables["visit_occurrence"].table
    start = moment(vo, "visit_start_date", "visit_start_datetime", "visit_start_time")
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
        **rejection(vo, _IDS),
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
        __reject=ibis.coalesce(
            e.__reject, ibis.ifelse(kind.isnull(), ibis.literal("unknown_visit_concept"), ibis.null("string"))
        ),
        __reject_value=ibis.ifelse(e.__reject.notnull(), e.__reject_value, e.__concept_text),
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
    for name, column, key, flag, remark in _REFERENCES:
        if name in tables:
            e = _flag_unknown(e, tables[name], column, key, flag)
            flags[flag] = remark
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


def unknown_concepts_remark(checked: validate.Checked, source: Table, tables: dict[str, Table]) -> str | None:
    """Which visit_concept_id values had no setting, the most frequent first.

    Concept ids are vocabulary, but a row whose fields shifted holds a person id
    or a date there: only ids that name a concept (0, or one in the concept
    table) and empty values are shown; the others are counted, and the
    quarantine lists them.
    """
    t = checked.table
    bad = t.filter(t.__reason == "unknown_visit_concept")
    values = bad.group_by(value=bad.__value).aggregate(n=ibis._.count())
    totals = values.aggregate(values=ibis._.count(), rows=ibis._.n.sum()).to_pyarrow().to_pylist()[0]
    if not totals["values"]:
        return None
    found = values.order_by([ibis.desc("n"), "value"]).limit(200).to_pyarrow().to_pylist()
    names = dict(KNOWN_CONCEPT_NAMES)
    ids = {r["value"]: int(r["value"]) for r in found if r["value"] is not None and r["value"].isdecimal()}
    concept = tables.get("concept")
    if concept is not None and ids:
        c = concept.table
        looked = c.select(i=as_int(c.concept_id), name=as_text(c.concept_name))
        for row in looked.filter(looked.i.isin(list(ids.values()))).to_pyarrow().to_pylist():
            names[row["i"]] = row["name"]
    shown = [r for r in found if r["value"] is None or ids.get(r["value"]) in names][:5]
    parts = [
        f"{'empty' if r['value'] is None else r['value'] + ' ' + names[ids[r['value']]]} ({plural(r['n'], 'row')})"
        for r in shown
    ]
    others = totals["values"] - len(shown)
    if others:
        rows = totals["rows"] - sum(r["n"] for r in shown)
        what = plural(others, "other value" if shown else "value")
        parts.append(f"{'and ' if shown else ''}{what} ({plural(rows, 'row')}; --quarantine PATH lists them)")
    return (
        f"{source.source}: visit_concept_id values with no setting: {', '.join(parts)}. "
        "Map them with --visit-concepts ID=SETTING (a setting or by_specialty)."
    )
