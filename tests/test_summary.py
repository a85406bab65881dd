"""Who needs whom: hand-computed values, the headline, bootstrap determinism and coverage."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.errors import InputError, OptionError
from carethread.measures.attribution import attribute
from carethread.measures.continuity import patient_continuity
from carethread.measures.dyads import dyads
from carethread.measures.panels import panel_rollup, panels
from carethread.summary import (
    MEASURES,
    WhoNeedsWhom,
    who_needs_whom,
    who_needs_whom_from_encounters,
)
from carethread.summary.bootstrap import WeightedMedian
from carethread.summary.encounters import measure_tables
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
    # Six patients of two clinicians on separate days look like a sample of patients (one visit per
    # working day): the practice is declared complete to check the clinician side by hand.
    t = encounters_table(con, bjgp_rows())
    w = who_needs_whom_from_encounters(t, bootstrap=40, seed=1, population="complete")
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
    for cause in ("clinician_left", "patient_moved_on"):  # and by cause (issue 12 item 5)
        assert w.value(f"breaks_{cause}") == sum(r["cause"] == cause for r in in_window)
    d = w.to_dict()
    assert d["headline"] == w.headline
    assert set(SHARE_MEASURES) <= set(d["measures"])
    assert d["bootstrap"] == {"replicates": 40, "seed": 1, "interval": "95% percentile"}
    assert w.table.column_names == ["name", "value", "ci_low", "ci_high", "description", "note"]
    assert w.table.column("note").null_count == w.table.num_rows
    assert d["population"]["population"] == "complete" and d["population"]["guessed"] is False


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
    w = who_needs_whom_from_encounters(
        t, bootstrap=30, start="2023-03-01", end="2023-12-01", as_of="2024-01-01", population="complete"
    )
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
    a = who_needs_whom_from_encounters(t, bootstrap=60, seed=7)
    b = who_needs_whom_from_encounters(t, bootstrap=60, seed=7)
    assert a.table.equals(b.table) and a.headline == b.headline
    for r in a.table.to_pylist():
        if r["value"] is not None:
            assert r["ci_low"] - TOL <= r["value"] <= r["ci_high"] + TOL, r["name"]
    none = who_needs_whom_from_encounters(t, bootstrap=0)
    assert all(v is None for v in none.table.column("ci_low").to_pylist())
    assert none.table.column("value").equals(a.table.column("value"))


def test_empty_input_and_bad_options(con):
    w = who_needs_whom_from_encounters(encounters_table(con, []), bootstrap=10)
    assert w.headline == "No visits in the window, so there is no relationship to describe."
    assert w.table.column("name").to_pylist() == SHARE_MEASURES
    assert all(v is None for v in w.table.column("value").to_pylist())
    assert w.remarks == ("There are no encounters.",)
    t = encounters_table(con, bjgp_rows())
    with pytest.raises(OptionError):
        who_needs_whom_from_encounters(t, bootstrap=-1)
    with pytest.raises(OptionError):
        who_needs_whom_from_encounters(t, seed=1.5)
    with pytest.raises(OptionError):
        who_needs_whom(**measure_tables(t, None, None, None, None, None, 18), min_visits=0)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=12), data=st.data())
def test_weighted_median_equals_median_of_repeated_values(values, data):
    w = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(values), max_size=len(values))))
    got = WeightedMedian(np.array(values, dtype=float))(w.astype(float))
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
    w = who_needs_whom_from_encounters(encounters_table(con, rows), bootstrap=40, seed=seed)
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
    tables = measure_tables(encounters_table(con, bjgp_rows()), None, None, None, None, None, 18)
    w = who_needs_whom(**{**tables, "breaks": given_breaks}, bootstrap=0)
    assert (w.value("breaks_partner"), w.value("breaks_lost"), w.value("breaks_total")) == (1, 1, 2)
    assert (w.value("breaks_other_practice"), w.value("breaks_emergency_only")) == (0, 0)
    # A breaks table without causes (made before they existed) leaves the cause measures empty.
    assert (w.value("breaks_clinician_left"), w.value("breaks_patient_moved_on")) == (None, None)
    caused = given_breaks.mutate(cause=ibis.literal("clinician_left"))
    w = who_needs_whom(**{**tables, "breaks": caused}, bootstrap=0)
    assert (w.value("breaks_clinician_left"), w.value("breaks_patient_moved_on")) == (2, 0)
    # Without a breaks table the break measures are left out, and a remark says so.
    without = who_needs_whom(**{**tables, "breaks": None}, bootstrap=0)
    assert without.table.column("name").to_pylist() == SHARE_MEASURES
    assert without.remarks == (
        "Relationship breaks are not included: no relationship breaks table was given.",
        without.population.reason(),
    )


def test_the_tables_of_one_window_give_what_the_encounters_give(con):
    # The window is the BJGP test's (as_of 2023-10-10, 18 months back); the tables are the
    # measures' own results, computed by hand here, so the report can pass the ones it has.
    t = encounters_table(con, bjgp_rows())
    start, end, as_of = dt.datetime(2022, 4, 10), dt.datetime(2023, 10, 10), dt.datetime(2023, 10, 10)
    from carethread.measures.breaks import relationship_breaks

    w = who_needs_whom(
        dyads(t, start=start, end=end),
        continuity=patient_continuity(t, start=start, end=end),
        attribution=attribute(t, as_of=as_of),
        breaks=relationship_breaks(t),
        start=start,
        end=end,
        as_of=as_of,
        bootstrap=40,
        seed=1,
    )
    expected = who_needs_whom_from_encounters(t, bootstrap=40, seed=1, population="complete")
    assert w.table.equals(expected.table) and w.headline == expected.headline
    assert (w.window, w.counts) == (expected.window, expected.counts)
    # Without a panels table (and without population=) nothing checks for a sample; a remark says so.
    assert w.remarks == (
        *expected.remarks,
        "Whether the extract holds every patient of its clinicians was not checked (no panels table was given); "
        "the clinician-side measures assume it does.",
    )


def test_tables_of_different_windows_are_refused(con):
    t = encounters_table(con, bjgp_rows())
    tables = measure_tables(t, None, None, None, None, None, 18)
    # Continuity over the first half of the window: some dyad patients have no usual clinician there.
    other = patient_continuity(t, start=tables["start"], end=dt.datetime(2022, 12, 1))
    with pytest.raises(InputError, match="same window"):
        who_needs_whom(**{**tables, "continuity": other}, bootstrap=0)
    with pytest.raises(InputError, match="usual_clinician_id"):
        who_needs_whom(**{**tables, "continuity": patient_continuity(t, level="practice")}, bootstrap=0)
    with pytest.raises(InputError, match="continuity= and attribution="):
        who_needs_whom(tables["dyads"], attribution=tables["attribution"])
    with pytest.raises(InputError, match="who_needs_whom_from_encounters"):
        who_needs_whom(tables["dyads"])


def test_the_encounters_form_still_works_with_a_deprecation_warning(con):
    t = encounters_table(con, bjgp_rows())
    with pytest.warns(DeprecationWarning, match="who_needs_whom_from_encounters"):
        old = who_needs_whom(t, bootstrap=30, seed=2, lookback=12, settings="primary_care")
    new = who_needs_whom_from_encounters(t, bootstrap=30, seed=2, lookback_months=12, settings="primary_care")
    assert old.table.equals(new.table) and old.window == new.window


def _day_clinic(patients_per_day: int, days: int = 20) -> list[dict]:
    """Clinician A sees ``patients_per_day`` different patients on each of ``days`` days, each patient twice."""
    rows = []
    for d in range(days):
        for k in range(patients_per_day):
            for visit in range(2):
                rows.append(
                    {
                        "patient_id": f"p{d:02d}{k:02d}",
                        "clinician_id": "A",
                        "practice_id": "X",
                        "setting": "primary_care",
                        "start": dt.datetime(2023, 1, 2, 9 + k % 8) + dt.timedelta(days=d + 30 * visit),
                    }
                )
    return rows


def test_population_rule_is_the_median_of_visits_per_working_day():
    from carethread.summary.population import SAMPLE_BELOW_VISITS_PER_DAY, detect_population

    # Three clinicians: 2.0, 2.99 and 3.0 visits per working day -> median 2.99: a sample.
    panels_table = ibis.memtable(
        {"visits": [20, 299, 30, 0], "visits_per_day": [2.0, 2.99, 3.0, None], "patients_seen": [5, 80, 9, 0]}
    )
    found = detect_population(panels_table)
    assert (found.kind, found.guessed, found.clinicians) == ("sample", True, 3)
    assert (found.visits_per_day, found.patients_per_clinician) == (2.99, 9.0)
    # At the threshold itself the workload counts as complete; no clinician visit at all: complete.
    at = ibis.memtable({"visits": [30], "visits_per_day": [SAMPLE_BELOW_VISITS_PER_DAY], "patients_seen": [9]})
    assert detect_population(at).kind == "complete"
    nobody = ibis.memtable({"visits": [0], "visits_per_day": [None], "patients_seen": [0]}, schema=at.schema())
    assert detect_population(nobody).kind == "complete"
    with pytest.raises(OptionError, match="--population must be sample or complete"):
        detect_population(at, population="some")


def test_a_patient_sample_gets_no_verdict_and_no_clinician_side(con):
    # One visit per working day (every patient seen alone): the extract looks like a sample.
    t = encounters_table(con, _day_clinic(1, days=30))
    w = who_needs_whom_from_encounters(t, bootstrap=20)
    assert (w.population.kind, w.population.guessed, w.population.visits_per_day) == ("sample", True, 1.0)
    rows = {r["name"]: r for r in w.table.to_pylist()}
    for name in (
        "patient_share_of_usual_clinicians_work",
        "patient_share_of_clinicians_work_all_dyads",
        "patients_per_clinician",
        "provider_side_continuity",
    ):
        assert (rows[name]["value"], rows[name]["ci_low"], rows[name]["note"]) == (
            None,
            None,
            "not measurable from a patient sample",
        ), name
    # The patient side is measured as on a complete extract: each patient saw A twice.
    assert rows["patient_share_from_usual_clinician"]["value"] == 1.0
    assert rows["clinicians_per_patient"]["value"] == 1.0 and rows["patient_side_continuity"]["note"] is None
    assert w.headline == (
        "No verdict on who needs whom: this extract seems to hold a sample of patients (the median clinician "
        "has 1.0 visits per working day in this extract, where a clinic day usually holds 10 to 30), so each "
        "clinician's whole workload is missing and the clinician side cannot be measured. A typical patient "
        "gets 100 % of their care from one clinician; clinicians per patient: about 1."
    )
    assert w.population.reason() in w.remarks


def test_population_complete_or_sample_overrides_the_guess(con):
    # Eight patients a day: a clinic's workload, measured in full.
    t = encounters_table(con, _day_clinic(8))
    guessed = who_needs_whom_from_encounters(t, bootstrap=0)
    assert (guessed.population.kind, guessed.population.visits_per_day) == ("complete", 8.0)
    assert guessed.headline.startswith("Patients need the relationship far more than clinicians do")
    told = who_needs_whom_from_encounters(t, bootstrap=0, population="sample")
    assert (told.population.kind, told.population.guessed) == ("sample", False)
    assert told.headline.startswith(
        "No verdict on who needs whom: this extract was declared a sample of patients, so each clinician's"
    )
    assert told.value("patients_per_clinician") is None
    assert guessed.value("patient_share_from_usual_clinician") == told.value("patient_share_from_usual_clinician")
