"""Dyads: hand-computed practices, edge cases and properties."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.measures.dyads import DYAD_COLUMNS, dyads
from tests.conftest import encounters_table

TOL = 1e-12
DAY0 = dt.datetime(2022, 1, 1, 9)


def enc(p, c, day, setting="primary_care", hour=9, practice="X"):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": practice,
        "setting": setting,
        "start": DAY0 + dt.timedelta(days=day, hours=hour - 9),
    }


def run(con, rows, **kw):
    out = dyads(encounters_table(con, rows), **kw).to_pyarrow().to_pylist()
    return {(r["patient_id"], r["clinician_id"]): r for r in out}


def test_output_columns_are_the_contract(con):
    assert tuple(dyads(encounters_table(con, [enc("p", "A", 0)])).columns) == DYAD_COLUMNS


def test_hand_computed_practice(con):
    # Clinician A sees p on days 0, 10, 40 (gaps 10, 30) and q on days 5, 6;
    # clinician B sees p on day 20 and r on days 0 and 100.
    # Visits: p 4 (A 3, B 1); q 2; r 2. A gives 5 visits, B 3.
    rows = [
        enc("p", "A", 0),
        enc("p", "A", 10),
        enc("p", "A", 40),
        enc("p", "B", 20),
        enc("q", "A", 5),
        enc("q", "A", 6),
        enc("r", "B", 0),
        enc("r", "B", 100),
    ]
    got = run(con, rows)
    assert set(got) == {("p", "A"), ("p", "B"), ("q", "A"), ("r", "B")}
    pa_ = got[("p", "A")]
    assert (pa_["dyad_visits"], pa_["patient_visits"], pa_["clinician_visits"]) == (3, 4, 5)
    assert pa_["patient_dependence"] == pytest.approx(3 / 4, abs=TOL)
    assert pa_["clinician_dependence"] == pytest.approx(3 / 5, abs=TOL)
    assert (pa_["first_visit"], pa_["last_visit"]) == (DAY0.date(), (DAY0 + dt.timedelta(days=40)).date())
    assert (pa_["duration_days"], pa_["longest_gap_days"]) == (40, 30)
    pb = got[("p", "B")]
    assert (pb["dyad_visits"], pb["patient_dependence"], pb["clinician_dependence"]) == (1, 0.25, pytest.approx(1 / 3))
    assert (pb["duration_days"], pb["longest_gap_days"]) == (0, None)
    q = got[("q", "A")]
    assert (q["patient_dependence"], q["clinician_dependence"], q["duration_days"], q["longest_gap_days"]) == (
        1.0,
        pytest.approx(2 / 5),
        1,
        1,
    )
    r = got[("r", "B")]
    assert (r["clinician_dependence"], r["duration_days"], r["longest_gap_days"]) == (pytest.approx(2 / 3), 100, 100)


def test_same_day_repeats_are_one_visit_and_gaps_use_calendar_days(con):
    rows = [enc("p", "A", 0, hour=8), enc("p", "A", 0, hour=17), enc("p", "A", 1, hour=8), enc("p", "A", 3, hour=23)]
    row = run(con, rows)[("p", "A")]
    assert row["dyad_visits"] == 3
    assert (row["duration_days"], row["longest_gap_days"]) == (3, 2)


def test_settings_window_and_missing_clinician(con):
    rows = [
        enc("p", "A", 0),
        enc("p", None, 1),
        enc("p", "E", 2, setting="emergency"),
        enc("p", "A", 30),
        enc("p", "A", 60),
    ]
    got = run(con, rows)
    assert set(got) == {("p", "A")} and got[("p", "A")]["dyad_visits"] == 3
    got = run(con, rows, start=DAY0 + dt.timedelta(days=1), end=DAY0 + dt.timedelta(days=60))
    assert got[("p", "A")]["dyad_visits"] == 1  # day 60 is excluded: the window's end is exclusive
    got = run(con, rows, settings="primary_care,emergency")
    assert got[("p", "E")]["patient_dependence"] == pytest.approx(1 / 4)


def test_empty_input_gives_empty_table(con):
    assert dyads(encounters_table(con, [])).count().execute() == 0


# --- properties ----------------------------------------------------------------------

visit = st.tuples(
    st.sampled_from("ABCD"),
    st.integers(0, 400),
    st.integers(8, 17),
    st.sampled_from(["primary_care", "primary_care", "virtual", "emergency"]),
)
population = st.dictionaries(
    st.text("pq0123", min_size=1, max_size=3), st.lists(visit, max_size=10), min_size=1, max_size=8
)
hyp = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def rows_of(pop):
    return [enc(p, c, d, setting=s, hour=h) for p, vs in pop.items() for c, d, h, s in vs]


def naive(rows):
    """Straight from docs/definitions.md (*Visits*): visits are distinct (patient, clinician, day)."""
    days = defaultdict(set)
    for r in rows:
        if r["setting"] in ("primary_care", "virtual") and r["clinician_id"] is not None:
            days[(r["patient_id"], r["clinician_id"])].add(r["start"].date())
    out = {}
    for key, ds in days.items():
        ds = sorted(ds)
        gaps = [(b - a).days for a, b in itertools.pairwise(ds)]
        out[key] = (len(ds), ds[0], ds[-1], (ds[-1] - ds[0]).days, max(gaps) if gaps else None)
    return out


@hyp
@given(pop=population, seed=st.integers(0, 1000))
def test_matches_naive_and_sums_and_row_order(con, pop, seed):
    rows = rows_of(pop)
    got = run(con, rows)
    expected = naive(rows)
    assert set(got) == set(expected)
    for key, (n, first, last, duration, gap) in expected.items():
        r = got[key]
        assert (r["dyad_visits"], r["first_visit"], r["last_visit"], r["duration_days"], r["longest_gap_days"]) == (
            n,
            first,
            last,
            duration,
            gap,
        )
    per_patient, per_clinician = Counter(), Counter()
    for (p, c), r in got.items():
        per_patient[p] += r["dyad_visits"]
        per_clinician[c] += r["dyad_visits"]
    for (p, c), r in got.items():
        assert r["patient_visits"] == per_patient[p] and r["clinician_visits"] == per_clinician[c]
        assert 0 < r["patient_dependence"] <= 1 and 0 < r["clinician_dependence"] <= 1
    for side, totals in (("patient_dependence", per_patient), ("clinician_dependence", per_clinician)):
        sums = Counter()
        for (p, c), r in got.items():
            sums[p if side == "patient_dependence" else c] += r[side]
        assert sums.keys() == totals.keys()
        assert all(s == pytest.approx(1.0, abs=1e-9) for s in sums.values())
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert run(con, shuffled) == got
