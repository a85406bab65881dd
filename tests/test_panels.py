"""Panels and roll-ups: the BJGP 2023 two-list example, hand-computed practices, properties."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.errors import OptionError
from carethread.measures.attribution import attribute
from carethread.measures.panels import (
    CAPACITY_COLUMNS,
    COUNT_COLUMNS,
    PANEL_COLUMNS,
    ROLLUP_COLUMNS,
    panel_rollup,
    panels,
)
from tests.conftest import encounters_table

TOL = 1e-12
AS_OF = "2024-01-01"
DAY0 = dt.datetime(2023, 1, 2, 9)


def enc(p, c, day, practice="X", setting="primary_care", hour=9):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": practice,
        "setting": setting,
        "start": DAY0 + dt.timedelta(days=day, hours=hour - 9),
    }


def by_clinician(table):
    return {r["clinician_id"]: r for r in table.to_pyarrow().to_pylist()}


def bjgp_rows():
    """The BJGP 2023 two-clinician practice, built by hand.

    A's list (plurality with A): p1 7 A + 6 B, p2 7 A + 6 B, p3 8 A + 7 B
    -> 41 visits, 22 with A. B's list: q1 4 A + 5 B, q2 4 A + 5 B, q3 5 A + 6 B
    -> 29 visits, 16 with B. A gives 22 + 13 = 35 visits, 22 to A's own list.
    """
    plan = {"p1": (7, 6), "p2": (7, 6), "p3": (8, 7), "q1": (4, 5), "q2": (4, 5), "q3": (5, 6)}
    rows = []
    for p, (n_a, n_b) in plan.items():
        sequence = "A" * n_a + "B" * n_b
        rows += [enc(p, c, 20 * i + (1 if p.startswith("q") else 0)) for i, c in enumerate(sequence)]
    return rows


def test_one_schema_with_or_without_capacity(con):
    t = encounters_table(con, bjgp_rows())
    assert PANEL_COLUMNS == COUNT_COLUMNS + CAPACITY_COLUMNS and ROLLUP_COLUMNS[-2:] == CAPACITY_COLUMNS
    with_capacity = ibis.memtable({"clinician_id": ["A"], "practice_id": ["X"], "capacity": [10]})
    without = ibis.memtable({"clinician_id": ["A"], "practice_id": ["X"]})
    schemas = [panels(t, as_of=AS_OF, clinicians=c).schema() for c in (None, without, with_capacity)]
    assert all(tuple(s.names) == PANEL_COLUMNS for s in schemas)
    assert schemas[0] == schemas[1] == schemas[2]
    got = by_clinician(panels(t, as_of=AS_OF))
    assert {(r["capacity"], r["panel_vs_capacity"]) for r in got.values()} == {(None, None)}
    got = by_clinician(panels(t, as_of=AS_OF, clinicians=with_capacity))
    assert (got["A"]["capacity"], got["A"]["panel_vs_capacity"], got["B"]["capacity"]) == (10, 0.3, None)
    rollups = [panel_rollup(panels(t, as_of=AS_OF, clinicians=c), by="system") for c in (None, with_capacity)]
    assert all(tuple(r.columns) == ROLLUP_COLUMNS for r in rollups)
    assert rollups[0].schema() == rollups[1].schema()
    assert tuple(panel_rollup(panels(t, as_of=AS_OF)).columns) == ("practice_id", *ROLLUP_COLUMNS)


def test_bjgp_2023_two_list_example(con):
    got = by_clinician(panels(encounters_table(con, bjgp_rows()), as_of=AS_OF))
    a, b = got["A"], got["B"]
    assert (a["panel_size"], a["visits"], a["visits_with_own_panel"]) == (3, 35, 22)
    assert (a["panel_visits"], a["panel_visits_with_clinician"]) == (41, 22)
    assert a["provider_side_continuity"] == pytest.approx(22 / 35, abs=TOL)
    assert round(a["provider_side_continuity"], 4) == 0.6286
    assert a["patient_side_continuity"] == pytest.approx(22 / 41, abs=TOL)
    assert round(a["patient_side_continuity"], 4) == 0.5366
    assert (b["visits"], b["visits_with_own_panel"], b["panel_visits"]) == (35, 16, 29)
    assert b["provider_side_continuity"] == pytest.approx(16 / 35, abs=TOL)
    assert b["patient_side_continuity"] == pytest.approx(16 / 29, abs=TOL)
    assert a["patients_seen"] == b["patients_seen"] == 6
    assert a["practice_id"] == b["practice_id"] == "X"


def test_bjgp_rollup_sums_numerators_and_denominators(con):
    p = panels(encounters_table(con, bjgp_rows()), as_of=AS_OF)
    for by in ("practice", "system"):
        r = panel_rollup(p, by=by).to_pyarrow().to_pylist()[0]
        assert (r["clinicians"], r["panel_size"], r["visits"], r["visits_with_own_panel"]) == (2, 6, 70, 38)
        assert (r["panel_visits"], r["panel_visits_with_clinician"], r["relationships"]) == (70, 38, 12)
        assert r["provider_side_continuity"] == pytest.approx(38 / 70, abs=TOL)
        assert r["patient_side_continuity"] == pytest.approx(38 / 70, abs=TOL)
        # Not the mean of the clinicians' ratios:
        assert r["patient_side_continuity"] != pytest.approx((22 / 41 + 16 / 29) / 2, abs=1e-6)
        if by == "practice":
            assert r["practice_id"] == "X"


def load_rows():
    """Clinician C (practice Y on 2 of 3 encounters), D (listed in practice W), E unlisted.

    C: p1 on days 0 and 1, p2 on day 0 (twice that day) -> 3 visits on 2 days.
    D: p3 on days 0, 5 and 9; p2 on day 5 -> 4 visits on 3 days, 2 patients.
    E: p4 on day 3 (practice Z), and an emergency encounter that does not count.
    """
    return [
        enc("p1", "C", 0, practice="Y"),
        enc("p1", "C", 1, practice="Y"),
        enc("p2", "C", 0, practice="Z", hour=10),
        enc("p2", "C", 0, practice="Z", hour=11),
        enc("p3", "D", 0, practice="Y"),
        enc("p3", "D", 5, practice="Y"),
        enc("p3", "D", 9, practice="Y"),
        enc("p2", "D", 5, practice="Y"),
        enc("p4", "E", 3, practice="Z"),
        enc("p4", "E", 4, practice="Q", setting="emergency"),
    ]


def test_load_practice_and_capacity(con):
    t = encounters_table(con, load_rows())
    clin = ibis.memtable(
        {"clinician_id": ["C", "D", "D"], "practice_id": [None, "W", "V"], "capacity": [4, None, None]}
    )
    got = by_clinician(panels(t, as_of=AS_OF, clinicians=clin))
    c, d, e = got["C"], got["D"], got["E"]
    # p2 sees C once and D once (on a later day) -> attributed to D (most recent).
    assert (c["panel_size"], d["panel_size"], e["panel_size"]) == (1, 2, 1)
    assert (c["visits"], c["patients_seen"], c["visits_per_day"]) == (3, 2, 1.5)
    assert (d["visits"], d["patients_seen"], d["visits_per_day"]) == (4, 2, pytest.approx(4 / 3))
    assert (c["visits_with_own_panel"], c["panel_visits"], c["panel_visits_with_clinician"]) == (2, 2, 2)
    assert c["provider_side_continuity"] == pytest.approx(2 / 3)
    assert d["patient_side_continuity"] == pytest.approx(4 / 5)  # p2 + p3 made 5 visits, 4 with D
    # Practice: the listed one wins (smallest when listed twice); else the most frequent on encounters.
    assert (c["practice_id"], d["practice_id"], e["practice_id"]) == ("Y", "V", "Z")
    assert (c["capacity"], c["panel_vs_capacity"]) == (4, 0.25)
    assert (d["capacity"], d["panel_vs_capacity"], e["capacity"]) == (None, None, None)
    r = panel_rollup(panels(t, as_of=AS_OF, clinicians=clin), by="system").to_pyarrow().to_pylist()[0]
    assert (r["capacity"], r["panel_vs_capacity"]) == (4, 0.25)  # only panels with a known capacity
    assert (r["working_days"], r["visits"], r["visits_per_day"]) == (6, 8, pytest.approx(8 / 6))


def test_unattributed_visits_count_for_the_clinician_but_in_no_panel(con):
    rows = [enc("p", "A", 0), enc("p", "B", 1), enc("q", "A", 2), enc("q", "A", 3)]
    got = by_clinician(panels(encounters_table(con, rows), as_of=AS_OF, rule="majority"))
    assert (got["A"]["panel_size"], got["A"]["visits"], got["A"]["visits_with_own_panel"]) == (1, 3, 2)
    assert (got["B"]["panel_size"], got["B"]["visits"], got["B"]["provider_side_continuity"]) == (0, 1, 0.0)
    assert (got["B"]["panel_visits"], got["B"]["patient_side_continuity"]) == (0, None)


def test_counting_window_and_attribution_window(con):
    rows = [enc("p", "A", 0), enc("p", "A", 100), enc("p", "B", 200), enc("p", "A", 400)]  # day 400 after as_of
    t = encounters_table(con, rows)
    got = by_clinician(panels(t, as_of=AS_OF))
    assert (got["A"]["panel_size"], got["A"]["visits"], got["A"]["panel_visits"]) == (1, 2, 3)
    got = by_clinician(panels(t, as_of=AS_OF, start="2023-06-01", end="2025-01-01"))
    assert (got["A"]["panel_size"], got["A"]["visits"], got["A"]["panel_visits"]) == (1, 1, 2)
    got = by_clinician(panels(t, as_of=AS_OF, lookback_months=6))  # window from 2023-07-01: only B's visit
    assert set(got) == {"B"} and got["B"]["panel_size"] == 1
    with pytest.warns(
        DeprecationWarning, match=r"panels\(lookback=...\) is deprecated.*use panels\(lookback_months=...\)"
    ):
        old = panels(t, as_of=AS_OF, lookback=6)
    assert old.to_pyarrow().equals(panels(t, as_of=AS_OF, lookback_months=6).to_pyarrow())


def test_as_of_defaults_to_end_else_the_day_after_the_last_encounter(con):
    t = encounters_table(con, [enc("p", "A", 0), enc("p", "A", 100), enc("p", "B", 200)])
    last = (DAY0 + dt.timedelta(days=201)).date()
    assert panels(t).to_pyarrow().equals(panels(t, as_of=last).to_pyarrow())
    assert panels(t, end="2023-06-01").to_pyarrow().equals(panels(t, as_of="2023-06-01", end="2023-06-01").to_pyarrow())


def test_encounter_practice_is_a_deprecated_alias_of_clinician_practice(con):
    from carethread.measures.panels import encounter_practice
    from carethread.measures.practices import clinician_practice

    t = encounters_table(con, load_rows())
    with pytest.warns(DeprecationWarning, match=r"use carethread.measures.practices.clinician_practice\(\)"):
        old = encounter_practice(t, start="2023-01-01")
    got = sorted(old.to_pyarrow().to_pylist(), key=lambda r: r["clinician_id"])
    assert got == sorted(
        clinician_practice(t, start="2023-01-01").to_pyarrow().to_pylist(), key=lambda r: r["clinician_id"]
    )
    # C: Y twice (p1), Z on one day twice (p2): Y; D: Y; E: Z (its emergency encounter is not a visit setting).
    assert [(r["clinician_id"], r["practice_id"]) for r in got] == [("C", "Y"), ("D", "Y"), ("E", "Z")]


def test_empty_input_and_bad_rollup_level(con):
    t = encounters_table(con, [])
    assert panels(t, as_of=AS_OF).count().execute() == 0
    with pytest.raises(OptionError):
        panel_rollup(panels(t, as_of=AS_OF), by="region")


# --- properties ----------------------------------------------------------------------

visit = st.tuples(
    st.sampled_from("ABCD"),
    st.integers(0, 360),
    st.integers(8, 17),
    st.sampled_from("XY"),
    st.sampled_from(["primary_care", "primary_care", "virtual", "emergency"]),
)
population = st.dictionaries(
    st.text("pq0123", min_size=1, max_size=3), st.lists(visit, max_size=8), min_size=1, max_size=8
)


def rows_of(pop):
    return [enc(p, c, d, practice=x, setting=s, hour=h) for p, vs in pop.items() for c, d, h, x, s in vs]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pop=population, rule=st.sampled_from(["plurality", "majority", "recent"]), seed=st.integers(0, 1000))
def test_invariants_and_row_order(con, pop, rule, seed):
    rows = rows_of(pop)
    t = encounters_table(con, rows)
    got = by_clinician(panels(t, as_of=AS_OF, rule=rule))
    attributed = attribute(t, as_of=AS_OF, rule=rule).count().execute()
    assert sum(r["panel_size"] for r in got.values()) == attributed
    visits = {
        (r["patient_id"], r["clinician_id"], r["start"].date())
        for r in rows
        if r["setting"] in ("primary_care", "virtual")
    }
    assert sum(r["visits"] for r in got.values()) == len(visits)
    per_clinician = Counter(c for _, c, _ in visits)
    for c, r in got.items():
        assert r["visits"] == per_clinician[c]
        assert r["visits_with_own_panel"] == r["panel_visits_with_clinician"]
        assert r["patients_seen"] == len({p for p, cc, _ in visits if cc == c})
        for col in ("provider_side_continuity", "patient_side_continuity"):
            assert r[col] is None or 0.0 <= r[col] <= 1.0
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert by_clinician(panels(encounters_table(con, shuffled), as_of=AS_OF, rule=rule)) == got
