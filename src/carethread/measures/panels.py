"""Panels: each clinician's list of patients and continuity seen from both lists.

DESIGN.md section 4. The **panel** of clinician c is the set of patients
attributed to c (:func:`carethread.measures.attribution.attribute`, as of a
date with a look-back). Two continuity measures follow (Murray; BJGP 2023,
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

Worked example (BJGP 2023;73:279; INDICES.md): in a two-clinician practice
clinician A gave 35 visits, 22 of them to patients on A's list, so
provider-side continuity is 22/35 = 0.6286 (the paper prints 63.9 %, an
arithmetic slip); A's list made 41 visits, 22 of them with A, so patient-side
continuity is 22/41 = 0.5366.

Relationship load is reported beside the panel: ``patients_seen`` = distinct
patients c saw in the window, ``visits_per_day`` = c's visits / distinct days
on which c had visits.

Window policy: attribution always uses ``[as_of - lookback months, as_of)``.
Visits are counted over the same window unless ``start`` or ``end`` is
given; each replaces its side of the window independently. With a counting
window different from the attribution window, a panel clinician may have no
counted visits (their ratios are then null).

Practice of a clinician: ``practice_id`` from the clinicians table when it
lists the clinician; otherwise the practice that appears most often on the
clinician's encounters in the counting window and settings (ties: smallest
practice id); null when neither is known.

Murray M, Davies M, Boushon B. Panel size: how many patients can one doctor
manage? Fam Pract Manag 2007;14(4):44-51. Continuity of care: the two lists,
Br J Gen Pract 2023;73:279.
"""

from __future__ import annotations

import ibis

from carethread.errors import OptionError
from carethread.measures.attribution import attribute, attribution_window
from carethread.options import as_timestamp, check_window, normalize_settings
from carethread.visits import encounters_in_window, visits

#: Columns of :func:`panels`, in output order (DESIGN.md section 5).
PANEL_COLUMNS: tuple[str, ...] = (
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

#: Extra columns of :func:`panels` when the clinicians table has ``capacity``.
CAPACITY_COLUMNS: tuple[str, ...] = ("capacity", "panel_vs_capacity")

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
)

ROLLUP_LEVELS: tuple[str, ...] = ("practice", "system")


def _ratio(numerator: ibis.Value, denominator: ibis.Value) -> ibis.Value:
    """``numerator / denominator`` as float64, null where the denominator is 0 or null."""
    return ibis.ifelse(denominator > 0, numerator.cast("float64") / denominator.cast("float64"), ibis.null("float64"))


def counting_window(as_of, lookback: int = 18, start=None, end=None):
    """The ``[start, end)`` window :func:`panels` counts visits over.

    The attribution window ``[as_of - lookback months, as_of)``, with each
    side replaced by ``start`` or ``end`` when given.

    >>> counting_window("2024-07-01", 12)
    (datetime.datetime(2023, 7, 1, 0, 0), datetime.datetime(2024, 7, 1, 0, 0))
    >>> counting_window("2024-07-01", 12, start="2024-01-01")
    (datetime.datetime(2024, 1, 1, 0, 0), datetime.datetime(2024, 7, 1, 0, 0))
    """
    lo, hi = attribution_window(as_of, lookback)
    lo = as_timestamp(start, "start") if start is not None else lo
    hi = as_timestamp(end, "end") if end is not None else hi
    return check_window(lo, hi)


def _clinician_table(clinicians) -> ibis.Table | None:
    if clinicians is None:
        return None
    if not isinstance(clinicians, ibis.Table):
        clinicians = ibis.memtable(clinicians)
    return clinicians


def encounter_practice(encounters: ibis.Table, *, settings=None, start=None, end=None) -> ibis.Table:
    """``clinician_id, practice_id``: each clinician's most frequent practice on their encounters.

    Counts encounters in ``[start, end)`` and ``settings`` that have both a
    clinician and a practice; ties go to the smallest practice id.
    """
    e = encounters_in_window(encounters, start=start, end=end)
    e = e.filter(e.setting.isin(normalize_settings(settings)), e.clinician_id.notnull(), e.practice_id.notnull())
    g = e.group_by("clinician_id", "practice_id").aggregate(n=e.count())
    # One argmin over "fewer encounters first, then id" replaces a ranking window.
    key = (ibis.literal(10**12) - g.n).cast("string").lpad(13, "0").concat(g.practice_id)
    return g.group_by("clinician_id").aggregate(practice_id=g.practice_id.argmin(key))


def panels(
    encounters: ibis.Table,
    *,
    as_of,
    rule: str = "plurality",
    lookback: int = 18,
    settings=None,
    clinicians=None,
    start=None,
    end=None,
) -> ibis.Table:
    """One row per clinician: panel size, two-sided continuity and relationship load.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    as_of
        Attribution date; visits on or after it do not attribute.
    rule
        Attribution rule (``plurality``, ``majority``, ``recent``, ``tiered``);
        see :func:`carethread.measures.attribution.attribute`.
    lookback
        Attribution look-back in whole months (default 18).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``); used for attribution and for counting.
    clinicians
        Optional canonical clinicians table: ``practice_id`` (preferred to the
        practice derived from encounters), ``capacity`` (adds ``capacity`` and
        ``panel_vs_capacity``) and, for ``tiered``, ``role`` and
        ``specialty``. A clinician listed more than once gets the smallest
        practice id and the largest capacity.
    start, end
        Replace a side of the counting window (default: the attribution
        window). Attribution itself is unchanged.

    Returns
    -------
    ibis.Table
        One row per clinician with a panel or a visit in the counting window:
        ``clinician_id, practice_id, panel_size, visits,
        visits_with_own_panel, provider_side_continuity, panel_visits,
        panel_visits_with_clinician, patient_side_continuity, patients_seen,
        visits_per_day`` (+ ``capacity, panel_vs_capacity`` when the
        clinicians table has ``capacity``).

        ``provider_side_continuity = visits_with_own_panel / visits``;
        ``patient_side_continuity = panel_visits_with_clinician /
        panel_visits``; ``visits_per_day = visits / working days`` (distinct
        days with a visit); ``panel_vs_capacity = panel_size / capacity``.
        Counts are 0, and ratios null, where their denominator is 0.

    Notes
    -----
    Definitions, the BJGP 2023 worked example and the window and practice
    policies: see the module docstring. Encounters without a clinician are
    left out (DESIGN.md section 3). Visits of unattributed patients count in
    ``visits`` (they lower provider-side continuity) but in no panel.

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
    lo, hi = counting_window(as_of, lookback, start, end)
    clin = _clinician_table(clinicians)
    a = attribute(encounters, as_of=as_of, rule=rule, lookback=lookback, settings=settings, clinicians=clin)
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
    practice = encounter_practice(encounters, settings=settings, start=lo, end=hi)
    ids = sizes.select("clinician_id").union(given.select("clinician_id"), distinct=True)
    parts = [sizes, received, given, practice.rename(derived_practice="practice_id")]
    has_capacity = clin is not None and "capacity" in clin.columns
    if clin is not None and ("practice_id" in clin.columns or has_capacity):
        fields = {}
        if "practice_id" in clin.columns:
            fields["listed_practice"] = clin.practice_id.cast("string").min()
        if has_capacity:
            fields["capacity"] = clin.capacity.cast("int64").max()
        parts.append(clin.group_by(clinician_id=clin.clinician_id.cast("string")).aggregate(**fields))
    t = ids
    for i, part in enumerate(parts):
        key = f"_key{i}"
        part = part.rename(**{key: "clinician_id"})
        t = t.left_join(part, t.clinician_id == part[key])
    t = t.drop(*[f"_key{i}" for i in range(len(parts))])
    t = t.select(
        "clinician_id",
        *[c for c in ("derived_practice", "listed_practice", "capacity") if c in t.columns],
        **{
            c: t[c].fill_null(0).cast("int64")
            for c in (
                "panel_size",
                "visits",
                "visits_with_own_panel",
                "panel_visits",
                "panel_visits_with_clinician",
                "patients_seen",
                "working_days",
            )
        },
    )
    extra = {}
    practice_id = (
        t.listed_practice.fill_null(t.derived_practice) if "listed_practice" in t.columns else t.derived_practice
    )
    if has_capacity:
        extra = {"capacity": t.capacity, "panel_vs_capacity": _ratio(t.panel_size, t.capacity)}
    return t.select(
        "clinician_id",
        practice_id=practice_id,
        panel_size=t.panel_size,
        visits=t.visits,
        visits_with_own_panel=t.visits_with_own_panel,
        provider_side_continuity=_ratio(t.visits_with_own_panel, t.visits),
        panel_visits=t.panel_visits,
        panel_visits_with_clinician=t.panel_visits_with_clinician,
        patient_side_continuity=_ratio(t.panel_visits_with_clinician, t.panel_visits),
        patients_seen=t.patients_seen,
        visits_per_day=_ratio(t.visits, t.working_days),
        **extra,
    )


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
        working_days, visits_per_day`` (+ ``capacity, panel_vs_capacity``).

        ``relationships`` is the sum of ``patients_seen``: patient-clinician
        relationships, so a patient seen by two clinicians counts twice.
        ``working_days`` is the sum of clinicians' working days (recovered
        exactly as ``visits / visits_per_day``) and ``visits_per_day`` =
        visits per clinician working day. ``capacity`` sums the known
        capacities and ``panel_vs_capacity`` divides the panels of the
        clinicians with a known capacity by it.

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
    days = ibis.ifelse(p.visits > 0, (p.visits.cast("float64") / p.visits_per_day).round().cast("int64"), 0)
    has_capacity = "capacity" in p.columns
    sums = {
        "clinicians": p.count(),
        "panel_size": p.panel_size.sum(),
        "visits": p.visits.sum(),
        "visits_with_own_panel": p.visits_with_own_panel.sum(),
        "panel_visits": p.panel_visits.sum(),
        "panel_visits_with_clinician": p.panel_visits_with_clinician.sum(),
        "relationships": p.patients_seen.sum(),
        "working_days": days.sum(),
    }
    if has_capacity:
        sums["capacity"] = p.capacity.sum()
        sums["capacity_panel"] = ibis.ifelse(p.capacity.notnull(), p.panel_size, 0).sum()
    keys = ["practice_id"] if by == "practice" else []
    g = p.group_by(keys).aggregate(**sums) if keys else p.aggregate(**sums)
    counts = {c: g[c].fill_null(0).cast("int64") for c in sums if c not in ("capacity", "capacity_panel")}
    extra = {}
    if has_capacity:
        extra = {"capacity": g.capacity.cast("int64"), "panel_vs_capacity": _ratio(g.capacity_panel, g.capacity)}
    return g.select(
        *keys,
        clinicians=counts["clinicians"],
        panel_size=counts["panel_size"],
        visits=counts["visits"],
        visits_with_own_panel=counts["visits_with_own_panel"],
        provider_side_continuity=_ratio(counts["visits_with_own_panel"], counts["visits"]),
        panel_visits=counts["panel_visits"],
        panel_visits_with_clinician=counts["panel_visits_with_clinician"],
        patient_side_continuity=_ratio(counts["panel_visits_with_clinician"], counts["panel_visits"]),
        relationships=counts["relationships"],
        working_days=counts["working_days"],
        visits_per_day=_ratio(counts["visits"], counts["working_days"]),
        **extra,
    )
