"""The closed loop: plan a departure on a synthetic system, continue it a year under each plan, measure.

For each seed: a 6 000-patient system over 2 years; on the day after its
span the largest panel of a practice with at least three panel clinicians
leaves. The practice's other clinicians get, between them, places for 1.1
times the departing panel, split at random (a Dirichlet draw), and every
other clinician 5 % above their panel, so places with the clinicians the
orphans know are contested. Each strategy of :func:`what_if` places the
orphans; :func:`carethread.synth.continuation.continue_system` continues the
system a year under that placement with one seed for all strategies; the
measures then read the continued encounters: the orphans' UPC over the
year, and their ``other_practice`` and ``lost`` breaks (quarterly
attribution over a trailing 6 months, so a year shows the new relationship;
a break is counted from 12 months before the departure, so a lapse dated
by its last encounter before it counts too; every strategy shares what
happened before).

``python -m tests.test_rebalance_closed_loop 1 2 3`` prints the table
bench/RESULTS.md quotes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import carethread
from carethread.measures.rebalance import what_if
from carethread.synth import generate
from carethread.synth.continuation import continue_system

AS_OF = dt.datetime(2024, 1, 1)
SEEDS = (1, 2, 3)
STRATEGIES = ("optimal", "greedy", "list_builder", "most_spare", "random")


def scenario(seed: int, n_patients: int = 6_000, room: float = 1.1):
    """The system with its contested capacities, and the clinician who leaves (module docstring)."""
    system = generate(n_patients, years=2, seed=seed)
    clin = system.clinicians
    panel = carethread.panels(ibis.memtable(system.encounters), clinicians=clin, as_of=AS_OF).to_pyarrow()
    size = dict(zip(panel["clinician_id"].to_pylist(), panel["panel_size"].to_pylist(), strict=True))
    ids, practice = clin["clinician_id"].to_pylist(), clin["practice_id"].to_pylist()
    capacity, active_to = clin["capacity"].to_pylist(), clin["active_to"].to_pylist()
    working = [c for c, k, to in zip(ids, capacity, active_to, strict=True) if k and to is None and size.get(c)]
    where = dict(zip(ids, practice, strict=True))
    members = {p: [c for c in working if where[c] == p] for p in set(practice)}
    who = max((c for c in working if len(members[where[c]]) >= 3), key=lambda c: size[c])
    mates = [c for c in members[where[who]] if c != who]
    shares = np.random.default_rng(seed).dirichlet(np.ones(len(mates)))
    extra = dict(zip(mates, np.ceil(shares * room * size[who]).astype(int).tolist(), strict=True))
    tight = [
        None if k is None else size.get(c, 0) + extra[c] if c in extra else round(size.get(c, 0) * 1.05)
        for c, k in zip(ids, capacity, strict=True)
    ]
    clin = clin.set_column(clin.schema.get_field_index("capacity"), "capacity", pa.array(tight, pa.int64()))
    return dataclasses.replace(system, clinicians=clin), who


def outcomes(continued, orphans: list[str]) -> dict:
    """The orphans' UPC over the year after the departure and their breaks since a year before it."""
    enc = continued.encounters.filter(pc.is_in(continued.encounters["patient_id"], pa.array(orphans)))
    enc = ibis.memtable(enc)
    year_end = AS_OF + dt.timedelta(days=365)
    upc = carethread.patient_continuity(enc, start=AS_OF, end=year_end).upc.mean().execute()
    breaks = carethread.relationship_breaks(
        enc, clinicians=continued.clinicians, confirm=0, lookback_months=6, lost_after_months=12
    )
    breaks = breaks.filter(breaks.break_date >= (AS_OF - dt.timedelta(days=365)).date())
    counted = breaks.group_by("kind").aggregate(n=breaks.count()).to_pyarrow().to_pylist()
    kinds = {r["kind"]: r["n"] for r in counted}
    return {"upc": float(upc), "other_practice": kinds.get("other_practice", 0), "lost": kinds.get("lost", 0)}


def run_seed(seed: int) -> dict[str, dict]:
    """Plan, continue and measure every strategy for one seed."""
    system, who = scenario(seed)
    compared = what_if(
        ibis.memtable(system.encounters),
        clinicians=system.clinicians,
        as_of=AS_OF,
        leave=who,
        seed=seed,
        strategies=STRATEGIES[1:],
    )
    plans = {r["strategy"]: r for r in compared.table.to_pyarrow().to_pylist()}
    out = {}
    for name, row in zip(STRATEGIES, plans.values(), strict=True):
        moves = compared.plans[name].moves.to_pyarrow()
        continued = continue_system(system, moves, leave=[who], years=1, seed=seed)
        out[name] = {
            "orphans": row["orphans"],
            "kept_known": row["kept_known"],
            "over_capacity": row["patients_over_capacity"],
            **outcomes(continued, moves["patient_id"].to_pylist()),
        }
    return out


@pytest.fixture(scope="module")
def results() -> dict[int, dict[str, dict]]:
    return {seed: run_seed(seed) for seed in SEEDS}


@pytest.mark.slow
@pytest.mark.parametrize("naive", ["most_spare", "random"])
def test_the_optimal_plan_keeps_patients_better_than_naive_reassignment(results, naive):
    """Every seed: at least one point more UPC over the next year, and fewer other-practice and lost breaks."""
    for seed, by in results.items():
        best, other = by["optimal"], by[naive]
        assert best["over_capacity"] == 0
        assert best["kept_known"] > other["kept_known"], seed
        assert best["upc"] >= other["upc"] + 0.01, (seed, best, other)
        assert best["other_practice"] + best["lost"] < other["other_practice"] + other["lost"], (seed, best, other)


@pytest.mark.slow
def test_against_greedy_the_plan_keeps_more_relationships_within_capacity(results):
    """Greedy by strength respects capacity and comes close: the optimum keeps more known clinicians in
    every seed. The list builder keeps as many or more only by going over capacity. (Their next-year
    outcomes differ from the optimum's by less than the continuation's noise at this size; see
    docs/rebalance.md, *Closing the loop*.)"""
    for seed, by in results.items():
        assert by["optimal"]["kept_known"] >= by["greedy"]["kept_known"], seed
        assert by["greedy"]["over_capacity"] == 0
        builder = by["list_builder"]
        assert builder["kept_known"] <= by["optimal"]["kept_known"] or builder["over_capacity"] > 0, seed
    assert sum(by["optimal"]["kept_known"] - by["greedy"]["kept_known"] for by in results.values()) > 0


if __name__ == "__main__":  # pragma: no cover
    for seed in map(int, sys.argv[1:] or SEEDS):
        for name, row in run_seed(seed).items():
            print(seed, f"{name:12}", *(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
