"""Attribution churn: every move of quarter-to-quarter plurality attribution.

``relationship_breaks(..., confirm=0)``. Plurality attribution over a
trailing look-back (:func:`carethread.measures.attribution.choose`, the same
code as :func:`~carethread.measures.attribution.attribute`) is evaluated at
every period start (month, quarter or year) in the data span. When a patient
attributed to ``a`` at one boundary is attributed to ``b != a`` at the next
(ties as for the usual clinician: docs/definitions.md, *Usual clinician*),
attribution moved: dated by the first visit with ``b`` after the last visit
with ``a``. This is what ACO analysts call attribution churn. It is not a
relationship break: a partner who ties or outnumbers the usual clinician in a
sparse window moves it (see docs/definitions.md, *Relationship breaks*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis

from carethread.errors import OptionError
from carethread.measures.attribution import choose
from carethread.options import check_months, check_rule

#: Period lengths in months.
PERIODS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


def month_index(d: ibis.Value) -> ibis.Value:
    """Months since year 0 of a date: ``year * 12 + month - 1``."""
    return d.year().cast("int64") * 12 + d.month().cast("int64") - 1


def check_churn(period: str, lookback_months: int) -> tuple[str, int]:
    """``period`` and ``lookback_months`` of attribution churn, checked: a look-back covers one period.

    >>> check_churn("quarter", 18)
    ('quarter', 18)
    """
    check_rule(period, PERIODS, "period")
    months = check_months(lookback_months, "lookback-months")
    if months < PERIODS[period]:
        raise OptionError(f"--lookback-months ({months}) must be at least one {period} ({PERIODS[period]} months).")
    return period, months


@dataclass(frozen=True)
class Grid:
    """Boundaries and windows in buckets of ``size`` months (``gcd(lookback, period)``).

    Boundary ``k`` (in buckets) is the first day of month ``k * size``; its
    window holds buckets ``k - width .. k - 1``; boundaries are ``step``
    buckets apart. ``last`` is the month index of the last boundary.
    """

    period_months: int
    size: int
    step: int
    width: int
    last: ibis.Value

    @classmethod
    def of(cls, period: str, lookback_months: int, data_end: ibis.Value) -> Grid:
        period, lookback_months = check_churn(period, lookback_months)
        p = PERIODS[period]
        size = math.gcd(lookback_months, p)
        return cls(p, size, p // size, lookback_months // size, month_index(data_end) // p * p)


def _attribution_at_boundaries(v: ibis.Table, grid: Grid) -> tuple[ibis.Table, ibis.Table]:
    """Plurality attribution at every boundary: ``(per_bucket, attributed)``.

    ``per_bucket`` holds visits per patient, clinician and bucket;
    ``attributed`` the winner per patient and boundary ``k``
    (``clinician_id, last_visit``). Visits are first counted per bucket; each
    bucket then feeds the ``width`` windows that follow it, at the boundaries
    among them.
    """
    # The start of the last visit, not its day: of two clinicians last seen on
    # the same day the later visit wins, as for attribute and the usual clinician.
    per_bucket = v.group_by("patient_id", "clinician_id", "bucket").aggregate(
        n=v.count(), last_start=v.first_start.max()
    )
    offsets = ibis.memtable({"offset": list(range(1, grid.width + 1))})
    fed = per_bucket.cross_join(offsets)
    fed = fed.select("patient_id", "clinician_id", "n", "last_start", k=fed.bucket + fed.offset)
    fed = fed.filter(fed.k * grid.size <= grid.last)
    if grid.step > 1:
        fed = fed.filter(fed.k % grid.step == 0)
    at_k = fed.group_by("patient_id", "k", "clinician_id").aggregate(n=fed.n.sum(), last_start=fed.last_start.max())
    attributed = choose(at_k.mutate(tier=ibis.literal(1)), ["patient_id", "k"], "plurality")
    return per_bucket, attributed.select("patient_id", "k", "clinician_id", "last_visit")


def attribution_moves(v: ibis.Table, grid: Grid) -> ibis.Table:
    """``patient_id, from_clinician_id, to_clinician_id, break_date``: every move of attribution.

    ``v`` holds visits (``patient_id, clinician_id, visit_date, first_start``:
    :func:`carethread.visits.visits`).
    Attribution ``a`` at one boundary and ``b != a`` at the next, dated by
    the first visit with ``b`` after the last visit with ``a``; a change no
    visit made (``a``'s visits left the window while ``b`` was last seen
    before ``a``) is not a move, nor is a patient with no attribution at one
    of the two boundaries.
    """
    v = v.mutate(bucket=month_index(v.visit_date) // grid.size)
    per_bucket, attributed = _attribution_at_boundaries(v, grid)
    before = attributed.select("patient_id", k_from="k", a="clinician_id", a_last="last_visit")
    after = attributed.select(pid="patient_id", k_to="k", b="clinician_id")
    sw = before.join(after, [before.patient_id == after.pid, after.k_to == before.k_from + grid.step])
    sw = sw.filter(sw.a != sw.b).select("patient_id", "a", "b", "k_to", "a_last")
    # a's last visit before the new boundary: in the previous window, or in the
    # buckets between the two boundaries.
    recent = per_bucket.select(
        pid="patient_id", cid="clinician_id", bucket="bucket", a_now=per_bucket.last_start.cast("date")
    ).view()
    sw = sw.left_join(
        recent,
        [
            sw.patient_id == recent.pid,
            sw.a == recent.cid,
            recent.bucket >= sw.k_to - grid.step,
            recent.bucket < sw.k_to,
        ],
    )
    last_a = ibis.greatest(sw.a_last, sw.a_now.fill_null(sw.a_last)).max()
    sw = sw.group_by("patient_id", "a", "b", "k_to").aggregate(last_a=last_a)
    sw = sw.view()
    vb = v.select(pid="patient_id", cid="clinician_id", visit_date="visit_date", vbucket="bucket").view()
    first_b = sw.join(vb, [sw.patient_id == vb.pid, sw.b == vb.cid, vb.visit_date > sw.last_a, vb.vbucket < sw.k_to])
    first_b = first_b.group_by("patient_id", "a", "b", "k_to").aggregate(break_date=first_b.visit_date.min())
    return first_b.select(
        "patient_id", from_clinician_id="a", to_clinician_id="b", break_date=first_b.break_date.cast("date")
    )
