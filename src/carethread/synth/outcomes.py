"""Outcomes with known effects: what the relationship is worth, in a world where we know.

With ``generate(..., outcomes=True)`` (``carethread synth --outcomes``; the
demo turns it on) three outcome processes run in a follow-up window at the
end of the span, driven by each patient's continuity measured in the
baseline window before it, exactly as :func:`carethread.patient_continuity`
measures it:

* emergency visits: a Poisson process, rate ratio ``ed_irr`` per +0.2 UPC,
  with a gamma frailty (shape 2), so counts are negative binomial;
* admissions: a Poisson process, hazard (and rate) ratio ``admission_hr``
  per +0.1 Bice-Boxerman COC;
* death: a constant hazard, ratio ``death_hr`` per +0.1 UPC.

Each rate is also log-linear in age (per 10 years) and rises with the
patient's chronic conditions, and older patients are more loyal to their
clinician (their ``stay`` propensity rises with age), so continuity is
confounded by age as in real data: older patients have both higher
continuity and more events, and a model without age shows less benefit than
there is. Morbidity raises every outcome and the number of visits, which
moves the indices mechanically. Clinicians leave after the baseline with a
hazard ``departure_hr`` times higher in the lowest tertile of provider-side
continuity (:func:`carethread.measures.panels`, as of the end of the
baseline); their remaining encounters go to a partner, and their panel's
switches are in the truth. The true effects are the ``true_effects`` table.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from carethread.errors import OptionError
from carethread.options import months_before
from carethread.synth.encounters import SETTING
from carethread.synth.population import ED, HOSPITALIST, NEVER, PANEL, Clinicians, Patients, Practices, Span

#: Schema of the ``true_effects`` table.
TRUE_EFFECTS = pa.schema(
    [
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("exposure", pa.string(), nullable=False),
        pa.field("term", pa.string(), nullable=False),
        pa.field("ratio", pa.string(), nullable=False),
        pa.field("effect", pa.float64(), nullable=False),
        pa.field("baseline_start", pa.date32(), nullable=False),
        pa.field("followup_start", pa.date32(), nullable=False),
        pa.field("followup_end", pa.date32(), nullable=False),
    ]
)

# Yearly rates at age 50, no chronic condition, at the reference continuity.
_ED_RATE, _ADMISSION_RATE, _DEATH_RATE = 0.25, 0.05, 0.004
# Log-rate per 10 years of age and per chronic condition.
_AGE = {"ed": 0.15, "admission": 0.25, "death": 0.8}
_CHRONIC = {"ed": 0.2, "admission": 0.2, "death": 0.15}
_ED_FRAILTY_SHAPE = 2.0


@dataclass(frozen=True)
class OutcomeEffects:
    """The true effects of the outcome processes, and their windows (months)."""

    ed_irr: float = 0.80  # per +0.2 UPC
    death_hr: float = 0.85  # per +0.1 UPC
    admission_hr: float = 0.90  # per +0.1 COC
    departure_hr: float = 1.5  # lowest tertile of provider-side continuity vs the others
    baseline_months: int = 12
    followup_months: int = 24
    loyalty_per_10y: float = 0.25  # older patients' fickleness falls by this log-ratio per decade

    def check(self) -> OutcomeEffects:
        for name in ("ed_irr", "death_hr", "admission_hr", "departure_hr"):
            if not getattr(self, name) > 0:
                raise OptionError(f"{name.replace('_', '-')} must be a positive ratio, not {getattr(self, name)!r}.")
        for name in ("baseline_months", "followup_months"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise OptionError(f"{name} must be a whole number of months of at least 1.")
        return self

    def windows(self, span: Span) -> tuple[int, int, int]:
        """Baseline start, follow-up start and end, in span days.

        The end is the end of the data as :func:`carethread.outcomes.windows.data_end`
        reads it (the first of the month after the span's last day); the
        follow-up and the baseline are whole months before it.
        """
        epoch = _dt.date(1970, 1, 1)
        last = epoch + _dt.timedelta(days=span.epoch_day + span.n_days - 1)
        end = _dt.datetime(last.year + (last.month == 12), last.month % 12 + 1, 1)
        start = months_before(end, self.followup_months)
        base = months_before(start, self.baseline_months)
        return tuple(((d.date() - epoch).days - span.epoch_day) for d in (base, start, end))

    def table(self, span: Span) -> pa.Table:
        """The true effects, one row each, with the windows they hold in."""
        lo, mid, hi = (np.array([d]) for d in self.windows(span))
        rows = [
            ("ed_visits", "upc", "per_0.1", "IRR", self.ed_irr**0.5),
            ("admissions", "coc", "per_0.1", "HR", self.admission_hr),
            ("death", "upc", "per_0.1", "HR", self.death_hr),
            ("clinician_departure", "provider_side_continuity", "tertile_1", "HR", self.departure_hr),
        ]
        day = lambda d: pa.array(np.repeat(d + span.epoch_day, len(rows)).astype(np.int32)).cast(pa.date32())  # noqa: E731
        columns = [pa.array([r[i] for r in rows]) for i in range(5)]
        return pa.table([*columns, day(lo), day(mid), day(hi)], schema=TRUE_EFFECTS)


def confound(patients: Patients, effects: OutcomeEffects) -> None:
    """Older patients are more loyal: their fickleness ``1 - stay`` falls with age."""
    fickle = (1 - patients.stay) * np.exp(-effects.loyalty_per_10y * (patients.age - 45) / 10)
    patients.stay = np.clip(1 - fickle, 0.05, 0.999)


def baseline_indices(enc: dict[str, np.ndarray], n_patients: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """UPC and COC of every patient over visits in ``[lo, hi)`` (NaN below two visits).

    Visits as :func:`carethread.visits.visits` counts them: distinct
    (patient, clinician, day) of primary-care and virtual encounters with a
    clinician.
    """
    visit = ((enc["setting"] == SETTING["primary_care"]) | (enc["setting"] == SETTING["virtual"])) & (enc["clin"] >= 0)
    visit &= (enc["day"] >= lo) & (enc["day"] < hi)
    width = np.int64(enc["clin"].max(initial=0)) + 1
    days = np.int64(hi - lo + 1)
    pair = enc["patient"][visit].astype(np.int64) * width + enc["clin"][visit]
    keys = np.unique(pair * days + (enc["day"][visit] - lo))
    pairs, n_j = np.unique(keys // days, return_counts=True)
    who = pairs // width
    n = np.bincount(who, weights=n_j, minlength=n_patients)
    top = np.zeros(n_patients)
    np.maximum.at(top, who, n_j)
    squares = np.bincount(who, weights=n_j.astype(float) ** 2, minlength=n_patients)
    with np.errstate(invalid="ignore", divide="ignore"):
        upc = np.where(n >= 2, top / n, np.nan)
        coc = np.where(n >= 2, (squares - n) / (n * (n - 1)), np.nan)
    return upc, coc


def _log_rate(x: np.ndarray, per: float, ratio: float, reference: float) -> np.ndarray:
    """``log(ratio) / per * (x - reference)``; no effect where ``x`` is unknown."""
    return np.where(np.isnan(x), 0.0, np.log(ratio) / per * (np.nan_to_num(x, nan=reference) - reference))


def _events(rng, start: np.ndarray, stop: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson process per patient on ``[start, stop)``: ``(patient, day)`` of each event."""
    span = np.maximum(stop - start, 0)
    n = rng.poisson(rate * span / 365.25)
    who = np.repeat(np.arange(n.size), n)
    return who, start[who] + (rng.random(who.size) * span[who]).astype(np.int64)


def _hospital_encounters(rng, cl: Clinicians, practices: Practices, hist, kind: int, who, day, setting: str):
    """Encounters of ``who`` on ``day`` with a clinician of ``kind`` at their hospital."""
    from carethread.synth.encounters import _member, _part

    ptr, members = cl.members(kind, practices.kind.size)
    clin = _member(rng, ptr, members, practices.hospital[hist.home[who]])
    minute = rng.integers(0, 24 * 60, size=who.size)
    return _part(who, day, minute, clin, cl.practice[np.maximum(clin, 0)], SETTING[setting])


def _after_death(hist, died: np.ndarray, death: np.ndarray) -> None:
    """The history of patients who die at ``death[died]``: nothing of theirs follows it.

    Their later switches and changes of clinician go; a patient still with a
    clinician then gets the ``lost`` switch (cause ``died``) the simulation
    gives every death.
    """
    ch = hist.changes
    order = np.lexsort((ch["day"], ch["patient"]))
    ch_patient, ch_day, ch_clin = ch["patient"][order], ch["day"][order], ch["clin"][order]
    who = np.flatnonzero(died)
    at = (
        np.searchsorted(
            ch_patient.astype(np.int64) * (2**31) + ch_day, who.astype(np.int64) * (2**31) + death[who], side="right"
        )
        - 1
    )
    clin = np.where((at >= 0) & (ch_patient[np.maximum(at, 0)] == who), ch_clin[np.maximum(at, 0)], -1)
    keep = ~(died[ch_patient] & (ch_day > death[ch_patient]))
    hist.changes = {
        "patient": np.concatenate([ch_patient[keep], who]),
        "day": np.concatenate([ch_day[keep], death[who]]),
        "clin": np.concatenate([ch_clin[keep], np.full(who.size, -1)]),
    }
    sw = hist.switches
    keep = ~(died[sw["patient"]] & (sw["event"] > death[sw["patient"]]))
    engaged = who[clin >= 0]
    added = {
        "patient": engaged,
        "frm": clin[clin >= 0],
        "to": np.full(engaged.size, -1),
        "date": death[engaged],
        "event": death[engaged],
        "kind": np.full(engaged.size, 3),  # lost
        "cause": np.full(engaged.size, 3),  # died
    }
    hist.switches = {k: np.concatenate([np.asarray(v)[keep], added[k]]) for k, v in sw.items()}
    hist.death = np.where(died, death, hist.death)
    hist.care_end = np.where(died, np.minimum(hist.care_end, death), hist.care_end)
    hist.pc_end = np.where(died, np.minimum(hist.pc_end, death), hist.pc_end)


def patient_outcomes(
    rng: np.random.Generator,
    span: Span,
    effects: OutcomeEffects,
    practices: Practices,
    cl: Clinicians,
    patients: Patients,
    hist,
    enc: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Replace the follow-up's emergency visits, admissions and deaths by the outcome processes.

    Returns the encounters (sorted as :func:`carethread.synth.encounters.assemble`
    sorts them); ``hist`` is updated in place with the deaths.
    """
    from carethread.synth.encounters import _COLUMNS

    lo, mid, hi = effects.windows(span)
    n = patients.n
    upc, coc = baseline_indices(enc, n, lo, mid)
    present = (hist.death == NEVER) & (hist.care_end > mid) & (patients.entry < mid)
    z = ((mid - patients.birth) / 365.25 - 50) / 10
    # Chronic conditions raise every rate; population.build_patients draws them
    # Poisson with a mean that grows with age. The term m C - c (e^m - 1) has mean 0
    # on the rate scale at every age (E exp(m C) = exp(c (e^m - 1))), so averaged
    # over morbidity each rate stays log-linear in age, as the models assume.
    expected = 0.15 + 3.0 * (patients.age / 80) ** 2.5

    def rate(base, name, extra):
        m = _CHRONIC[name]
        return base * np.exp(_AGE[name] * z + m * patients.chronic - expected * np.expm1(m) + extra)

    death_rate = rate(_DEATH_RATE, "death", _log_rate(upc, 0.1, effects.death_hr, 0.8))
    death = mid + np.floor(rng.exponential(365.25, n) / death_rate).astype(np.int64)
    died = present & (death < hi)
    stop = np.minimum(np.where(died, death + 1, hi), np.maximum(hist.care_end, mid))
    start = np.full(n, mid, np.int64)
    frailty = rng.gamma(_ED_FRAILTY_SHAPE, 1 / _ED_FRAILTY_SHAPE, n)
    ed_rate = rate(_ED_RATE, "ed", _log_rate(upc, 0.2, effects.ed_irr, 0.8)) * frailty
    adm_rate = rate(_ADMISSION_RATE, "admission", _log_rate(coc, 0.1, effects.admission_hr, 0.7))
    ed_who, ed_day = _events(rng, start, np.where(present, stop, mid), ed_rate)
    adm_who, adm_day = _events(rng, start, np.where(present, stop, mid), adm_rate)

    acute = (enc["setting"] == SETTING["emergency"]) | (enc["setting"] == SETTING["inpatient"])
    dead_then = died[enc["patient"]] & (enc["day"] > np.where(died, death, NEVER)[enc["patient"]])
    keep = ~((acute & ~enc["forced"] & (enc["day"] >= mid)) | dead_then)
    parts = [
        {k: v[keep] for k, v in enc.items()},
        _hospital_encounters(rng, cl, practices, hist, ED, ed_who, ed_day, "emergency"),
        _hospital_encounters(rng, cl, practices, hist, HOSPITALIST, adm_who, adm_day, "inpatient"),
    ]
    out = {k: np.concatenate([p[k] for p in parts]) for k in _COLUMNS}
    _after_death(hist, died, np.where(died, death, NEVER).astype(np.int64))
    key = (out["day"].astype(np.int64) * 1440 + out["minute"]) * n + out["patient"]
    order = np.argsort(key, kind="stable")
    return {k: v[order] for k, v in out.items()}


# Yearly departure hazard of a clinician outside the lowest continuity tertile.
_DEPARTURE_RATE = 0.10


def hold_departures(cl: Clinicians, span: Span, effects: OutcomeEffects) -> None:
    """No panel clinician leaves on or after the follow-up's start: :func:`clinician_departures` decides."""
    mid = effects.windows(span)[1]
    cl.leave = np.where((cl.kind == PANEL) & (cl.leave >= mid), NEVER, cl.leave).astype(cl.leave.dtype)


def provider_side_continuity(enc: dict[str, np.ndarray], n_clinicians: int, lo: int, hi: int):
    """Provider-side continuity and panel size of every clinician as :func:`carethread.measures.panels`
    measures them with visits in ``[lo, hi)``: plurality attribution (most visits, then the latest
    last-visit start, then the smallest id), then own-panel visits over all visits.

    Returns ``(continuity, panel_size)``; continuity is NaN without a visit.
    """
    visit = ((enc["setting"] == SETTING["primary_care"]) | (enc["setting"] == SETTING["virtual"])) & (enc["clin"] >= 0)
    visit &= (enc["day"] >= lo) & (enc["day"] < hi)
    patient, clin = enc["patient"][visit].astype(np.int64), enc["clin"][visit].astype(np.int64)
    moment = enc["day"][visit].astype(np.int64) * 1440 + enc["minute"][visit]
    # One visit per (patient, clinician, day), at its earliest start.
    order = np.lexsort((moment, enc["day"][visit], clin, patient))
    patient, clin, moment, day = patient[order], clin[order], moment[order], enc["day"][visit][order]
    first = np.r_[True, (patient[1:] != patient[:-1]) | (clin[1:] != clin[:-1]) | (day[1:] != day[:-1])]
    patient, clin, moment = patient[first], clin[first], moment[first]
    pair = patient * n_clinicians + clin
    pairs, start, count = np.unique(pair, return_index=True, return_counts=True)
    last = np.maximum.reduceat(moment, start)  # visits are sorted by pair
    p, c = pairs // n_clinicians, pairs % n_clinicians
    # The winner sorts first by (-count, -last start, clinician).
    best = np.lexsort((c, -last, -count, p))
    winner = np.r_[True, p[best][1:] != p[best][:-1]]
    owner = np.full(int(patient.max(initial=-1)) + 1, -1, np.int64)
    owner[p[best][winner]] = c[best][winner]
    visits = np.bincount(clin, minlength=n_clinicians)
    own = np.bincount(clin[owner[patient] == clin], minlength=n_clinicians)
    panel = np.bincount(owner[owner >= 0], minlength=n_clinicians)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(visits > 0, own / visits, np.nan), panel


def clinician_departures(rng, span: Span, effects: OutcomeEffects, cl: Clinicians, hist, enc) -> dict:
    """Clinicians leave after the baseline, more often in the lowest tertile of provider-side continuity.

    Every clinician with a panel at the follow-up's start (panels as of
    then, over the baseline) may leave at a constant hazard,
    ``departure_hr`` times higher in the lowest tertile (by mean rank, as
    :func:`carethread.outcomes.clinician.tertiles`). A leaver's later
    encounters go to one partner per patient (a panel clinician of the same
    practice still working); a patient whose clinician it was switches to
    that partner (``partner``, cause ``clinician_left``), dated by their
    first encounter with the partner. ``cl.leave`` records the day.
    """
    import pandas as pd

    lo, mid, hi = effects.windows(span)
    n_cl = cl.kind.size
    continuity, panel = provider_side_continuity(enc, n_cl, lo, mid)
    cohort = np.flatnonzero((panel > 0) & ~np.isnan(continuity) & (cl.leave > mid))
    ranks = pd.Series(continuity[cohort]).rank(method="average").to_numpy()
    lowest = np.ceil(3 * ranks / max(cohort.size, 1)) == 1
    hazard = _DEPARTURE_RATE * np.where(lowest, effects.departure_hr, 1.0)
    when = mid + np.floor(rng.exponential(365.25, cohort.size) / hazard).astype(np.int64)
    leaving = when < hi
    for c, day in sorted(zip(cohort[leaving].tolist(), when[leaving].tolist(), strict=True), key=lambda t: t[1]):
        partners = np.flatnonzero((cl.practice == cl.practice[c]) & (cl.kind == PANEL) & (np.arange(n_cl) != c))
        partners = partners[(cl.active_from[partners] <= day) & (cl.leave[partners] > day)]
        if not partners.size:
            continue  # nobody to hand the patients to: the clinician stays
        cl.leave[c] = day
        later = np.flatnonzero((enc["clin"] == c) & (enc["day"] >= day))
        patients = np.unique(enc["patient"][later])
        heir = partners[rng.integers(0, partners.size, patients.size)]
        slot = np.searchsorted(patients, enc["patient"][later])
        enc["clin"][later] = heir[slot]
        first = np.full(patients.size, np.iinfo(np.int64).max)
        np.minimum.at(first, slot, enc["day"][later].astype(np.int64))
        _hand_over(hist, c, day, patients, heir, first)
    return enc


def _hand_over(hist, clinician: int, day: int, patients, heir, first) -> None:
    """Record the switches of the leaver's own patients (their true clinician at ``day``) to their
    heirs, dated by the first encounter with the heir (``first``)."""
    ch = hist.changes
    order = np.lexsort((ch["day"], ch["patient"]))
    cp, cd, cc = ch["patient"][order], ch["day"][order], ch["clin"][order]
    key = cp.astype(np.int64) * (2**31) + cd
    at = np.searchsorted(key, patients.astype(np.int64) * (2**31) + day, side="right") - 1
    own = (at >= 0) & (cp[np.maximum(at, 0)] == patients) & (cc[np.maximum(at, 0)] == clinician)
    who, to, when = patients[own], heir[own], first[own]
    hist.changes = {k: np.concatenate([ch[k], v]) for k, v in (("patient", who), ("day", when), ("clin", to))}
    added = {
        "patient": who,
        "frm": np.full(who.size, clinician),
        "to": to,
        "date": when,
        "event": np.full(who.size, day),
        "kind": np.zeros(who.size, np.int64),  # partner
        "cause": np.ones(who.size, np.int64),  # clinician_left
    }
    hist.switches = {k: np.concatenate([np.asarray(v), added[k]]) for k, v in hist.switches.items()}
