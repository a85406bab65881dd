"""Encounters drawn from the simulated history, all at once per care type.

Counts are Poisson given each patient's rate (gamma-distributed between
patients, so negative binomial overall); days are uniform within the interval
the care applies to; every per-visit choice (usual clinician or partner,
nurse, virtual, time of day) is a vectorised draw.
"""

from __future__ import annotations

import numpy as np

from carethread import schema
from carethread.synth.events import History
from carethread.synth.population import (
    ED,
    HOSPITALIST,
    NURSE,
    PANEL,
    SPECIALIST,
    URGENT,
    Clinicians,
    Patients,
    Practices,
    Span,
)
from carethread.synth.teams import same_half

SETTING = {name: np.int8(i) for i, name in enumerate(schema.SETTINGS)}
_COLUMNS = ("patient", "day", "minute", "clin", "practice", "setting", "forced")

# Clinic hours as (first minute, number of minutes) after midnight.
_CLINIC = (8 * 60, 10 * 60)
_SPECIALTY_HOURS = (8 * 60, 9 * 60)
_URGENT_HOURS = (8 * 60, 13 * 60)
_ALL_DAY = (0, 24 * 60)


def _part(patient, day, minute, clin, practice, setting, forced=None) -> dict[str, np.ndarray]:
    n = np.size(patient)
    return dict(
        patient=np.asarray(patient, np.int32),
        day=np.asarray(day, np.int32),
        minute=np.asarray(minute, np.int16),
        clin=np.asarray(clin, np.int32),
        practice=np.asarray(practice, np.int32),
        setting=np.broadcast_to(np.asarray(setting, np.int8), (n,)).copy(),
        forced=np.zeros(n, bool) if forced is None else np.asarray(forced, bool),
    )


def _draw(rng, start, end, rate_per_year):
    """Poisson count per interval [start, end) at the given yearly rate, then a
    uniform day for each: returns (interval index, day)."""
    dur = np.maximum(end - start, 0)
    n = rng.poisson(rate_per_year * dur / 365.25)
    i = np.repeat(np.arange(n.size), n)
    return i, start[i] + (rng.random(i.size) * dur[i]).astype(np.int64)


def _weekday(rng, span: Span, day, lo, hi):
    """Move weekend days to a random weekday of the same week, staying inside
    [lo, hi) where possible (else the nearest weekday inside)."""
    dow = span.weekday(day)
    moved = day - dow + rng.integers(0, 5, size=day.size)
    monday, friday = day + 7 - dow, day - dow + 4
    inside = np.where((moved >= lo) & (moved < hi), moved, np.where(monday < hi, monday, np.maximum(friday, lo)))
    return np.where(dow >= 5, inside, day)


def _minutes(rng, n, hours):
    return hours[0] + rng.integers(0, hours[1], size=n)


def _member(rng, ptr, members, practice):
    """A random clinician of each practice (-1 for a practice without any)."""
    if not members.size:
        return np.full(practice.size, -1, np.int64)
    count = ptr[practice + 1] - ptr[practice]
    pick = ptr[practice] + (rng.random(practice.size) * count).astype(np.int64)
    return np.where(count > 0, members[np.minimum(pick, members.size - 1)], -1)


def _away(rng, span: Span, n_clinicians: int) -> np.ndarray:
    """Weeks each clinician is away (by :meth:`Span.week`): two-week blocks,
    about six weeks a year."""
    start = rng.random((n_clinicians, span.n_weeks + 2)) < 0.06
    away = start.copy()
    away[:, 1:] |= start[:, :-1]
    return away


def primary_care(
    rng,
    span,
    practices: Practices,
    cl: Clinicians,
    patients: Patients,
    hist: History,
    virtual_share: float,
    nurse_share: float = 0.04,
    away_share: float | None = None,
    rate_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Primary-care and virtual encounters of every segment from the start of the
    history: mostly with the usual clinician, otherwise with an available partner
    or the practice nurse. A segment that starts with a switch or registration
    opens with a visit to its clinician (``forced``), which dates the switch.

    ``away_share`` (default: as the patients' loyalty has it, about 0.13)
    sets the share of the other visits that go to someone else: visits are
    moved to or from available partners at random until it is met.
    ``rate_scale`` multiplies every patient's visit rate."""
    seg = hist.seg
    s, e = np.maximum(seg["start"], -span.history), seg["end"]
    rate = patients.rate["primary_care"][seg["patient"]]
    i, day = _draw(rng, s, e, rate if rate_scale == 1 else rate * rate_scale)
    day = _weekday(rng, span, day, s[i], e[i])
    opening = np.flatnonzero(seg["forced"] & (seg["start"] >= -span.history) & (seg["start"] < e))
    forced = np.concatenate([np.ones(opening.size, bool), np.zeros(i.size, bool)])
    i = np.concatenate([opening, i])
    day = np.concatenate([s[opening], day])
    pat, usual = seg["patient"][i], seg["clin"][i]
    prac = cl.practice[usual]
    # A patient who left a clinician does not drift back to them as a partner.
    avoid = np.where(seg["post"][i], seg["prev"][i], -1)

    # A patient asks for their own clinician with probability ``stay`` (a
    # little more often right after choosing them). An over-full clinician
    # cannot offer every such request a slot: half their excess load, at most
    # a quarter of the requests, goes to partners.
    mid = span.n_days // 2
    holding = (seg["start"] <= mid) & (mid < e)
    panel = np.bincount(seg["clin"][holding], minlength=cl.kind.size)
    load = panel / np.maximum(cl.capacity, 1)
    asks = patients.stay[pat]
    asks = np.where(seg["post"][i], 1 - (1 - asks) / 3, asks)
    full = np.clip(0.5 * (load[usual] - 1), 0, 0.25)
    loyal = forced | (rng.random(day.size) < asks * (1 - full))
    # When their clinician is away, a loyal patient with a routine need (six
    # in ten) waits two weeks rather than see a partner, if the wait stays
    # within the segment.
    away = _away(rng, span, cl.kind.size)
    wait = loyal & ~forced & away[usual, span.week(day)] & (rng.random(day.size) < 0.6) & (day + 14 < e[i])
    day = np.where(wait, day + 14, day)
    week = span.week(day)
    with_usual = forced | (loyal & ~away[usual, week])

    ptr, members = cl.members(PANEL, practices.kind.size)
    clin = usual.copy()

    def to_partners(todo: np.ndarray) -> None:
        for _ in range(10):  # rejection sampling of an available partner
            if not todo.size:
                break
            cand = _member(rng, ptr, members, prac[todo])
            d = day[todo]
            ok = (cand != usual[todo]) & (cand != avoid[todo]) & cl.active(cand, d) & ~away[cand, week[todo]]
            ok &= same_half(cl, cand, usual[todo])
            clin[todo[ok]] = cand[ok]
            todo = todo[~ok]

    to_partners(np.flatnonzero(~with_usual))
    nptr, nurses = cl.members(NURSE, practices.kind.size)
    nurse = _member(rng, nptr, nurses, prac)
    by_nurse = ~forced & (nurse >= 0) & (rng.random(day.size) < nurse_share)
    clin = np.where(by_nurse, nurse, clin)
    if away_share is not None:
        free = ~forced
        elsewhere = free & (clin != usual)
        base = elsewhere.sum() / max(free.sum(), 1)
        if away_share < base:
            clin = np.where(elsewhere & (rng.random(day.size) < 1 - away_share / base), usual, clin)
        elif away_share > base:
            to_partners(np.flatnonzero(free & ~elsewhere & (rng.random(day.size) < (away_share - base) / (1 - base))))
    setting = np.where(~forced & (rng.random(day.size) < virtual_share), SETTING["virtual"], SETTING["primary_care"])
    return _part(pat, day, _minutes(rng, day.size, _CLINIC), clin, prac, setting, forced)


def other_care(
    rng, span, practices: Practices, cl: Clinicians, patients: Patients, hist: History
) -> list[dict[str, np.ndarray]]:
    """Specialty, urgent-care, emergency and inpatient encounters."""
    n_prac = practices.kind.size
    # Care before the history starts is not emitted, so not drawn.
    entry = np.maximum(patients.entry.astype(np.int64), -span.history)
    uc_centre = practices.urgent_care[hist.home]
    hospital = practices.hospital[hist.home]
    parts = []

    # Specialty: most visits go to the patient's own specialist.
    specialists = np.flatnonzero(cl.kind == SPECIALIST)
    pat, day = _draw(rng, entry, hist.pc_end, patients.rate["specialty"])
    day = _weekday(rng, span, day, entry[pat], hist.pc_end[pat])
    own = specialists[(pat * 2654435761) % specialists.size]  # a fixed pseudo-random pick per patient
    clin = np.where(rng.random(pat.size) < 0.7, own, specialists[rng.integers(0, specialists.size, size=pat.size)])
    minute = _minutes(rng, pat.size, _SPECIALTY_HOURS)
    parts.append(_part(pat, day, minute, clin, cl.practice[clin], SETTING["specialty"]))

    # Urgent care and ED: the whole time in the system, and twice as often again
    # once a patient relies on them instead of primary care.
    edo = hist.ed_only
    to_urgent = rng.random(edo["first"].size) < 0.5  # where the first ED-only encounter happens
    for kind, setting, hours, where in (
        (URGENT, "urgent_care", _URGENT_HOURS, uc_centre),
        (ED, "emergency", _ALL_DAY, hospital),
    ):
        ptr, members = cl.members(kind, n_prac)
        rate = patients.rate[setting]
        i, day = _draw(rng, entry, hist.care_end, rate)
        j, day2 = _draw(
            rng, np.maximum(edo["start"], -span.history), hist.care_end[edo["patient"]], 2 * rate[edo["patient"]]
        )
        # The first encounter after disengaging, which dates the switch.
        first = (edo["first"] >= -span.history) & (edo["first"] < span.n_days)
        pick = first & (to_urgent if kind == URGENT else ~to_urgent)
        pat = np.concatenate([i, edo["patient"][j], edo["patient"][pick]])
        day = np.concatenate([day, day2, edo["first"][pick]])
        forced = np.concatenate([np.zeros(i.size + j.size, bool), np.ones(pick.sum(), bool)])
        clin = _member(rng, ptr, members, where[pat])
        minute = _minutes(rng, pat.size, hours)
        parts.append(_part(pat, day, minute, clin, cl.practice[clin], SETTING[setting], forced))
    hptr, hospitalists = cl.members(HOSPITALIST, n_prac)

    # Admissions: some ED visits of patients still in regular care, direct
    # admissions, and an admission shortly before many deaths.
    ed = parts[-1]
    admit = (ed["day"] < hist.pc_end[ed["patient"]]) & (rng.random(ed["day"].size) < 0.12)
    pat = ed["patient"][admit]
    day = ed["day"][admit]
    minute = np.minimum(ed["minute"][admit].astype(np.int64) + rng.integers(120, 481, size=pat.size), 24 * 60 - 1)
    i, day2 = _draw(rng, entry, hist.pc_end, patients.rate["inpatient"])
    dying = np.flatnonzero(hist.died_engaged & (rng.random(patients.n) < 0.35))
    day3 = np.maximum(hist.death[dying] - rng.integers(0, 11, size=dying.size), entry[dying])
    pat = np.concatenate([pat, i, dying])
    day = np.concatenate([day, day2, day3])
    minute = np.concatenate([minute, _minutes(rng, i.size + dying.size, _ALL_DAY)])
    clin = _member(rng, hptr, hospitalists, hospital[pat])
    parts.append(_part(pat, day, minute, clin, cl.practice[clin], SETTING["inpatient"]))
    return parts


def same_day_repeats(rng, part: dict[str, np.ndarray], share: float) -> dict[str, np.ndarray]:
    """Second encounters with the same clinician later the same day (a call
    back, a test result): they must collapse into the first visit."""
    pick = np.flatnonzero(rng.random(part["day"].size) < share)
    later = np.minimum(part["minute"][pick].astype(np.int64) + rng.integers(20, 181, size=pick.size), 18 * 60 - 1)
    rep = {k: v[pick] for k, v in part.items()}
    rep["minute"] = later.astype(np.int16)
    rep["forced"] = np.zeros(pick.size, bool)
    return rep


def assemble(rng, parts: list[dict[str, np.ndarray]], n_patients: int, null_share: float) -> dict[str, np.ndarray]:
    """Concatenate, blank a share of clinicians, and sort by time then patient."""
    enc = {k: np.concatenate([p[k] for p in parts]) for k in _COLUMNS}
    n = enc["day"].size
    # Encounters that date a switch keep their clinician.
    eligible = ~enc["forced"]
    p = null_share * n / max(int(eligible.sum()), 1)
    enc["clin"][eligible & (rng.random(n) < p)] = -1
    key = (enc["day"].astype(np.int64) * 1440 + enc["minute"]) * n_patients + enc["patient"]
    order = np.argsort(key, kind="stable")
    return {k: v[order] for k, v in enc.items()}
