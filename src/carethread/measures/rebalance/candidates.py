"""The clinicians each planned patient may go to: a bounded, sparse candidate set.

docs/rebalance.md, *Candidates*. For a planned patient p (an orphan, or a
patient of a clinician over capacity) the candidates are the clinicians who
can take patients (:mod:`~carethread.measures.rebalance.roster`) among

1. every clinician p saw in the look-back window (strength from visits);
2. every clinician of p's home practice (the practice term of the strength);
3. the ``fallback_candidates`` open clinicians with the most free places in
   the whole system (so a practice without room does not leave p unplaced
   when there is room elsewhere);
4. for a patient over capacity, their own clinician (staying is an option);
5. with a network weight above 0, the ``candidates_per_patient`` open
   clinicians who share the largest share of patients with p's own
   clinician (:func:`~carethread.measures.rebalance.strength.network_share`),
   so a clinician p never saw, in another practice, can be chosen for the
   tie with p's clinician alone.

Closed clinicians are candidates only for their own patients. The allowed
set of each patient then filters them (:class:`Restrictions`): the same
practice only, an explicit list of (patient, clinician) pairs, and attribute
matches (language, sex preference) between a patients' and a clinicians'
attribute table. Finally each patient keeps the ``candidates_per_patient``
strongest of (1), (2) and (5) (ties: more free places first, then the
smaller id), plus (3) and (4): at most ``candidates_per_patient +
fallback_candidates + 1`` candidates per patient, so the model has at most
that many variables per patient whatever the size of the system.

Everything here is an Ibis expression; only the bounded candidate pairs
leave the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis

from carethread.errors import InputError, OptionError
from carethread.measures.rebalance.roster import OVER_CAPACITY, Roster

#: Columns of :func:`candidate_pairs`, in order.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "clinician_id",
    "strength",
    "visits",
    "weighted_visits",
    "last_visit",
    "same_practice",
    "network_share",
    "own",
    "fallback",
)


def parse_match(match: str | Mapping[str, str] | Sequence[str] | None) -> tuple[tuple[str, str], ...]:
    """``(patient column, clinician column)`` pairs from ``"language,preferred_sex=sex"`` or a mapping.

    >>> parse_match("language, preferred_sex=sex")
    (('language', 'language'), ('preferred_sex', 'sex'))
    """
    if not match:
        return ()
    if isinstance(match, Mapping):
        items = list(match.items())
    else:
        parts = match.split(",") if isinstance(match, str) else list(match)
        items = [(p.partition("=")[0], p.partition("=")[2] or p.partition("=")[0]) for p in parts if p.strip()]
    pairs = tuple((str(a).strip(), str(b).strip()) for a, b in items)
    if any(not a or not b for a, b in pairs):
        raise OptionError("--match takes column names: language,preferred_sex=sex (patient column=clinician column).")
    return pairs


@dataclass(frozen=True)
class Restrictions:
    """The allowed set of every planned patient (all optional).

    Attributes
    ----------
    same_practice
        Only clinicians of the patient's home practice (the same site).
    allowed
        A table ``patient_id, clinician_id``: a patient listed there may only
        go to the clinicians listed with them.
    patient_attributes, clinician_attributes, match
        Tables keyed by ``patient_id`` and ``clinician_id`` and the column
        pairs that must agree (:func:`parse_match`): a patient whose value is
        null has no preference; otherwise the clinician's value must equal
        it, ignoring case and surrounding spaces.
    """

    same_practice: bool = False
    allowed: ibis.Table | None = None
    patient_attributes: ibis.Table | None = None
    clinician_attributes: ibis.Table | None = None
    match: tuple[tuple[str, str], ...] = ()

    def check(self) -> None:
        """Each table has the columns it needs; raises :class:`InputError` naming the missing ones."""
        needs = [(self.allowed, "allowed", ("patient_id", "clinician_id"))]
        if self.match:
            if self.patient_attributes is None or self.clinician_attributes is None:
                raise OptionError("--match needs both --patient-attributes and --clinician-attributes.")
            needs.append((self.patient_attributes, "patient attributes", ("patient_id", *(p for p, _ in self.match))))
            needs.append(
                (self.clinician_attributes, "clinician attributes", ("clinician_id", *(c for _, c in self.match)))
            )
        for table, name, columns in needs:
            missing = [c for c in columns if table is not None and c not in table.columns]
            if missing:
                raise InputError(f"The {name} table lacks column {', '.join(missing)}; add it or fix --match.")


def _normalised(value: ibis.Value) -> ibis.Value:
    return value.cast("string").strip().lower()


def _allowed(pairs: ibis.Table, r: Restrictions) -> ibis.Table:
    """``pairs`` without the ones a patient's allowed set excludes (their own clinician always stays)."""
    if r.allowed is not None:
        listed = r.allowed.select(
            a_patient=r.allowed.patient_id.cast("string"), a_clinician=r.allowed.clinician_id.cast("string")
        ).distinct()
        restricted = listed.select(r_patient=listed.a_patient).distinct()
        pairs = pairs.left_join(
            listed, (pairs.patient_id == listed.a_patient) & (pairs.clinician_id == listed.a_clinician)
        )
        pairs = pairs.left_join(restricted, pairs.patient_id == restricted.r_patient)
    if r.match:
        pa = r.patient_attributes.select(
            m_patient=r.patient_attributes.patient_id.cast("string"),
            **{f"p{i}": _normalised(r.patient_attributes[p]) for i, (p, _) in enumerate(r.match)},
        )
        ca = r.clinician_attributes.select(
            m_clinician=r.clinician_attributes.clinician_id.cast("string"),
            **{f"c{i}": _normalised(r.clinician_attributes[c]) for i, (_, c) in enumerate(r.match)},
        )
        pairs = pairs.left_join(pa, pairs.patient_id == pa.m_patient)
        pairs = pairs.left_join(ca, pairs.clinician_id == ca.m_clinician)
    ok = pairs.same_practice if r.same_practice else ibis.literal(True)
    if r.allowed is not None:
        ok &= pairs.r_patient.isnull() | pairs.a_patient.notnull()
    for i in range(len(r.match)):
        ok &= pairs[f"p{i}"].isnull() | (pairs[f"p{i}"] == pairs[f"c{i}"]).fill_null(False)
    return pairs.filter(pairs.own | ok).select(*CANDIDATE_COLUMNS, "free")


def candidate_pairs(
    roster: Roster,
    strength: ibis.Table,
    *,
    practice_weight: float,
    candidates_per_patient: int,
    fallback_candidates: int,
    restrictions: Restrictions,
    network: ibis.Table | None = None,
    network_weight: float = 0.0,
) -> ibis.Table:
    """The bounded candidate pairs of every planned patient (see the module docstring).

    Returns ``patient_id, clinician_id, strength, visits, weighted_visits,
    last_visit, same_practice, network_share, own, fallback, free`` where
    ``strength = weighted_visits + practice_weight × same_practice +
    network_weight × network_share`` and ``free`` is the clinician's capacity
    minus their panel's load before the plan. ``network`` is
    :func:`~carethread.measures.rebalance.strength.network_share` of the
    planned patients' clinicians (``None``: no network term, share 0).
    """
    for name, value in (("candidates", candidates_per_patient), ("fallback-candidates", fallback_candidates)):
        if isinstance(value, bool) or int(value) != value or value < (1 if name == "candidates" else 0):
            raise OptionError(f"--{name} must be a whole number of at least {1 if name == 'candidates' else 0}.")
    restrictions.check()
    s = roster.staff
    targets = s.filter(s.eligible).select(
        t_clinician="clinician_id", t_practice="practice_id", t_closed="closed", free=s.capacity - s.load_before
    )
    planned = roster.planned
    who = planned.select(k_patient="patient_id")
    known = strength.join(who, strength.patient_id == who.k_patient)
    sources = [
        known.select("patient_id", "clinician_id", fallback=ibis.literal(0)),
        planned.join(targets, planned.home_practice_id == targets.t_practice).select(
            "patient_id", clinician_id="t_clinician", fallback=ibis.literal(0)
        ),
        planned.filter(planned.kind == OVER_CAPACITY).select(
            "patient_id", clinician_id="home_id", fallback=ibis.literal(0)
        ),
    ]
    if network is not None:
        near = network.join(targets, network.clinician_id == targets.t_clinician).filter(~ibis._.t_closed)
        closest = ibis.row_number().over(
            group_by=near.home_id, order_by=[ibis.desc(near.network_share), near.clinician_id]
        )
        near = near.mutate(closest=closest).filter(ibis._.closest < int(candidates_per_patient))
        near = near.select(n_home="home_id", n_clinician="clinician_id")
        sources.append(
            planned.join(near, planned.home_id == near.n_home).select(
                "patient_id", clinician_id="n_clinician", fallback=ibis.literal(0)
            )
        )
    if fallback_candidates:
        roomy = targets.filter(~targets.t_closed, targets.free >= 1)
        roomy = roomy.order_by(ibis.desc("free"), "t_clinician").limit(int(fallback_candidates))
        sources.append(
            planned.cross_join(roomy).select("patient_id", clinician_id="t_clinician", fallback=ibis.literal(1))
        )
    u = ibis.union(*sources, distinct=False)
    u = u.group_by("patient_id", "clinician_id").aggregate(fallback=u.fallback.max() > 0)
    u = u.join(targets, u.clinician_id == targets.t_clinician)
    home = planned.rename(h_patient="patient_id")
    u = u.join(home, u.patient_id == home.h_patient)
    seen = strength.rename(s_patient="patient_id", s_clinician="clinician_id")
    u = u.left_join(seen, (u.patient_id == seen.s_patient) & (u.clinician_id == seen.s_clinician))
    if network is not None:
        ties = network.select(e_home="home_id", e_clinician="clinician_id", e_share="network_share")
        u = u.left_join(ties, (u.home_id == ties.e_home) & (u.clinician_id == ties.e_clinician))
        share = u.e_share.fill_null(0.0)
    else:
        share = ibis.literal(0.0)
    same = (u.t_practice == u.home_practice_id).fill_null(False)
    own = u.clinician_id == u.home_id
    weighted = u.weighted_visits.fill_null(0.0)
    pairs = u.filter(~u.t_closed | own).select(
        "patient_id",
        "clinician_id",
        strength=weighted + practice_weight * same.cast("float64") + network_weight * share,
        visits=u.visits.fill_null(0),
        weighted_visits=weighted,
        last_visit=u.last_visit,
        same_practice=same,
        network_share=share,
        own=own,
        fallback=u.fallback,
        free=u.free,
    )
    pairs = _allowed(pairs, restrictions)
    rank = ibis.row_number().over(
        group_by=pairs.patient_id, order_by=[ibis.desc(pairs.strength), ibis.desc(pairs.free), pairs.clinician_id]
    )
    pairs = pairs.mutate(rank=rank)
    return pairs.filter(pairs.own | pairs.fallback | (pairs.rank < int(candidates_per_patient))).drop("rank")
