"""The rebalancing plan: :func:`rebalance` and what it returns.

docs/rebalance.md. :func:`rebalance` prepares the model in the engine
(:mod:`~carethread.measures.rebalance.prepare`), solves it with HiGHS
(:mod:`~carethread.measures.rebalance.model`) and returns a :class:`Plan`:
the moves with their reasons, each clinician before and after, what else
was possible for each moved patient, and where capacity is short.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import ibis
import numpy as np
import pyarrow as pa

from carethread.errors import CapacityError
from carethread.measures.display import as_result
from carethread.measures.rebalance.explain import explanations_table, moved_patients, moves_table, usage
from carethread.measures.rebalance.model import Solution, solve
from carethread.measures.rebalance.prepare import PlanOptions, Prepared, prepare
from carethread.measures.rebalance.roster import ORPHAN, id_list
from carethread.options import Clinicians, DateLike, Settings
from carethread.wording import day, format_count, plural

#: Columns of :attr:`Plan.clinicians`, in order.
CLINICIAN_COLUMNS: tuple[str, ...] = (
    "clinician_id",
    "practice_id",
    "status",
    "capacity",
    "panel_before",
    "joined",
    "left",
    "panel_after",
    "relationships_kept",
    "free_after",
    "place_value",
)


@dataclass(frozen=True)
class Plan:
    """A rebalancing plan (see :func:`rebalance`).

    Attributes
    ----------
    moves
        One row per moved or unplaced patient: ``patient_id,
        from_clinician_id, to_clinician_id, strength_kept, reason``
        (``to_clinician_id`` and ``strength_kept`` null when unplaced).
    clinicians
        One row per clinician with a panel before or after: ``clinician_id,
        practice_id, status, capacity, panel_before, joined, left,
        panel_after, relationships_kept, free_after, place_value``.
    explanations
        One row per moved patient: the chosen clinician's rank among the
        patient's candidates, the visits behind the tie, the stronger
        alternatives and why the plan did not use them, and up to three
        other candidates with their strength and whether they had room.
    shortfall
        Where capacity is missing: one row per home practice of the
        patients who could not be placed (``practice_id,
        unplaced_orphans, unplaced_over_capacity, free_places``).
    solution
        The solver's report: method (``LP`` or ``MILP``) and why, status,
        gap, size and time.
    """

    moves: ibis.Table
    clinicians: ibis.Table
    explanations: ibis.Table
    shortfall: ibis.Table
    solution: Solution
    as_of: _dt.datetime
    orphans: int
    over_capacity: int
    moved: int
    unplaced: int
    kept_known: int
    strength_kept: float
    remarks: tuple[str, ...] = ()

    def solver_line(self) -> str:
        """One sentence on how the plan was solved.

        Worded like ``HiGHS LP (transportation problem: its LP optimum is
        integral): Optimal, gap 0, 12 variables, 7 constraints, 0.01 s``.
        """
        s = self.solution
        return (
            f"HiGHS {s.method} ({s.reason}): {s.status}, gap {s.gap:.2g}, "
            f"{plural(s.variables, 'variable')}, {plural(s.constraints, 'constraint')}, {s.seconds:.2f} s"
        )

    def headline(self) -> str:
        """The plan in one sentence, counts only."""
        placed = self.orphans + self.over_capacity - self.unplaced
        return (
            f"As of {day(self.as_of)}: {plural(self.orphans, 'orphaned patient')} and "
            f"{plural(self.over_capacity, 'patient')} on panels over capacity planned; "
            f"{format_count(self.moved - self.unplaced)} moved, {format_count(self.kept_known)} of them to a "
            f"clinician they already know; {format_count(self.unplaced)} cannot be placed"
            + ("." if placed or not self.unplaced else " (no place free).")
        )


def _clinician_summary(prep: Prepared, solution: Solution) -> pa.Table:
    staff, problem, a = prep.staff, prep.problem, prep.arrays
    n = staff.num_rows
    rows = prep.eligible_rows
    load = problem.load if problem.load is not None else np.ones(problem.n_patients)
    choice = solution.choice
    placed = np.flatnonzero(choice >= 0)
    j = choice[placed]
    new = ~problem.own[j]
    to_row = rows[problem.clinician[j[new]]]
    joined = np.bincount(to_row, minlength=n)
    joined_load = np.bincount(to_row, weights=load[placed[new]], minlength=n)
    known = np.bincount(to_row, weights=(a.visits[j[new]] > 0).astype(float), minlength=n).astype(np.int64)
    lookup = {cid: i for i, cid in enumerate(staff["clinician_id"].to_pylist())}
    moved = moved_patients(a, problem, solution)
    gone = moved[(choice[moved] >= 0) | (a.kind[moved] == ORPHAN)]  # patients over capacity left unplaced stay
    gone_rows = np.array([lookup[h] for h in a.home_id[gone]], dtype=np.int64)
    left = np.bincount(gone_rows, minlength=n)
    left_load = np.bincount(gone_rows, weights=load[gone], minlength=n)
    col = {name: staff[name].to_numpy(zero_copy_only=False) for name in staff.column_names}
    in_patients = problem.load is None
    whole = pa.int64() if in_patients else pa.float64()
    departing, eligible = col["departing"].astype(bool), col["eligible"].astype(bool)
    before = col["panel_before"].astype(np.int64)
    capacity = col["capacity"].astype(float)
    free_after = np.where(eligible, capacity - (col["load_before"].astype(float) - left_load + joined_load), np.nan)
    status = np.select(
        [departing, ~eligible, col["closed"].astype(bool), free_after < -1e-9, free_after < 1 - 1e-9],
        ["leaves", "takes no patients", "closed", "over capacity", "full"],
        "open",
    )
    value = np.full(n, np.nan)
    if solution.place_value is not None:
        value[rows] = solution.place_value
    table = pa.table(
        {
            "clinician_id": staff["clinician_id"],
            "practice_id": staff["practice_id"],
            "status": pa.array(status, pa.string()),
            "capacity": pa.array(capacity, pa.float64(), from_pandas=True).cast(whole),
            "panel_before": pa.array(before, pa.int64()),
            "joined": pa.array(joined, pa.int64()),
            "left": pa.array(left, pa.int64()),
            "panel_after": pa.array(before - left + joined, pa.int64()),
            "relationships_kept": pa.array(known, pa.int64()),
            "free_after": pa.array(free_after, pa.float64(), from_pandas=True).cast(whole),
            "place_value": pa.array(value, pa.float64(), from_pandas=True),
        }
    )
    return table.filter(pa.array((before > 0) | (joined > 0)))


def _shortfall(prep: Prepared, solution: Solution) -> pa.Table:
    a, problem = prep.arrays, prep.problem
    unplaced = np.flatnonzero(solution.choice < 0)
    used, _ = usage(problem, solution)
    room_left = np.maximum(problem.room, 0) - used
    free: dict[object, float] = {}
    for practice, left in zip(a.practice_id, room_left, strict=True):
        free[practice] = free.get(practice, 0.0) + max(float(left), 0.0)
    counts: dict[object, list[int]] = {}
    for p in unplaced:
        counts.setdefault(a.home_practice_id[p], [0, 0])[0 if a.kind[p] == ORPHAN else 1] += 1
    practices = sorted(counts, key=lambda k: (k is None, str(k)))
    return pa.table(
        {
            "practice_id": pa.array(practices, pa.string()),
            "unplaced_orphans": pa.array([counts[k][0] for k in practices], pa.int64()),
            "unplaced_over_capacity": pa.array([counts[k][1] for k in practices], pa.int64()),
            "free_places": pa.array([free.get(k, 0.0) for k in practices], pa.float64()),
        }
    )


def _remarks(prep: Prepared, plan_moves: pa.Table) -> list[str]:
    staff = prep.staff
    out = []
    leave = id_list(prep.options.leave)
    if leave:
        with_panel = {
            cid
            for cid, n in zip(staff["clinician_id"].to_pylist(), staff["panel_before"].to_pylist(), strict=True)
            if n
        }
        missing = sum(1 for cid in leave if cid not in with_panel)
        if missing:
            out.append(
                f"{plural(missing, 'clinician')} named to leave {'has' if missing == 1 else 'have'} no patient "
                "attributed on the planning date (or is not in the data); check the ids, which are matched exactly."
            )
    capacity = staff["capacity"].to_numpy(zero_copy_only=False).astype(float)
    panel = staff["panel_before"].to_numpy(zero_copy_only=False)
    departing = staff["departing"].to_numpy(zero_copy_only=False).astype(bool)
    unknown = int(np.count_nonzero(np.isnan(capacity) & (panel > 0) & ~departing))
    if unknown:
        takes = "takes" if unknown == 1 else "take"
        out.append(f"{plural(unknown, 'clinician')} with a panel but no capacity {takes} no new patients.")
    over = staff["over"].to_numpy(zero_copy_only=False).astype(bool)
    if not prep.options.resolve_overflow and over.any():
        out.append(
            f"{plural(int(over.sum()), 'clinician')} already over capacity took no new patients and kept their "
            "panels as they were (overflow not resolved)."
        )
    return out


def rebalance(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    leave: str | Iterable[str] | None = None,
    rule: str = "plurality",
    lookback_months: int = 18,
    half_life_months: float = 12.0,
    practice_weight: float = 0.5,
    network_weight: float = 0.0,
    capacity: str = "patients",
    visits_per_day: float | None = None,
    working_days_per_year: float | None = None,
    closed: str | Iterable[str] | None = None,
    same_practice: bool = False,
    allowed: Clinicians = None,
    patient_attributes: Clinicians = None,
    clinician_attributes: Clinicians = None,
    match: str | Mapping[str, str] | None = None,
    max_moves: int | None = None,
    resolve_overflow: bool = True,
    candidates_per_patient: int = 8,
    fallback_candidates: int = 3,
    allow_unplaced: bool = False,
    time_limit_seconds: float = 60.0,
) -> Plan:
    """Reassign orphaned patients, and patients of panels over capacity, keeping the most relationship strength.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Canonical clinicians table: ``capacity`` (patients, needed unless
        ``capacity="visits"``), ``practice_id``, ``active_from`` and
        ``active_to``.
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    as_of
        The planning date: panels are attributed as of it. Default: the day
        after the last encounter (:func:`carethread.visits.default_as_of`).
    leave
        Clinician ids who leave (a list or ``"A,B"``). Default: the
        clinicians whose ``active_to`` is set and who hold a panel.
    rule, lookback_months
        Attribution rule and look-back in whole months (plurality, 18):
        :func:`carethread.measures.attribution.attribute`.
    half_life_months, practice_weight
        The strength: months after which a visit counts half (12), and the
        weight of a clinician of the patient's practice (0.5).
    network_weight
        Weight of clinicians who share many patients with the patient's
        clinician; needs the sharing-network measure, so 0 until it exists.
    capacity, visits_per_day, working_days_per_year
        ``"patients"`` (``clinicians.capacity``) or ``"visits"`` (Murray's
        identity, each figure by default the clinician's own):
        :mod:`carethread.measures.rebalance.roster`.
    closed
        Clinician ids who keep their patients but take no new one.
    same_practice, allowed, patient_attributes, clinician_attributes, match
        Allowed sets: the patient's own practice only; a ``patient_id,
        clinician_id`` table of the clinicians each listed patient may go
        to; attribute tables and the columns that must agree
        (``"language,preferred_sex=sex"``):
        :class:`carethread.measures.rebalance.candidates.Restrictions`.
    max_moves
        At most this many patients who are not orphans move (a side
        constraint: the MILP when it binds).
    resolve_overflow
        Plan the patients of panels over capacity too (default).
    candidates_per_patient, fallback_candidates
        The bound on each patient's candidates (8 strongest, 3 with most
        room): :mod:`carethread.measures.rebalance.candidates`.
    allow_unplaced
        Return a plan with unplaced patients marked instead of raising.
    time_limit_seconds
        Time limit of the MILP (60).

    Returns
    -------
    Plan
        The moves, each clinician before and after, the explanations, the
        shortfall and the solver's report.

    Raises
    ------
    CapacityError
        When some planned patient cannot be placed and ``allow_unplaced`` is
        false; the message counts them and the practices short of places,
        and ``error.plan`` holds the plan with those patients marked.
    OptionError, InputError
        An option out of range; no capacity to plan with.

    Notes
    -----
    The model, its priorities (place everyone, then move the fewest
    patients who are not orphans, then keep the most strength) and why its
    LP optimum is integral: :mod:`carethread.measures.rebalance.model` and
    docs/rebalance.md, which works an example by hand.

    Examples
    --------
    A leaves. p saw A three times and B once, q saw only A. B has one free
    place and C two: p goes to B (a tie kept), q to C.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "p", "p", "p", "q", "r", "s"],
    ...     "clinician_id": ["A", "A", "A", "B", "A", "B", "C"], "practice_id": ["X"] * 7,
    ...     "setting": ["primary_care"] * 7,
    ...     "start": [dt.datetime(2024, 3, d, 9) for d in (1, 2, 3, 4, 5, 6, 7)]})
    >>> staff = {"clinician_id": ["A", "B", "C"], "practice_id": ["X"] * 3, "capacity": [5, 2, 3]}
    >>> plan = rebalance(enc, clinicians=staff, as_of="2024-06-01", leave="A")
    >>> plan.moves.order_by("patient_id").select("patient_id", "to_clinician_id").to_pyarrow().to_pylist()
    [{'patient_id': 'p', 'to_clinician_id': 'B'}, {'patient_id': 'q', 'to_clinician_id': 'C'}]
    >>> plan.solution.method, plan.solution.gap, plan.kept_known
    ('LP', 0.0, 1)
    """
    plan_options = PlanOptions.of(
        leave=leave,
        rule=rule,
        lookback_months=lookback_months,
        half_life_months=half_life_months,
        practice_weight=practice_weight,
        network_weight=network_weight,
        capacity=capacity,
        visits_per_day=visits_per_day,
        working_days_per_year=working_days_per_year,
        closed=closed,
        same_practice=same_practice,
        allowed=allowed,
        patient_attributes=patient_attributes,
        clinician_attributes=clinician_attributes,
        match=match,
        max_moves=max_moves,
        resolve_overflow=resolve_overflow,
        candidates_per_patient=candidates_per_patient,
        fallback_candidates=fallback_candidates,
        allow_unplaced=allow_unplaced,
        time_limit_seconds=time_limit_seconds,
    )
    prep = prepare(encounters, clinicians=clinicians, settings=settings, as_of=as_of, options=plan_options)
    solution = solve(prep.problem, time_limit_seconds=plan_options.time_limit_seconds)
    plan = plan_from(prep, solution)
    if plan.unplaced and not plan_options.allow_unplaced:
        error = CapacityError(_capacity_message(plan))
        error.plan = plan
        raise error
    return plan


def plan_from(prep: Prepared, solution: Solution) -> Plan:
    """The :class:`Plan` of ``solution`` (an optimal one or a strategy's)."""
    a, problem = prep.arrays, prep.problem
    moves = moves_table(a, problem, solution)
    choice = solution.choice
    moved = moved_patients(a, problem, solution)
    placed = choice[moved][choice[moved] >= 0]
    return Plan(
        moves=as_result(ibis.memtable(moves)),
        clinicians=as_result(ibis.memtable(_clinician_summary(prep, solution))),
        explanations=as_result(ibis.memtable(explanations_table(a, problem, solution))),
        shortfall=as_result(ibis.memtable(_shortfall(prep, solution))),
        solution=solution,
        as_of=prep.roster.as_of,
        orphans=int(np.count_nonzero(a.kind == ORPHAN)),
        over_capacity=int(np.count_nonzero(a.kind != ORPHAN)),
        moved=int(moved.size),
        unplaced=int(np.count_nonzero(choice < 0)),
        kept_known=int(np.count_nonzero(a.visits[placed] > 0)),
        strength_kept=float(problem.strength[placed].sum()),
        remarks=tuple(_remarks(prep, moves)),
    )


def _capacity_message(plan: Plan) -> str:
    short = plan.shortfall.to_pyarrow()
    orphans = sum(short["unplaced_orphans"].to_pylist())
    others = sum(short["unplaced_over_capacity"].to_pylist())
    return (
        f"{plural(plan.unplaced, 'planned patient')} cannot be placed within the clinicians' capacities "
        f"({format_count(orphans)} of {format_count(plan.orphans)} orphaned, {format_count(others)} of "
        f"{format_count(plan.over_capacity)} on panels over capacity), in {plural(short.num_rows, 'practice')}. "
        "Raise capacities, reopen closed clinicians, widen the allowed sets or the candidates, or allow "
        "unplaced patients (--allow-unplaced) to get the plan with them marked."
    )
