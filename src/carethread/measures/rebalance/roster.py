"""Who is where on the planning date: panels, capacities, departures and who needs a place.

docs/rebalance.md, *Who is planned for*. As of ``as_of``:

* each patient's **home** clinician is their attribution
  (:func:`carethread.measures.attribution.attribute`, the rule and look-back
  given), and their **home practice** that clinician's practice
  (:func:`carethread.measures.practices.clinician_practice`);
* a clinician **leaves** when named in ``leave``; without ``leave``, when the
  clinicians table gives them an ``active_to`` date (past or future) and they
  still hold a panel. Their patients are **orphans**;
* a clinician can **take patients** (is *eligible*) when they do not leave,
  have started (``active_from`` null or on or before ``as_of``), have not
  ended (``active_to`` null or on or after ``as_of``) and have a capacity
  above 0. **Closed** clinicians keep their own patients but take no new one;
* a clinician is **over capacity** when their panel's load exceeds their
  capacity; with ``resolve_overflow`` their patients are planned too, so the
  fewest of them move.

**Capacity.** ``capacity="patients"`` (default) reads ``capacity`` (patients)
from the clinicians table, and every patient weighs 1. ``capacity="visits"``
is Murray's identity, panel × visits per patient per year ≤ visits per day ×
working days per year: a patient weighs their visits per year (visits in the
look-back × 12 / ``lookback_months``) and a clinician's capacity is
``visits_per_day × working_days_per_year`` (each by default as observed in
the look-back: the clinician's visits per working day, and their working
days scaled to a year).

Murray M, Davies M, Boushon B. Panel size: how many patients can one doctor
manage? Fam Pract Manag 2007;14(4):44-51.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass

import ibis

from carethread.errors import InputError, OptionError
from carethread.measures.attribution import attribute, attribution_window
from carethread.measures.attribution.rules import attribution_date
from carethread.measures.practices import clinician_practice
from carethread.options import Clinicians, DateLike, Settings, as_timestamp, clinicians_table
from carethread.visits import visits

CAPACITY_MODES: tuple[str, ...] = ("patients", "visits")

#: What a planned patient is: their clinician leaves, or their clinician's panel is over capacity.
ORPHAN, OVER_CAPACITY = "clinician leaves", "panel over capacity"


def id_list(ids: str | Iterable[str] | None) -> tuple[str, ...]:
    """Clinician ids from a comma-separated string or an iterable, blanks dropped, as text.

    >>> id_list("C01, C02,,")
    ('C01', 'C02')
    """
    if ids is None:
        return ()
    if isinstance(ids, str):
        ids = ids.split(",")
    return tuple(dict.fromkeys(s for s in (str(i).strip() for i in ids) if s))


@dataclass(frozen=True)
class CapacityRule:
    """How capacity is measured (see the module docstring)."""

    mode: str = "patients"
    visits_per_day: float | None = None
    working_days_per_year: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in CAPACITY_MODES:
            raise OptionError(f"--capacity must be one of {', '.join(CAPACITY_MODES)}, not {self.mode!r}.")
        for name, value in (("visits-per-day", self.visits_per_day), ("working-days", self.working_days_per_year)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise OptionError(f"--{name} must be a number above 0, not {value!r}.")
        if self.mode == "patients" and (self.visits_per_day or self.working_days_per_year):
            raise OptionError("--visits-per-day and --working-days apply to --capacity visits only.")


@dataclass(frozen=True)
class Roster:
    """The planning date's panels (Ibis tables) and what they lead to.

    ``owners``: ``patient_id, home_id, home_practice_id, load`` for every
    attributed patient. ``staff``: ``clinician_id, practice_id, capacity,
    panel_before, load_before, departing, closed, eligible, over`` for every
    clinician with a panel or in the clinicians table. ``planned``: the
    owners to place, with ``kind`` (:data:`ORPHAN` or :data:`OVER_CAPACITY`).
    """

    owners: ibis.Table
    staff: ibis.Table
    planned: ibis.Table
    as_of: _dt.datetime
    window: tuple[_dt.datetime, _dt.datetime]


def _capacity_column(clin: ibis.Table | None, rule: CapacityRule) -> ibis.Table | None:
    if rule.mode != "patients":
        return None
    if clin is None or "capacity" not in clin.columns:
        raise InputError(
            "Rebalancing needs each clinician's capacity: a clinicians table with a capacity column "
            "(patients per clinician), or --capacity visits to derive it from visits per day and working days."
        )
    return clin.group_by(clinician_id=clin.clinician_id.cast("string")).aggregate(
        capacity=clin.capacity.cast("float64").max()
    )


def _visit_capacity(v: ibis.Table, rule: CapacityRule, months: int) -> ibis.Table:
    """Murray's supply per clinician: visits per day × working days per year (observed unless given)."""
    g = v.group_by("clinician_id").aggregate(visits=v.count(), days=v.visit_date.nunique())
    per_day = ibis.literal(rule.visits_per_day) if rule.visits_per_day else g.visits.cast("float64") / g.days
    days = ibis.literal(rule.working_days_per_year) if rule.working_days_per_year else g.days * 12.0 / months
    return g.select("clinician_id", capacity=(per_day * days).cast("float64"))


def _dates(clin: ibis.Table | None, as_of: _dt.date) -> ibis.Table | None:
    """``clinician_id, started, ended, has_end`` from the clinicians table's active dates."""
    if clin is None:
        return None
    cols = set(clin.columns)
    start = clin.active_from.cast("date") if "active_from" in cols else ibis.null("date")
    stop = clin.active_to.cast("date") if "active_to" in cols else ibis.null("date")
    d = clin.select(clinician_id=clin.clinician_id.cast("string"), start=start, stop=stop)
    return d.group_by("clinician_id").aggregate(
        started=(d.start.isnull() | (d.start <= as_of)).all(),
        ended=(d.stop.notnull() & (d.stop < as_of)).any(),
        has_end=d.stop.notnull().any(),
    )


def build_roster(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians,
    settings: Settings,
    as_of: DateLike,
    rule: str,
    lookback_months: int,
    leave: str | Iterable[str] | None,
    closed: str | Iterable[str] | None,
    capacity: CapacityRule,
    resolve_overflow: bool,
) -> Roster:
    """The panels, capacities and planned patients as of ``as_of`` (see the module docstring)."""
    as_of = attribution_date(encounters, as_of)
    start, end = attribution_window(as_of, lookback_months)
    day = end.date()
    clin = clinicians_table(clinicians)
    listed_capacity = _capacity_column(clin, capacity)
    a = attribute(encounters, clinicians=clin, settings=settings, as_of=end, rule=rule, lookback_months=lookback_months)
    practice = clinician_practice(encounters, clinicians=clin, settings=settings, start=start, end=end)
    load = a.visits_total.cast("float64") * 12.0 / lookback_months if capacity.mode == "visits" else 1.0
    owners = a.select("patient_id", home_id=a.clinician_id, load=ibis.literal(1.0) * load)
    owners = owners.left_join(practice, owners.home_id == practice.clinician_id)
    owners = owners.select("patient_id", "home_id", home_practice_id=owners.practice_id, load=owners.load)

    sizes = owners.group_by(clinician_id=owners.home_id).aggregate(
        panel_before=owners.count(), load_before=owners.load.sum()
    )
    if listed_capacity is None:
        listed_capacity = _visit_capacity(
            visits(encounters, settings=settings, start=start, end=end), capacity, lookback_months
        )
    ids = sizes.select("clinician_id")
    if clin is not None:
        ids = ids.union(clin.select(clinician_id=clin.clinician_id.cast("string")), distinct=True)
    staff = ids
    dates = _dates(clin, day)
    for i, part in enumerate(p for p in (sizes, listed_capacity, practice, dates) if p is not None):
        part = part.rename(**{f"_k{i}": "clinician_id"})
        staff = staff.left_join(part, staff.clinician_id == part[f"_k{i}"]).drop(f"_k{i}")
    leaving, closing = id_list(leave), id_list(closed)
    panel_before = staff.panel_before.fill_null(0)
    has_end = staff.has_end.fill_null(False) if dates is not None else ibis.literal(False)
    departing = staff.clinician_id.isin(leaving) if leaving else has_end & (panel_before > 0)
    started = staff.started.fill_null(True) if dates is not None else ibis.literal(True)
    ended = staff.ended.fill_null(False) if dates is not None else ibis.literal(False)
    eligible = ~departing & started & ~ended & (staff.capacity.fill_null(0) > 0)
    if capacity.mode == "visits":
        eligible &= panel_before > 0
    staff = staff.select(
        "clinician_id",
        "practice_id",
        capacity=staff.capacity,
        panel_before=panel_before.cast("int64"),
        load_before=staff.load_before.fill_null(0.0),
        departing=departing,
        closed=staff.clinician_id.isin(closing) if closing else ibis.literal(False),
        eligible=eligible,
    )
    staff = staff.mutate(over=staff.eligible & (staff.load_before > staff.capacity + 1e-9))
    marks = staff.select("clinician_id", "departing", "over")
    planned = owners.join(marks, owners.home_id == marks.clinician_id)
    wanted = planned.departing | (planned.over if resolve_overflow else ibis.literal(False))
    planned = planned.filter(wanted).select(
        "patient_id",
        "home_id",
        "home_practice_id",
        "load",
        kind=ibis.ifelse(planned.departing, ORPHAN, OVER_CAPACITY),
    )
    return Roster(owners=owners, staff=staff, planned=planned, as_of=end, window=(start, end))


def check_planning_date(as_of: DateLike) -> None:
    """``as_of`` must be readable as a date when given (checked before any data is read)."""
    as_timestamp(as_of, "as-of")
