"""The ground truth the measures should recover, from the simulated history.

Two tables: each patient's true usual clinician at the end of every quarter of
the span, and every relationship switch dated in the span, with whether the
emitted encounters could show it at all (``observable``).
"""

from __future__ import annotations

import numpy as np

from carethread.synth.encounters import SETTING
from carethread.synth.events import History
from carethread.synth.population import LOOKBACK_DAYS, Span

#: Switch kind codes (index into ``tables.SWITCH_KINDS``).
PARTNER, OTHER_PRACTICE, EMERGENCY_ONLY, LOST = range(4)
#: Days a lapse must last within the data to be seen (the default 12 months of
#: ``lost_after_months`` and ``emergency_after_months``).
LAPSE_DAYS = 365


def true_usual(span: Span, n_patients: int, changes: dict[str, np.ndarray]):
    """Each patient's true clinician on the last day of every calendar quarter
    the span touches (the span's last day for a quarter cut short).

    Returns ``(quarter_start, patient, clinician)`` arrays; clinician -1 = none.
    """
    first = np.datetime64(span.epoch_day, "D").astype("datetime64[M]").astype(np.int64)
    last = np.datetime64(span.epoch_day + span.n_days - 1, "D").astype("datetime64[M]").astype(np.int64)
    months = np.arange(first - first % 3, last + 1, 3).astype("datetime64[M]")
    q_start = months.astype("datetime64[D]").astype(np.int64) - span.epoch_day
    q_last = (months + 3).astype("datetime64[D]").astype(np.int64) - span.epoch_day - 1
    probe = np.minimum(q_last, span.n_days - 1) - span.first

    stride = span.n_days - span.first + 2
    key = changes["patient"] * stride + (changes["day"] - span.first)
    order = np.argsort(key, kind="stable")  # stable: a later change on the same day wins
    key, c_patient, c_clin = key[order], changes["patient"][order], changes["clin"][order]
    who = np.repeat(np.arange(n_patients), q_start.size)
    at = np.searchsorted(key, who * stride + np.tile(probe, n_patients), side="right") - 1
    found = (at >= 0) & (c_patient[np.maximum(at, 0)] == who)
    return np.tile(q_start, n_patients), who, np.where(found, c_clin[np.maximum(at, 0)], -1)


class _Visits:
    """Distinct visit days per (patient, clinician), searchable by day."""

    def __init__(self, span: Span, enc: dict[str, np.ndarray], n_clinicians: int):
        self.n_clinicians = n_clinicians
        self.offset = span.history
        self.days = span.n_days + span.history + 2
        visit = ((enc["setting"] == SETTING["primary_care"]) | (enc["setting"] == SETTING["virtual"])) & (
            enc["clin"] >= 0
        )
        keys = np.sort(self._key(enc["patient"][visit], enc["clin"][visit], enc["day"][visit]))
        self.keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys

    def _key(self, patient, clin, day):
        pair = patient.astype(np.int64) * (self.n_clinicians + 1) + np.asarray(clin, np.int64)
        return pair * self.days + np.clip(np.asarray(day, np.int64) + self.offset, 0, self.days - 1)

    def count(self, patient, clin, lo, hi) -> np.ndarray:
        """Visit days with ``clin`` in ``[lo, hi)`` (0 where ``clin`` is -1)."""
        known = np.asarray(clin) >= 0
        clin = np.maximum(clin, 0)
        n = np.searchsorted(self.keys, self._key(patient, clin, hi)) - np.searchsorted(
            self.keys, self._key(patient, clin, lo)
        )
        return np.where(known, n, 0)


def true_switches(span: Span, hist: History, enc: dict[str, np.ndarray], n_patients: int, n_clinicians: int):
    """The switches dated in the span, as a dict of arrays.

    Columns ``patient, frm, to, date, event, kind, cause, observable``.
    ``lost`` is re-dated by the patient's last encounter (the day after it;
    the event day when there is none). A switch is ``observable`` when the
    encounters can show it: the old clinician was seen (a primary-care or
    virtual visit) in the 18 months (548 days) before ``date`` and, for
    ``partner`` and ``other_practice``, the new clinician on at least two days
    from ``date`` to the end of the span; for ``emergency_only`` and ``lost``,
    the data run at least 12 months (365 days) past ``date``.
    """
    sw = {k: np.asarray(v, np.int64) for k, v in hist.switches.items()}
    lost = sw["kind"] == LOST
    # Lost is terminal, so all of the patient's encounters come before it.
    last_seen = np.full(n_patients, -np.iinfo(np.int64).max, np.int64)
    np.maximum.at(last_seen, enc["patient"], enc["day"].astype(np.int64))
    seen_before = last_seen[sw["patient"]] >= -span.history
    sw["date"] = np.where(lost & seen_before, np.minimum(last_seen[sw["patient"]] + 1, sw["event"]), sw["date"])

    T = span.n_days
    keep = (sw["date"] >= 0) & (sw["date"] < T)
    sw = {k: v[keep] for k, v in sw.items()}
    visits = _Visits(span, enc, n_clinicians)
    old_seen = visits.count(sw["patient"], sw["frm"], sw["date"] - LOOKBACK_DAYS, sw["date"]) > 0
    new_twice = visits.count(sw["patient"], sw["to"], sw["date"], T) >= 2
    lapse = (sw["kind"] == EMERGENCY_ONLY) | (sw["kind"] == LOST)
    sw["observable"] = old_seen & np.where(lapse, sw["date"] + LAPSE_DAYS <= T, new_twice)
    order = np.lexsort((sw["date"], sw["patient"]))
    return {k: v[order] for k, v in sw.items()}
