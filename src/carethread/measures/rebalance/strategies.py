"""The naive strategies practices use to reassign a departing clinician's patients.

docs/rebalance.md, *What if a clinician leaves*. Each strategy places every
orphan on one of their candidates (:mod:`~carethread.measures.rebalance.candidates`,
so every strategy sees the same clinicians) and leaves every other patient
where they are:

``random``
    A clinician of the patient's home practice drawn at random (uniformly),
    whatever their room; a patient whose practice has no candidate draws
    from all their candidates. Capacity is not looked at, so panels can
    overflow.
``most_spare``
    Patients in id order, each to the clinician of their home practice with
    the most places left at that moment (the whole system when no practice
    clinician has a place left; ties to the smaller id).
``greedy``
    Patients with the strongest tie first, each to their strongest
    candidate that still has a place (their strongest, over capacity, when
    none has).
``list_builder``
    The same order, but as the GP Continuity Calculator's list builder
    lets high-continuity patients exceed a clinician's capacity: a patient
    who knows their strongest candidate (a visit in the look-back) goes
    there even when it is full.

The optimum (:func:`~carethread.measures.rebalance.model.solve`) never
exceeds a capacity and keeps at least as much strength as any of them that
does not exceed one either.
"""

from __future__ import annotations

import numpy as np

from carethread.measures.rebalance.explain import Arrays
from carethread.measures.rebalance.model import Problem, Solution

#: The strategies :func:`choose` knows, and how the what-if table names them.
STRATEGY_LABELS: dict[str, str] = {
    "optimal": "optimal plan",
    "greedy": "greedy by strength",
    "list_builder": "list builder (known clinicians over capacity)",
    "most_spare": "most spare capacity",
    "random": "random within the practice",
}


def _by_patient(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs ordered by patient, strongest first (ties: smaller clinician index), and each patient's start."""
    order = np.lexsort((problem.clinician, -problem.strength, problem.patient))
    starts = np.searchsorted(problem.patient[order], np.arange(problem.n_patients + 1))
    return order, starts


def _stay(problem: Problem) -> np.ndarray:
    """Every patient who is not an orphan stays with their own clinician; orphans start unplaced."""
    choice = np.full(problem.n_patients, -1, np.int64)
    own = np.flatnonzero(problem.own)
    choice[problem.patient[own]] = own
    return choice


def random_within_practice(problem: Problem, a: Arrays, seed: int = 0) -> np.ndarray:
    """Each orphan to a random clinician of their practice (see the module docstring).

    >>> p = Problem(np.array([0, 0]), np.array([0, 1]), np.array([2.0, 0.5]), np.zeros(2, bool),
    ...             np.zeros(1, bool), np.array([1.0, 1.0]))
    >>> a = Arrays(*[np.array(["x"], object)] * 4, visits=np.array([2, 0]), last_visit=np.array([None, None]),
    ...            same_practice=np.array([True, True]), clinician_id=np.array(["A", "B"], object),
    ...            practice_id=np.array(["X", "X"], object))
    >>> int(random_within_practice(p, a, seed=1)[0]) in (0, 1)
    True
    """
    rng = np.random.default_rng(seed)
    order, starts = _by_patient(problem)
    choice = _stay(problem)
    draws = rng.random(problem.n_patients)
    for p in np.flatnonzero(~problem.movable):
        mine = order[starts[p] : starts[p + 1]]
        local = mine[a.same_practice[mine]]
        pool = local if local.size else mine
        if pool.size:
            choice[p] = pool[int(draws[p] * pool.size)]
    return choice


def most_spare(problem: Problem, a: Arrays) -> np.ndarray:
    """Each orphan, in id order, to the practice clinician with the most places left (module docstring)."""
    order, starts = _by_patient(problem)
    choice = _stay(problem)
    left = np.maximum(problem.room, 0).astype(float)
    for p in np.flatnonzero(~problem.movable):
        mine = order[starts[p] : starts[p + 1]]
        if not mine.size:
            continue
        local = mine[a.same_practice[mine]]
        pool = local if local.size and left[problem.clinician[local]].max() >= 1 else mine
        best = pool[np.lexsort((problem.clinician[pool], -left[problem.clinician[pool]]))[0]]
        choice[p] = best
        left[problem.clinician[best]] -= 1
    return choice


def greedy_by_strength(problem: Problem, a: Arrays, *, known_over_capacity: bool = False) -> np.ndarray:
    """Strongest ties first, each to their strongest candidate with a place (module docstring).

    ``known_over_capacity`` makes it the list builder: a patient who knows
    their strongest candidate goes there even when it is full.

    Two orphans know A (one place); the first (3.0) also knows B (2.5), the
    second (2.9) only A. Greedy gives A to the first and C, a stranger, to
    the second; the list builder gives A to both, one over capacity; the
    optimum gives A to the second and B to the first.

    >>> p = Problem(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 2]), np.array([3.0, 2.5, 2.9, 0.0]),
    ...             np.zeros(4, bool), np.zeros(2, bool), np.array([1.0, 1.0, 1.0]))
    >>> a = Arrays(*[np.array(["x", "y"], object)] * 4, visits=np.array([3, 2, 3, 0]),
    ...            last_visit=np.array([None] * 4), same_practice=np.ones(4, bool),
    ...            clinician_id=np.array(["A", "B", "C"], object), practice_id=np.array(["X"] * 3, object))
    >>> greedy_by_strength(p, a).tolist(), greedy_by_strength(p, a, known_over_capacity=True).tolist()
    ([0, 3], [0, 2])
    """
    order, starts = _by_patient(problem)
    choice = _stay(problem)
    left = np.maximum(problem.room, 0).astype(float)
    orphans = np.flatnonzero(~problem.movable)
    best = np.array([problem.strength[order[starts[p]]] if starts[p + 1] > starts[p] else -1.0 for p in orphans])
    for p in orphans[np.argsort(-best, kind="stable")]:
        mine = order[starts[p] : starts[p + 1]]
        if not mine.size:
            continue
        room = mine[left[problem.clinician[mine]] >= 1]
        insist = known_over_capacity and a.visits[mine[0]] > 0
        pick = mine[0] if insist or not room.size else room[0]
        choice[p] = pick
        left[problem.clinician[pick]] -= 1
    return choice


def strategy_solution(name: str, choice: np.ndarray, problem: Problem) -> Solution:
    """A naive strategy's choice dressed as a :class:`Solution` (no solver, no gap)."""
    kept = float(problem.strength[choice[choice >= 0]].sum())
    return Solution(
        choice, name, STRATEGY_LABELS[name], "heuristic", float("nan"), kept, 0.0, 0, 0, problem.strength.size
    )


def choose(name: str, problem: Problem, a: Arrays, *, seed: int = 0) -> np.ndarray:
    """The choice of strategy ``name`` (``random``, ``most_spare``, ``greedy`` or ``list_builder``)."""
    if name == "random":
        return random_within_practice(problem, a, seed)
    if name == "most_spare":
        return most_spare(problem, a)
    return greedy_by_strength(problem, a, known_over_capacity=name == "list_builder")
