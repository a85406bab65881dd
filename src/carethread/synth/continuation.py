"""Continue a synthetic health system for a year under a reassignment plan.

docs/rebalance.md, *Closing the loop*. :func:`continue_system` takes a
system from :func:`carethread.synth.generate`, makes the named clinicians
leave on the day after its span, puts each of their patients with the
clinician a plan gives (a patient the plan does not place gets a partner
chosen the way the generator's practices choose), and simulates the next
``years`` with the generator's own processes: its switching and leaving
clocks (:mod:`carethread.synth.events`) and its encounters
(:mod:`carethread.synth.encounters`).

**Loyalty.** The generator's loyalty model works through each patient's
attachment ``stay``: they ask for their own clinician with probability
``stay`` (a third of the way closer to 1 for a clinician they chose), and
their hazard of switching partner, switching practice or disengaging from
primary care is multiplied by ``0.4 + 8.5 (1 - stay)``. A patient whose
clinician leaves has their attachment to the new clinician set by whether
they know them (a primary-care or virtual visit in the 548 days, the
18-month look-back, before the departure):

* **known**: the relationship carries over, and the patient is as loyal as
  to a clinician they chose: ``1 - (1 - stay) / 3``;
* **stranger**: the distance from full loyalty doubles,
  ``1 - 2 (1 - stay)``, and the departure breaks the relationship as the
  generator's departures do: 4 % give up on primary care and, as in a
  practice that scatters a departing clinician's list (30 % of practices,
  half the list), 15 % leave for another practice within six weeks.

Every other patient carries on with their own clinician and attachment.
Capacities are those of the system's clinicians table (edit it to study a
tighter system); a clinician whose panel ends up over capacity cannot offer
every request a slot (the generator's rule), so an overflowing plan costs
continuity too.

The random numbers of each patient's events are drawn in fixed shapes from
their own stream, so two plans continued with one seed differ only where
the plans differ (common random numbers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carethread import schema
from carethread.errors import OptionError
from carethread.synth import tables as tb
from carethread.synth.encounters import SETTING, assemble, other_care, primary_care, same_day_repeats
from carethread.synth.events import (
    _DISENGAGE,
    _MOVE,
    _SWITCH_PARTNER,
    _SWITCH_PRACTICE,
    History,
    _Chooser,
    weekday_forward,
)
from carethread.synth.population import LOOKBACK_DAYS, NEVER, Clinicians, Patients, Practices, Span
from carethread.synth.truth import EMERGENCY_ONLY, LOST, OTHER_PRACTICE, PARTNER, true_switches, true_usual

#: A stranger doubles the distance from full loyalty.
STRANGER_DISTANCE = 2.0
#: Patients reassigned to a stranger who give up on primary care (the generator's share at a departure).
QUIT_SHARE = 0.04
#: Patients reassigned to a stranger who leave for another practice (30 % of practices scatter half a list).
LEAVE_SHARE = 0.15
#: The first visit with a new clinician falls within this many days (the generator's six weeks).
FIRST_VISIT_DAYS = 43


@dataclass(frozen=True)
class SimulationState:
    """What the generator simulated, kept so a system can be continued (see :func:`continue_system`)."""

    span: Span
    practices: Practices
    clinicians: Clinicians
    patients: Patients
    history: History
    enc: dict
    patient_ids: pa.Array
    clinician_ids: pa.Array
    practice_ids: pa.Array
    encounter_width: int


def _indices(ids: pa.Array, wanted: Iterable[str]) -> np.ndarray:
    lookup = {value: i for i, value in enumerate(ids.to_pylist())}
    return np.array([lookup[w] for w in wanted if w in lookup], dtype=np.int64)


def _knows(st: SimulationState, patient: np.ndarray, clin: np.ndarray, day: int) -> np.ndarray:
    """Whether each patient had a primary-care or virtual visit with ``clin`` in the look-back before ``day``."""
    e = st.enc
    visit = (e["setting"] == SETTING["primary_care"]) | (e["setting"] == SETTING["virtual"])
    visit &= (e["clin"] >= 0) & (e["day"] >= day - LOOKBACK_DAYS) & (e["day"] < day)
    width = st.clinicians.kind.size + 1
    seen = np.unique(e["patient"][visit].astype(np.int64) * width + e["clin"][visit])
    return (clin >= 0) & np.isin(patient * width + np.maximum(clin, 0), seen)


@dataclass
class _Year:
    """The continuation's history under construction (days from the continuation's first day).

    ``ed`` maps a patient who relies on emergency care to the day that
    began, and whether it began in the continuation (then their first
    emergency or urgent-care encounter follows within 60 days, as in the
    generator).
    """

    pc_end: np.ndarray
    care_end: np.ndarray
    death: np.ndarray
    seg: dict = dataclasses.field(default_factory=dict)
    switches: dict = dataclasses.field(default_factory=dict)
    ed: dict = dataclasses.field(default_factory=dict)

    def segment(self, p, clin, start, end, forced, prev, post) -> None:
        """Patients ``p`` belong to ``clin`` on ``[start, end)``."""
        self._add(
            self.seg,
            ("patient", "clin", "start", "end", "forced", "prev", "post"),
            p,
            clin,
            start,
            end,
            forced,
            prev,
            post,
        )

    def switch(self, p, frm, to, date, event, kind, cause) -> None:
        """A switch of patients ``p`` (codes of :mod:`carethread.synth.truth` and ``tables.SWITCH_CAUSES``)."""
        self._add(
            self.switches,
            ("patient", "frm", "to", "date", "event", "kind", "cause"),
            p,
            frm,
            to,
            date,
            event,
            kind,
            cause,
        )

    def disengage(self, p, day, *, new: bool = True) -> None:
        """Patients ``p`` stop primary care on ``day`` and rely on emergency care."""
        self.pc_end[p] = np.minimum(self.pc_end[p], day)
        for patient, d in zip(np.atleast_1d(p), np.broadcast_to(day, np.shape(np.atleast_1d(p))), strict=True):
            self.ed[int(patient)] = (int(d), new)

    @staticmethod
    def _add(store: dict, names: tuple[str, ...], p, *values) -> None:
        for name, value in zip(names, (p, *values), strict=True):
            store.setdefault(name, []).append(np.broadcast_to(np.asarray(value), np.shape(p)).copy())

    @staticmethod
    def arrays(parts: dict, names: tuple[str, ...]) -> dict:
        return {k: np.concatenate(parts[k]) if k in parts else np.zeros(0, np.int64) for k in names}


def _shifted(st: SimulationState, clinicians: pa.Table, start: int, leaving: np.ndarray) -> Clinicians:
    """The clinicians from the continuation's first day, the leavers gone, capacities as the table states them."""
    cl = st.clinicians
    leave = np.where(cl.leave == NEVER, NEVER, cl.leave - start).astype(np.int32)
    leave[leaving] = 0
    capacity = clinicians["capacity"].fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return dataclasses.replace(
        cl, active_from=(cl.active_from - start).astype(np.int32), leave=leave, capacity=capacity
    )


@dataclass(frozen=True)
class _Draws:
    """Each patient's random numbers, drawn in fixed shapes so every plan gets the same ones."""

    shock: np.ndarray
    kind: np.ndarray
    gone: np.ndarray
    switch_time: np.ndarray
    gone_time: np.ndarray
    first_visit: np.ndarray
    next_visit: np.ndarray

    @classmethod
    def of(cls, seed: int, n: int) -> _Draws:
        rng = np.random.default_rng([seed, 1])
        uniform = [rng.random(n) for _ in range(3)]
        times = [rng.exponential(365.25, n) for _ in range(2)]
        delays = [rng.integers(1, FIRST_VISIT_DAYS, n) for _ in range(2)]
        return cls(*uniform, *times, *delays)


def continue_system(
    system,
    assignments: Mapping[str, str | None] | pa.Table,
    *,
    leave: Iterable[str],
    years: float = 1.0,
    seed: int = 0,
):
    """Continue ``system`` for ``years`` with ``leave`` gone and their patients placed by ``assignments``.

    Parameters
    ----------
    system
        A :class:`~carethread.synth.SyntheticSystem` from :func:`carethread.synth.generate`.
    assignments
        Patient id → clinician id (or a table with ``patient_id`` and
        ``to_clinician_id``, as a plan's moves): where each patient of a
        departing clinician goes. Others carry on; an orphan without a
        clinician here gets one as the generator's practices choose.
    leave
        Clinician ids who leave on the day after the span.
    years
        Length of the continuation.
    seed
        Seed of the continuation (the same seed gives the same random
        numbers to every plan: common random numbers).

    Returns
    -------
    SyntheticSystem
        The original encounters followed by the continuation's (ids carry
        on), the clinicians with the leavers' ``active_to``, the patients
        with the continuation's deaths, and the continuation's truth: each
        patient's clinician per quarter and every switch of the continuation.

    Examples
    --------
    >>> from carethread.synth import generate
    >>> s = generate(300, years=1, seed=1)
    >>> after = continue_system(s, {}, leave=[], years=0.5, seed=1)
    >>> after.encounters.num_rows > s.encounters.num_rows
    True
    """
    st = system.state if system is not None else None
    if not isinstance(st, SimulationState):
        raise OptionError("continue_system needs a system made by carethread.synth.generate (it keeps its state).")
    if isinstance(assignments, pa.Table):
        pairs = zip(assignments["patient_id"].to_pylist(), assignments["to_clinician_id"].to_pylist(), strict=True)
        assignments = dict(pairs)
    T, N = st.span.n_days, max(1, round(years * 365.25))
    span = Span(st.span.epoch_day + T, N)
    n = st.patients.n
    leaving = _indices(st.clinician_ids, leave)
    cl = _shifted(st, system.clinicians, T, leaving)
    draws = _Draws.of(seed, n)
    chooser = _Chooser(np.random.default_rng([seed, 2]), st.practices, cl)

    h = st.history
    cur = np.full(n, -1, np.int64)
    still = h.seg["end"] == T
    cur[h.seg["patient"][still]] = h.seg["clin"][still]
    alive = h.care_end >= T
    year = _Year(pc_end=np.where(alive, N, 0), care_end=np.where(alive, N, 0), death=np.full(n, NEVER, np.int64))
    year.disengage(np.flatnonzero(alive & (cur < 0)), 0, new=False)
    chooser.update(np.bincount(cur[cur >= 0], minlength=cl.kind.size))
    stay, new, first, chose = _place_orphans(st, span, cl, chooser, draws, year, cur, assignments, leaving)
    registered = np.flatnonzero((year.pc_end > 0) & (cur >= 0))
    _clocks(st, span, cl, chooser, draws, year, registered, cur, new, first, chose, stay[registered])
    return _assemble(st, system, span, cl, stay, year, leaving, seed)


def _place_orphans(st, span, cl, chooser, draws: _Draws, year: _Year, cur, assignments, leaving):
    """Put the departing clinicians' patients where the plan says, with their attachment and the departure shock.

    Returns the attachment of every patient, their clinician, the day each
    patient's first segment starts (the first visit with a new clinician)
    and who chose their new clinician (left for another practice).
    """
    n = cur.size
    new = cur.copy()
    o = np.flatnonzero(np.isin(cur, leaving))
    placed = dict(zip(_indices(st.patient_ids, assignments), _targets(st, assignments), strict=True))
    new[o] = [placed.get(p, -1) for p in o]
    none = np.full(o.size, -1)
    fill = o[new[o] < 0]
    if fill.size:
        days = np.zeros(fill.size, np.int64)
        new[fill] = chooser.choose(days, cl.practice[cur[fill]], none[: fill.size], cur[fill])
    known = _knows(st, o, new[o], span.epoch_day - st.span.epoch_day)
    stay = st.patients.stay.copy()
    stay[o] = np.where(known, 1 - (1 - stay[o]) / 3, np.clip(1 - STRANGER_DISTANCE * (1 - stay[o]), 0, 1))
    # Nobody could take the stuck ones: they give up on primary care, as in the generator.
    quit_ = (~known & (draws.shock[o] < QUIT_SHARE)) | (new[o] < 0)
    scatter = ~known & ~quit_ & (draws.shock[o] < QUIT_SHARE + LEAVE_SHARE)
    chose = np.zeros(n, bool)
    moved = o[scatter]
    if moved.size:
        other = chooser.choose(np.zeros(moved.size, np.int64), none[: moved.size], cl.practice[cur[moved]], cur[moved])
        new[moved] = np.where(other >= 0, other, new[moved])
        chose[moved] = other >= 0
    year.disengage(o[quit_], 0)
    year.switch(o[quit_], cur[o[quit_]], -1, 0, 0, EMERGENCY_ONLY, 1)
    first = np.zeros(n, np.int64)
    first[o] = np.minimum(weekday_forward(span, draws.first_visit[o]), span.n_days)
    kept = o[~quit_]
    same = cl.practice[new[kept]] == cl.practice[cur[kept]]
    year.switch(kept, cur[kept], new[kept], first[kept], 0, np.where(same, PARTNER, OTHER_PRACTICE), 1)
    return stay, new, first, chose


def _clocks(st, span, cl, chooser, draws: _Draws, year: _Year, reg, cur, new, first, chose, stay) -> None:
    """One round of the generator's switching and leaving clocks over the year (its switches are a year apart)."""
    N, T = span.n_days, span.epoch_day - st.span.epoch_day
    orphan = new[reg] != cur[reg]
    fickle = 0.4 + 8.5 * (1 - stay)
    hazard = np.stack([_SWITCH_PARTNER * fickle, _SWITCH_PRACTICE * fickle, _DISENGAGE * fickle], axis=1)
    t_switch = first[reg] + draws.switch_time[reg] / hazard.sum(axis=1)
    dying = st.patients.rate["death"][reg] * np.exp(0.085 * (T - st.patients.entry[reg]) / 365.25)
    t_gone = draws.gone_time[reg] / (_MOVE + dying)
    leaving_kind = np.where(draws.gone[reg] * (_MOVE + dying) < _MOVE, 3, 4)  # moved away, died
    event = np.where(t_switch < t_gone, _kind(hazard, draws.kind[reg]), leaving_kind)
    day = np.floor(np.minimum(t_switch, t_gone)).astype(np.int64)
    happens = day < N
    end = np.where(happens, np.maximum(day, first[reg]), N)
    prev = np.where(orphan, cur[reg], -1)
    year.segment(reg, new[reg], first[reg], end, orphan, prev, chose[reg])
    for code, cause in ((3, 2), (4, 3)):
        p, d = reg[happens & (event == code)], end[happens & (event == code)]
        year.care_end[p] = year.pc_end[p] = d
        year.switch(p, new[p], -1, d, d, LOST, cause)
        if code == 4:
            year.death[p] = d
    p, d = reg[happens & (event == 2)], end[happens & (event == 2)]
    year.disengage(p, d)
    year.switch(p, new[p], -1, d, d, EMERGENCY_ONLY, 4)
    switching = happens & (event < 2)
    p, d, same = reg[switching], end[switching], event[switching] == 0
    if not p.size:
        return
    home = cl.practice[new[p]]
    target = chooser.choose(d, np.where(same, home, -1), np.where(same, -1, home), new[p])
    ok = target >= 0
    p, d, target, same = p[ok], d[ok], target[ok], same[ok]
    start = np.minimum(weekday_forward(span, d + draws.next_visit[p]), N)
    year.segment(p, target, start, np.full(p.size, N), True, new[p], True)
    year.switch(p, new[p], target, start, d, np.where(same, PARTNER, OTHER_PRACTICE), 0)


def _kind(hazard: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The switching event (0 partner, 1 practice, 2 disengage) in proportion to the hazards, from ``u``."""
    cum = np.cumsum(hazard, axis=1)
    return np.minimum((cum < (u * cum[:, -1])[:, None]).sum(axis=1), 2)


def _targets(st: SimulationState, assignments: Mapping[str, str | None]) -> list[int]:
    lookup = {value: i for i, value in enumerate(st.clinician_ids.to_pylist())}
    known = {value for value in st.patient_ids.to_pylist()}
    return [lookup.get(c, -1) if c is not None else -1 for p, c in assignments.items() if p in known]


def _assemble(st, system, span, cl, stay, year: _Year, leaving, seed):
    """The continuation's encounters and tables, appended to the system's."""
    from carethread.synth import SyntheticSystem

    n = st.patients.n
    pc_end, care_end, death = year.pc_end, year.care_end, year.death
    seg = _Year.arrays(year.seg, ("patient", "clin", "start", "end", "forced", "prev", "post"))
    ed_patients = np.array(sorted(year.ed), np.int64)
    ed_days = np.array([year.ed[p][0] for p in ed_patients], np.int64)
    began = np.array([year.ed[p][1] for p in ed_patients], bool)
    rng = np.random.default_rng([seed, 3])
    first_acute = ed_days + rng.integers(0, 60, ed_days.size)
    first_acute = np.where(began & (first_acute < span.n_days), first_acute, NEVER)
    sw = _Year.arrays(year.switches, ("patient", "frm", "to", "date", "event", "kind", "cause"))
    changes = {
        "patient": np.concatenate([np.arange(n), sw["patient"]]),
        "day": np.concatenate([np.zeros(n, np.int64), sw["date"]]),
    }
    start_clin = np.full(n, -1, np.int64)
    first_segment = seg["patient"][::-1], seg["clin"][::-1]
    start_clin[first_segment[0]] = first_segment[1]
    changes["clin"] = np.concatenate([start_clin, sw["to"]])
    hist = History(
        seg=seg,
        ed_only={"patient": ed_patients, "start": ed_days, "first": first_acute},
        pc_end=pc_end,
        care_end=care_end,
        death=death,
        died_engaged=(death < NEVER) & (pc_end >= death),
        home=st.history.home,
        switches=sw,
        changes=changes,
    )
    patients = dataclasses.replace(st.patients, stay=stay, entry=np.zeros(n, np.int32))
    visits = primary_care(rng, span, st.practices, cl, patients, hist, 0.12)
    parts = [visits, same_day_repeats(rng, visits, 0.01), *other_care(rng, span, st.practices, cl, patients, hist)]
    enc = assemble(rng, parts, n, 0.01)
    epoch = span.epoch_day
    base = system.encounters.num_rows
    encounters = pa.table(
        [
            tb.format_ids("E", base + 1 + np.arange(enc["day"].size), st.encounter_width),
            tb.lookup(st.patient_ids, enc["patient"]),
            tb.lookup(st.clinician_ids, enc["clin"]),
            tb.lookup(st.practice_ids, enc["practice"]),
            tb.timestamps(epoch, enc["day"], enc["minute"]),
            tb.vocabulary(schema.SETTINGS, enc["setting"]),
        ],
        schema=tb.ENCOUNTERS,
    )
    clinicians = system.clinicians
    gone = np.zeros(clinicians.num_rows, bool)
    gone[leaving] = True
    last_day = tb.dates(epoch, np.full(clinicians.num_rows, -1))
    active_to = pc.if_else(pa.array(gone), last_day, clinicians["active_to"].combine_chunks())
    clinicians = clinicians.set_column(6, "active_to", active_to)
    died = death < NEVER
    death_day = pc.if_else(
        pa.array(died), tb.dates(epoch, np.where(died, death, 0)), system.patients["death_date"].combine_chunks()
    )
    patients_t = system.patients.set_column(3, "death_date", death_day)
    usual, switches = tb.truth_tables(
        epoch,
        st.patient_ids,
        st.clinician_ids,
        true_usual(span, n, hist.changes),
        true_switches(span, hist, enc, n, cl.kind.size),
    )
    encounters = pa.concat_tables([system.encounters, encounters])
    return SyntheticSystem(encounters, clinicians, patients_t, usual, switches)
