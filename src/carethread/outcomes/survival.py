"""How long relationships last: Kaplan-Meier survival of dyads to their break.

docs/definitions.md, *Relationship duration*. A relationship is a pair of a
patient and a clinician who held them: the clinician a break left
(:func:`carethread.measures.relationship_breaks`) or the patient's usual
clinician at the end of the data. It starts at the pair's first visit in the
data and ends at its first break, or is censored at the end of the data.
Kaplan-Meier estimates (statsmodels' ``SurvfuncRight``) follow, for all
relationships and by practice or clinician, with the number still at risk.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from carethread.measures.attribution.rules import choose, visit_pairs
from carethread.measures.breaks import relationship_breaks
from carethread.measures.practices import clinician_practice
from carethread.options import Clinicians, DateLike, Settings, as_timestamp, check_rule, clinicians_table, months_before
from carethread.visits import default_as_of, encounters_in_window, visits

#: Columns of :func:`relationship_survival`, in order.
SURVIVAL_COLUMNS: tuple[str, ...] = (
    "group_by",
    "group",
    "time_years",
    "at_risk",
    "events",
    "survival",
    "ci_low",
    "ci_high",
)

#: What the curves can be drawn by.
GROUPINGS: tuple[str, ...] = ("all", "practice", "clinician")


def usual_clinicians(
    encounters: ibis.Table, *, settings: Settings = None, start: DateLike = None, end: DateLike = None
) -> ibis.Table:
    """Each patient's usual clinician over ``[start, end)``: ``patient_id, clinician_id``.

    The ``usual_clinician_id`` of :func:`~carethread.measures.patient_continuity`
    with ``min_visits=1`` (most visits, then the latest last visit, then the
    smallest id; visits without a clinician do not count), chosen by the
    plurality rule of attribution, which is the same rule in one aggregate
    (:func:`carethread.measures.attribution.rules.choose`): no sort of the visits.

    >>> import datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 3, "clinician_id": ["A", "B", "B"],
    ...     "practice_id": ["X"] * 3, "setting": ["primary_care"] * 3,
    ...     "start": [dt.datetime(2024, 1, d) for d in (2, 9, 16)]})
    >>> usual_clinicians(enc).to_pyarrow().to_pylist()
    [{'patient_id': 'p', 'clinician_id': 'B'}]
    """
    v = visits(encounters, settings=settings, start=start, end=end)
    pairs = visit_pairs(v.filter(v.clinician_id.notnull()), ["patient_id"]).mutate(tier=ibis.literal(1))
    return choose(pairs, ["patient_id"], "plurality").select("patient_id", "clinician_id")


def relationship_spells(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    breaks: ibis.Table | None = None,
) -> ibis.Table:
    """One row per relationship: ``patient_id, clinician_id, practice_id, first_visit, years, broke``.

    ``years`` runs from the pair's first visit in the window to its first
    break (``broke`` true) or to the end of the data (the day after the last
    encounter, or ``end``). The break is the one of
    :func:`carethread.measures.relationship_breaks` (called through its public
    signature), or the rows of ``breaks`` when given: a table of
    :func:`~carethread.measures.relationship_breaks` over the same encounters
    and window, computed already (``carethread all`` and the report hand
    theirs in, so the breaks are computed once, in patient batches where
    needed). The usual clinician is the one of
    :func:`~carethread.measures.patient_continuity` over the last 24 months
    (same order: most visits, then the latest last visit, then the smallest
    id), found by one aggregate with its best-of key rather than the index's
    sorts. Relationships already running when the data begin are
    counted from their first visit in the data: their durations are
    left-censored, so the curves understate how long relationships last.

    >>> import datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": ["A", "A", "A", "A"],
    ...     "practice_id": ["X"] * 4, "setting": ["primary_care"] * 4,
    ...     "start": [dt.datetime(2023, m, 2) for m in (1, 4, 7, 10)]})
    >>> row = relationship_spells(enc).to_pyarrow().to_pylist()[0]
    >>> row["clinician_id"], row["broke"], row["years"] == 274 / 365.25  # 2 January to 3 October
    ('A', False, True)
    """
    clinicians = clinicians_table(clinicians)
    ends = as_timestamp(end, "end") or default_as_of(encounters_in_window(encounters, start=start))
    if breaks is None:
        breaks = relationship_breaks(encounters, clinicians=clinicians, settings=settings, start=start, end=end)
    broken = breaks.filter(breaks.from_clinician_id.notnull())
    broken = broken.group_by("patient_id", clinician_id=broken.from_clinician_id).aggregate(
        break_date=broken.break_date.min()
    )
    recent = months_before(ends, 24)
    lo = as_timestamp(start, "start")
    usual = usual_clinicians(encounters, settings=settings, start=max(recent, lo) if lo else recent, end=ends)
    pairs = _ids(broken).union(_ids(usual), distinct=True)
    v = visits(encounters, settings=settings, start=start, end=ends)
    first = v.group_by("patient_id", "clinician_id").aggregate(first_visit=v.visit_date.min())
    spells = pairs.join(first, ["patient_id", "clinician_id"]).left_join(broken, ["patient_id", "clinician_id"])
    spells = spells.select(
        "patient_id", "clinician_id", first_visit=spells.first_visit.cast("date"), break_date=spells.break_date
    )
    practice = clinician_practice(encounters, clinicians=clinicians, settings=settings)
    spells = spells.left_join(practice, "clinician_id")
    stop = ibis.coalesce(spells.break_date.cast("date"), ibis.literal(ends.date()))
    days = stop.delta(spells.first_visit, unit="day").cast("float64")
    out = spells.select(
        "patient_id",
        "clinician_id",
        "practice_id",
        "first_visit",
        years=days / 365.25,
        broke=spells.break_date.notnull(),
    )
    return out.filter(out.years >= 0)


def kaplan_meier(years: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier estimate (statsmodels' ``SurvfuncRight``) at each event time.

    Columns ``time_years, at_risk, events, survival, ci_low, ci_high``; the
    95 % interval is the log-log transform of Greenwood's standard error,
    which stays inside (0, 1).

    >>> km = kaplan_meier(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1, 1, 0, 0]))
    >>> km[["time_years", "at_risk", "events", "survival"]].round(6).values.tolist()
    [[1.0, 4.0, 1.0, 0.75], [2.0, 3.0, 1.0, 0.5]]
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    if not len(years) or not np.asarray(event).any():
        return pd.DataFrame(columns=list(SURVIVAL_COLUMNS[2:]))
    fit = SurvfuncRight(np.asarray(years, float), np.asarray(event, float))
    s, se = fit.surv_prob, fit.surv_prob_se
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = 1.96 * se / (s * np.abs(np.log(s)))
        low, high = s ** np.exp(spread), s ** np.exp(-spread)
    done = (s <= 0) | (s >= 1) | ~np.isfinite(spread)
    return pd.DataFrame(
        {
            "time_years": fit.surv_times,
            "at_risk": fit.n_risk.astype(float),
            "events": fit.n_events.astype(float),
            "survival": s,
            "ci_low": np.where(done, np.nan, low),
            "ci_high": np.where(done, np.nan, high),
        }
    )


def _ids(table: ibis.Table) -> ibis.Table:
    # Both sides of the union as plain (nullable) strings, whatever the engine inferred.
    return table.select(patient_id=table.patient_id.cast("string"), clinician_id=table.clinician_id.cast("string"))


def relationship_survival(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    by: str = "all",
    breaks: ibis.Table | None = None,
) -> pd.DataFrame:
    """Kaplan-Meier survival of relationships to their break, with the number at risk.

    Parameters
    ----------
    encounters, clinicians, settings, start, end
        As for :func:`relationship_spells`.
    by
        ``"all"`` (one curve), ``"practice"`` or ``"clinician"`` (one curve
        each; the clinician's practice decides the practice).
    breaks
        The relationship breaks over the same encounters and window, when
        computed already (:func:`relationship_spells`); computed here otherwise.

    Returns
    -------
    pandas.DataFrame
        :data:`SURVIVAL_COLUMNS`: one row per group and event time, the
        share of relationships still unbroken (``survival``) with its 95 %
        interval, and how many were at risk just before.

    Notes
    -----
    Only one row per relationship reaches Python (the spells); the curves
    are computed there. Durations start at the first visit in the data, so
    long relationships are left-censored (:func:`relationship_spells`).
    Identifiers appear as ``group``: pseudonymise them before sharing
    (the report does).

    Examples
    --------
    >>> import datetime as dt
    >>> days = [dt.datetime(2022, m, 3) for m in range(1, 13)] + [dt.datetime(2023, m, 3) for m in range(1, 13)]
    >>> enc = ibis.memtable({"patient_id": ["p"] * 24 + ["q"] * 24, "clinician_id": ["A"] * 24 + ["B"] * 24,
    ...     "practice_id": ["X"] * 48, "setting": ["primary_care"] * 48, "start": days * 2})
    >>> relationship_survival(enc).empty  # no break: nothing to draw a step at
    True
    """
    check_rule(by, GROUPINGS, "by")
    spells = relationship_spells(
        encounters, clinicians=clinicians, settings=settings, start=start, end=end, breaks=breaks
    )
    column = {"all": None, "practice": "practice_id", "clinician": "clinician_id"}[by]
    frame = spells.select("years", "broke", group=spells[column] if column else ibis.literal("all")).to_pandas()
    parts = []
    for group, rows in frame.groupby("group", sort=True, dropna=False):
        km = kaplan_meier(rows["years"].to_numpy(), rows["broke"].to_numpy())
        if len(km):
            parts.append(km.assign(group_by=by, group=None if pd.isna(group) else str(group)))
    if not parts:
        return pd.DataFrame(columns=list(SURVIVAL_COLUMNS))
    out = pd.concat(parts, ignore_index=True)[list(SURVIVAL_COLUMNS)]
    return out.astype({"at_risk": "int64", "events": "int64"})


def survival_at(curve: pd.DataFrame, years: float) -> float:
    """The survival of one curve (:func:`kaplan_meier`) at ``years``: 1 before its first step.

    >>> survival_at(pd.DataFrame({"time_years": [1.0, 2.0], "survival": [0.75, 0.5]}), 1.5)
    0.75
    """
    before = curve[curve["time_years"] <= years]
    return 1.0 if before.empty else float(before["survival"].iloc[-1])


__all__ = [
    "GROUPINGS",
    "SURVIVAL_COLUMNS",
    "kaplan_meier",
    "relationship_spells",
    "relationship_survival",
    "survival_at",
]
