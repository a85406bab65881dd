"""The rebalancing model and its solution with HiGHS.

docs/rebalance.md, *The model*. Planned patients ``p`` (orphans and patients
over capacity), clinicians ``c`` and candidate pairs ``(p, c) ∈ K``
(:mod:`~carethread.measures.rebalance.candidates`):

.. math::

    \\min \\; \\sum_{(p,c) \\in K} \\big(M_{move} [p \\text{ moves}] - s_{pc}\\big) x_{pc}
          + M_{unplaced} \\sum_p u_p

    \\text{s.t.} \\quad \\sum_{c:(p,c) \\in K} x_{pc} + u_p = 1 \\quad \\forall p, \\qquad
    \\sum_{p:(p,c) \\in K} \\ell_p x_{pc} \\le R_c \\quad \\forall c, \\qquad
    x, u \\ge 0

where ``s_pc`` is the strength, ``ℓ_p`` the patient's load (1 when
capacity counts patients), ``R_c`` the places the clinician has for the
planned patients, ``u_p`` = 1 when p cannot be placed, and "p moves" means
p is over capacity and ``c`` is not their own clinician.

**Priorities.** ``M_unplaced`` and ``M_move`` make the objective
lexicographic: first place as many patients as possible, then move as few
patients who are not orphans as possible, then keep the most strength. Two
solutions differ by cycles in the bipartite flow network, each through at
most ``C + 4`` nodes (C clinicians, the unplaced node, source and sink), so
a cycle changes the strength by at most ``(C + 4) s_max`` and the moves by
at most ``C + 4``; ``M_move = (C + 4) s_max + 1`` and ``M_unplaced = (C +
4)(M_move + s_max) + 1`` are therefore large enough.

**Integrality.** With ``ℓ_p = 1`` each column has one coefficient in its
patient's row and one in its clinician's row: the constraint matrix is the
incidence matrix of a bipartite graph, totally unimodular, and with integer
right-hand sides every vertex of the polytope is integral. This is the
transportation problem (Hitchcock 1941; Hoffman and Kruskal 1956), so the
simplex method's optimal vertex is the integer optimum and the optimality
gap is 0. The LP has every candidate pair at once (at most a fixed number
per patient) and HiGHS's dual simplex solves it; column generation (each
patient's best column first, the others priced in by the duals) needed
dozens of re-solves and was far slower (bench/RESULTS.md, *Rebalancing at
scale*).

**MILP.** Two side constraints break the structure, and only then is the
mixed-integer program solved (HiGHS branch and cut, the gap reported):
visit-weighted loads (``ℓ_p`` ≠ 1: a generalised assignment problem) and a
limit on the moves of non-orphans (``Σ x_pc [p moves] ≤ max_moves``) when
the LP optimum exceeds it.

Hitchcock FL. The distribution of a product from several sources to
numerous localities. J Math Phys 1941;20:224-230. Hoffman AJ, Kruskal JB.
Integral boundary points of convex polyhedra. In: Linear Inequalities and
Related Systems, Ann Math Stud 38, 1956:223-246. Huangfu Q, Hall JAJ.
Parallelizing the dual revised simplex method. Math Prog Comp
2018;10:119-142 (HiGHS).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Problem:
    """The model's data as arrays (one entry per candidate pair, patient or clinician).

    Attributes
    ----------
    patient, clinician
        Per candidate pair: the patient's and the clinician's index.
    strength
        Per candidate pair: the strength kept if the patient goes there (≥ 0).
    own
        Per candidate pair: the clinician is the patient's own (staying).
    movable
        Per patient: over capacity, not an orphan (leaving their own
        clinician is a move).
    room
        Per clinician: places (in load units) left for the planned patients.
    load
        Per patient: their weight in the capacity rows; ``None`` = 1 each.
    max_moves
        At most this many movable patients leave their clinician; ``None``
        = no limit.
    """

    patient: np.ndarray
    clinician: np.ndarray
    strength: np.ndarray
    own: np.ndarray
    movable: np.ndarray
    room: np.ndarray
    load: np.ndarray | None = None
    max_moves: int | None = None

    @property
    def n_patients(self) -> int:
        return int(self.movable.size)

    @property
    def n_clinicians(self) -> int:
        return int(self.room.size)

    def moves(self) -> np.ndarray:
        """Per candidate pair: taking it moves a patient who is not an orphan."""
        return self.movable[self.patient] & ~self.own


@dataclass(frozen=True)
class Solution:
    """What the solver found.

    ``choice`` holds, per patient, the index of the chosen candidate pair
    (-1: not placed). ``gap`` is the relative optimality gap (0 for the LP,
    whose optimum is integral and proven over every candidate).
    ``place_value`` (LP only) is, per clinician, the strength one more place
    would keep (the capacity row's dual; null where it would save a move or
    place an unplaced patient instead).
    """

    choice: np.ndarray
    method: str
    reason: str
    status: str
    gap: float
    strength_kept: float
    seconds: float
    variables: int
    constraints: int
    candidates: int
    place_value: np.ndarray | None = None


def priorities(problem: Problem) -> tuple[float, float]:
    """``(M_move, M_unplaced)`` of the lexicographic objective (module docstring).

    >>> p = Problem(np.array([0]), np.array([0]), np.array([2.0]), np.array([False]),
    ...             np.array([False]), np.array([1.0]))
    >>> priorities(p)
    (11.0, 66.0)
    """
    top = float(problem.strength.max()) if problem.strength.size else 0.0
    nodes = problem.n_clinicians + 4
    move = nodes * top + 1.0
    return move, nodes * (move + top) + 1.0


def costs(problem: Problem) -> np.ndarray:
    """The objective coefficient of every candidate pair."""
    move, _ = priorities(problem)
    return np.where(problem.moves(), move, 0.0) - problem.strength


@functools.cache
def _banner_printed() -> bool:
    """Make the process's first HiGHS instance with file descriptor 1 pointed at the null device.

    HiGHS prints its banner from C++ to the process's standard output when
    the first instance is made, before any option can silence it, and the
    command line's standard output is the result (a CSV can be piped).
    """
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return True


def _highs():
    import highspy

    _banner_printed()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h, highspy


def _pair_columns(problem: Problem, which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise (starts, row indices, values) of the candidate pairs ``which``."""
    n = which.size
    index = np.empty(2 * n, np.int32)
    index[0::2] = problem.patient[which]
    index[1::2] = problem.n_patients + problem.clinician[which]
    values = np.ones(2 * n)
    if problem.load is not None:
        values[1::2] = problem.load[problem.patient[which]]
    return np.arange(0, 2 * n, 2, dtype=np.int32), index, values


def _rows(h, hs, problem: Problem) -> None:
    n_p, n_c = problem.n_patients, problem.n_clinicians
    empty = np.zeros(0, np.int32)
    h.addRows(n_p, np.ones(n_p), np.ones(n_p), 0, empty, empty, np.zeros(0))
    room = np.maximum(problem.room, 0.0)
    h.addRows(n_c, np.full(n_c, -hs.kHighsInf), room, 0, empty, empty, np.zeros(0))
    _, unplaced = priorities(problem)
    rows = np.arange(n_p, dtype=np.int32)
    h.addCols(n_p, np.full(n_p, unplaced), np.zeros(n_p), np.ones(n_p), n_p, rows, rows, np.ones(n_p))


def _add_pairs(h, problem: Problem, cost: np.ndarray, which: np.ndarray) -> None:
    if not which.size:
        return
    starts, index, values = _pair_columns(problem, which)
    n = which.size
    h.addCols(n, cost[which], np.zeros(n), np.ones(n), index.size, starts, index, values)


def _chosen(problem: Problem, columns: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per patient the chosen pair (-1 if none) and whether ``x`` was integral."""
    choice = np.full(problem.n_patients, -1, np.int64)
    taken = x > 0.5
    choice[problem.patient[columns[taken]]] = columns[taken]
    integral = bool(np.all((x < 1e-6) | (x > 1 - 1e-6)))
    return choice, integral


def solve_lp(problem: Problem) -> Solution:
    """The transportation LP over every candidate pair, by HiGHS's dual simplex (see the module docstring)."""
    started = time.perf_counter()
    h, hs = _highs()
    h.setOptionValue("solver", "simplex")
    cost = costs(problem)
    _rows(h, hs, problem)
    columns = np.arange(cost.size)
    _add_pairs(h, problem, cost, columns)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    solution = h.getSolution()
    x = np.asarray(solution.col_value)[problem.n_patients :]
    choice, integral = _chosen(problem, columns, x)
    if not integral or status != "Optimal":  # a safeguard: theory says neither happens
        return solve_milp(problem, reason="the LP did not end on an integral proven optimum")
    move, _ = priorities(problem)
    value = -np.asarray(solution.row_dual)[problem.n_patients :]
    place_value = np.where(value < move, np.maximum(value, 0.0), np.nan)
    return Solution(
        choice=choice,
        method="LP",
        reason="transportation problem: its LP optimum is integral",
        status=status,
        gap=0.0,
        strength_kept=_kept(problem, choice),
        seconds=time.perf_counter() - started,
        variables=problem.n_patients + columns.size,
        constraints=problem.n_patients + problem.n_clinicians,
        candidates=int(cost.size),
        place_value=place_value,
    )


def solve_milp(problem: Problem, *, reason: str, time_limit_seconds: float = 60.0) -> Solution:
    """The mixed-integer program over every candidate pair, with the move limit when there is one."""
    started = time.perf_counter()
    h, hs = _highs()
    h.setOptionValue("time_limit", float(time_limit_seconds))
    cost = costs(problem)
    _rows(h, hs, problem)
    every = np.arange(cost.size)
    _add_pairs(h, problem, cost, every)
    n_cols = problem.n_patients + cost.size
    rows = problem.n_patients + problem.n_clinicians
    if problem.max_moves is not None:
        moving = problem.n_patients + np.flatnonzero(problem.moves())
        h.addRow(-hs.kHighsInf, float(problem.max_moves), moving.size, moving.astype(np.int32), np.ones(moving.size))
        rows += 1
    integer = np.full(n_cols, hs.HighsVarType.kInteger)
    h.changeColsIntegrality(n_cols, np.arange(n_cols, dtype=np.int32), integer)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    x = np.asarray(h.getSolution().col_value)[problem.n_patients :]
    if x.size != cost.size:  # no feasible point found within the time limit
        x = np.zeros(cost.size)
    choice, _ = _chosen(problem, every, x)
    return Solution(
        choice=choice,
        method="MILP",
        reason=reason,
        status=status,
        gap=float(h.getInfo().mip_gap),
        strength_kept=_kept(problem, choice),
        seconds=time.perf_counter() - started,
        variables=n_cols,
        constraints=rows,
        candidates=int(cost.size),
    )


def _kept(problem: Problem, choice: np.ndarray) -> float:
    return float(problem.strength[choice[choice >= 0]].sum())


def solve(problem: Problem, *, time_limit_seconds: float = 60.0) -> Solution:
    """Solve ``problem``: the LP when it is a transportation problem, else the MILP (module docstring).

    Examples
    --------
    Two orphans, one clinician ``A`` with one place: the stronger tie (3.0)
    gets it; the other patient goes to ``B``, whom they do not know.

    >>> p = Problem(patient=np.array([0, 0, 1, 1]), clinician=np.array([0, 1, 0, 1]),
    ...             strength=np.array([3.0, 0.0, 2.0, 0.0]), own=np.zeros(4, bool),
    ...             movable=np.zeros(2, bool), room=np.array([1.0, 5.0]))
    >>> s = solve(p)
    >>> s.choice.tolist(), s.method, s.gap, s.strength_kept
    ([0, 3], 'LP', 0.0, 3.0)
    """
    if problem.n_patients == 0:
        return Solution(np.zeros(0, np.int64), "LP", "nothing to plan", "Optimal", 0.0, 0.0, 0.0, 0, 0, 0)
    if problem.load is not None and not np.allclose(problem.load, 1.0):
        return solve_milp(
            problem,
            reason="visit-weighted capacity: a generalised assignment problem, whose LP is not integral",
            time_limit_seconds=time_limit_seconds,
        )
    lp = solve_lp(problem)
    if problem.max_moves is None or lp.method != "LP":
        return lp
    moved = int(np.count_nonzero(problem.moves()[lp.choice[lp.choice >= 0]]))
    if moved <= problem.max_moves:
        return lp
    return solve_milp(
        problem,
        reason="the limit on moves binds: one more row breaks the transportation structure",
        time_limit_seconds=time_limit_seconds,
    )
