"""What if a clinician leaves: the optimal plan against the strategies practices use.

docs/rebalance.md, *What if a clinician leaves*. :func:`what_if` plans the
departure once (:mod:`~carethread.measures.rebalance.prepare`), places the
orphans with each strategy (:mod:`~carethread.measures.rebalance.strategies`
and the optimum), and scores each on

* ``kept_known``: orphans placed with a clinician they saw in the look-back;
* ``strength_kept``: the strength those placements keep;
* projected continuity, from the look-back's visits without the departing
  clinicians (the visits they gave will not happen again) and the panels
  after the placement: ``orphan_continuity``, the share of the orphans'
  remaining visits that were with their new clinician; and, pooled as
  :func:`carethread.measures.panels.panel_rollup` pools them over the
  clinicians who take an orphan under any of the strategies compared (one
  set for all, so the rows compare), ``patient_side_continuity`` (their
  panel patients' visits with them / all those patients' visits) and
  ``provider_side_continuity`` (visits they gave their own panel / all
  visits they gave). Over a whole system the two pooled sides are equal
  when every patient is on a panel, which is why they are pooled over the
  receiving clinicians;
* ``clinicians_over_capacity`` and ``patients_over_capacity``: the panels
  the placement pushes over their capacity, and by how many patients.

Panels already over capacity are left as they are (the comparison is about
the departure), so the optimum moves orphans only.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass

import ibis
import numpy as np
import pyarrow as pa

from carethread.errors import InputError
from carethread.measures.display import as_result
from carethread.measures.numbers import ratio
from carethread.measures.rebalance.explain import usage
from carethread.measures.rebalance.model import solve
from carethread.measures.rebalance.plan import Plan, plan_from
from carethread.measures.rebalance.prepare import PlanOptions, Prepared, prepare
from carethread.measures.rebalance.strategies import STRATEGY_LABELS, choose, strategy_solution
from carethread.options import Clinicians, DateLike, Settings
from carethread.visits import visits

#: Columns of :attr:`WhatIf.table`, in order.
WHAT_IF_COLUMNS: tuple[str, ...] = (
    "strategy",
    "orphans",
    "placed",
    "kept_known",
    "strength_kept",
    "orphan_continuity",
    "patient_side_continuity",
    "provider_side_continuity",
    "clinicians_over_capacity",
    "patients_over_capacity",
)


@dataclass(frozen=True)
class WhatIf:
    """The comparison: :attr:`table` (one row per strategy, the optimum first) and each strategy's plan."""

    table: ibis.Table
    plans: dict[str, Plan]
    as_of: _dt.datetime
    departing: int
    orphans: int


def projected_continuity(
    prep: Prepared, moves: pa.Table, receivers: pa.Array, encounters: ibis.Table, *, settings: Settings
) -> dict:
    """The three projected continuities of a placement (module docstring), computed in the engine."""
    roster = prep.roster
    staff = roster.staff
    leaving = staff.filter(staff.departing).select(gone_id="clinician_id")
    m = ibis.memtable(moves.select(["patient_id", "to_clinician_id"])).rename(m_patient="patient_id")
    owners = roster.owners.left_join(m, roster.owners.patient_id == m.m_patient)
    owners = owners.select(
        o_patient=owners.patient_id,
        owner=ibis.ifelse(owners.m_patient.notnull(), owners.to_clinician_id, owners.home_id),
        orphan=owners.m_patient.notnull(),
    )
    start, end = roster.window
    v = visits(encounters, settings=settings, start=start, end=end)
    v = v.left_join(leaving, v.clinician_id == leaving.gone_id).filter(ibis._.gone_id.isnull())
    v = v.left_join(owners, v.patient_id == owners.o_patient)
    chosen = list(dict.fromkeys(receivers.to_pylist()))
    own = (v.clinician_id == v.owner).fill_null(False).cast("int64")
    orphan = v.orphan.fill_null(False).cast("int64")
    on_their_panel = v.owner.isin(chosen).fill_null(False).cast("int64")
    given_by_them = v.clinician_id.isin(chosen).cast("int64")
    g = v.aggregate(
        orphan_visits=orphan.sum(),
        orphan_own=(orphan * own).sum(),
        panel_visits=on_their_panel.sum(),
        panel_own=(on_their_panel * own).sum(),
        given=given_by_them.sum(),
        given_own=(given_by_them * own).sum(),
    )
    g = g.select(
        orphan_continuity=ratio(g.orphan_own, g.orphan_visits),
        patient_side_continuity=ratio(g.panel_own, g.panel_visits),
        provider_side_continuity=ratio(g.given_own, g.given),
    )
    return g.to_pyarrow().to_pylist()[0]


def _row(name: str, plan: Plan, prep: Prepared, projected: dict) -> dict:
    problem = prep.problem
    used, _ = usage(problem, plan.solution)
    excess = np.maximum(used - np.maximum(problem.room, 0), 0)
    return {
        "strategy": STRATEGY_LABELS[name],
        "orphans": plan.orphans,
        "placed": plan.orphans - plan.unplaced,
        "kept_known": plan.kept_known,
        "strength_kept": plan.strength_kept,
        **projected,
        "clinicians_over_capacity": int(np.count_nonzero(excess > 1e-9)),
        "patients_over_capacity": round(float(excess.sum())),
    }


def what_if(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    leave: str | Iterable[str] | None = None,
    seed: int = 0,
    strategies: Iterable[str] = ("greedy", "list_builder", "most_spare", "random"),
    **options,
) -> WhatIf:
    """Compare the optimal plan for a departure with the strategies practices use.

    Parameters
    ----------
    encounters, clinicians, settings, as_of, leave
        As for :func:`carethread.measures.rebalance.rebalance`; ``leave``
        (or ``active_to`` in the clinicians table) must name at least one
        clinician with a panel.
    seed
        Seed of the ``random`` strategy.
    strategies
        The naive strategies to compare (default all four: ``greedy``,
        ``list_builder``, ``most_spare``, ``random``; see
        :mod:`carethread.measures.rebalance.strategies`).
    **options
        Further options of :func:`~carethread.measures.rebalance.rebalance`
        (strength, capacity, allowed sets, bounds). Panels already over
        capacity are left as they are, and patients who cannot be placed
        are counted rather than raised.

    Returns
    -------
    WhatIf
        ``table`` has one row per strategy, the optimum first:
        ``strategy, orphans, placed, kept_known, strength_kept,
        orphan_continuity, patient_side_continuity,
        provider_side_continuity, clinicians_over_capacity,
        patients_over_capacity`` (definitions in the module docstring);
        ``plans`` each strategy's :class:`~carethread.measures.rebalance.plan.Plan`.

    Raises
    ------
    InputError
        When nobody leaves (no orphan to place).

    Examples
    --------
    A leaves. Both orphans know B, who has one place; p knows C as well as
    B. Greedy gives B to p (the strongest tie first) and q a stranger; the
    optimum sends p to C and q to B, keeping both relationships.

    >>> import ibis, datetime as dt
    >>> rows = [("p", "A")] * 4 + [("p", "C")] * 2 + [("p", "B")] * 2 + [("q", "A"), ("q", "A"), ("q", "B"),
    ...         ("r", "B"), ("s", "C")]
    >>> enc = ibis.memtable({"patient_id": [p for p, _ in rows], "clinician_id": [c for _, c in rows],
    ...     "practice_id": ["X"] * 13, "setting": ["primary_care"] * 13,
    ...     "start": [dt.datetime(2024, 3, 1 + i, 9) for i in range(13)]})
    >>> staff = {"clinician_id": ["A", "B", "C"], "practice_id": ["X"] * 3, "capacity": [5, 2, 2]}
    >>> t = what_if(enc, clinicians=staff, as_of="2024-06-01", leave="A", strategies=["greedy"]).table
    >>> [(r["strategy"], r["kept_known"]) for r in t.to_pyarrow().to_pylist()]
    [('optimal plan', 2), ('greedy by strength', 1)]
    """
    plan_options = PlanOptions.of(leave=leave, **{**options, "resolve_overflow": False, "allow_unplaced": True})
    prep = prepare(encounters, clinicians=clinicians, settings=settings, as_of=as_of, options=plan_options)
    if not prep.problem.n_patients:
        raise InputError(
            "Nobody leaves on the planning date: name the departing clinicians (--leave) who hold a panel "
            "then, or give active_to dates in the clinicians table."
        )
    plans = {"optimal": plan_from(prep, solve(prep.problem, time_limit_seconds=plan_options.time_limit_seconds))}
    for name in strategies:
        choice = choose(name, prep.problem, prep.arrays, seed=seed)
        plans[name] = plan_from(prep, strategy_solution(name, choice, prep.problem))
    moves = {name: plan.moves.to_pyarrow() for name, plan in plans.items()}
    receivers = pa.concat_arrays([m["to_clinician_id"].combine_chunks().drop_null() for m in moves.values()])
    rows = []
    for name, plan in plans.items():
        projected = projected_continuity(prep, moves[name], receivers, encounters, settings=settings)
        rows.append(_row(name, plan, prep, projected))
    table = pa.Table.from_pylist(rows).select(list(WHAT_IF_COLUMNS))
    departing = int(pa.compute.sum(prep.staff["departing"].cast(pa.int64())).as_py() or 0)
    return WhatIf(
        table=as_result(ibis.memtable(table)),
        plans=plans,
        as_of=prep.roster.as_of,
        departing=departing,
        orphans=plans["optimal"].orphans,
    )
