"""Relationship breaks: when a patient's attribution leaves their clinician.

docs/definitions.md, *Relationship breaks*. Two mechanisms, one table:

**Switches** (``partner``, ``other_practice``). Plurality attribution over a
trailing ``lookback_months`` window (:func:`carethread.measures.attribution.choose`,
the same code as :func:`~carethread.measures.attribution.attribute`) is
evaluated at every period boundary (month, quarter or year starts) in the data
span. When a patient attributed to ``a`` at one boundary is attributed to
``b != a`` at the next, the relationship broke: ``partner`` when ``b`` works
in ``a``'s practice, ``other_practice`` otherwise. The break is dated by the
first visit with ``b`` after the last visit with ``a``.

**Lapses** (``emergency_only``, ``lost``). A trailing window keeps pointing at
the old clinician for up to ``lookback_months`` after a patient stops coming,
so attribution alone notices a lapse late or never. Lapses are read from the
encounters that follow each visit ``t`` (any clinician, visit settings) until
the next visit:

* ``emergency_only`` -- no visit for ``emergency_after_months`` after ``t``,
  the first encounter after ``t`` is an emergency or urgent-care one
  (nothing else on an earlier day), and no ``lost_after_months`` silence
  came first. Dated by that encounter.
* ``lost`` -- otherwise, when ``t`` or a later encounter before the next
  visit is followed by no encounter at all for ``lost_after_months``. Dated
  the day after that last encounter.

``from_clinician_id`` of a lapse is the patient's attribution at the first
boundary after ``t``; ``to_clinician_id`` is null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis

from carethread.deprecation import renamed_keywords, warn_renamed
from carethread.errors import OptionError
from carethread.measures.attribution import choose
from carethread.measures.display import as_result
from carethread.measures.practices import clinician_practice
from carethread.options import Clinicians, DateLike, Settings, check_months, check_window, normalize_settings
from carethread.schema import SETTINGS
from carethread.visits import default_as_of, encounters_in_window, visits

#: Period lengths in months.
PERIODS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}

#: Columns of :func:`relationship_breaks`, in order.
BREAK_COLUMNS: tuple[str, ...] = ("patient_id", "from_clinician_id", "to_clinician_id", "break_date", "kind")

#: The order of :func:`relationship_breaks` rows: a total order, so output is deterministic.
BREAK_ORDER: tuple[str, ...] = ("patient_id", "break_date", "kind", "from_clinician_id", "to_clinician_id")

#: Kinds of break, in the order docs/definitions.md lists them.
KINDS: tuple[str, ...] = ("partner", "other_practice", "emergency_only", "lost")

#: Settings whose encounters make a lapse ``emergency_only``.
ACUTE_SETTINGS: tuple[str, ...] = ("emergency", "urgent_care")


def _month_index(d: ibis.Value) -> ibis.Value:
    """Months since year 0 of a date: ``year * 12 + month - 1``."""
    return d.year().cast("int64") * 12 + d.month().cast("int64") - 1


def _month_start(index: ibis.Value) -> ibis.Value:
    """The first day of month ``index`` (inverse of :func:`_month_index`)."""
    return ibis.date((index // 12).cast("int32"), (index % 12 + 1).cast("int32"), 1)


def _first_boundary_on_or_after(d: ibis.Value, period_months: int) -> ibis.Value:
    """Month index of the first period start on or after date ``d``."""
    m = _month_index(d) + ibis.ifelse(d.day() == 1, 0, 1)
    return ((m + period_months - 1) // period_months) * period_months


def _add_months(d: ibis.Value, months: int) -> ibis.Value:
    return (d + ibis.interval(months=months)).cast("date")


def clinician_practices(encounters: ibis.Table, clinicians: Clinicians = None) -> ibis.Table:
    """Deprecated: :func:`carethread.measures.practices.clinician_practice` over every setting."""
    warn_renamed(
        "carethread.measures.breaks.clinician_practices(encounters, clinicians)",
        "carethread.measures.practices.clinician_practice(encounters, clinicians=..., settings=SETTINGS)",
    )
    return clinician_practice(encounters, clinicians=clinicians, settings=SETTINGS)


@dataclass(frozen=True)
class _Grid:
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
    def of(cls, period_months: int, lookback: int, last: ibis.Value) -> _Grid:
        size = math.gcd(lookback, period_months)
        return cls(period_months, size, period_months // size, lookback // size, last)


def _attribution_at_boundaries(v: ibis.Table, grid: _Grid) -> tuple[ibis.Table, ibis.Table]:
    """Plurality attribution at every boundary: ``(per_bucket, attributed)``.

    ``per_bucket`` holds visits per patient, clinician and bucket;
    ``attributed`` the winner per patient and boundary ``k``
    (``clinician_id, last_visit``), from
    :func:`carethread.measures.attribution.choose`.
    Visits are first counted per bucket; each bucket then feeds the
    ``width`` windows that follow it, at the boundaries among them.
    """
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


def _switches(
    v: ibis.Table, per_bucket: ibis.Table, attributed: ibis.Table, practice: ibis.Table, grid: _Grid
) -> ibis.Table:
    """Attribution ``a`` at one boundary and ``b != a`` at the next, dated by the
    first visit with ``b`` after the last visit with ``a``."""
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
    pa = practice.select(ca="clinician_id", practice_a="practice_id")
    pb = practice.select(cb="clinician_id", practice_b="practice_id")
    s = first_b.left_join(pa, first_b.a == pa.ca).left_join(pb, first_b.b == pb.cb)
    same = s.practice_a.notnull() & (s.practice_a == s.practice_b)
    return s.select(
        "patient_id",
        from_clinician_id=s.a,
        to_clinician_id=s.b,
        break_date=s.break_date.cast("date"),
        kind=ibis.ifelse(same, "partner", "other_practice"),
        detected_month=s.k_to * grid.size,
    )


def _episodes(e: ibis.Table, chosen: tuple[str, ...], lost_months: int) -> ibis.Table:
    """One row per visit day of a patient and what follows it until the next visit day.

    ``last_visit`` (the visit day), ``next_visit`` (null at the end of the
    data), ``first_acute`` and ``first_other`` (first later day with an
    emergency/urgent-care encounter, or with any other non-visit encounter)
    and ``silent_from`` (first day in the episode followed by no encounter
    for ``lost_months``, or by the end of the data).
    """
    is_visit = e.setting.isin(chosen) & e.clinician_id.notnull()
    is_acute = e.setting.isin(ACUTE_SETTINGS) & ~is_visit
    days = e.group_by("patient_id", day=e.start.cast("date")).aggregate(
        vis=is_visit.any(), acute=is_acute.any(), other=(~is_visit & ~is_acute).any()
    )
    running = ibis.cumulative_window(group_by=days.patient_id, order_by=days.day)
    ordered = ibis.window(group_by=days.patient_id, order_by=days.day)
    days = days.mutate(episode=days.vis.cast("int64").sum().over(running), next_day=days.day.lead().over(ordered))
    days = days.filter(days.episode >= 1)
    silent = days.next_day.isnull() | (days.next_day > _add_months(days.day, lost_months))
    ep = days.group_by("patient_id", "episode").aggregate(
        last_visit=days.day.min(),
        n_days=days.count(),
        n_next=days.next_day.count(),
        max_next=days.next_day.max(),
        first_acute=days.day.min(where=days.acute & ~days.vis),
        first_other=days.day.min(where=days.other & ~days.vis),
        silent_from=days.day.min(where=silent),
    )
    # The last day of an episode is followed by the next visit day, if any.
    next_visit = ibis.ifelse(ep.n_next == ep.n_days, ep.max_next, ibis.null("date"))
    return ep.select("patient_id", "last_visit", "first_acute", "first_other", "silent_from", next_visit=next_visit)


def _lapses(ep: ibis.Table, attributed: ibis.Table, grid: _Grid, lapse_months: int, lost_months: int) -> ibis.Table:
    """``emergency_only`` and ``lost`` breaks from the episodes (module docstring)."""
    P = grid.period_months
    no_visit_soon = ep.next_visit.isnull() | (ep.next_visit >= _add_months(ep.last_visit, lapse_months))
    acute_first = ep.first_acute.notnull() & (ep.first_other.isnull() | (ep.first_other >= ep.first_acute))
    silence_first = ep.silent_from.notnull() & (ep.first_acute.isnull() | (ep.silent_from < ep.first_acute))
    emergency = no_visit_soon & acute_first & ~silence_first
    lost = ~emergency & ep.silent_from.notnull()
    day_after = lambda d: (d + ibis.interval(days=1)).cast("date")  # noqa: E731
    emergency_seen = ibis.greatest(_add_months(ep.last_visit, lapse_months), day_after(ep.first_acute))
    lost_seen = day_after(_add_months(ep.silent_from, lost_months))
    lapses = ep.filter(emergency | lost).select(
        "patient_id",
        from_k=(_month_index(ep.last_visit) // P + 1) * P // grid.size,
        break_date=ibis.ifelse(emergency, ep.first_acute, day_after(ep.silent_from)),
        kind=ibis.ifelse(emergency, "emergency_only", "lost"),
        detected_month=_first_boundary_on_or_after(ibis.ifelse(emergency, emergency_seen, lost_seen), P),
    )
    lapses = lapses.filter(lapses.detected_month <= grid.last)
    owner = attributed.select(pid="patient_id", k="k", from_clinician_id="clinician_id")
    lapses = lapses.join(owner, [lapses.patient_id == owner.pid, lapses.from_k == owner.k])
    return lapses.select(
        "patient_id",
        "from_clinician_id",
        to_clinician_id=ibis.null("string"),
        break_date=lapses.break_date.cast("date"),
        kind=lapses.kind,
        detected_month=lapses.detected_month,
    )


@renamed_keywords(lookback="lookback_months")
def breaks_detail(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    period: str = "quarter",
    lookback_months: int = 18,
    lost_after_months: int = 12,
    emergency_after_months: int = 12,
) -> ibis.Table:
    """:func:`relationship_breaks` plus ``detected_at``, the period boundary that shows each break.

    For a switch it is the first boundary at which the new attribution holds;
    for ``emergency_only`` the first boundary on or after both the day after
    the first emergency/urgent-care encounter and ``emergency_after_months``
    after the last visit; for ``lost`` the first boundary after the
    ``lost_after_months`` silence. It measures how long the rule takes to
    notice a break.
    """
    if period not in PERIODS:
        raise OptionError(f"--period must be one of {', '.join(PERIODS)}, not {period!r}.")
    P = PERIODS[period]
    L = check_months(lookback_months, "lookback")
    lost_months = check_months(lost_after_months, "lost-after-months")
    lapse_months = check_months(emergency_after_months, "emergency-after-months")
    if L < P:
        raise OptionError(f"--lookback ({L} months) must be at least one {period} ({P} months).")
    lo, hi = check_window(start, end)
    chosen = normalize_settings(settings)

    e = encounters_in_window(encounters, start=lo, end=hi)
    if hi is not None:
        last = ibis.literal((hi.year * 12 + hi.month - 1) // P * P)
    else:
        last = _month_index((e.start.max().cast("date") + ibis.interval(days=1)).cast("date")) // P * P
    grid = _Grid.of(P, L, last)

    v = visits(encounters, settings=chosen, start=lo, end=hi)
    v = v.mutate(bucket=_month_index(v.visit_date) // grid.size)
    per_bucket, attributed = _attribution_at_boundaries(v, grid)
    switches = _switches(
        v, per_bucket, attributed, clinician_practice(e, clinicians=clinicians, settings=SETTINGS), grid
    )
    lapses = _lapses(_episodes(e, chosen, lost_months), attributed, grid, lapse_months, lost_months)
    out = switches.union(lapses)
    return as_result(out.select(*BREAK_COLUMNS, detected_at=_month_start(out.detected_month)).order_by(*BREAK_ORDER))


def whole_input_parameters(
    encounters: ibis.Table, *, clinicians: Clinicians = None, start: DateLike = None, end: DateLike = None
) -> dict:
    """``end`` and ``clinicians`` as :func:`relationship_breaks` derives them from all encounters.

    Passed back in, they make the measure separable by patient
    (:mod:`carethread.batches`): the last period boundary comes from the last
    encounter of the whole input, and each clinician's practice from all of
    their encounters, not from one slice of patients.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "q"], "clinician_id": ["A", "B"], "practice_id": ["X", "Y"],
    ...     "setting": ["primary_care"] * 2, "start": [dt.datetime(2024, 1, 5), dt.datetime(2024, 3, 9)]})
    >>> fixed = whole_input_parameters(enc)
    >>> fixed["end"], fixed["clinicians"].num_rows
    (datetime.datetime(2024, 3, 10, 0, 0), 2)
    """
    lo, hi = check_window(start, end)
    e = encounters_in_window(encounters, start=lo, end=hi)
    return {
        "end": default_as_of(e, end=hi),
        "clinicians": clinician_practice(e, clinicians=clinicians, settings=SETTINGS).to_pyarrow(),
    }


@renamed_keywords(lookback="lookback_months")
def relationship_breaks(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    period: str = "quarter",
    lookback_months: int = 18,
    lost_after_months: int = 12,
    emergency_after_months: int = 12,
) -> ibis.Table:
    """Every relationship break: switches to a partner or another practice, and lapses.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``), all settings: emergency
        and urgent-care encounters classify lapses.
    clinicians
        Canonical clinicians table; its ``practice_id`` decides ``partner``
        versus ``other_practice``. Without it (or for a clinician missing
        from it) a clinician's practice is the one of most of their
        encounters (:func:`carethread.measures.practices.clinician_practice`).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    start, end
        Window ``[start, end)`` on encounters; boundaries are the period
        starts after the first encounter up to the end of the data (the day
        after the last encounter, or ``end``).
    period
        ``"quarter"`` (default), ``"month"`` or ``"year"``: attribution is
        compared between consecutive period starts.
    lookback_months
        Trailing attribution window in whole months (default 18, at least
        one period). Formerly ``lookback``.
    lost_after_months
        A patient with no encounter at all for this long is ``lost``
        (default 12).
    emergency_after_months
        An ``emergency_only`` lapse needs this long without a visit after the
        last one (default 12: a year without primary care; shorter values
        flag many occasional users, see Notes).

    Returns
    -------
    ibis.Table
        ``patient_id, from_clinician_id, to_clinician_id, break_date, kind``,
        ordered by patient and date; ``to_clinician_id`` is null for
        ``emergency_only`` and ``lost``.

    Notes
    -----
    Definitions (module docstring; docs/definitions.md, *Relationship breaks*):

    * Switch ``a -> b``: attribution is ``a`` at a boundary and ``b`` at the
      next. ``partner`` if ``b``'s practice is ``a``'s, else
      ``other_practice`` (an unknown practice counts as another practice).
      ``break_date`` is the first visit with ``b`` after the last visit with
      ``a``. A change that no visit made -- ``a``'s visits left the window
      while ``b`` was last seen before ``a`` -- is not a break.
    * A patient who has no attribution at one boundary and one at the next
      is not a break (a new or returning patient); attribution running out
      at the end of the look-back is not one either: lapses are found from
      the visits themselves, below.
    * ``emergency_only``: after the last visit ``t`` no visit for
      ``emergency_after_months``, and the first later day with an encounter
      has an emergency or urgent-care one (an admission that day does not
      count against it), not preceded by a ``lost_after_months`` silence.
      Dated by that encounter.
    * ``lost``: after ``t`` (and not ``emergency_only``), some encounter is
      followed by no encounter at all for ``lost_after_months``. Dated the
      day after that encounter. A silence running past the end of the data
      is only a break when the data cover the full ``lost_after_months``.
    * A break is reported once the first period boundary that shows it lies
      inside the data span; breaks too close to the end of the data are not
      reported yet.

    How late the default rule notices each kind of break, and its precision
    and recall on the synthetic health system, are measured in
    ``bench/RESULTS.md`` (*Relationship breaks on the synthetic system*).

    Cost: every step is an Ibis aggregate, join or window. Visits per
    patient, clinician and bucket (``gcd(lookback, period)`` months) feed the
    ``lookback / period`` boundaries that follow (6 with the defaults), so
    attribution at every boundary is one aggregate over that many copies of
    the buckets, then one ``min`` per patient and boundary; lapses need one
    window over patient-days. A shorter ``lookback_months`` or a longer
    ``period`` makes it proportionally cheaper (CPU shares of each step:
    ``bench/RESULTS.md``).

    Examples
    --------
    Patient ``p`` sees ``A`` monthly through 2022, then partner ``B`` from
    February 2023 (both in practice ``X``). With a 12-month look-back ``B``
    overtakes ``A`` at the October 2023 boundary; the break is dated by the
    first visit with ``B``:

    >>> import ibis, datetime as dt
    >>> days = [dt.datetime(2022, m, 10) for m in range(1, 13)] + [dt.datetime(2023, m, 10) for m in range(2, 13)]
    >>> enc = ibis.memtable({"patient_id": ["p"] * 23, "clinician_id": ["A"] * 12 + ["B"] * 11,
    ...     "practice_id": ["X"] * 23, "setting": ["primary_care"] * 23, "start": days})
    >>> [row] = relationship_breaks(enc, lookback_months=12).to_pyarrow().to_pylist()
    >>> row["from_clinician_id"], row["to_clinician_id"], row["break_date"], row["kind"]
    ('A', 'B', datetime.date(2023, 2, 10), 'partner')
    """
    detail = breaks_detail(
        encounters,
        clinicians=clinicians,
        settings=settings,
        start=start,
        end=end,
        period=period,
        lookback_months=lookback_months,
        lost_after_months=lost_after_months,
        emergency_after_months=emergency_after_months,
    )
    return as_result(detail.select(*BREAK_COLUMNS))
