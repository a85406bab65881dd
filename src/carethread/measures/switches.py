"""Confirmed switches: the patient's usual clinician changes from ``a`` to ``b``.

The rule is :func:`carethread.measures.breaks.relationship_breaks`'s; this
module finds the rows that meet it in a :func:`~carethread.measures.timeline.timeline`,
and classifies the moves of :mod:`carethread.measures.churn` (``confirm=0``)
the same way.
"""

from __future__ import annotations

import ibis

from carethread.measures.break_causes import break_rows, classified, date_of, named, switch_kind
from carethread.measures.churn import Grid, attribution_moves


def confirmed_switches(t: ibis.Table, codes, info, data_end, *, confirm: int, usual_days: int, confirm_days: int):
    """Switches ``a -> b`` at a visit with ``b`` (see :func:`relationship_breaks`).

    Found from a's side: a holding visit on day ``s`` after which ``a`` is not
    seen for a confirmation window at least and the patient is, within the
    look-back; then the visits that follow it.
    """
    gone = t.filter(
        t.holds,
        t.next_c.isnull() | (t.next_c > t.day + confirm_days),
        t.next_day.notnull(),
        t.next_day < t.day + usual_days,
    )
    gone = gone.select(pid="patient_id", s="day", a="code", next_a="next_c")
    w = t.select(vid="patient_id", d="day", b="code", prev_b="prev_c", other_holds="holds")
    j = gone.inner_join(
        w,
        [
            gone.pid == w.vid,
            w.d > gone.s,
            w.d < gone.s + usual_days,
            gone.next_a.isnull() | (w.d <= gone.next_a - confirm_days),
        ],
    )
    # a is the latest to hold the patient until someone else holds them.
    j = j.mutate(taken=j.d.min(where=j.other_holds).over(ibis.window(group_by=["pid", "s"])))
    rows = j.filter(
        j.taken.isnull() | (j.d <= j.taken),
        j.b != j.a,
        j.prev_b.isnull() | (j.prev_b <= j.s),
    ).select(patient_id="pid", day="d", s="s", code="a", b="b")
    # The visits of the confirmation window: b must hold most of them.
    f = t.select(fid="patient_id", fday="day", fcode="code")
    k = rows.inner_join(f, [rows.patient_id == f.fid, f.fday >= rows.day, f.fday < rows.day + confirm_days])
    rows = k.group_by(list(rows.columns)).aggregate(
        n_after=k.fday.count(), nb_after=(k.fcode == k.b).cast("int64").sum()
    )
    rows = rows.filter(rows.nb_after * 2 > rows.n_after, rows.nb_after >= 1 + confirm)
    rows = rows.select("patient_id", "code", "b", "nb_after", break_date=date_of(rows.day), since=date_of(rows.s))
    c = classified(named(named(rows, codes, "code", "a"), codes, "b", "b"), info, data_end)
    # Partner visits are routine cover (holidays, a full list): a move within
    # the practice needs one more confirming visit while a still sees patients.
    need = 1 + confirm + ibis.ifelse(c.same & ~c.left, 1, 0)
    c = c.filter(c.nb_after >= need)
    return break_rows(c, switch_kind(c))


def attribution_churn(
    visits: ibis.Table, v: ibis.Table, info, data_end, *, period: str, lookback_months: int
) -> ibis.Table:
    """Raw moves of period-to-period plurality attribution (``visits`` of
    :func:`carethread.visits.visits`; ``v`` the visit rows of
    :func:`~carethread.measures.timeline.patient_days`), classified like switches."""
    moves = attribution_moves(visits, Grid.of(period, lookback_months, data_end))
    rows = moves.select("patient_id", "break_date", a=moves.from_clinician_id, b=moves.to_clinician_id)
    # The patient's last visit with a before the move (for the cause).
    w = v.select(pid="patient_id", cid="clinician_id", vdate="date")
    j = rows.left_join(w, [rows.patient_id == w.pid, rows.a == w.cid, w.vdate < rows.break_date])
    rows = j.group_by(list(rows.columns)).aggregate(since=j.vdate.max())
    c = classified(rows, info, data_end)
    return break_rows(c, switch_kind(c))
