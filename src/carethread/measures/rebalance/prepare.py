"""From encounters to the model's arrays: the one place the bounded candidate pairs leave the engine.

:func:`prepare` runs the roster (:mod:`~carethread.measures.rebalance.roster`),
the strength (:mod:`~carethread.measures.rebalance.strength`) and the
candidates (:mod:`~carethread.measures.rebalance.candidates`) as Ibis
expressions, fetches the planned patients, the clinicians and the candidate
pairs (at most a fixed number per patient), and indexes them into a
:class:`~carethread.measures.rebalance.model.Problem`. The plan and the
what-if comparison both start here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carethread.errors import OptionError
from carethread.measures.rebalance.candidates import Restrictions, candidate_pairs, parse_match
from carethread.measures.rebalance.explain import Arrays
from carethread.measures.rebalance.model import Problem
from carethread.measures.rebalance.roster import ORPHAN, CapacityRule, Roster, build_roster
from carethread.measures.rebalance.strength import (
    check_network_weight,
    check_weight,
    network_share,
    relationship_strength,
)
from carethread.options import Clinicians, DateLike, Settings, clinicians_table


@dataclass(frozen=True)
class PlanOptions:
    """The options of :func:`carethread.measures.rebalance.rebalance` beyond the shared ones, checked.

    See that function for what each means; :meth:`of` builds one from its keywords.
    """

    leave: str | Iterable[str] | None = None
    rule: str = "plurality"
    lookback_months: int = 18
    half_life_months: float = 12.0
    practice_weight: float = 0.5
    network_weight: float = 0.0
    capacity: CapacityRule = field(default_factory=CapacityRule)
    closed: str | Iterable[str] | None = None
    restrictions: Restrictions = field(default_factory=Restrictions)
    max_moves: int | None = None
    resolve_overflow: bool = True
    candidates_per_patient: int = 8
    fallback_candidates: int = 3
    allow_unplaced: bool = False
    time_limit_seconds: float = 60.0

    @classmethod
    def of(
        cls,
        *,
        capacity: str = "patients",
        visits_per_day: float | None = None,
        working_days_per_year: float | None = None,
        same_practice: bool = False,
        allowed: ibis.Table | pa.Table | Mapping | None = None,
        patient_attributes: ibis.Table | pa.Table | Mapping | None = None,
        clinician_attributes: ibis.Table | pa.Table | Mapping | None = None,
        match: str | Mapping[str, str] | Iterable[str] | None = None,
        **options,
    ) -> PlanOptions:
        """Check and gather the keyword options (tables given as Arrow or mappings become Ibis tables)."""
        unknown = set(options) - {f for f in cls.__dataclass_fields__ if f not in ("capacity", "restrictions")}
        if unknown:
            raise OptionError(f"Unknown option {', '.join(sorted(unknown))} of rebalance.")
        restrictions = Restrictions(
            same_practice=bool(same_practice),
            allowed=clinicians_table(allowed),
            patient_attributes=clinicians_table(patient_attributes),
            clinician_attributes=clinicians_table(clinician_attributes),
            match=parse_match(match),
        )
        plan = cls(
            capacity=CapacityRule(capacity, visits_per_day, working_days_per_year), restrictions=restrictions, **options
        )
        plan.check()
        return plan

    def check(self) -> None:
        """Raise :class:`~carethread.errors.OptionError` for an option out of range."""
        check_weight(self.practice_weight, "practice-weight")
        check_network_weight(self.network_weight)
        moves = self.max_moves
        if moves is not None and (isinstance(moves, bool) or int(moves) != moves or moves < 0):
            raise OptionError(f"--max-moves must be a whole number of at least 0, not {moves!r}.")
        limit = self.time_limit_seconds
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit <= 0:
            raise OptionError(f"--time-limit-seconds must be a number above 0, not {limit!r}.")


@dataclass(frozen=True)
class Prepared:
    """The model's data and what explains it (see the module docstring).

    ``staff`` is every clinician (Arrow, sorted by id); ``eligible_rows[c]``
    the row in ``staff`` of the model's clinician ``c``; ``planned_load`` the
    load of each planned patient.
    """

    roster: Roster
    arrays: Arrays
    problem: Problem
    staff: pa.Table
    eligible_rows: np.ndarray
    options: PlanOptions


def _fetch(table: ibis.Table, order: list[str]) -> pa.Table:
    return table.order_by(order).to_pyarrow()


def _index(values: pa.Array, of: pa.Array) -> np.ndarray:
    return pc.index_in(values, value_set=of).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _column(t: pa.Table, name: str) -> np.ndarray:
    return t[name].to_numpy(zero_copy_only=False)


def prepare(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians,
    settings: Settings,
    as_of: DateLike,
    options: PlanOptions,
) -> Prepared:
    """Roster, strength and candidates in the engine; the bounded pairs as a :class:`Problem`."""
    o = options
    roster = build_roster(
        encounters,
        clinicians=clinicians,
        settings=settings,
        as_of=as_of,
        rule=o.rule,
        lookback_months=o.lookback_months,
        leave=o.leave,
        closed=o.closed,
        capacity=o.capacity,
        resolve_overflow=o.resolve_overflow,
    )
    strength = relationship_strength(
        encounters,
        settings=settings,
        as_of=roster.as_of,
        lookback_months=o.lookback_months,
        half_life_months=o.half_life_months,
    )
    network = None
    if o.network_weight > 0:  # weight 0 (the default): the plan and its cost do not depend on the network
        network = network_share(
            encounters,
            roster.planned.select("home_id"),
            settings=settings,
            as_of=roster.as_of,
            lookback_months=o.lookback_months,
        )
    pairs = candidate_pairs(
        roster,
        strength,
        practice_weight=o.practice_weight,
        candidates_per_patient=o.candidates_per_patient,
        fallback_candidates=o.fallback_candidates,
        restrictions=o.restrictions,
        network=network,
        network_weight=o.network_weight,
    )
    planned = _fetch(roster.planned, ["patient_id"])
    staff = _fetch(roster.staff, ["clinician_id"])
    cands = _fetch(pairs, ["patient_id", "clinician_id"])
    eligible_rows = np.flatnonzero(_column(staff, "eligible").astype(bool))
    eligible_ids = staff["clinician_id"].take(pa.array(eligible_rows))
    patient = _index(cands["patient_id"], planned["patient_id"])
    clinician = _index(cands["clinician_id"], eligible_ids)
    load = _column(planned, "load").astype(float)
    home = _index(planned["home_id"], eligible_ids)
    over = _column(planned, "kind") != ORPHAN
    capacity = _column(staff, "capacity")[eligible_rows].astype(float)
    before = _column(staff, "load_before")[eligible_rows].astype(float)
    planned_here = np.bincount(home[over], weights=load[over], minlength=eligible_rows.size)
    room = np.maximum(capacity - (before - planned_here), 0.0)
    if o.capacity.mode == "patients":
        room = np.floor(room + 1e-9)
    problem = Problem(
        patient=patient,
        clinician=clinician,
        strength=_column(cands, "strength").astype(float),
        own=_column(cands, "own").astype(bool),
        movable=over,
        room=room,
        load=load if o.capacity.mode == "visits" else None,
        max_moves=o.max_moves,
    )
    arrays = Arrays(
        patient_id=_column(planned, "patient_id").astype(object),
        home_id=_column(planned, "home_id").astype(object),
        home_practice_id=_column(planned, "home_practice_id").astype(object),
        kind=_column(planned, "kind").astype(object),
        visits=_column(cands, "visits").astype(np.int64),
        last_visit=_column(cands, "last_visit").astype(object),
        same_practice=_column(cands, "same_practice").astype(bool),
        network_share=_column(cands, "network_share").astype(float) if network is not None else None,
        clinician_id=np.asarray(eligible_ids.to_pylist(), dtype=object),
        practice_id=_column(staff, "practice_id").astype(object)[eligible_rows],
    )
    return Prepared(roster, arrays, problem, staff, eligible_rows, o)
