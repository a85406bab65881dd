"""Relationship breaks in plain Python, written from the ``relationship_breaks`` docstring.

An independent reference for the tests: it walks each patient's visit days with
lists and dictionaries (no window functions, no SQL), so an Ibis
expression that agrees with it on random inputs implements the rule as written.
It also holds the matching of detected breaks to a synthetic system's true
switches (DESIGN: same patient and kind, dates within 180 days).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, defaultdict

VISIT_SETTINGS = ("primary_care", "virtual")
ACUTE = ("emergency", "urgent_care")
MATCH_DAYS = 180


def add_months(d: dt.date, months: int) -> dt.date:
    """Calendar months later, the day clamped to the month's end."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def window_days(months: int) -> int:
    """A window of whole months in days: a month is 365.25 / 12 days, rounded half up."""
    return int(months * 365.25 / 12 + 0.5)


def practices_of(rows) -> dict:
    """Each clinician's practice: the one of most of their encounters, ties to the smallest id."""
    counts = defaultdict(Counter)
    for r in rows:
        if r["clinician_id"] is not None and r["practice_id"] is not None:
            counts[r["clinician_id"]][r["practice_id"]] += 1
    return {c: min(n, key=lambda x: (-n[x], x)) for c, n in counts.items()}


class _Patient:
    """One patient's visits (sorted ``(day, clinician)``) and who held them when."""

    def __init__(self, visits, usual_days: int):
        self.visits, self.U = sorted(visits), usual_days
        self.days_with = defaultdict(list)
        for d, c in self.visits:
            self.days_with[c].append(d)
        # c holds the patient at its visit on day t: at least 2 and more than half of the
        # patient's visits on the U days up to and including t.
        self.holds = []
        for t, c in self.visits:
            lo, hi = t - dt.timedelta(days=usual_days - 1), t + dt.timedelta(days=1)
            mine = self.count(lo, hi, c)
            if mine >= 2 and 2 * mine > self.count(lo, hi):
                self.holds.append((t, c))

    def count(self, lo, hi, c=None):
        """Visits (with ``c``) on days ``lo <= day < hi``."""
        return sum(1 for d, x in self.visits if lo <= d < hi and (c is None or x == c))

    def seen(self, c, lo, hi) -> bool:
        """A visit with ``c`` on a day ``lo < day < hi``."""
        return any(lo < d < hi for d in self.days_with[c])

    def holder(self, day, *, inclusive: bool):
        """``(a, s)``: the clinician and day of the latest holding visit before (or on) ``day``,
        when it is less than U days before it."""
        earlier = [(t, c) for t, c in self.holds if t < day or (inclusive and t == day)]
        if not earlier:
            return None
        s, a = max(earlier)
        return (a, s) if (day - s).days < self.U else None


def _switches(patient: _Patient, confirm_days: int, confirm: int, kind_of, left):
    """``(a, b, d, kind, gone)`` for every confirmed switch."""
    for d, b in patient.visits:
        held = patient.holder(d, inclusive=False)
        if held is None or held[0] == b:
            continue
        a, s = held
        stop = d + dt.timedelta(days=confirm_days)
        if patient.seen(b, s, d) or patient.seen(a, s, stop):
            continue  # not the first visit with b after the last with a, or a seen again
        n_b, n = patient.count(d, stop, b), patient.count(d, stop)
        kind, gone = kind_of(a, b), left(a, s, d)
        need = 1 + confirm + (1 if kind == "partner" and not gone else 0)
        if n_b >= need and 2 * n_b > n:
            yield a, b, d, kind, gone


def _lapses(days: dict, lost_months: int, emergency_months: int, data_end):
    """``(t, kind, date)`` for the lapse after each visit day ``t`` that has one.

    ``days`` maps each of the patient's encounter days to its flags (visit, acute, other).
    """
    ordered = sorted(days)
    following = {x: (ordered[i + 1] if i + 1 < len(ordered) else None) for i, x in enumerate(ordered)}
    for i, t in enumerate(ordered):
        if "visit" not in days[t]:
            continue
        j = i + 1
        while j < len(ordered) and "visit" not in days[ordered[j]]:
            j += 1
        episode, next_visit = ordered[i:j], (ordered[j] if j < len(ordered) else None)
        acute = [x for x in episode[1:] if "acute" in days[x]]
        other = [x for x in episode[1:] if "other" in days[x]]
        silent = [x for x in episode if following[x] is None or following[x] > add_months(x, lost_months)]
        first_acute = acute[0] if acute else None
        silent_from = silent[0] if silent else None
        quiet = next_visit is None or next_visit >= add_months(t, emergency_months)
        if (
            quiet
            and first_acute is not None
            and (not other or other[0] >= first_acute)
            and not (silent_from is not None and silent_from < first_acute)
        ):
            if add_months(t, emergency_months) <= data_end:
                yield t, "emergency_only", first_acute
        elif silent_from is not None and add_months(silent_from, lost_months) < data_end:
            yield t, "lost", silent_from + dt.timedelta(days=1)


def reference_breaks(
    rows,
    *,
    practices=None,
    end=None,
    settings=VISIT_SETTINGS,
    usual_months=24,
    confirm=1,
    confirm_months=18,
    lost_after_months=12,
    emergency_after_months=12,
):
    """Set of ``(patient, from, to, break_date, kind, cause)`` for encounter ``rows`` (dicts).

    ``end`` (a datetime) closes the window ``[-inf, end)``; ``practices`` maps
    clinicians to practices (default: :func:`practices_of` the rows in the window).
    """
    rows = [r for r in rows if end is None or r["start"] < end]
    if not rows:
        return set()
    practices = practices_of(rows) if practices is None else practices
    data_end = end.date() if end is not None else max(r["start"] for r in rows).date() + dt.timedelta(days=1)
    last_seen = {}  # each clinician's last encounter day, any patient, any setting
    visits = defaultdict(set)  # patient -> {(day, clinician)}
    days = defaultdict(dict)  # patient -> day -> {"visit", "acute", "other"}
    for r in rows:
        d, c = r["start"].date(), r["clinician_id"]
        if c is not None:
            last_seen[c] = max(last_seen.get(c, d), d)
        is_visit = r["setting"] in settings and c is not None
        flags = days[r["patient_id"]].setdefault(d, set())
        if is_visit:
            visits[r["patient_id"]].add((d, c))
        flags.add("visit" if is_visit else "acute" if r["setting"] in ACUTE else "other")

    def left(a, since, d):
        # a still saw someone on or after the patient's last visit before the break (since),
        # nobody from the break on, and the data run at least three months past the break.
        return since <= last_seen.get(a, dt.date.min) < d and add_months(d, 3) <= data_end

    def kind_of(a, b):
        same = practices.get(a) is not None and practices.get(a) == practices.get(b)
        return "partner" if same else "other_practice"

    def cause(gone):
        return "clinician_left" if gone else "patient_moved_on"

    out = set()
    for p in days:
        patient = _Patient(visits[p], window_days(usual_months))
        for a, b, d, kind, gone in _switches(patient, window_days(confirm_months), confirm, kind_of, left):
            out.add((p, a, b, d, kind, cause(gone)))
        for t, kind, date in _lapses(days[p], lost_after_months, emergency_after_months, data_end):
            held = patient.holder(t, inclusive=True)
            if held is not None:
                out.add((p, held[0], None, date, kind, cause(left(held[0], t, date))))
    return out


def match_breaks(detected, true):
    """One-to-one matches ``(detected index, true index)``: same patient and kind, dates
    within MATCH_DAYS, nearest dates first."""
    by_key = defaultdict(list)
    for i, t in enumerate(true):
        by_key[t["patient_id"], t["kind"]].append(i)
    candidates = sorted(
        (abs((d["break_date"] - true[i]["switch_date"]).days), j, i)
        for j, d in enumerate(detected)
        for i in by_key.get((d["patient_id"], d["kind"]), [])
        if abs((d["break_date"] - true[i]["switch_date"]).days) <= MATCH_DAYS
    )
    used_d, used_t, pairs = set(), set(), []
    for _gap, j, i in candidates:
        if j not in used_d and i not in used_t:
            used_d.add(j), used_t.add(i), pairs.append((j, i))
    return pairs


def scores(detected, true, kinds=("partner", "other_practice", "emergency_only", "lost")):
    """Precision (over detected breaks of a kind) and recall (over observable true switches of
    that kind) per kind, and the precision of ``cause == clinician_left``: of the breaks the
    measure says the clinician's leaving caused, the share matched to a true switch of that
    cause."""
    pairs = match_breaks(detected, true)
    out = {}
    for kind in kinds:
        n_det = sum(d["kind"] == kind for d in detected)
        observable = {i for i, t in enumerate(true) if t["kind"] == kind and t["observable"]}
        found = {i for j, i in pairs if detected[j]["kind"] == kind}
        out[kind] = {
            "precision": len(found) / max(n_det, 1),
            "recall": len(found & observable) / max(len(observable), 1),
            "detected": n_det,
            "observable": len(observable),
        }
    matched = dict(pairs)
    said = [j for j, d in enumerate(detected) if d["cause"] == "clinician_left"]
    right = sum(1 for j in said if j in matched and true[matched[j]]["cause"] == "clinician_left")
    out["clinician_left"] = {"precision": right / max(len(said), 1), "detected": len(said)}
    return out
