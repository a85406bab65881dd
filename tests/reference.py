"""An independent, deliberately naive implementation of the patient indices.

Plain Python over lists, written straight from docs/definitions.md (*Visits*,
*Continuity indices*, *Usual clinician*) without sharing any code with
carethread, so tests compare two derivations rather than one code path with
itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from fractions import Fraction

DEFAULT_SETTINGS = {"primary_care", "virtual"}
EPOCH = dt.datetime(1900, 1, 1)


def patient_indices(rows, *, settings=DEFAULT_SETTINGS, min_visits=2, lookback_days=365, provider="clinician_id"):
    """rows: dicts with patient_id, clinician_id, practice_id, start, setting.

    Returns {patient_id: dict of n_visits, n_clinicians, usual, and the seven
    indices as exact Fractions (None when undefined)}.
    """
    patients = {r["patient_id"] for r in rows}
    first_start = {}
    for r in rows:
        if r["setting"] not in settings or r[provider] is None:
            continue
        key = (r["patient_id"], r[provider], r["start"].date())
        first_start[key] = min(first_start.get(key, r["start"]), r["start"])
    by_patient = defaultdict(list)
    for (p, c, day), start in first_start.items():
        by_patient[p].append((start, c, day))
    out = {}
    for p in patients:
        seq = sorted(by_patient.get(p, []))
        n = len(seq)
        counts = Counter(c for _, c, _ in seq)
        m = len(counts)
        res = {"n_visits": n, "n_clinicians": m, "usual": None}
        if n:
            # Most visits; then the most recent visit, the last in visit order: the latest
            # start of the clinicians' last visits; then the smallest id.
            last = {c: max(start for start, cc, _ in seq if cc == c) for c in counts}
            res["usual"] = sorted(counts, key=lambda c: (-counts[c], EPOCH - last[c], c))[0]
        idx = dict.fromkeys(["upc", "coc", "secon", "mmci", "hhi", "k_index", "known_provider"])
        if n >= min_visits and n >= 1:
            N = Fraction(n)
            idx["upc"] = Fraction(max(counts.values()), n)
            idx["hhi"] = sum(Fraction(k, n) ** 2 for k in counts.values())
            idx["mmci"] = (N - m + Fraction(1, 10)) / (N - Fraction(9, 10))
            if n >= 2:
                idx["coc"] = Fraction(sum(k * k for k in counts.values()) - n, n * (n - 1))
                idx["secon"] = Fraction(sum(seq[t][1] == seq[t + 1][1] for t in range(n - 1)), n - 1)
                idx["k_index"] = Fraction(n - m, n - 1)
                known = 0
                for t in range(1, n):
                    _, c, day = seq[t]
                    earlier = [d for _, cc, d in seq[:t] if cc == c and d < day]
                    if earlier and (lookback_days is None or (day - max(earlier)).days <= lookback_days):
                        known += 1
                idx["known_provider"] = Fraction(known, n - 1)
        res.update(idx)
        out[p] = res
    return out


def rows_from_sequences(sequences, *, start=dt.datetime(2020, 1, 1, 9), gap_days=7, practice="X"):
    """Encounter rows for {patient: "AABAC"}: one visit a week, in order."""
    rows = []
    for p, seq in sequences.items():
        for i, c in enumerate(seq):
            rows.append(
                {
                    "patient_id": p,
                    "clinician_id": c,
                    "practice_id": practice,
                    "start": start + dt.timedelta(days=gap_days * i),
                    "setting": "primary_care",
                }
            )
    return rows
