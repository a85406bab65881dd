"""Kind and cause of a break, and the rows :func:`~carethread.measures.breaks.relationship_breaks` returns.

A switch ``a -> b`` is ``partner`` when ``b`` works in ``a``'s practice,
``other_practice`` otherwise (an unknown practice counts as another one). The
cause of any break is ``clinician_left`` when ``a`` stopped seeing patients
around it -- ``a`` still had an encounter (with anyone, in any setting) on or
after the patient's last visit before the break, none from the break on, and
the data run at least ``LEFT_SEEN_MONTHS`` past the break --, else
``patient_moved_on`` (see docs/definitions.md, *Relationship breaks*).
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

#: Why a relationship broke.
CAUSES: tuple[str, ...] = ("clinician_left", "patient_moved_on")

#: A departure needs the data to run this long past the break before it is called one.
LEFT_SEEN_MONTHS = 3

#: Nullable types for every output column, so unions of switches and lapses
#: have one schema whatever the input's nullability.
TEXT, DAY = dt.String(nullable=True), dt.Date(nullable=True)


def as_date(d: ibis.Value) -> ibis.Value:
    """``d`` (a date plus an interval) as a date in the engine too.

    Ibis types a date plus an interval as a date and leaves out a cast to
    date, while DuckDB computes a timestamp: the rows would look right, but a
    Parquet file written from the query (patient batches) would hold
    timestamps. Through a timestamp the cast is always written.
    """
    return d.cast("timestamp").date()


def months_after(d: ibis.Value, months: int) -> ibis.Value:
    """Calendar months after date ``d`` (the day clamped to the month's end)."""
    return as_date(d + ibis.interval(months=months))


def days_after(d: ibis.Value, days: int) -> ibis.Value:
    """``days`` days after date ``d``."""
    return as_date(d + ibis.interval(days=days))


def date_of(day: ibis.Value) -> ibis.Value:
    """The date of a day number (days since 1970-01-01)."""
    return as_date(ibis.date(1970, 1, 1) + day.as_interval("D"))


def named(rows: ibis.Table, codes: ibis.Table, code: str, name: str) -> ibis.Table:
    """``rows`` with the clinician code in column ``code`` replaced by the clinician id, as ``name``."""
    c = codes.select(_id="clinician_id", _code="code")
    j = rows.inner_join(c, rows[code] == c._code)
    return j.drop(code, "_code").rename({name: "_id"})


def classified(rows: ibis.Table, info: ibis.Table, data_end: ibis.Value) -> ibis.Table:
    """Add ``same`` (b works in a's practice) and ``left`` (a stopped seeing patients).

    ``rows`` holds ``a``, ``b`` (null for a lapse), ``break_date`` and
    ``since`` (the patient's last visit before the break). ``left``: a's
    last encounter falls on or after ``since`` and before the break, and the
    data run at least ``LEFT_SEEN_MONTHS`` past the break.
    """
    pa = info.select(ca="clinician_id", practice_a="practice_id", last_a="last_encounter")
    pb = info.select(cb="clinician_id", practice_b="practice_id")
    j = rows.left_join(pa, rows.a == pa.ca).left_join(pb, rows.b == pb.cb)
    left = (
        (j.last_a >= j.since) & (j.last_a < j.break_date) & (months_after(j.break_date, LEFT_SEEN_MONTHS) <= data_end)
    ).fill_null(False)
    same = (j.practice_a.notnull() & (j.practice_a == j.practice_b)).fill_null(False)
    return j.mutate(same=same, left=left).drop("ca", "cb", "practice_a", "practice_b", "last_a")


def switch_kind(c: ibis.Table) -> ibis.Value:
    """``partner`` or ``other_practice`` of :func:`classified` rows."""
    return ibis.ifelse(c.same, "partner", "other_practice")


def break_rows(c: ibis.Table, kind: ibis.Value) -> ibis.Table:
    """The output columns of classified rows (:func:`classified`)."""
    return c.select(
        patient_id=c.patient_id.cast(TEXT),
        from_clinician_id=c.a.cast(TEXT),
        to_clinician_id=c.b.cast(TEXT),
        break_date=c.break_date.cast(DAY),
        kind=kind.cast(TEXT),
        cause=ibis.ifelse(c.left, "clinician_left", "patient_moved_on"),
    )
