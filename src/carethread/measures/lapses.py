"""Lapses: the patient stops seeing primary care (``emergency_only``) or anyone (``lost``).

Read from the encounters that follow each visit day until the next visit;
the rule is :func:`carethread.measures.breaks.relationship_breaks`'s.
"""

from __future__ import annotations

import ibis

from carethread.measures.break_causes import break_rows, classified, date_of, days_after, months_after, named
from carethread.measures.timeline import decode_held


def _episodes(t: ibis.Table, other_days: ibis.Table, *, lost_months: int, emergency_months: int) -> ibis.Table:
    """The visit days a lapse may follow, with what came after them until the next visit.

    ``patient_id, day, date, next_visit, first_acute, first_other,
    silent_from``: ``first_acute`` / ``first_other``: the first later day
    with an emergency or urgent-care encounter / another non-visit encounter
    and no visit; ``silent_from``: the first day from ``date`` on followed by
    no encounter at all for ``lost_months`` (or by the end of the data). Only
    days whose next visit is that far away can start a lapse, so only they
    are kept.
    """
    # Months last at least 28 days, so this keeps every day a lapse can follow.
    soon = 28 * min(lost_months, emergency_months)
    ends = t.filter(t.next_day.isnull() | (t.next_day >= t.day + soon))
    ends = ends.select("patient_id", "day", date=date_of(ends.day), next_visit=date_of(ends.next_day))
    o = other_days.select(pid="patient_id", at="date", acute="acute", other="other")
    j = ends.left_join(
        o, [ends.patient_id == o.pid, o.at > ends.date, ends.next_visit.isnull() | (o.at < ends.next_visit)]
    )
    # The encounter days of an episode: the visit day, the other days after it
    # (the joined ones), then the next visit. A day is silent when the next of
    # them is more than lost_months later (or there is none).
    episode = ibis.window(group_by=["patient_id", "day"], order_by="at")
    j = j.mutate(
        following=j.at.lead().over(episode).fill_null(j.next_visit),
        first_after=j.at.min().over(ibis.window(group_by=["patient_id", "day"])),
    )
    j = j.mutate(
        silent=j.at.notnull() & _silent_after(j.at, j.following, lost_months),
        first_silent=_silent_after(j.date, j.first_after.fill_null(j.next_visit), lost_months),
    )
    ep = j.group_by(["patient_id", "day", "date", "next_visit", "first_silent"]).aggregate(
        first_acute=j.at.min(where=j.acute),
        first_other=j.at.min(where=j.other),
        silent_after=j.at.min(where=j.silent),
    )
    return ep.select(
        "patient_id",
        "day",
        "date",
        "next_visit",
        "first_acute",
        "first_other",
        silent_from=ibis.ifelse(ep.first_silent, ep.date, ep.silent_after),
    )


def _silent_after(day: ibis.Value, following: ibis.Value, lost_months: int) -> ibis.Value:
    """Whether no encounter follows ``day`` (``following``: the next one, or null) for ``lost_months``."""
    return following.isnull() | (following > months_after(day, lost_months))


def lapses(t, codes, other_days, info, data_end, *, usual_days: int, lost_months: int, emergency_months: int):
    """``emergency_only`` and ``lost`` after the last visit of an episode (see :func:`relationship_breaks`)."""
    ep = _episodes(t, other_days, lost_months=lost_months, emergency_months=emergency_months)
    ends = ep.next_visit
    acute, other, silent = ep.first_acute.notnull(), ep.first_other.notnull(), ep.silent_from.notnull()
    quiet = ends.isnull() | (ends >= months_after(ep.date, emergency_months))
    emergency = (
        quiet & acute & (~other | (ep.first_other >= ep.first_acute)) & ~(silent & (ep.silent_from < ep.first_acute))
    )
    ep = ep.mutate(
        emergency=emergency,
        seen=ibis.ifelse(
            emergency,
            months_after(ep.date, emergency_months) <= data_end,
            silent & (months_after(ep.silent_from, lost_months) < data_end),
        ),
    )
    ep = ep.filter(ep.seen)
    rows = ep.select(
        "patient_id",
        "day",
        since="date",
        b=ibis.null("string"),
        break_date=ibis.ifelse(ep.emergency, ep.first_acute, days_after(ep.silent_from, 1)),
        kind=ibis.ifelse(ep.emergency, "emergency_only", "lost"),
    )
    # a: who held the patient last, at a visit in the look-back up to the last visit.
    h = t.filter(t.holds).select(hid="patient_id", hday="day", held="held")
    j = rows.inner_join(h, [rows.patient_id == h.hid, h.hday <= rows.day, h.hday > rows.day - usual_days])
    rows = j.group_by(list(rows.columns)).aggregate(held=j.held.max())
    rows = rows.mutate(code=decode_held(rows.held)[2])
    c = classified(named(rows, codes, "code", "a"), info, data_end)
    return break_rows(c, c.kind)
