"""Patient continuity indices: reference values, edge cases and properties."""

from __future__ import annotations

import datetime as dt
import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.measures.continuity import INDEX_COLUMNS, patient_continuity, patient_continuity_remarks
from carethread.schema import PATIENT_CONTINUITY_COLUMNS
from tests.conftest import encounters_table
from tests.reference import patient_indices, rows_from_sequences

TOL = 1e-12


def run(con, rows, **kw):
    table = encounters_table(con, rows)
    out = patient_continuity(table, **kw).to_pyarrow().to_pylist()
    return {r["patient_id"]: r for r in out}


def assert_matches_reference(got, rows, **kw):
    ref_kw = {k: v for k, v in kw.items() if k in ("settings", "min_visits")}
    if "known_lookback_days" in kw:
        ref_kw["lookback_days"] = kw["known_lookback_days"]
    expected = patient_indices(rows, **ref_kw)
    assert set(got) == set(expected)
    for p, exp in expected.items():
        row = got[p]
        assert row["n_visits"] == exp["n_visits"], p
        assert row["n_clinicians"] == exp["n_clinicians"], p
        assert row["usual_clinician_id"] == exp["usual"], p
        for col in INDEX_COLUMNS:
            if exp[col] is None:
                assert row[col] is None, (p, col)
            else:
                assert row[col] == pytest.approx(float(exp[col]), abs=TOL), (p, col)


# --- reference examples (docs/definitions.md, Continuity indices) ---------------------

INDICES_TABLE = {
    "AABAC": (0.6, 0.3, 0.25, 2.1 / 4.1, 0.44, 0.5),
    "ABABAB": (0.5, 0.4, 0.0, 4.1 / 5.1, 0.5, 0.8),
    "AAABBB": (0.5, 0.4, 0.8, 4.1 / 5.1, 0.5, 0.8),
    "ABCD": (0.25, 0.0, 0.0, 0.1 / 3.1, 0.25, 0.0),
    "AA": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
}

BJGP_2023 = {  # UPC, COC as exact fractions (BJGP 2023;73:279, Table 2)
    "AB": (Fraction(1, 2), Fraction(0)),
    "AAB": (Fraction(2, 3), Fraction(1, 3)),
    "ABC": (Fraction(1, 3), Fraction(0)),
    "AABB": (Fraction(1, 2), Fraction(1, 3)),
    "AABC": (Fraction(1, 2), Fraction(1, 6)),
    "AAABBB": (Fraction(1, 2), Fraction(2, 5)),
    "AAAABBBB": (Fraction(1, 2), Fraction(3, 7)),
    "AAAABCDE": (Fraction(1, 2), Fraction(3, 14)),
    "ABBC": (Fraction(1, 2), Fraction(1, 6)),
    "AABBBC": (Fraction(1, 2), Fraction(4, 15)),
    "AAABBBBC": (Fraction(1, 2), Fraction(9, 28)),
    "AABBCCCC": (Fraction(1, 2), Fraction(2, 7)),
}


def test_output_columns_are_the_contract(con):
    table = encounters_table(con, rows_from_sequences({"p": "AB"}))
    assert tuple(patient_continuity(table).columns) == PATIENT_CONTINUITY_COLUMNS


def test_indices_md_reference_table(con):
    got = run(con, rows_from_sequences({s: s for s in INDICES_TABLE}))
    for seq, expected in INDICES_TABLE.items():
        row = got[seq]
        values = tuple(row[c] for c in ("upc", "coc", "secon", "mmci", "hhi", "k_index"))
        assert values == pytest.approx(expected, abs=TOL), seq


def test_single_visit_patient_has_null_indices_and_a_count(con):
    got = run(con, rows_from_sequences({"A": "A"}))
    assert got["A"]["n_visits"] == 1
    assert got["A"]["usual_clinician_id"] == "A"
    assert all(got["A"][c] is None for c in INDEX_COLUMNS)


def test_bjgp_2023_upc_and_coc(con):
    got = run(con, rows_from_sequences({s: s for s in BJGP_2023}))
    for seq, (upc, coc) in BJGP_2023.items():
        assert got[seq]["upc"] == pytest.approx(float(upc), abs=TOL), seq
        assert got[seq]["coc"] == pytest.approx(float(coc), abs=TOL), seq


def known_provider_rows():
    days = [dt.date(2020, 1, 10), dt.date(2020, 3, 1), dt.date(2020, 6, 1), dt.date(2021, 2, 1), dt.date(2021, 8, 1)]
    return [
        {
            "patient_id": "p",
            "clinician_id": c,
            "practice_id": "X",
            "setting": "primary_care",
            "start": dt.datetime.combine(d, dt.time(10)),
        }
        for d, c in zip(days, "ABABA", strict=True)
    ]


def test_known_provider_reference_example(con):
    assert run(con, known_provider_rows())["p"]["known_provider"] == pytest.approx(0.5, abs=TOL)


def test_known_provider_unbounded_equals_k(con):
    row = run(con, known_provider_rows(), known_lookback_days=None)["p"]
    assert row["known_provider"] == pytest.approx(0.75, abs=TOL)
    assert row["known_provider"] == pytest.approx(row["k_index"], abs=TOL)


# --- edge cases ----------------------------------------------------------------------


def enc(p, c, when, setting="primary_care", practice="X"):
    return {"patient_id": p, "clinician_id": c, "practice_id": practice, "start": when, "setting": setting}


def test_same_day_encounters_with_one_clinician_are_one_visit(con):
    d = dt.datetime(2021, 5, 3, 9)
    rows = [enc("p", "A", d), enc("p", "A", d + dt.timedelta(hours=5)), enc("p", "B", d + dt.timedelta(days=1))]
    row = run(con, rows)["p"]
    assert row["n_visits"] == 2
    assert row["upc"] == 0.5
    assert row["coc"] == 0.0


def test_same_day_visits_are_ordered_by_start_then_clinician(con):
    d = dt.datetime(2021, 5, 3, 9)
    # B at 09:00, A at 11:00 on day 1; then A on day 2: order is B, A, A -> SECON 1/2.
    rows = [enc("p", "A", d + dt.timedelta(hours=2)), enc("p", "B", d), enc("p", "A", d + dt.timedelta(days=1))]
    assert run(con, rows)["p"]["secon"] == 0.5
    # Same start time: clinician id breaks the tie (A before B), so A, B, A -> SECON 0.
    rows = [enc("p", "B", d), enc("p", "A", d), enc("p", "A", d + dt.timedelta(days=1))]
    assert run(con, rows)["p"]["secon"] == 0.0


def test_usual_clinician_ties_go_to_most_recent_then_smallest_id(con):
    d = dt.datetime(2021, 1, 1, 9)
    rows = [enc("recent", "A", d), enc("recent", "B", d + dt.timedelta(days=1)), enc("id", "B", d), enc("id", "A", d)]
    got = run(con, rows)
    assert got["recent"]["usual_clinician_id"] == "B"
    assert got["id"]["usual_clinician_id"] == "A"


def test_usual_clinician_tie_on_one_day_goes_to_the_later_visit(con):
    # Two visits each; both last seen on 3 May, A at 17:15 and B at 16:15 (and B again at
    # 18:00, a same-day repeat that does not move B's visit): A's visit is the last.
    d = dt.datetime(2021, 5, 3)
    rows = [enc("p", "A", d - dt.timedelta(days=9)), enc("p", "B", d - dt.timedelta(days=8))]
    rows += [enc("p", "A", d.replace(hour=17, minute=15)), enc("p", "B", d.replace(hour=16, minute=15))]
    rows += [enc("p", "B", d.replace(hour=18))]
    assert run(con, rows)["p"]["usual_clinician_id"] == "A"
    rows = [dict(r, clinician_id={"A": "B", "B": "A"}[r["clinician_id"]]) for r in rows]
    assert run(con, rows)["p"]["usual_clinician_id"] == "B"


def test_missing_clinician_and_other_settings_do_not_count_but_patient_appears(con):
    d = dt.datetime(2021, 1, 1, 9)
    rows = [
        enc("p", None, d),
        enc("p", "A", d + dt.timedelta(days=1)),
        enc("p", "A", d + dt.timedelta(days=2)),
        enc("ed_only", "E1", d, setting="emergency"),
    ]
    got = run(con, rows)
    assert got["p"]["n_visits"] == 2 and got["p"]["upc"] == 1.0
    assert got["ed_only"]["n_visits"] == 0
    assert got["ed_only"]["usual_clinician_id"] is None
    assert all(got["ed_only"][c] is None for c in INDEX_COLUMNS)


def test_min_visits_one_gives_defined_single_visit_indices(con):
    row = run(con, rows_from_sequences({"p": "A"}), min_visits=1)["p"]
    # MMCI = 0.1 / (1 - 0.9) is 1 exactly; in floating point alone it is 1.0000000000000002.
    assert (row["upc"], row["hhi"], row["mmci"]) == (1.0, 1.0, 1.0)
    assert row["coc"] is None and row["secon"] is None and row["k_index"] is None


def test_min_visits_gate(con):
    got = run(con, rows_from_sequences({"three": "ABA", "two": "AB"}), min_visits=3)
    assert got["two"]["upc"] is None and got["two"]["n_visits"] == 2
    assert got["three"]["upc"] == pytest.approx(2 / 3, abs=TOL)


def test_window_is_start_inclusive_end_exclusive(con):
    rows = rows_from_sequences({"p": "ABAB"}, start=dt.datetime(2020, 1, 1), gap_days=1)
    row = run(con, rows, start="2020-01-02", end="2020-01-04")["p"]
    assert row["n_visits"] == 2  # Jan 2 (B) and Jan 3 (A)


def test_settings_option(con):
    d = dt.datetime(2021, 1, 1, 9)
    rows = [enc("p", "A", d), enc("p", "S", d + dt.timedelta(days=1), setting="specialty")]
    assert run(con, rows)["p"]["n_visits"] == 1
    assert run(con, rows, settings="primary_care,specialty")["p"]["n_visits"] == 2


def test_practice_level_treats_practices_as_providers(con):
    d = dt.datetime(2021, 1, 1, 9)
    rows = [
        enc("p", "A", d, practice="X"),
        enc("p", "B", d + dt.timedelta(days=1), practice="X"),
        enc("p", "C", d + dt.timedelta(days=2), practice="Y"),
    ]
    table = encounters_table(con, rows)
    row = patient_continuity(table, level="practice").to_pyarrow().to_pylist()[0]
    assert row["usual_practice_id"] == "X"
    assert row["upc"] == pytest.approx(2 / 3, abs=TOL)
    assert row["secon"] == 0.5


def test_empty_input_gives_empty_table(con):
    table = encounters_table(con, [])
    assert patient_continuity(table).count().execute() == 0


# --- properties ----------------------------------------------------------------------

CLINICIANS = list("ABCDE")
visit = st.tuples(
    st.sampled_from(CLINICIANS),
    st.integers(0, 900),
    st.integers(8, 17),
    st.sampled_from(["primary_care", "primary_care", "virtual", "emergency"]),
)
population = st.dictionaries(
    st.text("pq0123456789", min_size=1, max_size=4), st.lists(visit, max_size=12), min_size=1, max_size=8
)


def rows_of(pop):
    base = dt.datetime(2020, 1, 1)
    return [enc(p, c, base + dt.timedelta(days=d, hours=h), setting=s) for p, vs in pop.items() for c, d, h, s in vs]


hyp = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@hyp
@given(pop=population, min_visits=st.integers(1, 3), lookback=st.sampled_from([None, 30, 365]))
def test_matches_independent_reference(con, pop, min_visits, lookback):
    rows = rows_of(pop)
    got = run(con, rows, min_visits=min_visits, known_lookback_days=lookback)
    assert_matches_reference(got, rows, min_visits=min_visits, known_lookback_days=lookback)


@hyp
@given(pop=population, min_visits=st.integers(1, 3), lookback=st.sampled_from([None, 30, 365]))
def test_indices_stay_in_their_documented_ranges(con, pop, min_visits, lookback):
    """Exactly, with no tolerance: UPC and HHI in [1/N, 1], MMCI in [0.1/(N - 0.9), 1], the rest in [0, 1].

    (For N = 1 the MMCI bound is 1, which floating point computes as 1.0000000000000002.)
    """
    for r in run(con, rows_of(pop), min_visits=min_visits, known_lookback_days=lookback).values():
        n = r["n_visits"]
        lower = {"upc": 1 / n, "hhi": 1 / n, "mmci": min(1.0, 0.1 / (n - 0.9))} if n else {}
        for c in INDEX_COLUMNS:
            if r[c] is not None:
                assert n >= min_visits
                assert lower.get(c, 0.0) <= r[c] <= 1.0, (c, n, r[c])


@hyp
@given(pop=population)
def test_invariants(con, pop):
    for r in run(con, rows_of(pop), known_lookback_days=None).values():
        if r["upc"] is None:
            continue
        for c in INDEX_COLUMNS:
            assert 0.0 <= r[c] <= 1.0 + TOL
        assert r["upc"] ** 2 <= r["hhi"] + TOL and r["hhi"] <= r["upc"] + TOL
        assert r["coc"] <= r["upc"] + TOL
        assert r["secon"] <= r["k_index"] + TOL <= r["mmci"] + 2 * TOL
        assert r["known_provider"] == pytest.approx(r["k_index"], abs=TOL)
        n = r["n_visits"]
        assert r["coc"] == pytest.approx((n * r["hhi"] - 1) / (n - 1), abs=1e-9)
        if r["n_clinicians"] == 1:
            assert all(r[c] == pytest.approx(1.0, abs=TOL) for c in INDEX_COLUMNS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pop=population, seed=st.integers(0, 10_000))
def test_independent_of_row_order_and_clinician_labels(con, pop, seed):
    rows = rows_of(pop)
    base = run(con, rows)
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert run(con, shuffled) == base
    # Relabelling clinicians (order-preserving, so tie-breaks by id are unchanged)
    # changes nothing but the usual clinician's label.
    relabel = {c: f"Z{c}" for c in CLINICIANS}
    moved = run(con, [dict(r, clinician_id=relabel[r["clinician_id"]]) for r in rows])
    for p, r in base.items():
        assert moved[p]["usual_clinician_id"] == (relabel[r["usual_clinician_id"]] if r["usual_clinician_id"] else None)
        assert {c: moved[p][c] for c in INDEX_COLUMNS} == {c: r[c] for c in INDEX_COLUMNS}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sequences=st.dictionaries(
        st.text("pq0123456789", min_size=1, max_size=4),
        st.text("ABCDE", min_size=1, max_size=12),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(0, 10_000),
)
def test_order_free_indices_ignore_visit_order(con, sequences, seed):
    """UPC, COC, MMCI, HHI and K depend only on the counts, not on the order of visits."""
    rng = random.Random(seed)
    shuffled = {p: "".join(rng.sample(seq, len(seq))) for p, seq in sequences.items()}
    a, b = run(con, rows_from_sequences(sequences)), run(con, rows_from_sequences(shuffled))
    for p in a:
        for c in ("upc", "coc", "mmci", "hhi", "k_index"):
            assert (a[p][c] is None and b[p][c] is None) or a[p][c] == pytest.approx(b[p][c], abs=TOL)


# --- population summary --------------------------------------------------------------


def test_summary_pooled_and_mean_match_hand_computation(con):
    from carethread.measures.continuity import continuity_summary

    # AABAC: N=5, UPC 3/5; AB: N=2, UPC 1/2; A: N=1 (excluded).
    table = encounters_table(con, rows_from_sequences({"p1": "AABAC", "p2": "AB", "p3": "A"}))
    rows = {r["index"]: r for r in continuity_summary(patient_continuity(table)).to_pyarrow().to_pylist()}
    assert list(rows) == ["upc", "coc", "secon", "mmci", "hhi", "k_index", "known_provider"]
    upc = rows["upc"]
    assert (upc["patients_included"], upc["patients_excluded"]) == (2, 1)
    assert upc["mean"] == pytest.approx((0.6 + 0.5) / 2, abs=TOL)
    assert upc["pooled"] == pytest.approx((3 + 1) / (5 + 2), abs=TOL)
    assert upc["median"] == pytest.approx(0.55, abs=TOL)
    # COC pooled: (sum n_j^2 - N) summed over patients / N(N-1) summed: (6 + 0) / (20 + 2)
    assert rows["coc"]["pooled"] == pytest.approx(6 / 22, abs=TOL)
    # SECON pooled over N-1: (1 + 0) / (4 + 1)
    assert rows["secon"]["pooled"] == pytest.approx(1 / 5, abs=TOL)
    assert rows["k_index"]["pooled"] == pytest.approx((2 + 0) / (4 + 1), abs=TOL)
    assert rows["hhi"]["pooled"] == pytest.approx((0.44 * 5 + 0.5 * 2) / 7, abs=TOL)
    assert rows["mmci"]["pooled"] is None


def test_remarks_take_the_measure_options(con):
    # p: 2 visits and an encounter without a clinician; q: 1 visit; r: emergency only.
    d = dt.datetime(2021, 1, 1, 9)
    rows = [enc("p", "A", d), enc("p", "A", d + dt.timedelta(days=1)), enc("p", None, d + dt.timedelta(days=2))]
    rows += [enc("q", "B", d), enc("r", "E", d, setting="emergency")]
    table = encounters_table(con, rows)
    options = dict(min_visits=2, known_lookback_days=30)
    remarks = patient_continuity_remarks(table, patient_continuity(table, **options), **options)
    assert remarks == [
        "1 encounter in the chosen settings had no clinician and was left out of every index.",
        "2 of 3 patients had fewer than 2 visits; their indices are null (their visit counts are kept).",
        "1 patient had encounters in the window but no visit in the chosen settings (for example emergency-only care).",
    ]


def test_the_old_usual_rank_key_is_a_deprecated_alias(con):
    import ibis

    from carethread.measures.continuity import _usual_rank_key
    from carethread.measures.keys import usual_rank_key

    pairs = ibis.memtable({"clinician_id": ["A", "B"], "n": [2, 2], "last_start": [d := dt.datetime(2024, 1, 1), d]})
    with pytest.warns(DeprecationWarning, match=r"use carethread.measures.keys.usual_rank_key\(\)"):
        old = _usual_rank_key(pairs, "clinician_id")
    assert pairs.select(k=old).k.to_list() == pairs.select(k=usual_rank_key(pairs)).k.to_list()
