"""The plan in words and tables: every move with its reason, what else was possible, each clinician before and after.

docs/rebalance.md, *Reading the plan*. A practice manager asks two
questions of an assignment: *why this clinician?* and *what else was
possible?* The ``reason`` of a move answers the first (the patient's
clinician leaves or their panel is over capacity; how well the patient
knows the new clinician). The explanations answer the second: the rank of
the chosen clinician among the patient's allowed candidates (1 = their
strongest tie), and for each stronger candidate why the plan did not use
it: it had no place left, because its places went to planned patients with
stronger ties to it, or to patients with no better place (the plan keeps
the most strength in total, not for each patient in turn).

Everything here works on the bounded arrays of
:mod:`~carethread.measures.rebalance.model`, one entry per planned patient
or candidate pair, never on encounters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from carethread.measures.rebalance.model import Problem, Solution
from carethread.measures.rebalance.roster import ORPHAN

#: Columns of the moves table, in order.
MOVE_COLUMNS: tuple[str, ...] = ("patient_id", "from_clinician_id", "to_clinician_id", "strength_kept", "reason")

#: Columns of the explanations table, in order.
EXPLANATION_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "to_clinician_id",
    "choice_rank",
    "candidates",
    "visits_with_new",
    "last_visit_with_new",
    "same_practice",
    "stronger_alternatives",
    "why_not_stronger",
    "alternatives",
)

#: Alternatives listed per patient in the explanations.
SHOWN_ALTERNATIVES = 3


@dataclass(frozen=True)
class Arrays:
    """The plan's inputs as arrays, indexed like :class:`~carethread.measures.rebalance.model.Problem`.

    Per planned patient: ``patient_id, home_id, home_practice_id, kind``.
    Per candidate pair (sorted by patient): ``visits, last_visit,
    same_practice`` and, when the strength has a network term,
    ``network_share`` (else ``None``). Per clinician who can take patients:
    ``clinician_id, practice_id``.
    """

    patient_id: np.ndarray
    home_id: np.ndarray
    home_practice_id: np.ndarray
    kind: np.ndarray
    visits: np.ndarray
    last_visit: np.ndarray
    same_practice: np.ndarray
    clinician_id: np.ndarray
    practice_id: np.ndarray
    network_share: np.ndarray | None = None


def _tie(visits: int, last_visit, same_practice: bool, shared: float = 0.0) -> str:
    if visits:
        return f"knows the new clinician: {visits} visit{'s' if visits != 1 else ''}, last {last_visit}"
    where = "same practice" if same_practice else "another practice with room"
    if shared > 0:  # only with a network weight above 0: the term that made the stranger stronger
        return f"{where}, not seen in the look-back; saw {shared:.0%} of their clinician's patients"
    return f"{where}, not seen in the look-back"


def reasons(a: Arrays, problem: Problem, solution: Solution, moved: np.ndarray) -> list[str]:
    """The ``reason`` of every moved (or unplaced) patient ``moved``.

    >>> _tie(3, "2024-03-02", True)
    'knows the new clinician: 3 visits, last 2024-03-02'
    >>> _tie(0, None, False, 0.75)
    "another practice with room, not seen in the look-back; saw 75% of their clinician's patients"
    """
    out = []
    for p in moved:
        j = solution.choice[p]
        why = str(a.kind[p])
        if j < 0:
            out.append(f"{why}; no place free among the allowed clinicians")
        else:
            shared = float(a.network_share[j]) if a.network_share is not None else 0.0
            out.append(f"{why}; {_tie(int(a.visits[j]), a.last_visit[j], bool(a.same_practice[j]), shared)}")
    return out


def moved_patients(a: Arrays, problem: Problem, solution: Solution) -> np.ndarray:
    """Indices of the patients the plan moves or cannot place (orphans always; others when they leave)."""
    choice = solution.choice
    stays = (choice >= 0) & problem.own[np.maximum(choice, 0)]
    return np.flatnonzero((a.kind == ORPHAN) | ~stays)


def moves_table(a: Arrays, problem: Problem, solution: Solution) -> pa.Table:
    """One row per moved or unplaced patient (:data:`MOVE_COLUMNS`)."""
    moved = moved_patients(a, problem, solution)
    j = solution.choice[moved]
    placed = j >= 0
    to = np.where(placed, a.clinician_id[problem.clinician[np.maximum(j, 0)]], None) if moved.size else []
    kept = np.where(placed, problem.strength[np.maximum(j, 0)], np.nan) if moved.size else []
    return pa.table(
        {
            "patient_id": pa.array(a.patient_id[moved], pa.string()),
            "from_clinician_id": pa.array(a.home_id[moved], pa.string()),
            "to_clinician_id": pa.array(list(to), pa.string()),
            "strength_kept": pa.array(np.asarray(kept, float), pa.float64(), from_pandas=True),
            "reason": pa.array(reasons(a, problem, solution, moved), pa.string()),
        }
    )


def usage(problem: Problem, solution: Solution) -> tuple[np.ndarray, np.ndarray]:
    """Per clinician: the load the plan puts there, and the weakest strength among the patients it puts there."""
    n_c = problem.n_clinicians
    placed = solution.choice[solution.choice >= 0]
    who = problem.clinician[placed]
    load = problem.load[problem.patient[placed]] if problem.load is not None else np.ones(placed.size)
    used = np.bincount(who, weights=load, minlength=n_c)
    weakest = np.full(n_c, np.inf)
    np.minimum.at(weakest, who, problem.strength[placed])
    return used, weakest


def _status(c: int, room_left: np.ndarray, load: float) -> str:
    return "no place left" if room_left[c] < load - 1e-9 else "had room"


def explanations_table(a: Arrays, problem: Problem, solution: Solution) -> pa.Table:
    """What else was possible for every moved patient (see the module docstring)."""
    moved = moved_patients(a, problem, solution)
    used, weakest = usage(problem, solution)
    room_left = np.maximum(problem.room, 0) - used
    order = np.lexsort((problem.clinician, -problem.strength, problem.patient))
    starts = np.searchsorted(problem.patient[order], np.arange(problem.n_patients + 1))
    rows: dict[str, list] = {name: [] for name in EXPLANATION_COLUMNS}
    for p in moved:
        mine = order[starts[p] : starts[p + 1]]
        j = solution.choice[p]
        load = float(problem.load[p]) if problem.load is not None else 1.0
        chosen_strength = problem.strength[j] if j >= 0 else -1.0
        stronger = mine[problem.strength[mine] > chosen_strength + 1e-12]
        rank = int(np.searchsorted(-problem.strength[mine], -chosen_strength, side="left")) + 1 if j >= 0 else None
        rows["patient_id"].append(a.patient_id[p])
        rows["to_clinician_id"].append(a.clinician_id[problem.clinician[j]] if j >= 0 else None)
        rows["choice_rank"].append(rank)
        rows["candidates"].append(int(mine.size))
        rows["visits_with_new"].append(int(a.visits[j]) if j >= 0 else None)
        rows["last_visit_with_new"].append(a.last_visit[j] if j >= 0 else None)
        rows["same_practice"].append(bool(a.same_practice[j]) if j >= 0 else None)
        rows["stronger_alternatives"].append(int(stronger.size))
        rows["why_not_stronger"].append(_why_not(problem, stronger, room_left, weakest, load))
        others = [k for k in mine if k != j][:SHOWN_ALTERNATIVES]
        rows["alternatives"].append(
            "; ".join(
                f"{a.clinician_id[problem.clinician[k]]} (strength {problem.strength[k]:.2f}, "
                f"{_status(problem.clinician[k], room_left, load)})"
                for k in others
            )
        )
    return pa.table(rows, schema=_EXPLANATION_SCHEMA)


def _why_not(problem: Problem, stronger: np.ndarray, room_left, weakest, load: float) -> str:
    if not stronger.size:
        return "none: the strongest tie among the allowed clinicians"
    k = stronger[0]
    c = problem.clinician[k]
    if problem.own[k]:
        return "their own clinician's panel is over capacity and this move loses the least strength in the plan"
    if room_left[c] >= load - 1e-9:
        return "the plan keeps more strength in total this way (a limit or a tie decided)"
    if weakest[c] >= problem.strength[k] - 1e-12:
        return (
            "the stronger ties had no place left: their places went to patients with ties at least as strong "
            f"(weakest {weakest[c]:.2f})"
        )
    return "the stronger ties had no place left: their places went to patients who had no better place"


_EXPLANATION_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("to_clinician_id", pa.string()),
        ("choice_rank", pa.int64()),
        ("candidates", pa.int64()),
        ("visits_with_new", pa.int64()),
        ("last_visit_with_new", pa.date32()),
        ("same_practice", pa.bool_()),
        ("stronger_alternatives", pa.int64()),
        ("why_not_stronger", pa.string()),
        ("alternatives", pa.string()),
    ]
)
