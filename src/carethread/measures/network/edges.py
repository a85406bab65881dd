"""The patient-sharing network: clinicians linked by the patients they share.

Two clinicians *share* a patient when the patient has a visit with each of
them in the window and settings (docs/definitions.md, *Sharing network and
care density*). The network has one row per pair of clinicians ``a < b``
that share at least one patient:

* ``shared_patients`` — patients who saw both (the edge weight of Pollack
  et al. 2013 and of the CMS/DocGraph shared-patient patterns);
* ``shared_visits_a``, ``shared_visits_b`` — those patients' visits with
  ``a`` and with ``b``;
* ``first_shared``, ``last_shared`` — the first and the last day on which a
  shared patient had been seen by both: for one patient and one visit with
  each clinician, the *later* of the two visit days; the earliest and the
  latest such day over every pair of visits that counts.

With ``within_days = D`` (the CMS patterns use 30, 60, 90 and 180) a
patient counts for a pair only through visits with ``a`` and ``b`` at most
``D`` calendar days apart; the visit counts then count only such visits
(a visit with ``a`` that has a visit with ``b`` within ``D`` days), the two
dates only such pairs of visits, and two more columns give the direction:

* ``a_then_b`` — shared patients with a visit with ``a`` followed, within
  ``D`` days, by a visit with ``b``: a later day, or the same day and a later
  start (visits ordered as in docs/definitions.md, *Visits*);
* ``b_then_a`` — the same the other way round.

A patient may count in both directions (a, b, a) or, when the two visits
start at the very same moment, in neither: ``a_then_b + b_then_a`` is not
``shared_patients``.

How the pairs are bounded: a patient who saw ``m`` clinicians adds
``m (m - 1) / 2`` pair rows, made from the patient's distinct
patient-clinician ties (never from visits or encounters) by a self-join on
the patient, so a patient with 30 clinicians adds 435 rows however many
visits they had. The rows are summed per pair as they are made; what stays
in memory is the ties and one row per distinct clinician pair. With
``within_days`` the visits are joined instead, but only to visits of the same
patient in the same or a neighbouring ``D``-day bucket. On the embedded
DuckDB, :func:`carethread.batches.run_in_batches` computes the network in
patient batches (each with ``min_shared=1``) whose partial sums are added
(:func:`merge_partials`) before ``min_shared`` is applied.
"""

from __future__ import annotations

import ibis

from carethread import schema
from carethread.errors import OptionError
from carethread.measures.display import as_result
from carethread.measures.numbers import exact_int64
from carethread.options import DateLike, Settings, normalize_settings
from carethread.visits import visits

#: Columns of :func:`sharing_network`, in output order.
NETWORK_COLUMNS: tuple[str, ...] = (
    "clinician_a",
    "clinician_b",
    "shared_patients",
    "shared_visits_a",
    "shared_visits_b",
    "first_shared",
    "last_shared",
)

#: Columns :func:`sharing_network` adds with ``within_days``.
DIRECTION_COLUMNS: tuple[str, ...] = ("a_then_b", "b_then_a")

#: The time windows of the CMS shared-patient patterns, in days.
CMS_WINDOWS_DAYS: tuple[int, ...] = (30, 60, 90, 180)

#: Day 0 of the ``within_days`` buckets: readers reject dates before 1900, so bucket numbers are never negative.
_EPOCH = ibis.date(1900, 1, 1)

_COUNTS = ("shared_patients", "shared_visits_a", "shared_visits_b")


def network_settings(settings: Settings) -> tuple[str, ...]:
    """The settings of the network: every setting when ``None``, else as given.

    Hand-offs to specialists, urgent care, the emergency department and the
    ward are what the network is for, so its default differs from the visit
    settings of the continuity measures.

    >>> network_settings(None) == schema.SETTINGS, network_settings("virtual")
    (True, ('virtual',))
    """
    return schema.SETTINGS if settings is None else normalize_settings(settings)


def check_within_days(within_days: int | None) -> int | None:
    """``within_days``: ``None`` (any time in the window) or a whole number of days, at least 1.

    >>> check_within_days(90), check_within_days(None)
    (90, None)
    """
    if within_days is None:
        return None
    if isinstance(within_days, bool) or int(within_days) != within_days or within_days < 1:
        raise OptionError(
            f"--within must be a whole number of days of at least 1 (the CMS patterns use "
            f"{', '.join(map(str, CMS_WINDOWS_DAYS))}), not {within_days!r}."
        )
    return int(within_days)


def check_min_shared(min_shared: int) -> int:
    """``min_shared``: the fewest shared patients a pair must have to be listed, at least 1.

    >>> check_min_shared(11)
    11
    """
    if isinstance(min_shared, bool) or int(min_shared) != min_shared or min_shared < 1:
        raise OptionError(f"--min-shared must be a whole number of patients of at least 1, not {min_shared!r}.")
    return int(min_shared)


def clinician_ties(
    encounters: ibis.Table, *, settings: Settings = None, start: DateLike = None, end: DateLike = None
) -> ibis.Table:
    """``patient_id, clinician_id, visits, first_visit, last_visit``: one row per patient-clinician tie.

    Visits as in docs/definitions.md, *Visits*, in the network's settings
    (every setting by default, :func:`network_settings`).

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "p", "p"], "clinician_id": ["A", "A", "B"],
    ...     "practice_id": ["X"] * 3, "setting": ["primary_care", "primary_care", "emergency"],
    ...     "start": [dt.datetime(2024, 1, d) for d in (1, 9, 5)]})
    >>> t = clinician_ties(enc).order_by("clinician_id").to_pyarrow().to_pylist()
    >>> [(r["clinician_id"], r["visits"]) for r in t]
    [('A', 2), ('B', 1)]
    """
    v = visits(encounters, settings=network_settings(settings), start=start, end=end)
    return v.group_by("patient_id", "clinician_id").aggregate(
        visits=v.count(), first_visit=v.visit_date.min(), last_visit=v.visit_date.max()
    )


def patient_pairs(ties: ibis.Table) -> ibis.Table:
    """Every pair ``a < b`` of one patient's clinicians, from :func:`clinician_ties`.

    Returns ``patient_id, clinician_a, clinician_b`` and, for each side, the
    tie's ``visits_*``, ``first_*`` and ``last_*``: ``m (m - 1) / 2`` rows for
    a patient with ``m`` clinicians.

    >>> import ibis, datetime as dt
    >>> day = dt.date(2024, 1, 1)
    >>> ties = ibis.memtable({"patient_id": ["p"] * 3, "clinician_id": ["C", "A", "B"], "visits": [1, 2, 3],
    ...     "first_visit": [day] * 3, "last_visit": [day] * 3})
    >>> sorted((r["clinician_a"], r["clinician_b"]) for r in patient_pairs(ties).to_pyarrow().to_pylist())
    [('A', 'B'), ('A', 'C'), ('B', 'C')]
    """
    a = ties.select(
        "patient_id",
        clinician_a=ties.clinician_id,
        visits_a=ties.visits,
        first_a=ties.first_visit,
        last_a=ties.last_visit,
    )
    b = ties.select(
        patient_b=ties.patient_id,
        clinician_b=ties.clinician_id,
        visits_b=ties.visits,
        first_b=ties.first_visit,
        last_b=ties.last_visit,
    )
    j = a.join(b, [a.patient_id == b.patient_b, a.clinician_a < b.clinician_b])
    return j.select(
        "patient_id", "clinician_a", "clinician_b", "visits_a", "visits_b", "first_a", "first_b", "last_a", "last_b"
    )


def tie_pair_rows(ties: ibis.Table) -> ibis.Table:
    """One row per patient and pair, in the columns of the result (``shared_patients`` = 1)."""
    p = patient_pairs(ties)
    return p.select(
        "clinician_a",
        "clinician_b",
        shared_patients=ibis.literal(1, "int64"),
        shared_visits_a=p.visits_a,
        shared_visits_b=p.visits_b,
        first_shared=ibis.greatest(p.first_a, p.first_b),
        last_shared=ibis.greatest(p.last_a, p.last_b),
    )


def _close_visit_rows(v: ibis.Table, within_days: int) -> ibis.Table:
    """One row per patient and pair with visits at most ``within_days`` apart, with the directions.

    Each visit is joined only to the same patient's visits in the same or a
    neighbouring ``within_days``-day bucket (two visits at most ``D`` days
    apart are at most one bucket apart): the right side is repeated with its
    bucket moved by -1, 0 and +1, so an equality join finds every such pair
    exactly once, and the exact distance is checked after.
    """
    bucket = v.visit_date.delta(_EPOCH, unit="day") // within_days
    v = v.select("patient_id", "clinician_id", "visit_date", "first_start", bucket=bucket.cast("int64"))
    a = v.select("patient_id", "bucket", clinician_a=v.clinician_id, day_a=v.visit_date, start_a=v.first_start)
    b = v.select(
        patient_b=v.patient_id, bucket_b=v.bucket, clinician_b=v.clinician_id, day_b=v.visit_date, start_b=v.first_start
    )
    b = ibis.union(*(b.mutate(bucket_b=b.bucket_b + shift) for shift in (-1, 0, 1)))
    j = a.join(b, [a.patient_id == b.patient_b, a.bucket == b.bucket_b, a.clinician_a < b.clinician_b])
    gap = j.day_b.delta(j.day_a, unit="day")
    j = j.filter(gap <= within_days, gap >= -within_days)
    later = ibis.greatest(j.day_a, j.day_b)
    per_patient = j.group_by("patient_id", "clinician_a", "clinician_b").aggregate(
        shared_visits_a=j.day_a.nunique(),
        shared_visits_b=j.day_b.nunique(),
        first_shared=later.min(),
        last_shared=later.max(),
        a_then_b=(j.start_a < j.start_b).any(),
        b_then_a=(j.start_b < j.start_a).any(),
    )
    return per_patient.select(
        "clinician_a",
        "clinician_b",
        shared_patients=ibis.literal(1, "int64"),
        shared_visits_a=per_patient.shared_visits_a.cast("int64"),
        shared_visits_b=per_patient.shared_visits_b.cast("int64"),
        first_shared=per_patient.first_shared,
        last_shared=per_patient.last_shared,
        a_then_b=ibis.ifelse(per_patient.a_then_b, 1, 0).cast("int64"),
        b_then_a=ibis.ifelse(per_patient.b_then_a, 1, 0).cast("int64"),
    )


def merge_partials(partials: ibis.Table) -> ibis.Table:
    """Add up networks of disjoint sets of patients (or per-patient rows) into one network.

    Counts add, ``first_shared`` takes the minimum and ``last_shared`` the
    maximum: the network of patient batches is the network of all of them.

    >>> import ibis, datetime as dt
    >>> day = dt.date(2024, 1, 1)
    >>> t = ibis.memtable({"clinician_a": ["A", "A"], "clinician_b": ["B", "B"], "shared_patients": [2, 3],
    ...     "shared_visits_a": [5, 4], "shared_visits_b": [2, 3], "first_shared": [day, day],
    ...     "last_shared": [day, dt.date(2024, 2, 1)]})
    >>> r = merge_partials(t).to_pyarrow().to_pylist()[0]
    >>> r["shared_patients"], r["shared_visits_a"], str(r["last_shared"])
    (5, 9, '2024-02-01')
    """
    directions = [c for c in DIRECTION_COLUMNS if c in partials.columns]
    sums = {c: exact_int64(partials[c].sum()) for c in (*_COUNTS, *directions)}
    totals = partials.group_by("clinician_a", "clinician_b").aggregate(
        **{c: sums[c] for c in _COUNTS},
        first_shared=partials.first_shared.min(),
        last_shared=partials.last_shared.max(),
        **{c: sums[c] for c in directions},
    )
    return as_result(totals)


def sharing_network(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    within_days: int | None = None,
    min_shared: int = 1,
) -> ibis.Table:
    """The patient-sharing network: one row per pair of clinicians who share patients.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings whose encounters count as visits. Default: **every**
        setting (``carethread.schema.SETTINGS``), unlike the continuity
        measures, because hand-offs to specialists and the ED are the point.
    start, end
        Window ``[start, end)``.
    within_days
        Count a patient for a pair only through visits with the two
        clinicians at most this many days apart (30, 60, 90 or 180 in the
        CMS shared-patient patterns), and add the directions ``a_then_b``
        and ``b_then_a``. ``None`` (default): any two visits in the window.
    min_shared
        Leave out pairs that share fewer patients (default 1: every pair).
        Outputs meant for sharing use 11 (docs/definitions.md, *Privacy*;
        :func:`carethread.measures.network.export.shareable_network`).

    Returns
    -------
    ibis.Table
        ``clinician_a, clinician_b, shared_patients, shared_visits_a,
        shared_visits_b, first_shared, last_shared`` (+ ``a_then_b,
        b_then_a`` with ``within_days``), ``clinician_a < clinician_b``;
        counts are int64, the two dates are dates. Definitions in the module
        docstring.

    Notes
    -----
    ``shared_patients`` is the edge weight of the patient-sharing networks of
    Landon et al. (JAMA 2012;308:265-73) and of care density (Pollack et al.,
    J Gen Intern Med 2013;28:459-65); the time windows and the direction
    follow the CMS/DocGraph shared-patient patterns. Encounters without a
    clinician are left out. A patient counts once per pair however many
    visits they had, and a pair's ``shared_patients`` never exceeds either
    clinician's patients.

    Examples
    --------
    Patient p sees A, then B ten days later, then C two hundred days later;
    q sees A and B:

    >>> import ibis, datetime as dt
    >>> days = {"p": [("A", 1), ("B", 11), ("C", 211)], "q": [("A", 3), ("B", 4)]}
    >>> rows = [(p, c, dt.datetime(2024, 1, 1) + dt.timedelta(days=d)) for p, v in days.items() for c, d in v]
    >>> enc = ibis.memtable({"patient_id": [r[0] for r in rows], "clinician_id": [r[1] for r in rows],
    ...     "practice_id": ["X"] * 5, "setting": ["primary_care"] * 5, "start": [r[2] for r in rows]})
    >>> net = sharing_network(enc).order_by("clinician_a", "clinician_b").to_pyarrow().to_pylist()
    >>> [(r["clinician_a"], r["clinician_b"], r["shared_patients"]) for r in net]
    [('A', 'B', 2), ('A', 'C', 1), ('B', 'C', 1)]
    >>> near = sharing_network(enc, within_days=30).to_pyarrow().to_pylist()
    >>> [(r["clinician_a"], r["clinician_b"], r["shared_patients"], r["a_then_b"], r["b_then_a"]) for r in near]
    [('A', 'B', 2, 2, 0)]
    """
    min_shared, within_days = check_min_shared(min_shared), check_within_days(within_days)
    if within_days is None:
        rows = tie_pair_rows(clinician_ties(encounters, settings=settings, start=start, end=end))
    else:
        rows = _close_visit_rows(
            visits(encounters, settings=network_settings(settings), start=start, end=end), within_days
        )
    return sharing_network_filter(merge_partials(rows), min_shared)


def sharing_network_filter(network: ibis.Table, min_shared: int) -> ibis.Table:
    """The pairs of ``network`` that share at least ``min_shared`` patients.

    >>> import ibis
    >>> t = ibis.memtable({"clinician_a": ["A", "A"], "clinician_b": ["B", "C"], "shared_patients": [12, 3]})
    >>> sharing_network_filter(t, 11).clinician_b.to_list()
    ['B']
    """
    min_shared = check_min_shared(min_shared)
    return as_result(network.filter(network.shared_patients >= min_shared) if min_shared > 1 else network)
