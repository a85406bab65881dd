"""The sharing network and care density: a hand-computed three-practice example, the CareDensity
package's own values, a brute-force reference and properties."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.errors import OptionError
from carethread.measures.network.density import DENSITY_COLUMNS, care_density, fragmented_care_density
from carethread.measures.network.edges import DIRECTION_COLUMNS, NETWORK_COLUMNS, sharing_network
from tests.conftest import encounters_table

TOL = 1e-12
DAY0 = dt.datetime(2024, 1, 1, 9)
PRACTICE = {"A": "X", "B": "X", "C": "Y", "D": "Y", "E": "Z"}


def enc(p, c, day, setting="primary_care", hour=9):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": PRACTICE.get(c, "X"),
        "setting": setting,
        "start": DAY0 + dt.timedelta(days=day, hours=hour - 9),
    }


def day(n: int) -> dt.date:
    return (DAY0 + dt.timedelta(days=n)).date()


# Three practices: X = {A, B}, Y = {C, D} (cardiology), Z = {E} (the emergency department).
THREE_PRACTICES = [
    *(enc("p1", c, d) for c, d in (("A", 0), ("B", 10), ("A", 100))),
    *(enc("p2", c, d) for c, d in (("B", 20), ("A", 25))),
    enc("p3", "C", 0, "specialty"),
    enc("p3", "D", 200, "specialty"),
    enc("p3", "A", 210),
    enc("p4", "C", 50, "specialty", hour=9),
    enc("p4", "E", 50, "emergency", hour=11),
    enc("p5", "D", 5, "specialty"),
    enc("p6", "E", 300, "emergency"),
    enc("p6", "B", 301),
    enc("p6", "C", 302, "specialty"),
    enc("p6", "D", 303, "specialty"),
    enc("p6", "E", 340, "emergency"),
    enc("p6", None, 341),  # no clinician: left out
]

# Ties: p1 {A: days 0, 100; B: 10}, p2 {A: 25; B: 20}, p3 {C: 0, D: 200, A: 210}, p4 {C: 50, E: 50},
# p5 {D: 5}, p6 {E: 300, 340; B: 301; C: 302; D: 303}.
# A pair's row: (shared patients, visits with a, visits with b, first day shared, last day shared), where a
# patient's pair of visits is shared on the later of the two days: p1's A-B is shared from day max(0, 10) = 10
# to day max(100, 10) = 100.
EXPECTED_NETWORK = {
    ("A", "B"): (2, 2 + 1, 1 + 1, 10, 100),  # p1 from 10 to 100, p2 from 25 to 25
    ("A", "C"): (1, 1, 1, 210, 210),  # p3
    ("A", "D"): (1, 1, 1, 210, 210),  # p3
    ("B", "C"): (1, 1, 1, 302, 302),  # p6
    ("B", "D"): (1, 1, 1, 303, 303),  # p6
    ("B", "E"): (1, 1, 2, 301, 340),  # p6: E on 300 and 340
    ("C", "D"): (2, 1 + 1, 1 + 1, 200, 303),  # p3 on 200, p6 on 303
    ("C", "E"): (2, 1 + 1, 1 + 2, 50, 340),  # p4 on 50, p6 from 302 to 340
    ("D", "E"): (1, 1, 2, 303, 340),  # p6
}

# Within 30 days, with directions (a_then_b, b_then_a). p1: A 0 -> B 10 counts (A 100 is 90 days from B);
# p2: B 20 -> A 25; p3: D 200 -> A 210 only (C is 200 days away); p4: C 09:00 -> E 11:00 the same day;
# p6: E 300 -> B 301 -> C 302 -> D 303 (E 340 is 37-39 days from them).
EXPECTED_WITHIN_30 = {
    ("A", "B"): (2, 1 + 1, 1 + 1, 10, 25, 1, 1),
    ("A", "D"): (1, 1, 1, 210, 210, 0, 1),
    ("B", "C"): (1, 1, 1, 302, 302, 1, 0),
    ("B", "D"): (1, 1, 1, 303, 303, 1, 0),
    ("B", "E"): (1, 1, 1, 301, 301, 0, 1),
    ("C", "D"): (1, 1, 1, 303, 303, 1, 0),
    ("C", "E"): (2, 1 + 1, 1 + 1, 50, 302, 1, 1),  # p4 C then E; p6 E then C
    ("D", "E"): (1, 1, 1, 303, 303, 0, 1),
}

# Care density: the mean weight of the patient's pairs. p1, p2: A-B = 2 -> 2/1; p3: A-C 1, A-D 1, C-D 2
# -> 4/3; p4: C-E 2 -> 2; p5: one clinician -> null; p6: B-C 1, B-D 1, B-E 1, C-D 2, C-E 2, D-E 1 -> 8/6.
EXPECTED_DENSITY = {
    "p1": (2, 2, 2.0),
    "p2": (2, 2, 2.0),
    "p3": (3, 4, 4 / 3),
    "p4": (2, 2, 2.0),
    "p5": (1, None, None),
    "p6": (4, 8, 8 / 6),
}


def network_rows(table, directions: bool = False) -> dict:
    columns = NETWORK_COLUMNS[2:] + (DIRECTION_COLUMNS if directions else ())
    return {(r["clinician_a"], r["clinician_b"]): tuple(r[c] for c in columns) for r in table.to_pyarrow().to_pylist()}


def as_days(expected: dict) -> dict:
    return {k: (*v[:3], day(v[3]), day(v[4]), *v[5:]) for k, v in expected.items()}


def test_three_practices_every_pair(con):
    e = encounters_table(con, THREE_PRACTICES)
    net = sharing_network(e)
    assert tuple(net.columns) == NETWORK_COLUMNS
    assert network_rows(net) == as_days(EXPECTED_NETWORK)


def test_three_practices_within_30_days_with_directions(con):
    e = encounters_table(con, THREE_PRACTICES)
    net = sharing_network(e, within_days=30)
    assert tuple(net.columns) == NETWORK_COLUMNS + DIRECTION_COLUMNS
    assert network_rows(net, directions=True) == as_days(EXPECTED_WITHIN_30)


def test_three_practices_care_density(con):
    rows = care_density(encounters_table(con, THREE_PRACTICES)).to_pyarrow().to_pylist()
    assert tuple(rows[0]) == DENSITY_COLUMNS
    got = {r["patient_id"]: (r["n_clinicians"], r["sum_weights"], r["care_density"]) for r in rows}
    assert got.keys() == EXPECTED_DENSITY.keys()
    for patient, (n, total, density) in EXPECTED_DENSITY.items():
        assert got[patient][:2] == (n, total)
        assert got[patient][2] == (None if density is None else pytest.approx(density, abs=TOL))


def test_settings_window_and_min_shared(con):
    e = encounters_table(con, THREE_PRACTICES)
    # Primary care only: A and B are the only clinicians; p1 and p2 share them.
    assert network_rows(sharing_network(e, settings="primary_care")) == {("A", "B"): (2, 3, 2, day(10), day(100))}
    # The window [day 200, day 305) keeps p3's D and A and p6's first four visits.
    window = network_rows(sharing_network(e, start=day(200), end=day(305)))
    assert set(window) == {("A", "D"), ("B", "C"), ("B", "D"), ("B", "E"), ("C", "D"), ("C", "E"), ("D", "E")}
    assert window[("C", "E")] == (1, 1, 1, day(302), day(302))
    assert set(network_rows(sharing_network(e, min_shared=2))) == {("A", "B"), ("C", "D"), ("C", "E")}


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_options_are_checked(con, bad):
    e = encounters_table(con, THREE_PRACTICES)
    with pytest.raises(OptionError, match="--within"):
        sharing_network(e, within_days=bad)
    with pytest.raises(OptionError, match="--min-shared"):
        sharing_network(e, min_shared=bad)


def test_empty_input(con):
    e = encounters_table(con, [])
    assert sharing_network(e).count().execute() == 0
    assert care_density(e).count().execute() == 0


# --- The CareDensity package (R, CRAN 0.1.0): its tests and vignette ------------------------------

CARE_DENSITY_TIES = [("1", "A"), ("1", "C"), ("1", "D"), ("2", "A"), ("2", "D"), ("3", "A"), ("3", "D")]
CARE_DENSITY_TIES += [("4", "D"), ("5", "C")]
GP_PSYCHIATRIST = {"clinician_id": ["A", "C", "D"], "specialty": ["GP", "GP", "Psychiatrist"]}


@pytest.fixture
def package_data(con):
    # The same tie twice changes nothing (the package's unique(data)): patient 1 sees A twice.
    rows = [enc(p, c, 0) for p, c in CARE_DENSITY_TIES] + [enc("1", "A", 7)]
    return encounters_table(con, rows)


def test_care_density_package_test_values(package_data):
    # tests/testthat/test_care_density.r: sum_weights 5, 3, 3, NA, NA; n 3, 2, 2, 1, 1;
    # care_density 1.66666667, 3, 3, NA, NA.
    rows = care_density(package_data).order_by("patient_id").to_pyarrow().to_pylist()
    assert [r["sum_weights"] for r in rows] == [5, 3, 3, None, None]
    assert [r["n_clinicians"] for r in rows] == [3, 2, 2, 1, 1]
    assert [r["care_density"] for r in rows] == [pytest.approx(5 / 3, abs=TOL), 3.0, 3.0, None, None]


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        # test_fragmented_care_density.r: equal weights give the care density.
        ((1, 1, 1), [5 / 3, 3.0, 3.0, None, None]),
        # test_fragmented_care_density.r, unequal weights: 2.23333333, 4.8, 4.8, NA, NA.
        ((0.3, 1.6, 1.1), [1 / 3 * 0.3 + 4 / 3 * 1.6, 4.8, 4.8, None, None]),
        # The vignette: weights 1.1, 0.5, 1.3 print 1.033333, 1.5, 1.5, NA, NA.
        ((1.1, 0.5, 1.3), [1 / 3 * 1.1 + 4 / 3 * 0.5, 1.5, 1.5, None, None]),
        # The manual's example: weights 1.1, 0.8, 1.3.
        ((1.1, 0.8, 1.3), [1 / 3 * 1.1 + 4 / 3 * 0.8, 2.4, 2.4, None, None]),
    ],
)
def test_fragmented_care_density_package_values(package_data, weights, expected):
    table = {"from": ["GP", "GP", "Psychiatrist"], "to": ["GP", "Psychiatrist", "Psychiatrist"], "weight": weights}
    t = fragmented_care_density(package_data, clinicians=GP_PSYCHIATRIST, type_weights=table)
    got = t.order_by("patient_id").fragmented_care_density.to_list()
    assert got == [None if v is None else pytest.approx(v, abs=1e-9) for v in expected]
    assert [round(v, 6) for v in got[:3]] in (
        [1.666667, 3.0, 3.0],
        [2.233333, 4.8, 4.8],
        [1.033333, 1.5, 1.5],
        [1.433333, 2.4, 2.4],
    )


def test_fragmented_by_connection_package_values(package_data):
    # test_fragmented_care_density.r, by_connection=TRUE: 1 "GP - GP" 1 3 0.333; 1 "Psychiatrist - GP" 4 3 1.333;
    # 2 and 3 "Psychiatrist - GP" 3 2 3; 4 and 5 NA NA 1 NA. carethread sorts the two types in the label.
    t = fragmented_care_density(package_data, clinicians=GP_PSYCHIATRIST, by_connection=True)
    rows = t.order_by("patient_id", "connection").to_pyarrow().to_pylist()
    got = [(r["patient_id"], r["connection"], r["sum_weights"], r["n_clinicians"], r["care_density"]) for r in rows]
    assert got == [
        ("1", "GP - GP", 1, 3, pytest.approx(1 / 3, abs=TOL)),
        ("1", "GP - Psychiatrist", 4, 3, pytest.approx(4 / 3, abs=TOL)),
        ("2", "GP - Psychiatrist", 3, 2, 3.0),
        ("3", "GP - Psychiatrist", 3, 2, 3.0),
        ("4", None, None, 1, None),
        ("5", None, None, 1, None),
    ]


def test_fragmented_needs_every_weight_and_a_type(package_data):
    with pytest.raises(OptionError, match="1 connection types of the data have no weight"):
        fragmented_care_density(package_data, clinicians=GP_PSYCHIATRIST, type_weights={("GP", "GP"): 1.0})
    with pytest.raises(OptionError, match="type_weights"):
        fragmented_care_density(package_data, clinicians=GP_PSYCHIATRIST)
    # D has no type: its pairs are GP - unknown.
    untyped = {"clinician_id": ["A", "C"], "specialty": ["GP", "GP"]}
    t = fragmented_care_density(
        package_data, clinicians=untyped, type_weights={("GP", "GP"): 1.0, ("GP", "unknown"): 0.0}
    )
    assert t.order_by("patient_id").fragmented_care_density.to_list()[:3] == [pytest.approx(1 / 3), 0.0, 0.0]


# --- A brute-force reference and properties ------------------------------------------------------------


def reference_network(rows, within_days=None) -> dict:
    """The network by brute force over visits (distinct patient, clinician, day)."""
    visits = defaultdict(dict)  # (patient, clinician) -> {day: earliest start}
    for r in rows:
        if r["clinician_id"] is None:
            continue
        d = r["start"].date()
        slot = visits[r["patient_id"], r["clinician_id"]]
        slot[d] = min(slot.get(d, r["start"]), r["start"])
    by_patient = defaultdict(dict)
    for (p, c), days in visits.items():
        by_patient[p][c] = days
    out = defaultdict(lambda: [0, 0, 0, None, None, 0, 0])
    for clinicians in by_patient.values():
        for a, b in itertools.combinations(sorted(clinicians), 2):
            close = [
                (x, y)
                for x in clinicians[a]
                for y in clinicians[b]
                if within_days is None or abs((y - x).days) <= within_days
            ]
            if not close:
                continue
            row = out[a, b]
            later = [max(x, y) for x, y in close]
            row[0] += 1
            row[1] += len({x for x, _ in close})
            row[2] += len({y for _, y in close})
            row[3] = min(later) if row[3] is None else min(row[3], min(later))
            row[4] = max(later) if row[4] is None else max(row[4], max(later))
            row[5] += any(clinicians[a][x] < clinicians[b][y] for x, y in close)
            row[6] += any(clinicians[b][y] < clinicians[a][x] for x, y in close)
    return {k: tuple(v if within_days else v[:5]) for k, v in out.items()}


hyp = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
visit = st.tuples(
    st.sampled_from(["p1", "p2", "p3", "p4", "p5"]),
    st.sampled_from(["A", "B", "C", "D", None]),
    st.integers(0, 120),
    st.integers(8, 17),
    st.sampled_from(["primary_care", "emergency", "specialty"]),
)
population = st.lists(visit, min_size=0, max_size=30)


def rows_of(population) -> list[dict]:
    return [enc(p, c, d, setting, hour) for p, c, d, hour, setting in population]


@hyp
@given(pop=population, within=st.sampled_from([None, 1, 30]))
def test_network_equals_the_brute_force_reference(con, pop, within):
    rows = rows_of(pop)
    got = network_rows(sharing_network(encounters_table(con, rows), within_days=within), directions=bool(within))
    assert got == reference_network(rows, within)


@hyp
@given(pop=population, seed=st.integers(0, 1000))
def test_relabelling_permutes_and_shuffling_changes_nothing(con, pop, seed):
    rows = rows_of(pop)
    rng = random.Random(seed)
    names = ["A", "B", "C", "D"]
    new = dict(zip(names, rng.sample(["K", "L", "M", "N"], 4), strict=True))
    relabelled = [{**r, "clinician_id": new.get(r["clinician_id"])} for r in rows]
    shuffled = rng.sample(rows, len(rows))
    base = network_rows(sharing_network(encounters_table(con, rows), within_days=30), directions=True)
    again = network_rows(sharing_network(encounters_table(con, shuffled), within_days=30), directions=True)
    assert again == base
    moved = network_rows(sharing_network(encounters_table(con, relabelled), within_days=30), directions=True)
    expected = {}
    for (a, b), (n, va, vb, first, last, ab, ba) in base.items():
        x, y = new[a], new[b]
        expected[min(x, y), max(x, y)] = (n, va, vb, first, last, ab, ba) if x < y else (n, vb, va, first, last, ba, ab)
    assert moved == expected
    densities = {
        r["patient_id"]: r["care_density"] for r in care_density(encounters_table(con, rows)).to_pyarrow().to_pylist()
    }
    moved_densities = care_density(encounters_table(con, relabelled)).to_pyarrow().to_pylist()
    assert {r["patient_id"]: r["care_density"] for r in moved_densities} == densities


@hyp
@given(pop=population)
def test_a_pair_never_shares_more_patients_than_either_clinician_has(con, pop):
    rows = rows_of(pop)
    patients = defaultdict(set)
    for r in rows:
        if r["clinician_id"] is not None:
            patients[r["clinician_id"]].add(r["patient_id"])
    for (a, b), (n, *_rest) in network_rows(sharing_network(encounters_table(con, rows))).items():
        assert 1 <= n <= min(len(patients[a]), len(patients[b]))
    for r in care_density(encounters_table(con, rows)).to_pyarrow().to_pylist():
        if r["care_density"] is not None:  # every pair shares at least this patient
            assert r["n_clinicians"] >= 2 and r["care_density"] >= 1.0


@pytest.mark.parametrize("name", ["sharing_network", "care_density", "fragmented_care_density"])
def test_the_network_measures_follow_the_grammar(name):
    from tests.test_api import test_every_measure_has_one_grammar

    test_every_measure_has_one_grammar(name)


def test_batches_give_the_network_and_care_density_of_one_run(con):
    from carethread.batches import run_in_batches
    from tests.test_spark import assert_same_rows

    e = encounters_table(con, THREE_PRACTICES)
    for measure, options in (
        (sharing_network, {"within_days": 30}),
        (sharing_network, {"min_shared": 2}),
        (care_density, {}),
    ):
        whole = measure(e, **options).to_pyarrow()
        with run_in_batches(measure, e, batches=3, **options) as batched:
            assert_same_rows(whole, batched.to_pyarrow())
