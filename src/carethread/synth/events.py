"""Life events: who each patient belongs to, and when that changes.

The simulation runs in rounds from the start of the warm-up
(:attr:`~carethread.synth.population.Span.first`). In each round every patient
still in play draws the time of their next event from two clocks: a switching
clock (switch to a partner, switch practice, disengage from primary care) and a
leaving clock (move away, die), unless their usual clinician leaves first. One
round handles at most one event per patient, so the number of rounds is bounded
by the simulated years, and every step inside a round is a vectorised operation
over patients (loops run over practices only).

Switching events are at least ``GAP`` days apart and start ``WARMUP`` days
after the simulation does, and a new usual clinician is never one who leaves
within ``HORIZON`` days, so consecutive relationship changes of a patient are
always about a year apart and each one can be seen in the visits that follow.
Patients move away or die only once encounters are emitted (from the start of
the history): the patients table holds everyone registered at some time in the
emitted window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from carethread.synth.population import (
    NEVER,
    PANEL,
    PRIMARY,
    Clinicians,
    Patients,
    Practices,
    Span,
)
from carethread.synth.teams import same_half

GAP = 365
WARMUP = 180
HORIZON = 425

# Patient states.
REGISTERED, EMERGENCY_ONLY, LOST = 1, 2, 3
# Event codes drawn in a round; CLINICIAN_LEFT is not drawn but imposed.
PARTNER, OTHER, DISENGAGE, MOVED, DIED, CLINICIAN_LEFT = range(6)
# Hazards per year of the drawn events (switching ones before the patient's
# loyalty multiplier, which averages 1).
_SWITCH_PARTNER, _SWITCH_PRACTICE, _DISENGAGE, _MOVE = 0.02, 0.025, 0.01, 0.035


@dataclass
class _Log:
    """Append-only column store: one list of arrays per column."""

    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.columns.setdefault(k, []).append(np.array(v, copy=True))

    def arrays(self, *names: str, dtype=np.int64) -> list[np.ndarray]:
        return [np.concatenate(self.columns[n]) if n in self.columns else np.zeros(0, dtype) for n in names]


@dataclass
class History:
    """What the simulation decided; all days are offsets from the span start."""

    #: Primary-care segments: the patient belongs to ``clin`` on [start, end).
    #: ``forced`` segments open with a visit to ``clin`` on ``start``; ``prev`` is
    #: the clinician the patient left to start it (-1 for the first segment).
    seg: dict[str, np.ndarray]
    #: Emergency-only periods: start day and the day of the first ED/urgent-care
    #: encounter that follows (NEVER if past the span).
    ed_only: dict[str, np.ndarray]
    pc_end: np.ndarray  # day primary, specialty and inpatient care stops
    care_end: np.ndarray  # day all care stops (moved away or died)
    death: np.ndarray  # day of death, NEVER if alive
    died_engaged: np.ndarray  # bool: died while still in primary care
    home: np.ndarray  # primary-care practice the patient started in
    #: ``patient, frm, to, date, event, kind, cause``: ``event`` is the day it
    #: happened, ``date`` the day of the first visit with the new clinician (the
    #: first emergency/urgent-care encounter for emergency-only, the event day
    #: for lost, when nothing dates it within the span).
    switches: dict[str, np.ndarray]
    #: Step function of the true usual clinician (-1 = none) per patient.
    changes: dict[str, np.ndarray]


def weekday_forward(span: Span, days: np.ndarray) -> np.ndarray:
    """Move Saturday and Sunday to the next Monday."""
    dow = span.weekday(days)
    return days + np.select([dow == 5, dow == 6], [2, 1], 0)


def _sample(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of ``weights``, proportional to the row; -1 if all zero."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    pick = (cum < (rng.random(total.size) * total)[:, None]).sum(axis=1)
    return np.where(total > 0, np.minimum(pick, weights.shape[1] - 1), -1)


class _Chooser:
    """Picks a new usual clinician for many patients at once."""

    def __init__(self, rng: np.random.Generator, practices: Practices, clinicians: Clinicians):
        self.rng = rng
        self.cl = clinicians
        self.ptr, self.members = clinicians.members(PANEL, practices.kind.size)
        self.n_pc = int((practices.kind == PRIMARY).sum())
        self.free = np.zeros(clinicians.kind.size)
        self.practice_weight = np.ones(self.n_pc)

    def update(self, panel_size: np.ndarray) -> None:
        """Recompute free capacity: a full clinician still attracts a few patients."""
        cap = np.maximum(self.cl.capacity, 0).astype(float)
        self.free = np.maximum(cap - panel_size, 0.1 * cap) * self.cl.popularity
        self.practice_weight = np.add.reduceat(self.free[self.members], self.ptr[: self.n_pc])[: self.n_pc]

    def choose(self, t: np.ndarray, practice: np.ndarray, avoid_practice: np.ndarray, avoid: np.ndarray):
        """Panel clinician per row, active on day ``t`` and staying ``HORIZON`` days.

        ``practice`` = -1 lets the row pick a practice (weighted by free capacity),
        other than ``avoid_practice``; ``avoid`` is a clinician not to pick.
        Returns -1 where nobody qualifies.
        """
        rng, cl = self.rng, self.cl
        practice = practice.astype(np.int64).copy()
        free_rows = np.flatnonzero(practice < 0)
        p = self.practice_weight / self.practice_weight.sum()
        for _ in range(20):
            if not free_rows.size:
                break
            practice[free_rows] = rng.choice(self.n_pc, size=free_rows.size, p=p)
            free_rows = free_rows[practice[free_rows] == avoid_practice[free_rows]]
        practice[free_rows] = -1
        out = np.full(t.size, -1, np.int64)
        order = np.argsort(practice, kind="stable")
        bounds = np.searchsorted(practice[order], np.arange(-1, self.n_pc + 1))
        for prac in np.unique(practice[practice >= 0]):
            rows = order[bounds[prac + 1] : bounds[prac + 2]]
            m = self.members[self.ptr[prac] : self.ptr[prac + 1]]
            tt = t[rows, None]
            ok = (cl.active_from[m] <= tt) & (cl.leave[m] > tt + HORIZON) & (m != avoid[rows, None])
            ok &= same_half(cl, m[None, :], avoid[rows, None])
            pick = _sample(rng, ok * self.free[m])
            out[rows] = np.where(pick >= 0, m[np.maximum(pick, 0)], -1)
        return out


def simulate(
    rng: np.random.Generator,
    span: Span,
    practices: Practices,
    clinicians: Clinicians,
    patients: Patients,
    deaths_before: int | None = None,
) -> History:
    """Run the event rounds and return the patients' primary-care history.

    With ``deaths_before`` (a day), nobody dies from then on: the outcome
    process of :mod:`carethread.synth.outcomes` decides those deaths.
    """
    T, N, first = span.n_days, patients.n, span.first
    cl = clinicians
    chooser = _Chooser(rng, practices, cl)
    segs, edo, switches, changes = _Log(), _Log(), _Log(), _Log()
    entry = patients.entry.astype(np.int64)

    cur = np.full(N, -1, np.int64)
    state = np.full(N, REGISTERED, np.int8)
    # last: day of the last switching event (the next is GAP later); now: day
    # of the last event of any kind (the leaving clock runs from there).
    last = np.where(entry == first, first + WARMUP - GAP, entry)
    now = entry.copy()
    pc_end = np.full(N, T, np.int64)
    care_end = np.full(N, T, np.int64)
    death = np.full(N, NEVER, np.int64)
    died_engaged = np.zeros(N, bool)
    # The open segment of each patient.
    s_start = entry.copy()
    s_forced = entry > first
    s_prev = np.full(N, -1, np.int64)
    s_post = np.zeros(N, bool)

    # Patients registered from the outset are spread over the panel clinicians
    # working then, by capacity and popularity (so some end up over capacity).
    old = np.flatnonzero(entry == first)
    pool = chooser.members[cl.active(chooser.members, first)]
    w = cl.capacity[pool] * cl.popularity[pool]
    cur[old] = pool[rng.choice(pool.size, size=old.size, p=w / w.sum())]
    chooser.update(np.bincount(cur[old], minlength=cl.kind.size))
    # Newcomers always find someone: every practice's lead physician stays.
    new = np.flatnonzero(entry > first)
    none = np.full(new.size, -1)
    cur[new] = chooser.choose(entry[new], none, none, none)
    home = cl.practice[cur]
    changes.add(patient=np.arange(N), day=s_start, clin=cur)

    def close(p, day):
        segs.add(patient=p, clin=cur[p], start=s_start[p], end=day, forced=s_forced[p], prev=s_prev[p], post=s_post[p])

    def record(p, frm, to, date, event, kind, cause):
        switches.add(patient=p, frm=frm, to=to, date=date, event=event, kind=kind, cause=cause)
        changes.add(patient=p, day=date, clin=to)

    def to_emergency_only(p, day, cause):
        close(p, day)
        first_acute = day + rng.integers(0, 60, size=p.size)
        first_acute = np.where(first_acute < T, first_acute, NEVER)
        when = np.where(first_acute < T, first_acute, day)
        edo.add(patient=p, start=day, first=first_acute)
        record(p, cur[p], np.full(p.size, -1), when, day, np.full(p.size, 2), cause)
        pc_end[p] = day
        state[p], cur[p], last[p], now[p] = EMERGENCY_ONLY, -1, when, day

    live = np.ones(N, bool)
    for _ in range(4 * int(np.ceil((T - first) / 365.25)) + 8):
        idx = np.flatnonzero(live)
        if not idx.size:
            break
        chooser.update(np.bincount(cur[state == REGISTERED], minlength=cl.kind.size))
        reg = state[idx] == REGISTERED
        # Switching clock. Patients with little attachment to their clinician
        # move on more readily.
        t0 = np.maximum(last[idx] + GAP, first + WARMUP)
        fickle = (0.4 + 8.5 * (1 - patients.stay[idx])) * reg
        hazard = np.stack([_SWITCH_PARTNER * fickle, _SWITCH_PRACTICE * fickle, _DISENGAGE * fickle], axis=1)
        total = hazard.sum(axis=1)
        t_switch = np.where(total > 0, t0 + rng.exponential(365.25, size=idx.size) / np.maximum(total, 1e-12), np.inf)
        # Leaving clock, from the patient's last event but not before the
        # history starts.
        g0 = np.maximum(now[idx], -span.history)
        dying = patients.rate["death"][idx] * np.exp(0.085 * (g0 - entry[idx]) / 365.25)
        t_gone = g0 + rng.exponential(365.25, size=idx.size) / (_MOVE + dying)
        kind = np.where(
            t_switch < t_gone,
            _sample(rng, hazard),
            np.where(rng.random(idx.size) * (_MOVE + dying) < _MOVE, MOVED, DIED),
        )
        t_own = np.minimum(t_switch, t_gone)
        leave = np.where(reg, cl.leave[np.maximum(cur[idx], 0)], NEVER)
        kind = np.where(leave <= t_own, CLINICIAN_LEFT, kind)
        day = np.minimum(np.floor(np.minimum(t_own, leave)), T).astype(np.int64)
        live[idx[day >= T]] = False
        keep = day < T
        if deaths_before is not None:  # the patient lives on, and draws again from that day
            spared = keep & (kind == DIED) & (day >= deaths_before)
            now[idx[spared]] = day[spared]
            keep &= ~spared
        idx, day, kind = idx[keep], day[keep], kind[keep]

        gone = (kind == MOVED) | (kind == DIED)
        if gone.any():
            p, d, died = idx[gone], day[gone], kind[gone] == DIED
            was = state[p] == REGISTERED
            death[p[died]] = d[died]
            died_engaged[p[died & was]] = True
            care_end[p] = d
            pc_end[p] = np.minimum(pc_end[p], d)
            q, dq = p[was], d[was]
            close(q, dq)
            none = np.full(q.size, -1)
            record(q, cur[q], none, dq, dq, np.full(q.size, 3), np.where(died[was], 3, 2))
            state[p], cur[p] = LOST, -1
            live[p] = False

        # A few patients of a departing clinician give up on primary care.
        quit_ = (kind == DISENGAGE) | ((kind == CLINICIAN_LEFT) & (rng.random(kind.size) < 0.04))
        if quit_.any():
            to_emergency_only(idx[quit_], day[quit_], np.where(kind[quit_] == DISENGAGE, 4, 1))

        move = (kind == PARTNER) | (kind == OTHER) | ((kind == CLINICIAN_LEFT) & ~quit_)
        if move.any():
            p, d, k = idx[move], day[move], kind[move]
            now[p] = d
            old_clin = cur[p]
            old_prac = cl.practice[old_clin]
            # A departing clinician's panel is reassigned to partners, unless
            # the practice scatters it, when half go elsewhere.
            same = (k == PARTNER) | ((k == CLINICIAN_LEFT) & ~(cl.scatter[old_clin] & (rng.random(p.size) < 0.5)))
            target = chooser.choose(d, np.where(same, old_prac, -1), np.where(same, -1, old_prac), old_clin)
            miss = target < 0
            if miss.any():  # no partner free: try another practice, then anyone
                target[miss] = chooser.choose(d[miss], np.full(miss.sum(), -1), old_prac[miss], old_clin[miss])
            for _retry in range(3):
                miss = target < 0
                if not miss.any():
                    break
                none = np.full(miss.sum(), -1)
                target[miss] = chooser.choose(d[miss], none, none, old_clin[miss])
            stuck = target < 0
            forced_out = stuck & (k == CLINICIAN_LEFT)
            if forced_out.any():
                to_emergency_only(p[forced_out], d[forced_out], np.full(forced_out.sum(), 1))
            # A patient who found nobody stays put and tries again a year later.
            last[p[stuck & ~forced_out]] = d[stuck & ~forced_out]
            ok = ~stuck
            p, d, k, old_clin, target = p[ok], d[ok], k[ok], old_clin[ok], target[ok]
            # The switch shows when the patient first sees the new clinician.
            first_visit = weekday_forward(span, d + rng.integers(1, 43, size=p.size))
            seen = first_visit < T
            when = np.where(seen, first_visit, d)
            close(p, d)
            record(
                p,
                old_clin,
                target,
                when,
                d,
                np.where(cl.practice[target] == cl.practice[old_clin], 0, 1),
                np.where(k == CLINICIAN_LEFT, 1, 0),
            )
            # The first visit with the new clinician takes place: the leaving
            # clock restarts from it.
            cur[p], last[p], now[p] = target, when, when
            s_start[p], s_forced[p], s_prev[p], s_post[p] = when, seen, old_clin, True

    still = np.flatnonzero(state == REGISTERED)
    close(still, np.full(still.size, T))
    # An emergency-only period lasts until care_end (lost, or the span's end).
    edo_patient, edo_start, edo_first = edo.arrays("patient", "start", "first")
    sw_names = ("patient", "frm", "to", "date", "event", "kind", "cause")
    return History(
        seg=dict(
            zip(
                ("patient", "clin", "start", "end", "forced", "prev", "post"),
                segs.arrays("patient", "clin", "start", "end", "forced", "prev", "post"),
                strict=True,
            )
        ),
        ed_only=dict(patient=edo_patient, start=edo_start, first=edo_first),
        pc_end=pc_end,
        care_end=care_end,
        death=death,
        died_engaged=died_engaged,
        home=home,
        switches=dict(zip(sw_names, switches.arrays(*sw_names), strict=True)),
        changes=dict(zip(("patient", "day", "clin"), changes.arrays("patient", "day", "clin"), strict=True)),
    )
