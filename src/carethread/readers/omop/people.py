"""OMOP persons and providers: ``person`` (with ``death``) and ``provider`` (with
``concept``) as raw tables for the patient and clinician checks.

See :mod:`carethread.readers.omop` for the mapping.
"""

from __future__ import annotations

import ibis

from carethread.data import plural
from carethread.readers.omop.concepts import GENDERS, UNKNOWN_SPECIALTIES
from carethread.readers.omop.sources import Table, as_int, as_text, moment, rejection
from carethread.validate import iso_timestamp


def _days_in_month(year: ibis.IntegerValue, month: ibis.IntegerValue) -> ibis.IntegerValue:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return ibis.cases((month == 2, ibis.ifelse(leap, 29, 28)), (month.isin([4, 6, 9, 11]), 30), else_=31)


def patients_raw(tables: dict[str, Table]) -> ibis.Table:
    person = tables["person"]
    p = person.table
    parts: dict[str, ibis.Value] = {}
    given_parts = []
    if person.has("year_of_birth"):
        year = as_int(p.year_of_birth)
        month = as_int(p.month_of_birth).fill_null(1) if person.has("month_of_birth") else ibis.literal(1, "int64")
        day = as_int(p.day_of_birth).fill_null(1) if person.has("day_of_birth") else ibis.literal(1, "int64")
        valid = (
            year.between(1, 9999) & month.between(1, 12) & (day >= 1) & (day <= _days_in_month(year, month))
        ).fill_null(False)
        # Out-of-range parts never reach the date function (it fails on a year of 99999999999).
        ymd = ibis.ifelse(
            valid,
            ibis.date(*(ibis.ifelse(valid, part, 1) for part in (year, month, day))),
            ibis.null("date"),
        )
        texts = [as_text(p[c]) for c in ("year_of_birth", "month_of_birth", "day_of_birth") if person.has(c)]
        shown = texts[0]
        for more in texts[1:]:
            shown = shown.concat("-", more.fill_null(""))
        # A year, month or day that is there but does not make a date.
        bad_ymd = (texts[0].notnull() & ~valid).fill_null(False)
        given_parts.append((bad_ymd, "unparseable_birth_date", shown))
        parts["ymd"] = ymd
    birth = None
    if person.has("birth_datetime"):
        col = p.birth_datetime
        if col.type().is_temporal():
            exact = col.cast("date")
        else:
            text = as_text(col)
            exact = iso_timestamp(text).cast("date")
            given_parts.insert(0, ((text.notnull() & exact.isnull()).fill_null(False), "unparseable_birth_date", text))
        birth = exact
    if "ymd" in parts:
        birth = ibis.coalesce(birth, parts["ymd"]) if birth is not None else parts["ymd"]
    raw = p.select(
        __pid=as_text(p.person_id),
        __birth=birth if birth is not None else ibis.null("date"),
        __sex=as_int(p.gender_concept_id).substitute(GENDERS, else_=ibis.null("string"))
        if person.has("gender_concept_id")
        else ibis.null("string"),
        __file=p.__file,
        __row=p.__row,
        **rejection(p, {"person_id": "patient_id"}, given_parts),
    )
    death = tables.get("death")
    if death is not None:
        d = death.table
        when = moment(d, "death_date", "death_datetime")
        dates = d.select(__dpid=as_text(d.person_id), __dwhen=when.cast("date") if when.type().is_temporal() else when)
        first = dates.filter(dates.__dpid.notnull()).group_by("__dpid").aggregate(__death=dates.__dwhen.min())
        raw = raw.left_join(first, raw.__pid == first.__dpid).drop("__dpid")
    return raw


def clinicians_raw(tables: dict[str, Table], primary: set[int]) -> ibis.Table:
    provider = tables["provider"]
    p = provider.table
    specialty_id = as_int(p.specialty_concept_id) if provider.has("specialty_concept_id") else ibis.null("int64")
    raw = p.select(
        **rejection(p, {"provider_id": "clinician_id", "care_site_id": "practice_id"}),
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
    return raw.select("__cid", "__site", "__file", "__row", "__reject", "__reject_value", __specialty=name, __role=role)


def orphan_deaths_remark(tables: dict[str, Table]) -> str | None:
    death, person = tables.get("death"), tables.get("person")
    if death is None or person is None:
        return None
    d = death.table
    ids = person.table.select(k=as_text(person.table.person_id))
    ids = ids.filter(ids.k.notnull())  # NOT IN over a NULL would match nothing
    n = int(d.filter(~as_text(d.person_id).isin(ids.k) | as_text(d.person_id).isnull()).count().execute())
    if not n:
        return None
    return (
        f"{death.source}: {plural(n, 'row')} name no person of the person table "
        f"and {'was' if n == 1 else 'were'} ignored."
    )
