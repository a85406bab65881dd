"""Rebalancing panels: hand-made practices whose optimum is known by hand, the solver against brute force.

Every test practice uses a half-life of a million months, so each visit
weighs 2^(-age / half-life) = 1 to within 1e-6 and a strength is simply
``visits + 0.5`` for a clinician of the patient's practice (``visits`` for
one of another practice); the derivations below add those numbers.
"""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carethread.errors import CapacityError, OptionError
from carethread.measures.rebalance import rebalance, relationship_strength, what_if
from carethread.measures.rebalance.model import Problem, solve

AS_OF = "2024-06-01"
FLAT = {"half_life_months": 1_000_000}


def encounters(visits: dict[str, list[tuple[str, int]]], practice: dict[str, str]) -> ibis.Table:
    """Encounters from ``{patient: [(clinician, visits), ...]}``, each visit on its own day of 2024."""
    rows = []
    day = 0
    for patient, seen in visits.items():
        for clinician, n in seen:
            for _ in range(n):
                day += 1
                rows.append((patient, clinician, practice[clinician], dt.datetime(2024, 1, 1) + dt.timedelta(days=day)))
    return ibis.memtable(
        {
            "patient_id": [r[0] for r in rows],
            "clinician_id": [r[1] for r in rows],
            "practice_id": [r[2] for r in rows],
            "setting": ["primary_care"] * len(rows),
            "start": [r[3] for r in rows],
        }
    )


def staff(capacity: dict[str, int], practice: dict[str, str]) -> dict:
    ids = sorted(capacity)
    return {"clinician_id": ids, "practice_id": [practice[c] for c in ids], "capacity": [capacity[c] for c in ids]}


def rows(table: ibis.Table, *columns: str) -> list[tuple]:
    key = next(c for c in ("patient_id", "clinician_id", "practice_id") if c in table.columns)
    t = table.to_pyarrow().sort_by(key)
    return [tuple(r[c] for c in columns) for r in t.to_pylist()]


# --- A practice where greedy keeps fewer relationships -------------------------------------------

PRACTICE = {"A": "X", "B": "X", "C": "X", "D": "X", "E": "Y"}
#: A leaves. p1 (home A: 4 visits) also saw B three times and C twice; p2 (A 3) saw B twice; p3 only A.
#: B, C, D and E each hold one patient of their own.
VISITS = {
    "p1": [("A", 4), ("B", 3), ("C", 2)],
    "p2": [("A", 3), ("B", 2)],
    "p3": [("A", 1)],
    "b1": [("B", 1)],
    "c1": [("C", 1)],
    "d1": [("D", 1)],
    "e1": [("E", 1)],
}
#: Free places: B 2 - 1 = 1, C 2 - 1 = 1, D 5 - 1 = 4, E 5 - 1 = 4.
CAPACITY = {"A": 10, "B": 2, "C": 2, "D": 5, "E": 5}


@pytest.fixture(scope="module")
def practice():
    return encounters(VISITS, PRACTICE), staff(CAPACITY, PRACTICE)


def test_hand_made_optimum_keeps_both_relationships(practice):
    """Strengths (visits + 0.5 in practice X): p1 B 3.5, C 2.5, D 0.5; p2 B 2.5, C 0.5, D 0.5; p3 0.5 with
    B, C, D; E 0 for all (practice Y). B and C have one place each. The assignments that fill them:
    p1→B, p2→C, p3→D keeps 3.5 + 0.5 + 0.5 = 4.5; p1→C, p2→B, p3→D keeps 2.5 + 2.5 + 0.5 = 5.5, the
    optimum (every other assignment puts someone on D or E for at most 0.5 instead of 2.5)."""
    enc, clin = practice
    plan = rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", **FLAT)
    assert rows(plan.moves, "patient_id", "from_clinician_id", "to_clinician_id") == [
        ("p1", "A", "C"),
        ("p2", "A", "B"),
        ("p3", "A", "D"),
    ]
    kept = [round(k, 4) for (k,) in rows(plan.moves, "strength_kept")]
    assert kept == [2.5, 2.5, 0.5]
    assert round(plan.strength_kept, 4) == 5.5
    assert (plan.orphans, plan.over_capacity, plan.moved, plan.unplaced, plan.kept_known) == (3, 0, 3, 0, 2)
    assert (plan.solution.method, plan.solution.gap, plan.solution.status) == ("LP", 0.0, "Optimal")
    assert rows(plan.moves, "reason") == [
        ("clinician leaves; knows the new clinician: 2 visits, last 2024-01-10",),
        ("clinician leaves; knows the new clinician: 2 visits, last 2024-01-15",),
        ("clinician leaves; same practice, not seen in the look-back",),
    ]


def test_each_clinician_before_and_after(practice):
    enc, clin = practice
    plan = rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", **FLAT)
    columns = ("clinician_id", "status", "capacity", "panel_before", "joined", "left", "panel_after")
    assert rows(plan.clinicians, *columns, "relationships_kept", "free_after") == [
        ("A", "leaves", 10, 3, 0, 3, 0, 0, None),
        ("B", "full", 2, 1, 1, 0, 2, 1, 0),
        ("C", "full", 2, 1, 1, 0, 2, 1, 0),
        ("D", "open", 5, 1, 1, 0, 2, 0, 3),
        ("E", "open", 5, 1, 0, 0, 1, 0, 4),
    ]


def test_explanations_say_what_else_was_possible(practice):
    """p1's strongest tie (B, 3.5) was full: its one place went to p2, whose only tie it was (2.5 < 3.5,
    so not a stronger tie: a patient with no better place)."""
    enc, clin = practice
    plan = rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", **FLAT)
    explained = {r["patient_id"]: r for r in plan.explanations.to_pyarrow().to_pylist()}
    p1 = explained["p1"]
    assert (p1["to_clinician_id"], p1["choice_rank"], p1["visits_with_new"], p1["stronger_alternatives"]) == (
        "C",
        2,
        2,
        1,
    )
    assert p1["why_not_stronger"] == (
        "the stronger ties had no place left: their places went to patients who had no better place"
    )
    assert (
        p1["alternatives"]
        == "B (strength 3.50, no place left); D (strength 0.50, had room); E (strength 0.00, had room)"
    )
    assert explained["p2"]["choice_rank"] == 1
    assert explained["p2"]["why_not_stronger"] == "none: the strongest tie among the allowed clinicians"


def test_greedy_keeps_fewer_relationships_and_the_list_builder_breaks_capacity(practice):
    """Greedy takes the strongest tie first: p1→B (3.5); p2's B is then full and C and D tie at 0.5, so
    C (the smaller id); p3→D. Kept: 3.5 + 0.5 + 0.5 = 4.5, one known clinician, against 5.5 and two.
    The list builder lets p2, who knows B, join B anyway: 3.5 + 2.5 + 0.5 (p3→C) = 6.5 and two known
    clinicians, with B one patient over its capacity. Most spare capacity sends all three to D (4
    places): 0.5 each, nobody known."""
    enc, clin = practice
    result = what_if(enc, clinicians=clin, as_of=AS_OF, leave="A", **FLAT)
    table = {r["strategy"]: r for r in result.table.to_pyarrow().to_pylist()}
    builder = "list builder (known clinicians over capacity)"
    assert list(table) == [
        "optimal plan",
        "greedy by strength",
        builder,
        "most spare capacity",
        "random within the practice",
    ]
    kept = {
        name: (r["kept_known"], round(r["strength_kept"], 4), r["patients_over_capacity"]) for name, r in table.items()
    }
    assert kept["optimal plan"] == (2, 5.5, 0)
    assert kept["greedy by strength"] == (1, 4.5, 0)
    assert kept[builder] == (2, 6.5, 1)
    assert kept["most spare capacity"] == (0, 1.5, 0)
    assert table[builder]["clinicians_over_capacity"] == 1
    assert rows(result.plans["greedy"].moves, "patient_id", "to_clinician_id") == [
        ("p1", "B"),
        ("p2", "C"),
        ("p3", "D"),
    ]
    assert rows(result.plans["list_builder"].moves, "to_clinician_id") == [("B",), ("B",), ("C",)]
    # The orphans' remaining visits (A's are gone): p1 has B 3, C 2; p2 has B 2; p3 none. Optimal keeps
    # C 2 (p1) + B 2 (p2) = 4 of 7; greedy B 3 (p1) of 7; most spare 0 of 7.
    assert table["optimal plan"]["orphan_continuity"] == pytest.approx(4 / 7)
    assert table["greedy by strength"]["orphan_continuity"] == pytest.approx(3 / 7)
    assert table["most spare capacity"]["orphan_continuity"] == 0.0


def test_infeasible_capacity_says_how_many_and_marks_them_when_allowed():
    """Two orphans, one free place anywhere (B: capacity 2, panel 1; C full): one cannot be placed.
    Greedy puts the second over capacity anyway."""
    practice = {"A": "X", "B": "X", "C": "X"}
    enc = encounters({"p1": [("A", 2), ("B", 1)], "p2": [("A", 1)], "b1": [("B", 1)], "c1": [("C", 1)]}, practice)
    clin = staff({"A": 5, "B": 2, "C": 1}, practice)
    with pytest.raises(CapacityError) as caught:
        rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", **FLAT)
    message = str(caught.value)
    assert message.startswith(
        "1 planned patient cannot be placed within the clinicians' capacities (1 of 2 orphaned, 0 of 0 on "
        "panels over capacity), in 1 practice."
    )
    assert not any(ident in message for ident in ("p1", "p2", "A", "B ", "X"))
    partial = caught.value.plan
    assert rows(partial.moves, "patient_id", "to_clinician_id") == [("p1", "B"), ("p2", None)]
    assert rows(partial.shortfall, "practice_id", "unplaced_orphans", "unplaced_over_capacity", "free_places") == [
        ("X", 1, 0, 0.0)
    ]
    plan = rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", allow_unplaced=True, **FLAT)
    assert plan.unplaced == 1
    assert rows(plan.moves, "reason")[1] == ("clinician leaves; no place free among the allowed clinicians",)
    greedy = what_if(enc, clinicians=clin, as_of=AS_OF, leave="A", strategies=["greedy"], **FLAT).table
    over = [(r["strategy"], r["placed"], r["patients_over_capacity"]) for r in greedy.to_pyarrow().to_pylist()]
    assert over == [("optimal plan", 1, 0), ("greedy by strength", 2, 1)]  # greedy breaks capacity


# --- Panels over capacity ---------------------------------------------------------------------

OVER = {"B": "X", "C": "X"}
#: B holds b1 (B 2), b2 (B 2, C 1) and b3 (B 3) with capacity 2: one must go; C holds c1 with capacity 3.
OVER_VISITS = {"b1": [("B", 2)], "b2": [("B", 2), ("C", 1)], "b3": [("B", 3)], "c1": [("C", 1)]}


def test_an_overflowing_panel_moves_the_fewest_patients_losing_the_least():
    """Staying with B keeps 2.5 (b1), 2.5 (b2), 3.5 (b3); going to C keeps 0.5, 1.5, 0.5. One patient must
    leave B; moving b2 keeps 2.5 + 3.5 + 1.5 = 7.5, b1 only 0.5 + 2.5 + 3.5 = 6.5, b3 2.5 + 2.5 + 0.5 = 5.5."""
    enc = encounters(OVER_VISITS, OVER)
    plan = rebalance(enc, clinicians=staff({"B": 2, "C": 3}, OVER), as_of=AS_OF, **FLAT)
    assert rows(plan.moves, "patient_id", "from_clinician_id", "to_clinician_id", "reason") == [
        ("b2", "B", "C", "panel over capacity; knows the new clinician: 1 visit, last 2024-01-06")
    ]
    assert (plan.orphans, plan.over_capacity, plan.moved) == (0, 3, 1)
    assert rows(plan.clinicians, "clinician_id", "panel_before", "left", "joined", "panel_after", "status") == [
        ("B", 3, 1, 0, 2, "full"),
        ("C", 1, 0, 1, 2, "open"),
    ]
    kept = rebalance(enc, clinicians=staff({"B": 2, "C": 3}, OVER), as_of=AS_OF, resolve_overflow=False, **FLAT)
    assert kept.moved == 0 and kept.over_capacity == 0


def test_a_binding_move_limit_is_solved_as_a_milp():
    """With max_moves=0 nobody may leave B, so one of its patients stays over capacity: unplaced."""
    enc = encounters(OVER_VISITS, OVER)
    clin = staff({"B": 2, "C": 3}, OVER)
    with pytest.raises(CapacityError, match="0 of 0 orphaned, 1 of 3 on panels over capacity"):
        rebalance(enc, clinicians=clin, as_of=AS_OF, max_moves=0, **FLAT)
    plan = rebalance(enc, clinicians=clin, as_of=AS_OF, max_moves=0, allow_unplaced=True, **FLAT)
    assert plan.solution.method == "MILP"
    assert plan.solution.reason == "the limit on moves binds: one more row breaks the transportation structure"
    assert plan.solution.gap <= 1e-4
    assert (plan.moved, plan.unplaced) == (1, 1)
    assert rows(plan.moves, "to_clinician_id") == [(None,)]
    assert rebalance(enc, clinicians=clin, as_of=AS_OF, max_moves=1, **FLAT).solution.method == "LP"


# --- Allowed sets and closed clinicians ------------------------------------------------------


def test_closed_clinicians_and_allowed_sets(practice):
    """Closing C leaves p1 with B (3.5) or D; p2 with B (2.5) or D: B goes to p1 (3.5 + 0.5 > 2.5 + 0.5)."""
    enc, clin = practice
    closed = rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", closed="C", **FLAT)
    assert rows(closed.moves, "patient_id", "to_clinician_id") == [("p1", "B"), ("p2", "D"), ("p3", "D")]
    # Only clinicians of practice X; p3 may only go to E: unplaced.
    allowed = ibis.memtable({"patient_id": ["p3"], "clinician_id": ["E"]})
    with pytest.raises(CapacityError, match="1 planned patient cannot be placed"):
        rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", same_practice=True, allowed=allowed, **FLAT)
    listed = rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", allowed=allowed, **FLAT)
    assert rows(listed.moves, "patient_id", "to_clinician_id")[2] == ("p3", "E")


def test_language_and_sex_preferences_from_user_columns(practice):
    """p1 wants a French speaker (only D) and p2 a female clinician (B is male): p1→D, p2→C or D (0.5 each,
    female; an exact tie), p3 to anyone of practice X (0.5): 1.5 kept in all."""
    enc, clin = practice
    patients = ibis.memtable({"patient_id": ["p1", "p2"], "language": ["French", None], "wants": [None, "f"]})
    clinicians = ibis.memtable(
        {"clinician_id": list("BCDE"), "language": ["en", "en", " french ", "en"], "sex": ["M", "F", "F", "M"]}
    )
    plan = rebalance(
        enc,
        clinicians=clin,
        as_of=AS_OF,
        leave="A",
        patient_attributes=patients,
        clinician_attributes=clinicians,
        match="language,wants=sex",
        **FLAT,
    )
    (p1, to1), (p2, to2), (p3, to3) = rows(plan.moves, "patient_id", "to_clinician_id")
    assert (p1, to1, p2, p3) == ("p1", "D", "p2", "p3")
    assert to2 in {"C", "D"} and to3 in {"B", "C", "D"}
    assert plan.strength_kept == pytest.approx(1.5, abs=1e-5)


def test_visit_weighted_capacity_is_a_milp():
    """Murray's identity with 1 visit per day and 2 working days a year: each clinician supplies 2 visits a
    year. Loads are visits in the 18-month look-back × 12 / 18: b1 (3 visits) weighs 2, c1 (1) 0.67, p (A 3,
    B 1) 2.67. B would carry 2 + 2.67 > 2 and C 0.67 + 2.67 > 2: p fits nowhere. With 3 visits a day (6 a
    year) both fit, and B keeps more (1.5 against 0.5)."""
    practice = {"A": "X", "B": "X", "C": "X"}
    enc = encounters({"p": [("A", 3), ("B", 1)], "b1": [("B", 3)], "c1": [("C", 1)]}, practice)
    clin = staff({"A": 9, "B": 9, "C": 9}, practice)
    murray = {"as_of": AS_OF, "leave": "A", "capacity": "visits", "working_days_per_year": 2, **FLAT}
    plan = rebalance(enc, clinicians=clin, visits_per_day=1, allow_unplaced=True, **murray)
    assert plan.solution.method == "MILP"
    assert plan.solution.reason.startswith("visit-weighted capacity")
    assert plan.unplaced == 1
    roomy = rebalance(enc, clinicians=clin, visits_per_day=3, **murray)
    assert rows(roomy.moves, "patient_id", "to_clinician_id") == [("p", "B")]  # B: 2 + 2.67 ≤ 6


def test_options_are_checked():
    enc = encounters(OVER_VISITS, OVER)
    clin = staff({"B": 2, "C": 3}, OVER)
    with pytest.raises(OptionError, match="--capacity must be one of patients, visits"):
        rebalance(enc, clinicians=clin, capacity="beds")
    with pytest.raises(OptionError, match="--max-moves must be a whole number"):
        rebalance(enc, clinicians=clin, max_moves=-1)
    for weight in (-0.3, float("nan")):
        with pytest.raises(OptionError, match="--network-weight must be a number of at least 0"):
            rebalance(enc, clinicians=clin, network_weight=weight)
    with pytest.raises(TypeError, match="colour"):
        rebalance(enc, clinicians=clin, colour="red")


def test_strength_weighs_recent_visits_more():
    """A visit on the day before as_of weighs 1; one 12 months earlier (365 days; 2023 is not a leap year)
    2^(-365 / 365.25) = 0.50024 with a 12-month half-life."""
    enc = ibis.memtable(
        {
            "patient_id": ["p", "p"],
            "clinician_id": ["A", "A"],
            "practice_id": ["X", "X"],
            "setting": ["primary_care"] * 2,
            "start": [dt.datetime(2023, 5, 31, 9), dt.datetime(2024, 5, 30, 9)],
        }
    )
    row = relationship_strength(enc, as_of="2024-05-31").to_pyarrow().to_pylist()[0]
    assert row["visits"] == 2
    assert row["weighted_visits"] == pytest.approx(1 + 2 ** (-365 / 365.25))


# --- The solver against brute force ------------------------------------------------------------


def brute_force(problem: Problem) -> tuple[int, int, float]:
    """The lexicographic optimum (fewest unplaced, then fewest moves, then most strength) by enumeration."""
    options = [[*np.flatnonzero(problem.patient == p), -1] for p in range(problem.n_patients)]
    load = problem.load if problem.load is not None else np.ones(problem.n_patients)
    best = None
    moves_of = problem.moves()
    for choice in itertools.product(*options):
        chosen = [j for j in choice if j >= 0]
        used = np.zeros(problem.n_clinicians)
        for j in chosen:
            used[problem.clinician[j]] += load[problem.patient[j]]
        if (used > problem.room + 1e-9).any():
            continue
        moves = sum(bool(moves_of[j]) for j in chosen)
        if problem.max_moves is not None and moves > problem.max_moves:
            continue
        key = (choice.count(-1), moves, -round(float(problem.strength[chosen].sum()), 9))
        best = key if best is None or key < best else best
    return best[0], best[1], -best[2]


@st.composite
def problems(draw):
    n_p, n_c = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    patient, clinician, strength, own = [], [], [], []
    movable = [draw(st.booleans()) for _ in range(n_p)]
    for p in range(n_p):
        mine = draw(st.lists(st.integers(0, n_c - 1), min_size=1, max_size=n_c, unique=True))
        home = mine[0] if movable[p] else None
        for c in mine:
            patient.append(p)
            clinician.append(c)
            strength.append(draw(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.5, 3.25])))
            own.append(c == home)
    room = [float(draw(st.integers(0, 2))) for _ in range(n_c)]
    max_moves = draw(st.one_of(st.none(), st.integers(0, 2)))
    return Problem(
        np.array(patient),
        np.array(clinician),
        np.array(strength),
        np.array(own),
        np.array(movable),
        np.array(room),
        max_moves=max_moves,
    )


@settings(max_examples=150, deadline=None)
@given(problems())
def test_the_solver_finds_the_lexicographic_optimum(problem):
    """Priorities: place the most patients, then move the fewest who are not orphans, then keep the most
    strength; capacity never exceeded; LP whenever no side constraint binds."""
    solution = solve(problem)
    chosen = solution.choice[solution.choice >= 0]
    used = np.bincount(problem.clinician[chosen], minlength=problem.n_clinicians)
    assert (used <= problem.room + 1e-9).all()
    assert np.array_equal(problem.patient[chosen], np.flatnonzero(solution.choice >= 0))
    unplaced, moves, kept = brute_force(problem)
    got_moves = int(problem.moves()[chosen].sum())
    assert (int((solution.choice < 0).sum()), got_moves) == (unplaced, moves)
    assert solution.strength_kept == pytest.approx(kept, abs=1e-6)
    if problem.max_moves is None:
        assert solution.method == "LP" and solution.gap == 0.0
