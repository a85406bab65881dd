"""Informal halves: primary-care practices whose clinicians work as two teams.

A practice on the organisation chart is not always one team. With
``generate(..., split_practices=k)`` the ``k`` primary-care practices with
the most panel clinicians (ties to the earlier practice) are split into two
informal halves: their panel clinicians alternate between half 1 and half 2
in the order they were created (so the lead physician is in half 1), and

* a patient whose clinician is unavailable sees a partner from the same half
  (:func:`carethread.synth.encounters.primary_care`);
* a patient who switches to a partner, or whose clinician leaves, is given a
  new clinician from the same half (:mod:`carethread.synth.events`; another
  practice when nobody in the half is free).

The practice nurse still sees patients of both halves. The halves are the
truth :func:`carethread.measures.network.care_teams` should find:
``SyntheticSystem.true_halves`` lists them. With ``split_practices=0`` (the
default) nothing here runs and the generated data are unchanged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from carethread.synth.population import PANEL, PRIMARY, Clinicians, Practices

#: ``true_halves``: the half of each panel clinician of a split practice.
TRUE_HALVES = pa.schema(
    [
        pa.field("clinician_id", pa.string(), nullable=False),
        pa.field("practice_id", pa.string(), nullable=False),
        pa.field("half", pa.int8(), nullable=False),
    ]
)


def informal_halves(practices: Practices, cl: Clinicians, split_practices: int) -> np.ndarray | None:
    """Each clinician's half (1 or 2; 0 outside the split practices), or ``None`` when none is split.

    >>> import numpy as np
    >>> from carethread.synth.population import NURSE
    >>> prac = Practices(kind=np.array([PRIMARY, PRIMARY]), urgent_care=np.zeros(2), hospital=np.zeros(2))
    >>> cl = Clinicians(practice=np.array([0, 0, 0, 1, 0]), kind=np.array([PANEL] * 4 + [NURSE]),
    ...     role=np.zeros(5), specialty=np.zeros(5), capacity=np.zeros(5), active_from=np.zeros(5),
    ...     leave=np.zeros(5), scatter=np.zeros(5, bool), popularity=np.ones(5))
    >>> informal_halves(prac, cl, 1).tolist()
    [1, 2, 1, 0, 0]
    """
    if split_practices <= 0:
        return None
    panel = cl.kind == PANEL
    primary = np.flatnonzero(practices.kind == PRIMARY)
    sizes = np.bincount(cl.practice[panel], minlength=practices.kind.size)[primary]
    chosen = primary[np.argsort(-sizes, kind="stable")[: int(split_practices)]]
    half = np.zeros(cl.kind.size, np.int8)
    for practice in chosen:
        members = np.flatnonzero(panel & (cl.practice == practice))
        half[members] = 1 + np.arange(members.size) % 2
    return half


def same_half(cl: Clinicians, candidate: np.ndarray, other: np.ndarray) -> np.ndarray | bool:
    """Whether ``candidate`` may stand in for ``other``: always, unless both are in one split
    practice and in different halves (``other`` = -1: nobody to match)."""
    if cl.half is None:
        return True
    other = np.asarray(other)
    known = np.maximum(other, 0)
    same_practice = (other >= 0) & (cl.practice[candidate] == cl.practice[known])
    split = (cl.half[candidate] > 0) & (cl.half[known] > 0)
    return ~(same_practice & split) | (cl.half[candidate] == cl.half[known])


def true_halves(cl: Clinicians, clinician_ids: pa.Array, practice_ids: pa.Array) -> pa.Table | None:
    """The ``true_halves`` table (``None`` when no practice is split)."""
    if cl.half is None:
        return None
    rows = np.flatnonzero(cl.half > 0)
    return pa.table(
        [
            clinician_ids.take(pa.array(rows)),
            practice_ids.take(pa.array(cl.practice[rows])),
            pa.array(cl.half[rows], pa.int8()),
        ],
        schema=TRUE_HALVES,
    )
