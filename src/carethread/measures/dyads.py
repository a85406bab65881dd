"""Dyads: every patient-clinician relationship, seen from both sides.

A dyad is a (patient p, clinician c) pair with at least one visit in the
window (docs/definitions.md, *Dyads*). For each dyad:

* ``dyad_visits`` — visits of p with c (docs/definitions.md, *Visits*);
* ``patient_visits`` — all of p's visits; ``clinician_visits`` — all of c's;
* ``patient_dependence = dyad_visits / patient_visits`` — how much of p's
  care c is (for p's usual clinician this is UPC, Breslau & Reeb 1975);
* ``clinician_dependence = dyad_visits / clinician_visits`` — how much of c's
  work p is;
* ``first_visit``, ``last_visit`` (dates), ``duration_days = last - first``
  and ``longest_gap_days``, the longest interval between consecutive visits of
  the pair.

The two dependences are the two sides of one relationship: a patient who
sees one clinician depends on them entirely, while for a clinician with
2 000 visits a year the same patient is a fraction of a percent of the work.

Edge-case policy:

* Only pairs with visits appear; ``patient_visits`` and ``clinician_visits``
  count visits in the same window and settings, so dependences lie in (0, 1]
  and a patient's ``patient_dependence`` sum to 1 (likewise a clinician's
  ``clinician_dependence``).
* A single-visit dyad has ``duration_days = 0`` (first and last visit are the
  same day) and a null ``longest_gap_days``: with one visit there is no
  interval between visits, and 0 would claim back-to-back visits.
* Days are calendar days between visit dates; same-day encounters with one
  clinician are one visit, so gaps are at least 1 day.
* Encounters without a clinician are left out (docs/definitions.md, *Visits*).
"""

from __future__ import annotations

import ibis

from carethread.measures.display import as_result
from carethread.measures.numbers import exact_int64, ratio
from carethread.options import DateLike, Settings
from carethread.visits import visits

#: Columns of :func:`dyads`, in output order.
DYAD_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "clinician_id",
    "dyad_visits",
    "patient_visits",
    "clinician_visits",
    "patient_dependence",
    "clinician_dependence",
    "first_visit",
    "last_visit",
    "duration_days",
    "longest_gap_days",
)


def dyad_counts(
    encounters: ibis.Table, *, settings: Settings = None, start: DateLike = None, end: DateLike = None
) -> ibis.Table:
    """Per-pair visit counts and dates, before the two sides are joined.

    One row per (patient, clinician) pair with visits: ``patient_id,
    clinician_id, dyad_visits, first_visit, last_visit, last_start,
    longest_gap_days``. ``last_start`` (the start of the last visit: the
    earliest start on the last visit day) lets callers apply the
    usual-clinician tie-break (:func:`carethread.measures.keys.usual_key`).
    """
    v = visits(encounters, settings=settings, start=start, end=end)
    by_pair = ibis.window(group_by=[v.patient_id, v.clinician_id], order_by=v.visit_date)
    gap = v.visit_date.delta(v.visit_date.lag().over(by_pair), unit="day")
    v = v.mutate(gap=gap)
    return v.group_by("patient_id", "clinician_id").aggregate(
        dyad_visits=v.count(),
        first_visit=v.visit_date.min(),
        last_visit=v.visit_date.max(),
        last_start=v.first_start.max(),
        longest_gap_days=v.gap.max().cast("int64"),
    )


def dyads(
    encounters: ibis.Table, *, settings: Settings = None, start: DateLike = None, end: DateLike = None
) -> ibis.Table:
    """Every patient-clinician pair with visits, with both sides' dependence.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    start, end
        Window ``[start, end)``; ``None`` leaves a side open.

    Returns
    -------
    ibis.Table
        One row per pair: ``patient_id, clinician_id, dyad_visits,
        patient_visits, clinician_visits, patient_dependence,
        clinician_dependence, first_visit, last_visit, duration_days,
        longest_gap_days``.

        ``patient_dependence = dyad_visits / patient_visits`` and
        ``clinician_dependence = dyad_visits / clinician_visits`` (float64,
        exact integer counts divided last); ``first_visit`` and
        ``last_visit`` are dates; ``duration_days = last_visit -
        first_visit``; ``longest_gap_days`` is the longest number of days
        between consecutive visits of the pair, null for a single visit.

    Notes
    -----
    The patient-side dependence on the usual clinician is UPC (Breslau N,
    Reeb KG. J Med Educ 1975;50:965-9); the clinician side mirrors it, as in
    the two-list view of practice continuity (BJGP 2023;73:279). Edge cases:
    see the module docstring.

    Examples
    --------
    Patient p sees A on 1, 11 and 31 January and B on 5 January; patient q
    sees A once:

    >>> import ibis, datetime as dt
    >>> days, who = [1, 5, 11, 31, 2], ["p", "p", "p", "p", "q"]
    >>> enc = ibis.memtable({"patient_id": who, "clinician_id": list("ABAAA"),
    ...     "practice_id": ["X"] * 5, "setting": ["primary_care"] * 5,
    ...     "start": [dt.datetime(2024, 1, d, 9) for d in days]})
    >>> for r in dyads(enc).order_by("patient_id", "clinician_id").to_pyarrow().to_pylist():
    ...     print(r["patient_id"], r["clinician_id"], r["dyad_visits"], r["patient_dependence"],
    ...           r["clinician_dependence"], r["duration_days"], r["longest_gap_days"])
    p A 3 0.75 0.75 30 20
    p B 1 0.25 1.0 0 None
    q A 1 1.0 0.25 0 None
    """
    return dyads_from_counts(dyad_counts(encounters, settings=settings, start=start, end=end))


def dyads_from_counts(pairs: ibis.Table) -> ibis.Table:
    """:func:`dyads` from the per-pair counts of :func:`dyad_counts`.

    The split lets the counts, which are separable by patient, be computed in
    patient batches (:mod:`carethread.batches`) before the clinician totals,
    which need every patient, are added.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "p", "q"], "clinician_id": ["A"] * 3, "practice_id": ["X"] * 3,
    ...     "setting": ["primary_care"] * 3, "start": [dt.datetime(2024, 1, d) for d in (1, 8, 3)]})
    >>> t = dyads_from_counts(dyad_counts(enc)).order_by("patient_id")
    >>> [(r["patient_id"], round(r["clinician_dependence"], 3)) for r in t.to_pyarrow().to_pylist()]
    [('p', 0.667), ('q', 0.333)]
    """
    by_patient = pairs.group_by("patient_id").aggregate(patient_visits=pairs.dyad_visits.sum())
    by_clinician = pairs.group_by("clinician_id").aggregate(clinician_visits=pairs.dyad_visits.sum())
    joined = pairs.inner_join(by_patient, "patient_id").inner_join(by_clinician, "clinician_id")
    return as_result(
        joined.select(
            "patient_id",
            "clinician_id",
            dyad_visits=joined.dyad_visits,
            patient_visits=exact_int64(joined.patient_visits),
            clinician_visits=exact_int64(joined.clinician_visits),
            patient_dependence=ratio(joined.dyad_visits, joined.patient_visits),
            clinician_dependence=ratio(joined.dyad_visits, joined.clinician_visits),
            first_visit=joined.first_visit,
            last_visit=joined.last_visit,
            duration_days=joined.last_visit.delta(joined.first_visit, unit="day").cast("int64"),
            longest_gap_days=joined.longest_gap_days,
        )
    )
