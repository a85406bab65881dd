"""Panels: each clinician's list of patients and continuity seen from both lists.

docs/definitions.md, *Panels*. The **panel** of clinician c is the set of patients
attributed to c (:func:`carethread.measures.attribution.attribute`, as of a
date with a look-back in months). Two continuity measures follow (Murray; BJGP 2023,
"two lists"):

* **provider-side continuity** of c = visits c gave to patients on c's panel /
  all visits c gave (``visits_with_own_panel / visits``): how much of c's work
  is with their own list;
* **patient-side continuity** of c's panel = visits of c's panel patients
  that were with c / all visits of c's panel patients
  (``panel_visits_with_clinician / panel_visits``): how much of the list's
  care c gives.

Both are ratios of summed visits, not means of patient scores, and their
numerators are the same visits counted from the two sides
(``visits_with_own_panel == panel_visits_with_clinician``). Roll-ups to a
practice or the whole system (:func:`panel_rollup`) sum numerators and
denominators; they never average ratios.

Worked example (BJGP 2023;73:279; docs/definitions.md): in a two-clinician practice
clinician A gave 35 visits, 22 of them to patients on A's list, so
provider-side continuity is 22/35 = 0.6286 (the paper prints 63.9 %, an
arithmetic slip); A's list made 41 visits, 22 of them with A, so patient-side
continuity is 22/41 = 0.5366.

Relationship load is reported beside the panel: ``patients_seen`` = distinct
patients c saw in the window, ``visits_per_day`` = c's visits / distinct days
on which c had visits.

Window policy: attribution always uses ``[as_of - lookback_months, as_of)``.
Visits are counted over the same window unless ``start`` or ``end`` is
given; each replaces its side of the window independently. With a counting
window different from the attribution window, a panel clinician may have no
counted visits (their ratios are then null).

Practice of a clinician (:func:`carethread.measures.practices.clinician_practice`):
``practice_id`` from the clinicians table when it lists the clinician;
otherwise the practice that appears most often on the clinician's encounters
in the counting window and settings (ties: smallest practice id); null when
neither is known.

Capacity: ``capacity`` from the clinicians table (the largest when a
clinician is listed twice) and ``panel_vs_capacity = panel_size /
capacity``; both columns are always there, null when the capacity is not
known, so a panels table has one schema.

Murray M, Davies M, Boushon B. Panel size: how many patients can one doctor
manage? Fam Pract Manag 2007;14(4):44-51. Continuity of care: the two lists,
Br J Gen Pract 2023;73:279.
"""

from __future__ import annotations

import ibis

from carethread.deprecation import renamed_function, renamed_keywords
from carethread.errors import OptionError
from carethread.measures.attribution import attribute, attribution_window
from carethread.measures.attribution.rules import attribution_date
from carethread.measures.display import as_result
from carethread.measures.numbers import exact_int64, ratio
from carethread.measures.practices import clinician_practice
from carethread.options import Clinicians, DateLike, Settings, as_timestamp, check_window, clinicians_table
from carethread.visits import visits

#: Columns of :func:`panels` before the capacity columns.
COUNT_COLUMNS: tuple[str, ...] = (
    "clinician_id",
    "practice_id",
    "panel_size",
    "visits",
    "visits_with_own_panel",
    "provider_side_continuity",
    "panel_visits",
    "panel_visits_with_clinician",
    "patient_side_continuity",
    "patients_seen",
    "visits_per_day",
)

#: The last columns of :func:`panels` and :func:`panel_rollup`: null when the capacity is not known.
CAPACITY_COLUMNS: tuple[str, ...] = ("capacity", "panel_vs_capacity")

#: Columns of :func:`panels`, in output order.
PANEL_COLUMNS: tuple[str, ...] = COUNT_COLUMNS + CAPACITY_COLUMNS

#: Summed columns of :func:`panel_rollup` (``practice_id`` first when ``by="practice"``).
ROLLUP_COLUMNS: tuple[str, ...] = (
    "clinicians",
    "panel_size",
    "visits",
    "visits_with_own_panel",
    "provider_side_continuity",
    "panel_visits",
    "panel_visits_with_clinician",
    "patient_side_continuity",
    "relationships",
    "working_days",
    "visits_per_day",
    *CAPACITY_COLUMNS,
)

ROLLUP_LEVELS: tuple[str, ...] = ("practice", "system")


@renamed_keywords(lookback="lookback_months")
def counting_window(as_of: DateLike, lookback_months: int = 18, start: DateLike = None, end: DateLike = None):
    """The ``[start, end)`` window :func:`panels` counts visits over.

    The attribution window ``[as_of - lookback_months, as_of)``, with each
    side replaced by ``start`` or ``end`` when given.

    >>> counting_window("2024-07-01", 12)
    (datetime.datetime(2023, 7, 1, 0, 0), datetime.datetime(2024, 7, 1, 0, 0))
    >>> counting_window("2024-07-01", 12, start="2024-01-01")
    (datetime.datetime(2024, 1, 1, 0, 0), datetime.datetime(2024, 7, 1, 0, 0))
    """
    lo, hi = attribution_window(as_of, lookback_months)
    lo = as_timestamp(start, "start") if start is not None else lo
    hi = as_timestamp(end, "end") if end is not None else hi
    return check_window(lo, hi)


@renamed_keywords(lookback="lookback_months")
def panels(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    as_of: DateLike = None,
    rule: str = "plurality",
    lookback_months: int = 18,
) -> ibis.Table:
    """One row per clinician: panel size, two-sided continuity and relationship load.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Optional canonical clinicians table: ``practice_id`` (preferred to the
        practice derived from encounters), ``capacity`` and, for ``tiered``,
        ``role`` and ``specialty``. A clinician listed more than once gets
        the smallest practice id and the largest capacity.
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``); used for attribution and for counting.
    start, end
        Replace a side of the counting window (default: the attribution
        window). Attribution itself is unchanged.
    as_of
        Attribution date; visits on or after it do not attribute. Default:
        ``end`` when given, else the day after the last encounter
        (:func:`carethread.visits.default_as_of`).
    rule
        Attribution rule (``plurality``, ``majority``, ``recent``, ``tiered``);
        see :func:`carethread.measures.attribution.attribute`.
    lookback_months
        Attribution look-back in whole months (default 18). Formerly
        ``lookback``.

    Returns
    -------
    ibis.Table
        One row per clinician with a panel or a visit in the counting window:
        ``clinician_id, practice_id, panel_size, visits,
        visits_with_own_panel, provider_side_continuity, panel_visits,
        panel_visits_with_clinician, patient_side_continuity, patients_seen,
        visits_per_day, capacity, panel_vs_capacity``.

        ``provider_side_continuity = visits_with_own_panel / visits``;
        ``patient_side_continuity = panel_visits_with_clinician /
        panel_visits``; ``visits_per_day = visits / working days`` (distinct
        days with a visit); ``panel_vs_capacity = panel_size / capacity``.
        Counts are 0, and ratios null, where their denominator is 0;
        ``capacity`` and ``panel_vs_capacity`` are null when the capacity is
        not known.

    Notes
    -----
    Definitions, the BJGP 2023 worked example and the window and practice
    policies: see the module docstring. Encounters without a clinician are
    left out (docs/definitions.md, *Visits*). Visits of unattributed
    patients count in ``visits`` (they lower provider-side continuity) but
    in no panel.

    Examples
    --------
    p sees A twice and B once, q sees B twice: p is on A's panel, q on B's.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": list("pppqq"), "clinician_id": list("AABBB"),
    ...     "practice_id": ["X"] * 5, "setting": ["primary_care"] * 5,
    ...     "start": [dt.datetime(2024, 1, d, 9) for d in (2, 3, 4, 5, 8)]})
    >>> rows = panels(enc, as_of="2024-06-01").order_by("clinician_id").to_pyarrow().to_pylist()
    >>> [(r["clinician_id"], r["panel_size"], r["visits"], r["provider_side_continuity"],
    ...   r["panel_visits"], r["patient_side_continuity"], r["visits_per_day"]) for r in rows]
    [('A', 1, 2, 1.0, 3, 0.6666666666666666, 1.0), ('B', 1, 3, 0.6666666666666666, 2, 1.0, 1.0)]
    """
    as_of = attribution_date(encounters, as_of, end=end)
    lo, hi = counting_window(as_of, lookback_months, start, end)
    clin = clinicians_table(clinicians)
    a = attribute(
        encounters, clinicians=clin, settings=settings, as_of=as_of, rule=rule, lookback_months=lookback_months
    )
    owner = a.select("patient_id", owner_id=a.clinician_id)
    sizes = a.group_by("clinician_id").aggregate(panel_size=a.count())

    v = visits(encounters, settings=settings, start=lo, end=hi)
    v = v.left_join(owner, "patient_id").select("patient_id", "clinician_id", "visit_date", "owner_id")
    own = (v.owner_id == v.clinician_id).fill_null(False).cast("int64")
    v = v.mutate(own=own)
    given = v.group_by("clinician_id").aggregate(
        visits=v.count(),
        visits_with_own_panel=v.own.sum(),
        patients_seen=v.patient_id.nunique(),
        working_days=v.visit_date.nunique(),
    )
    on_panel = v.filter(v.owner_id.notnull())
    received = on_panel.group_by(clinician_id=on_panel.owner_id).aggregate(
        panel_visits=on_panel.count(), panel_visits_with_clinician=on_panel.own.sum()
    )
    practice = clinician_practice(encounters, clinicians=clin, settings=settings, start=lo, end=hi)
    ids = sizes.select("clinician_id").union(given.select("clinician_id"), distinct=True)
    parts = [sizes, received, given, practice]
    if clin is not None and "capacity" in clin.columns:
        parts.append(
            clin.group_by(clinician_id=clin.clinician_id.cast("string")).aggregate(
                capacity=clin.capacity.cast("int64").max()
            )
        )
    t = ids
    for i, part in enumerate(parts):
        key = f"_key{i}"
        part = part.rename(**{key: "clinician_id"})
        t = t.left_join(part, t.clinician_id == part[key])
    t = t.drop(*[f"_key{i}" for i in range(len(parts))])
    counts = {
        c: exact_int64(t[c].fill_null(0))
        for c in (
            "panel_size",
            "visits",
            "visits_with_own_panel",
            "panel_visits",
            "panel_visits_with_clinician",
            "patients_seen",
            "working_days",
        )
    }
    capacity = t.capacity if "capacity" in t.columns else ibis.null("int64")
    t = t.select("clinician_id", "practice_id", capacity=capacity, **counts)
    return as_result(
        t.select(
            "clinician_id",
            "practice_id",
            panel_size=t.panel_size,
            visits=t.visits,
            visits_with_own_panel=t.visits_with_own_panel,
            provider_side_continuity=ratio(t.visits_with_own_panel, t.visits),
            panel_visits=t.panel_visits,
            panel_visits_with_clinician=t.panel_visits_with_clinician,
            patient_side_continuity=ratio(t.panel_visits_with_clinician, t.panel_visits),
            patients_seen=t.patients_seen,
            visits_per_day=ratio(t.visits, t.working_days),
            capacity=t.capacity,
            panel_vs_capacity=ratio(t.panel_size, t.capacity),
        )
    )


#: Deprecated: each clinician's practice is :func:`carethread.measures.practices.clinician_practice`.
encounter_practice = renamed_function(clinician_practice, "carethread.measures.panels.encounter_practice")


def panel_rollup(panels_table: ibis.Table, *, by: str = "practice") -> ibis.Table:
    """Pool clinicians' panels into practices or the whole system.

    Sums numerators and denominators, then divides; never averages the
    clinicians' ratios (a practice's continuity is visit-weighted).

    Parameters
    ----------
    panels_table
        The result of :func:`panels`.
    by
        ``"practice"`` (one row per ``practice_id``; clinicians without a
        known practice pool into a null practice) or ``"system"`` (one row).

    Returns
    -------
    ibis.Table
        ``[practice_id,] clinicians, panel_size, visits,
        visits_with_own_panel, provider_side_continuity, panel_visits,
        panel_visits_with_clinician, patient_side_continuity, relationships,
        working_days, visits_per_day, capacity, panel_vs_capacity``.

        ``relationships`` is the sum of ``patients_seen``: patient-clinician
        relationships, so a patient seen by two clinicians counts twice.
        ``working_days`` is the sum of clinicians' working days (recovered
        exactly as ``visits / visits_per_day``) and ``visits_per_day`` =
        visits per clinician working day. ``capacity`` sums the known
        capacities and ``panel_vs_capacity`` divides the panels of the
        clinicians with a known capacity by it (both null when no capacity
        is known).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"clinician_id": ["A", "B"], "practice_id": ["X", "X"], "panel_size": [3, 1],
    ...     "visits": [35, 35], "visits_with_own_panel": [22, 16], "provider_side_continuity": [22 / 35, 16 / 35],
    ...     "panel_visits": [41, 29], "panel_visits_with_clinician": [22, 16],
    ...     "patient_side_continuity": [22 / 41, 16 / 29], "patients_seen": [6, 6], "visits_per_day": [1.75, 3.5]})
    >>> r = panel_rollup(t).to_pyarrow().to_pylist()[0]
    >>> r["visits"], r["provider_side_continuity"], r["patient_side_continuity"], r["working_days"]
    (70, 0.5428571428571428, 0.5428571428571428, 30)
    """
    if by not in ROLLUP_LEVELS:
        raise OptionError(f"by must be one of {', '.join(ROLLUP_LEVELS)}, not {by!r}.")
    p = panels_table
    if "capacity" not in p.columns:  # a panels table of the previous release
        p = p.mutate(capacity=ibis.null("int64"))
    days = ibis.ifelse(p.visits > 0, (p.visits.cast("float64") / p.visits_per_day).round().cast("int64"), 0)
    capacity = p.capacity.cast("int64")
    sums = {
        "clinicians": p.count(),
        "panel_size": p.panel_size.sum(),
        "visits": p.visits.sum(),
        "visits_with_own_panel": p.visits_with_own_panel.sum(),
        "panel_visits": p.panel_visits.sum(),
        "panel_visits_with_clinician": p.panel_visits_with_clinician.sum(),
        "relationships": p.patients_seen.sum(),
        "working_days": days.sum(),
        "capacity": capacity.sum(),
        "capacity_panel": ibis.ifelse(capacity.notnull(), p.panel_size, 0).sum(),
    }
    keys = ["practice_id"] if by == "practice" else []
    g = p.group_by(keys).aggregate(**sums) if keys else p.aggregate(**sums)
    counts = {c: exact_int64(g[c].fill_null(0)) for c in sums if c not in ("capacity", "capacity_panel")}
    return as_result(
        g.select(
            *keys,
            clinicians=counts["clinicians"],
            panel_size=counts["panel_size"],
            visits=counts["visits"],
            visits_with_own_panel=counts["visits_with_own_panel"],
            provider_side_continuity=ratio(counts["visits_with_own_panel"], counts["visits"]),
            panel_visits=counts["panel_visits"],
            panel_visits_with_clinician=counts["panel_visits_with_clinician"],
            patient_side_continuity=ratio(counts["panel_visits_with_clinician"], counts["panel_visits"]),
            relationships=counts["relationships"],
            working_days=counts["working_days"],
            visits_per_day=ratio(counts["visits"], counts["working_days"]),
            capacity=exact_int64(g.capacity),
            panel_vs_capacity=ratio(g.capacity_panel, g.capacity),
        )
    )
