"""Who needs whom: hand-computed values, the headline, bootstrap determinism and coverage."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.errors import OptionError
from carethread.measures.panels import panel_rollup, panels
from carethread.summary import MEASURES, WhoNeedsWhom, _WeightedMedian, who_needs_whom
from tests.conftest import encounters_table
from tests.test_panels import bjgp_rows

TOL = 1e-12
SHARE_MEASURES = [name for name, _ in MEASURES]


def test_bjgp_practice_by_hand(con):
    # Visits: p1 7 A + 6 B, p2 7 A + 6 B, p3 8 A + 7 B, q1 4 A + 5 B, q2 4 A + 5 B, q3 5 A + 6 B.
    # UPC: 7/13, 7/13, 8/15, 5/9, 5/9, 6/11 -> median of 8/15 < 7/13 = 7/13 < 6/11 < 5/9 = 5/9
    #   = (7/13 + 6/11) / 2.
    # Usual clinician's work (A and B both gave 35 visits): 7, 7, 8, 5, 5, 6 of 35 -> 6.5/35.
    # Every dyad: 7 7 8 4 4 5 (A) and 6 6 7 5 5 6 (B) of 35 -> median 6/35.
    t = encounters_table(con, bjgp_rows())
    w = who_needs_whom(t, bootstrap=40, seed=1)
    assert isinstance(w, WhoNeedsWhom)
    assert w.value("patient_share_from_usual_clinician") == pytest.approx((7 / 13 + 6 / 11) / 2, abs=TOL)
    assert w.value("patient_share_of_usual_clinicians_work") == pytest.approx(6.5 / 35, abs=TOL)
    assert w.value("patient_share_of_clinicians_work_all_dyads") == pytest.approx(6 / 35, abs=TOL)
    assert w.value("patients_per_clinician") == 6
    assert w.value("clinicians_per_patient") == 2
    assert w.value("provider_side_continuity") == pytest.approx(38 / 70, abs=TOL)
    assert w.value("patient_side_continuity") == pytest.approx(38 / 70, abs=TOL)
    assert w.counts == {"patients": 6, "patients_with_enough_visits": 6, "clinicians": 2, "dyads": 12, "visits": 70}
    assert w.window == {"start": "2022-04-10", "end": "2023-10-10", "as_of": "2023-10-10"}
    assert w.headline == (
        "Patients need the relationship more than clinicians do: a typical patient gets 54 % of their care "
        "from one clinician, while a typical patient is 19 % of that clinician's work. Each clinician holds "
        "about 6 relationships; each patient about 2."
    )
    # A's visits come first for every patient, then B's: the breaks measure counts what
    # relationship_breaks dates inside the window, by kind.
    from carethread.measures.breaks import relationship_breaks

    b = relationship_breaks(t).to_pyarrow().to_pylist()
    in_window = [r for r in b if dt.date(2022, 4, 10) <= r["break_date"] < dt.date(2023, 10, 10)]
    for kind in ("partner", "other_practice", "emergency_only", "lost"):
        assert w.value(f"breaks_{kind}") == sum(r["kind"] == kind for r in in_window)
    assert w.value("breaks_total") == len(in_window)
    d = w.to_dict()
    assert d["headline"] == w.headline
    assert set(SHARE_MEASURES) <= set(d["measures"])
    assert d["bootstrap"] == {"replicates": 40, "seed": 1, "interval": "95% percentile"}
    assert w.table.column_names == ["name", "value", "ci_low", "ci_high", "description"]


def test_far_more_and_pooled_continuity_matches_panel_rollup(con):
    # 30 patients each see A three times; every fifth also sees B twice later (B is then usual).
    rows = []
    for i in range(30):
        p = f"p{i:02d}"
        rows += [
            {
                "patient_id": p,
                "clinician_id": "A",
                "practice_id": "X",
                "setting": "primary_care",
                "start": dt.datetime(2023, 1, 1 + i % 28, 9) + dt.timedelta(days=60 * k),
            }
            for k in range(3)
        ]
        if i % 5 == 0:
            rows += [
                {
                    "patient_id": p,
                    "clinician_id": "B",
                    "practice_id": "X",
                    "setting": "virtual",
                    "start": dt.datetime(2023, 9, 1 + k, 9),
                }
                for k in range(4)
            ]
    t = encounters_table(con, rows)
    w = who_needs_whom(t, bootstrap=30, start="2023-03-01", end="2023-12-01", as_of="2024-01-01")
    assert w.headline.startswith(
        "Patients need the relationship far more than clinicians do: a typical patient "
        "gets 100 % of their care from one clinician, while a typical patient is 3."
    )
    system = panel_rollup(panels(t, as_of="2024-01-01", start="2023-03-01", end="2023-12-01"), by="system")
    r = system.to_pyarrow().to_pylist()[0]
    assert w.value("provider_side_continuity") == pytest.approx(r["provider_side_continuity"], abs=TOL)
    assert w.value("patient_side_continuity") == pytest.approx(r["patient_side_continuity"], abs=TOL)


def test_deterministic_for_a_seed_and_intervals_contain_estimates(con):
    t = encounters_table(con, bjgp_rows())
    a = who_needs_whom(t, bootstrap=60, seed=7)
    b = who_needs_whom(t, bootstrap=60, seed=7)
    assert a.table.equals(b.table) and a.headline == b.headline
    for r in a.table.to_pylist():
        if r["value"] is not None:
            assert r["ci_low"] - TOL <= r["value"] <= r["ci_high"] + TOL, r["name"]
    none = who_needs_whom(t, bootstrap=0)
    assert all(v is None for v in none.table.column("ci_low").to_pylist())
    assert none.table.column("value").equals(a.table.column("value"))


def test_empty_input_and_bad_options(con):
    w = who_needs_whom(encounters_table(con, []), bootstrap=10)
    assert w.headline == "No visits in the window, so there is no relationship to describe."
    assert all(v is None for v in w.table.column("value").to_pylist())
    t = encounters_table(con, bjgp_rows())
    with pytest.raises(OptionError):
        who_needs_whom(t, bootstrap=-1)
    with pytest.raises(OptionError):
        who_needs_whom(t, seed=1.5)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=12), data=st.data())
def test_weighted_median_equals_median_of_repeated_values(values, data):
    w = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(values), max_size=len(values))))
    got = _WeightedMedian(np.array(values, dtype=float))(w.astype(float))
    repeated = np.repeat(np.array(values, dtype=float), w)
    assert (np.isnan(got) and repeated.size == 0) or got == np.median(repeated)


visit = st.tuples(st.sampled_from("ABC"), st.integers(0, 300), st.sampled_from(["primary_care", "virtual"]))
population = st.dictionaries(
    st.text("pq01", min_size=1, max_size=3), st.lists(visit, min_size=1, max_size=6), min_size=1, max_size=8
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pop=population, seed=st.integers(0, 100))
def test_intervals_contain_the_estimate(con, pop, seed):
    rows = [
        {
            "patient_id": p,
            "clinician_id": c,
            "practice_id": "X",
            "setting": s,
            "start": dt.datetime(2023, 1, 1, 9) + dt.timedelta(days=d),
        }
        for p, vs in pop.items()
        for c, d, s in vs
    ]
    w = who_needs_whom(encounters_table(con, rows), bootstrap=40, seed=seed)
    for r in w.table.to_pylist():
        if r["value"] is not None and r["ci_low"] is not None:
            assert r["ci_low"] - TOL <= r["value"] <= r["ci_high"] + TOL, r["name"]


def test_precomputed_breaks_are_counted_in_the_window(con):
    rows = [
        ("p1", "A", "B", dt.date(2023, 5, 1), "partner"),
        ("q1", "B", None, dt.date(2023, 6, 1), "lost"),
        ("q2", "B", None, dt.date(2021, 6, 1), "lost"),
    ]  # the last one is before the window
    names = ["patient_id", "from_clinician_id", "to_clinician_id", "break_date", "kind"]
    types = [pa.string(), pa.string(), pa.string(), pa.date32(), pa.string()]
    given_breaks = ibis.memtable(
        pa.table({n: pa.array(col, t) for n, t, col in zip(names, types, zip(*rows, strict=True), strict=True)})
    )
    w = who_needs_whom(encounters_table(con, bjgp_rows()), bootstrap=0, breaks=given_breaks)
    assert (w.value("breaks_partner"), w.value("breaks_lost"), w.value("breaks_total")) == (1, 1, 2)
