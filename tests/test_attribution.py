"""Attribution: hand-computed practices, an independent reference, properties and errors."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import Counter, defaultdict
from fractions import Fraction

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread.errors import InputError, OptionError
from carethread.measures.attribution import (
    ATTRIBUTION_COLUMNS,
    RANKING_COLUMNS,
    RULES,
    SUMMARY_COLUMNS,
    attribute,
    attribution_ranking,
    attribution_remarks,
    attribution_summary,
)
from tests.conftest import encounters_table
from tests.reference import rows_from_sequences

AS_OF = dt.datetime(2021, 1, 1)
EPOCH = dt.datetime(1900, 1, 1)
PC_SPECIALTIES = {"family medicine", "general practice", "internal medicine", "pediatrics", "geriatrics"}


# --- an independent reference, written from docs/definitions.md, Attribution ------------------


def months_back(d: dt.datetime, months: int) -> dt.datetime:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return d.replace(year=y, month=m + 1, day=min(d.day, calendar.monthrange(y, m + 1)[1]))


def reference_attribution(rows, *, as_of, rule="plurality", lookback=18, tiers=None):
    """{patient: (clinician, n, N, last_visit_date, tie_broken)} for attributed patients.

    Plurality ties go to the latest start of the tied clinicians' last visits
    (the last in visit order), then to the smallest id.
    """
    lo = months_back(as_of, lookback)
    first = {}
    for r in rows:
        if r["setting"] not in ("primary_care", "virtual") or r["clinician_id"] is None:
            continue
        if not lo <= r["start"] < as_of:
            continue
        key = (r["patient_id"], r["clinician_id"], r["start"].date())
        first[key] = min(first.get(key, r["start"]), r["start"])
    by_patient = defaultdict(list)
    for (p, c, _day), start in first.items():
        by_patient[p].append((start, c))
    out = {}
    for p, vis in by_patient.items():
        total = len(vis)
        n = Counter(c for _, c in vis)
        last = {c: max(s for s, cc in vis if cc == c) for c in n}
        if rule == "recent":
            start, c = max(vis)
            tie = any(s == start and cc != c for s, cc in vis)
            out[p] = (c, n[c], total, last[c].date(), tie)
            continue
        pool = list(n)
        if rule == "tiered":
            eligible = [c for c in pool if c in tiers]
            if not eligible:
                continue
            top = min(tiers[c] for c in eligible)
            pool = [c for c in eligible if tiers[c] == top]
        c = sorted(pool, key=lambda c: (-n[c], EPOCH - last[c], c))[0]
        tie = sum(n[x] == n[c] for x in pool) > 1
        if rule == "majority":
            if 2 * n[c] <= total:
                continue
            tie = False
        out[p] = (c, n[c], total, last[c].date(), tie)
    return out


def run(con, rows, **kw):
    table = encounters_table(con, rows)
    got = attribute(table, **kw).to_pyarrow()
    assert tuple(got.column_names) == ATTRIBUTION_COLUMNS
    out = {}
    for r in got.to_pylist():
        assert r["patient_id"] not in out
        out[r["patient_id"]] = tuple(r[k] for k in ATTRIBUTION_COLUMNS if k not in ("patient_id", "rule", "share"))
    return out, got


def ranking(con, rows, **kw):
    table = encounters_table(con, rows)
    got = attribution_ranking(table, **kw).to_pyarrow()
    assert tuple(got.column_names) == RANKING_COLUMNS
    return {(r["patient_id"], r["clinician_id"]): r for r in got.to_pylist()}


def visit(p, c, day, hour=9, setting="primary_care", practice="X", minute=0):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": practice,
        "start": dt.datetime(2020, 1, 1, hour, minute) + dt.timedelta(days=day),
        "setting": setting,
    }


# --- schema and types ---------------------------------------------------------------------


def test_output_schema(con):
    _, got = run(con, [visit("p", "A", 1), visit("p", "A", 2)], as_of=AS_OF)
    assert got.schema.field("visits_with_clinician").type == pa.int64()
    assert got.schema.field("visits_total").type == pa.int64()
    assert got.schema.field("share").type == pa.float64()
    assert got.schema.field("last_visit").type == pa.date32()
    assert got.schema.field("tie_broken").type == pa.bool_()
    assert got.column("rule").to_pylist() == ["plurality"]


def test_empty_input(con):
    for rule in ("plurality", "majority", "recent"):
        got, _ = run(con, [], as_of=AS_OF, rule=rule)
        assert got == {}


# --- plurality: every tie rule --------------------------------------------------------------


def test_plurality_most_visits(con):
    got, _ = run(con, rows_from_sequences({"p": "AABAC"}), as_of=AS_OF)
    assert got["p"] == ("A", 3, 5, dt.date(2020, 1, 22), False)


def test_plurality_tie_goes_to_most_recent_visit(con):
    got, _ = run(con, rows_from_sequences({"p": "AABB", "q": "BBAA"}), as_of=AS_OF)
    assert got["p"][0] == "B" and got["p"][4] is True
    assert got["q"][0] == "A" and got["q"][4] is True


def test_plurality_tie_on_visits_and_day_goes_to_the_later_visit(con):
    # A and B: two visits each, last visits on the same day; the later one is the most recent.
    rows = [visit("p", "B", 1), visit("p", "A", 2), visit("p", "B", 9, hour=8), visit("p", "A", 9, hour=15)]
    got, _ = run(con, rows, as_of=AS_OF)
    assert got["p"] == ("A", 2, 4, dt.date(2020, 1, 10), True)
    rows = [visit("p", "B", 1), visit("p", "A", 2), visit("p", "B", 9, hour=16), visit("p", "A", 9, hour=8)]
    assert run(con, rows, as_of=AS_OF)[0]["p"] == ("B", 2, 4, dt.date(2020, 1, 10), True)


def test_plurality_tie_at_the_same_instant_goes_to_smallest_id(con):
    # Last visits start at the very same moment (date-only data, say): the smaller id.
    rows = [visit("p", "B", 1), visit("p", "A", 2), visit("p", "B", 9, hour=0), visit("p", "A", 9, hour=0)]
    assert run(con, rows, as_of=AS_OF)[0]["p"] == ("A", 2, 4, dt.date(2020, 1, 10), True)


BJGP_2023 = {  # sequence: (usual clinician, share = UPC) (BJGP 2023;73:279, Table 2)
    "AB": ("B", Fraction(1, 2)),
    "AAB": ("A", Fraction(2, 3)),
    "ABC": ("C", Fraction(1, 3)),
    "AABB": ("B", Fraction(1, 2)),
    "AABC": ("A", Fraction(1, 2)),
    "AAABBB": ("B", Fraction(1, 2)),
    "AAAABBBB": ("B", Fraction(1, 2)),
    "AAAABCDE": ("A", Fraction(1, 2)),
    "ABBC": ("B", Fraction(1, 2)),
    "AABBBC": ("B", Fraction(1, 2)),
    "AAABBBBC": ("B", Fraction(1, 2)),
    "AABBCCCC": ("C", Fraction(1, 2)),
}


def test_bjgp_sequences_share_equals_upc(con):
    rows = rows_from_sequences({seq: seq for seq in BJGP_2023})
    table = encounters_table(con, rows)
    got = {r["patient_id"]: r for r in attribute(table, as_of=AS_OF).to_pyarrow().to_pylist()}
    majority = {r["patient_id"] for r in attribute(table, as_of=AS_OF, rule="majority").to_pyarrow().to_pylist()}
    for seq, (usual, upc) in BJGP_2023.items():
        assert got[seq]["clinician_id"] == usual, seq
        assert got[seq]["share"] == pytest.approx(float(upc), abs=1e-12), seq
        assert (seq in majority) == (upc > Fraction(1, 2)), seq


# --- majority -------------------------------------------------------------------------------


def test_majority_needs_more_than_half(con):
    got, _ = run(con, rows_from_sequences({"p": "AAABB", "q": "AABB", "r": "AB"}), as_of=AS_OF, rule="majority")
    assert got == {"p": ("A", 3, 5, dt.date(2020, 1, 15), False)}


def test_majority_never_reports_a_tie(con):
    got, _ = run(con, rows_from_sequences({"p": "AAAB"}), as_of=AS_OF, rule="majority")
    assert got["p"][4] is False


# --- recent ---------------------------------------------------------------------------------


def test_recent_is_last_clinician(con):
    got, _ = run(con, rows_from_sequences({"p": "AAAAB", "q": "BA"}), as_of=AS_OF, rule="recent")
    assert got["p"] == ("B", 1, 5, dt.date(2020, 1, 29), False)
    assert got["q"][0] == "A"


def test_recent_same_day_follows_start_time(con):
    rows = [visit("p", "A", 1), visit("p", "B", 5, hour=8), visit("p", "A", 5, hour=14)]
    assert run(con, rows, as_of=AS_OF, rule="recent")[0]["p"][:2] == ("A", 2)
    rows = [visit("p", "A", 1), visit("p", "B", 5, hour=16), visit("p", "A", 5, hour=14)]
    assert run(con, rows, as_of=AS_OF, rule="recent")[0]["p"][:2] == ("B", 1)


def test_recent_same_time_goes_to_largest_id_and_is_a_tie(con):
    # Date-only data: both visits at midnight; visit order puts B after A.
    rows = [visit("p", "A", 5, hour=0), visit("p", "B", 5, hour=0), visit("p", "A", 1, hour=0)]
    assert run(con, rows, as_of=AS_OF, rule="recent")[0]["p"] == ("B", 1, 3, dt.date(2020, 1, 6), True)


def test_recent_uses_the_first_start_of_a_day(con):
    # A's visit that day starts at 8 (a repeat at 17 does not move it); B at 12 is later.
    rows = [visit("p", "A", 5, hour=8), visit("p", "A", 5, hour=17), visit("p", "B", 5, hour=12)]
    assert run(con, rows, as_of=AS_OF, rule="recent")[0]["p"][0] == "B"


# --- tiered ---------------------------------------------------------------------------------


def clinicians_table(con, rows):
    data = {
        "clinician_id": [r[0] for r in rows],
        "practice_id": ["X"] * len(rows),
        "specialty": [r[1] for r in rows],
        "role": [r[2] for r in rows],
    }
    return con.create_table("clinicians", pa.table(data), overwrite=True)


TIER_ROWS = [
    ("PCP", "Family Medicine ", "physician"),  # tier 1 (case and spaces ignored)
    ("GER", "geriatrics", "physician"),  # tier 1
    ("NP1", "family medicine", "np"),  # tier 2
    ("PA1", "cardiology", "pa"),  # tier 2 (NP/PA whatever the specialty)
    ("CAR", "cardiology", "physician"),  # tier 3
    ("RN1", "nursing", "nurse"),  # tier 3
]
TIERS = {"PCP": 1, "GER": 1, "NP1": 2, "PA1": 2, "CAR": 3, "RN1": 3}


def test_tiered_first_tier_with_visits_wins(con):
    rows = rows_from_sequences(
        {
            "p": ["NP1", "NP1", "NP1", "PCP"],  # one PCP visit beats three NP visits
            "q": ["CAR", "CAR", "PA1"],  # NP/PA beats a specialist
            "r": ["CAR", "RN1", "RN1"],  # tier 3: plurality
            "s": ["ZZZ", "ZZZ"],  # clinician not in the table: not eligible
            "t": ["PCP", "GER", "NP1", "NP1"],  # tie within tier 1 -> most recent (GER)
            "u": ["ZZZ", "ZZZ", "ZZZ", "PA1"],  # share counts every visit
        }
    )
    clin = clinicians_table(con, TIER_ROWS)
    got, _ = run(con, rows, as_of=AS_OF, rule="tiered", clinicians=clin)
    assert got["p"] == ("PCP", 1, 4, dt.date(2020, 1, 22), False)
    assert got["q"][0] == "PA1"
    assert got["r"][:2] == ("RN1", 2)
    assert "s" not in got
    assert got["t"][0] == "GER" and got["t"][4] is True
    assert got["u"][:3] == ("PA1", 1, 4)
    assert got == reference_attribution(rows, as_of=AS_OF, rule="tiered", tiers=TIERS)


def test_tiered_needs_clinicians(con):
    table = encounters_table(con, rows_from_sequences({"p": "AB"}))
    with pytest.raises(InputError, match="clinicians table"):
        attribute(table, as_of=AS_OF, rule="tiered")
    bare = con.create_table("bare", pa.table({"clinician_id": ["A"], "practice_id": ["X"]}), overwrite=True)
    with pytest.raises(InputError, match="missing: role, specialty"):
        attribute(table, as_of=AS_OF, rule="tiered", clinicians=bare)
    with pytest.raises(InputError, match="clinicians table"):
        attribution_ranking(table, as_of=AS_OF, rule="tiered")


# --- window, visits, errors -----------------------------------------------------------------


def test_lookback_window_is_half_open(con):
    as_of = dt.datetime(2021, 7, 1)
    rows = [
        {"clinician_id": "A", "start": dt.datetime(2020, 1, 1)},
        {"clinician_id": "B", "start": dt.datetime(2019, 12, 31, 23)},
        {"clinician_id": "B", "start": dt.datetime(2021, 7, 1)},
    ]
    rows = [{"patient_id": "p", "practice_id": "X", "setting": "primary_care", **r} for r in rows]
    got, _ = run(con, rows, as_of=as_of)
    assert got == {"p": ("A", 1, 1, dt.date(2020, 1, 1), False)}
    got, _ = run(con, rows, as_of=as_of, lookback_months=6)
    assert got == {}
    got, _ = run(con, rows, as_of="2021-07-02", lookback_months=19)
    assert got["p"][:3] == ("B", 2, 3)


def test_visits_rules_apply(con):
    rows = [
        visit("p", "A", 1),
        visit("p", "A", 1, hour=15),  # same-day repeat: one visit
        visit("p", "B", 2),
        visit("p", "B", 3, setting="emergency"),  # not a visit setting
        visit("p", None, 4),  # no clinician
        visit("p", "B", 5, setting="virtual"),
    ]
    got, _ = run(con, rows, as_of=AS_OF)
    assert got["p"] == ("B", 2, 3, dt.date(2020, 1, 6), False)
    got, _ = run(con, rows, as_of=AS_OF, settings="primary_care,emergency")
    assert got["p"] == ("B", 2, 3, dt.date(2020, 1, 4), False)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"rule": "usual"}, "plurality, majority, recent, tiered"),
        ({"lookback_months": 0}, "lookback"),
        ({"lookback_months": 1.5}, "lookback"),
        ({"lookback_months": True}, "lookback"),
        ({"as_of": "last tuesday"}, "as-of"),
    ],
)
def test_option_errors(con, kw, match):
    table = encounters_table(con, rows_from_sequences({"p": "AB"}))
    args = {"as_of": AS_OF, **kw}
    for fn in (attribute, attribution_ranking):
        with pytest.raises(OptionError, match=match):
            fn(table, **args)


# --- ranking --------------------------------------------------------------------------------


def test_ranking_reasons_plurality(con):
    rows = rows_from_sequences({"p": "AABAC", "q": "AABB"})
    rows += [visit("r", "B", 1), visit("r", "A", 2), visit("r", "B", 9, hour=8), visit("r", "A", 9, hour=8)]
    rows += [visit("s", "B", 1), visit("s", "A", 2), visit("s", "B", 9, hour=8), visit("s", "A", 9, hour=15)]
    r = ranking(con, rows, as_of=AS_OF)
    assert (r["p", "A"]["rank"], r["p", "A"]["reason"]) == (1, "most visits (3 of 5)")
    assert r["p", "B"]["reason"] == "fewer visits (1 of 5)"
    assert {r["p", "B"]["rank"], r["p", "C"]["rank"]} == {2, 3}
    assert r["p", "C"]["rank"] == 2  # equal visits: the more recent first
    assert r["q", "B"]["reason"] == "tie on visits (2 each) broken by most recent visit"
    assert r["q", "A"]["reason"] == "tie on visits (2 each), less recent visit"
    assert (r["r", "A"]["rank"], r["r", "A"]["reason"]) == (1, "tie on visits and last visit broken by smallest id")
    assert r["r", "B"]["reason"] == "tie on visits and last visit, larger id"
    # Last visits on the same day, at 08:00 (B) and 15:00 (A): the later one is the most recent.
    assert (r["s", "A"]["rank"], r["s", "A"]["reason"]) == (1, "tie on visits (2 each) broken by most recent visit")
    assert r["s", "B"]["reason"] == "tie on visits (2 each), less recent visit"
    assert r["p", "A"]["visits"] == 3 and r["p", "A"]["last_visit"] == dt.date(2020, 1, 22)


def test_ranking_reasons_majority_recent_tiered(con):
    rows = rows_from_sequences({"p": "AAABB", "q": "AABBC"})
    r = ranking(con, rows, as_of=AS_OF, rule="majority")
    assert (r["p", "A"]["rank"], r["p", "A"]["reason"]) == (1, "majority (3 of 5)")
    assert r["q", "A"]["rank"] is None and r["q", "A"]["reason"] == "majority not reached (2 of 5)"
    r = ranking(con, rows, as_of=AS_OF, rule="recent")
    assert (r["p", "B"]["rank"], r["p", "B"]["reason"]) == (1, "most recent visit (2020-01-29)")
    assert r["p", "A"]["reason"] == "earlier last visit (2020-01-15)"
    rows = [visit("t", "A", 5, hour=0), visit("t", "B", 5, hour=0)]
    r = ranking(con, rows, as_of=AS_OF, rule="recent")
    assert r["t", "B"]["reason"] == "tie on last visit time broken by largest id (visit order)"
    assert r["t", "A"]["reason"] == "tie on last visit time, smaller id"

    rows = rows_from_sequences({"p": ["NP1", "NP1", "PCP", "ZZZ"]})
    clin = clinicians_table(con, TIER_ROWS)
    r = ranking(con, rows, as_of=AS_OF, rule="tiered", clinicians=clin)
    assert r["p", "PCP"]["rank"] == 1
    assert r["p", "PCP"]["reason"] == "tier 1: primary-care physician; most visits (1 of 4)"
    assert (r["p", "NP1"]["rank"], r["p", "NP1"]["reason"]) == (2, "tier 2: NP/PA; a higher tier has visits")
    assert r["p", "ZZZ"]["rank"] is None
    assert r["p", "ZZZ"]["reason"] == "not eligible: clinician not in the clinicians table"


@pytest.mark.parametrize("rule", RULES)
def test_ranking_rank_one_is_attribution(con, rule):
    rnd = random.Random(7)
    rows = random_rows(rnd, 40)
    clin = clinicians_table(con, TIER_ROWS_RANDOM)
    kw = {"as_of": AS_OF, "rule": rule, "clinicians": clin}
    got, _ = run(con, rows, **kw)
    r = ranking(con, rows, **kw)
    firsts = {p: (c, row["visits"], row["last_visit"]) for (p, c), row in r.items() if row["rank"] == 1}
    assert firsts == {p: (v[0], v[1], v[3]) for p, v in got.items()}
    by_patient = defaultdict(list)
    for (p, _), row in r.items():
        if row["rank"] is not None:
            by_patient[p].append(row["rank"])
    assert all(sorted(ranks) == list(range(1, len(ranks) + 1)) for ranks in by_patient.values())


# --- summary and remarks --------------------------------------------------------------------


def test_summary_and_remarks(con):
    rows = rows_from_sequences({"p": "AAB", "q": "AB", "r": "AABB"})
    rows += [visit("s", "A", 3, setting="emergency"), visit("p", None, 30)]
    table = encounters_table(con, rows)
    majority = attribute(table, as_of=AS_OF, rule="majority")
    ranked = attribution_ranking(table, as_of=AS_OF, rule="majority")
    s = attribution_summary(majority, ranking=ranked).to_pyarrow().to_pylist()[0]
    # p: A 2 of 3 (share 2/3); q and r have no majority.
    assert s == {
        "patients_with_visits": 3,
        "attributed": 1,
        "unattributed": 2,
        "ties_broken": 0,
        "clinicians": 1,
        "mean_share": pytest.approx(2 / 3, abs=1e-12),
        "pooled_share": pytest.approx(2 / 3, abs=1e-12),
    }
    assert tuple(attribution_summary(majority).columns) == SUMMARY_COLUMNS
    assert attribution_remarks(table, majority, as_of=AS_OF, rule="majority") == [
        "2 patients with visits were not attributed (no clinician had more than half of their visits).",
        "1 encounter without a clinician was left out.",
    ]
    plurality = attribute(table, as_of=AS_OF)
    s = attribution_summary(plurality).to_pyarrow().to_pylist()[0]
    # p: A 2 of 3; q: B 1 of 2 (tie, B more recent); r: B 2 of 4 (tie) -> pooled 5 / 9.
    assert (s["patients_with_visits"], s["attributed"], s["unattributed"], s["ties_broken"]) == (None, 3, None, 2)
    assert (s["clinicians"], s["pooled_share"]) == (2, pytest.approx(5 / 9, abs=1e-12))
    assert attribution_remarks(table, plurality, as_of=AS_OF)[0] == (
        "2 attributions were decided by a tie-break (most recent visit, then smallest clinician id)."
    )


def test_deprecated_summary_and_remarks_forms_warn_and_give_the_old_results(con):
    rows = rows_from_sequences({"p": "AAB", "q": "AB", "r": "AABB"})
    rows += [visit("s", "A", 3, setting="emergency"), visit("p", None, 30)]
    table = encounters_table(con, rows)
    with pytest.warns(DeprecationWarning, match=r"use attribution_summary\(attribute\(encounters"):
        s = attribution_summary(table, as_of=AS_OF, rule="majority", lookback=18).to_pyarrow().to_pylist()[0]
    assert s == {
        "patients_in_window": 4,
        "patients_with_visits": 3,
        "attributed": 1,
        "unattributed": 2,
        "ties_broken": 0,
        "encounters_without_clinician": 1,
    }
    with pytest.warns(DeprecationWarning, match=r"use attribution_remarks\(encounters, result"):
        old = attribution_remarks(s, rule="majority")
    new = attribution_remarks(table, attribute(table, as_of=AS_OF, rule="majority"), as_of=AS_OF, rule="majority")
    assert old == new


@pytest.mark.parametrize("fn", [attribute, attribution_ranking])
def test_lookback_is_a_deprecated_alias_of_lookback_months(con, fn):
    table = encounters_table(con, rows_from_sequences({"p": "AABAC", "q": "AB"}))
    with pytest.warns(DeprecationWarning, match=rf"{fn.__name__}\(lookback=...\) is deprecated.*lookback_months"):
        old = fn(table, as_of=AS_OF, lookback=6).to_pyarrow()
    assert old.equals(fn(table, as_of=AS_OF, lookback_months=6).to_pyarrow())
    with pytest.raises(TypeError, match="give only lookback_months"):
        fn(table, as_of=AS_OF, lookback=6, lookback_months=6)


def test_as_of_defaults_to_the_day_after_the_last_encounter(con):
    rows = rows_from_sequences({"p": "AABB"})  # weekly from 2020-01-01: the last on 2020-01-22
    table = encounters_table(con, rows)
    default = attribute(table).to_pyarrow()
    assert default.equals(attribute(table, as_of="2020-01-23").to_pyarrow())
    assert default.column("last_visit").to_pylist() == [dt.date(2020, 1, 22)]
    assert attribute(encounters_table(con, []), rule="recent").count().execute() == 0


# --- properties -----------------------------------------------------------------------------

TIER_ROWS_RANDOM = [
    ("A", "family medicine", "physician"),
    ("B", "internal medicine", "physician"),
    ("C", "family medicine", "np"),
    ("D", "dermatology", "physician"),
]  # E: not listed
TIERS_RANDOM = {"A": 1, "B": 1, "C": 2, "D": 3}


def random_rows(rnd, n):
    rows = []
    for _ in range(n):
        rows.append(
            {
                "patient_id": rnd.choice("pqrs"),
                "clinician_id": rnd.choice(["A", "B", "C", "D", "E", None]),
                "practice_id": "X",
                "start": dt.datetime(2019, 6, 1) + dt.timedelta(days=rnd.randrange(600), hours=rnd.choice([0, 9, 14])),
                "setting": rnd.choice(["primary_care", "primary_care", "virtual", "emergency"]),
            }
        )
    return rows


row_strategy = st.fixed_dictionaries(
    {
        "patient_id": st.sampled_from(["p", "q", "r"]),
        "clinician_id": st.sampled_from(["A", "B", "C", "D", "E", None]),
        "practice_id": st.just("X"),
        "start": st.builds(
            lambda d, h: dt.datetime(2019, 6, 1) + dt.timedelta(days=d, hours=h),
            st.integers(0, 600),
            st.sampled_from([0, 9, 14]),
        ),
        "setting": st.sampled_from(["primary_care", "virtual", "emergency"]),
    }
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, max_size=30), seed=st.integers(0, 10**6))
def test_matches_reference_and_row_order(con, rows, seed):
    """Every rule against the reference; a shuffled copy of the rows (patients renamed
    ``s:...``) in the same table must give the same answer. One query per example."""
    clin = clinicians_table(con, TIER_ROWS_RANDOM)
    shuffled = [{**r, "patient_id": "s:" + r["patient_id"]} for r in rows]
    random.Random(seed).shuffle(shuffled)
    table = encounters_table(con, rows + shuffled)
    results = [attribute(table, as_of=AS_OF, rule=rule, clinicians=clin) for rule in RULES]
    got = defaultdict(dict)
    for r in ibis.union(*results).to_pyarrow().to_pylist():
        assert r["patient_id"] not in got[r["rule"]], "at most one clinician per patient"
        got[r["rule"]][r["patient_id"]] = r
    visits = Counter()  # (patient, clinician) -> visits, for the plurality property
    lo = months_back(AS_OF, 18)
    counted = [r for r in rows if r["clinician_id"] and r["setting"] != "emergency" and lo <= r["start"] < AS_OF]
    for p, c, _day in {(r["patient_id"], r["clinician_id"], r["start"].date()) for r in counted}:
        visits[p, c] += 1
    for rule in RULES:
        expected = reference_attribution(rows, as_of=AS_OF, rule=rule, tiers=TIERS_RANDOM)
        mine = {
            p: (r["clinician_id"], r["visits_with_clinician"], r["visits_total"], r["last_visit"], r["tie_broken"])
            for p, r in got[rule].items()
            if not p.startswith("s:")
        }
        assert mine == expected, rule
        assert {p[2:]: r["clinician_id"] for p, r in got[rule].items() if p.startswith("s:")} == {
            p: v[0] for p, v in expected.items()
        }, rule
        for r in got[rule].values():
            assert 0 < r["share"] <= 1
            assert r["share"] == pytest.approx(r["visits_with_clinician"] / r["visits_total"], abs=1e-12)
            if rule == "majority":
                assert r["share"] > 0.5
        if rule == "plurality":
            for p, v in mine.items():
                assert v[1] == max(n for (pp, _c), n in visits.items() if pp == p)


def test_plurality_key_decodes(con):
    """choose() reads tier, visits, last visit and id back from the smallest key."""
    from carethread.measures.attribution.rules import rule_keys
    from carethread.measures.keys import decode_usual_key

    pairs = ibis.memtable(
        {
            "clinician_id": ["C-07", "0042", ""],
            "n": [5, 123456, 1],
            "last_start": [dt.datetime(2024, 3, 1, 9), dt.datetime(1900, 1, 1), dt.datetime(2199, 12, 31, 23, 59)],
            "tier": [1, 3, 9],
        }
    )
    best, _, _ = rule_keys(pairs, "plurality")
    got = pairs.select(tier=best.substr(0, 1).cast("int64"), **decode_usual_key(best, offset=1)).to_pyarrow()
    assert got.to_pylist() == [
        {"tier": 1, "n": 5, "last_visit": dt.date(2024, 3, 1), "id": "C-07"},
        {"tier": 3, "n": 123456, "last_visit": dt.date(1900, 1, 1), "id": "0042"},
        {"tier": 9, "n": 1, "last_visit": dt.date(2199, 12, 31), "id": ""},
    ]


def test_plurality_is_the_usual_clinician(con):
    """One rule: plurality over all the data equals patient_continuity's usual clinician."""
    from carethread.measures.continuity import patient_continuity

    rows = random_rows(random.Random(3), 120)
    table = encounters_table(con, rows)
    everything = attribute(table, as_of="2030-01-01", lookback_months=240).to_pyarrow().to_pylist()
    got = {r["patient_id"]: r["clinician_id"] for r in everything}
    usual = {
        r["patient_id"]: r["usual_clinician_id"]
        for r in patient_continuity(table).to_pyarrow().to_pylist()
        if r["usual_clinician_id"] is not None
    }
    assert got == usual


def test_every_measure_ties_a_same_day_last_visit_to_the_later_one(con):
    """Equal visits, last seen on the same day at 16:15 (A) and 17:15 (B): B is the most
    recent, for the usual clinician, plurality attribution, panels, the usual dyad of
    who-needs-whom and the attribution churn of relationship breaks (one key helper)."""
    from carethread.measures.breaks import relationship_breaks
    from carethread.measures.continuity import patient_continuity
    from carethread.measures.dyads import dyads
    from carethread.measures.panels import panels
    from carethread.summary.dependence import dependence_rows

    day = dt.datetime(2023, 3, 10)
    rows = [
        {"patient_id": "p", "clinician_id": "A", "start": day.replace(hour=16, minute=15)},
        {"patient_id": "p", "clinician_id": "B", "start": day.replace(hour=17, minute=15)},
    ]
    rows = [{**r, "practice_id": "X", "setting": "primary_care"} for r in rows]
    table = encounters_table(con, rows)
    as_of = "2023-04-01"
    assert patient_continuity(table).usual_clinician_id.to_list() == ["B"]
    assert attribute(table, as_of=as_of).clinician_id.to_list() == ["B"]
    assert {r["clinician_id"]: r["panel_size"] for r in panels(table, as_of=as_of).to_pyarrow().to_pylist()} == {
        "A": 0,
        "B": 1,
    }
    rows_of_who = dependence_rows(
        dyads(table), continuity=patient_continuity(table), attribution=attribute(table, as_of=as_of)
    )
    usual = rows_of_who.filter(ibis._.usual).clinician_id.to_list()
    assert usual == ["B"]
    # Breaks with confirm=0 (attribution churn) use the same key. Quarterly, 3-month
    # look-back; the data end on 2023-07-06, the day after the last encounter, so the
    # boundaries are 1 April and 1 July. 1 April: the window [1 Jan, 1 Apr) holds only
    # 10 March, A 1 visit and B 1, B's later -> B. 1 July: [1 Apr, 1 Jul) holds A's visits
    # of 12 April and 12 May -> A. Attribution moved B -> A, dated by the first visit with
    # A after B's last (10 March): 12 April (A's 10 March visit is the same day, not after).
    # partner: both in X. patient_moved_on: B's last encounter (10 March) is before the
    # break, but the data do not run 3 months past it (12 July > 6 July). Ties to the
    # smaller id would have kept p with A throughout: no move.
    later = [dt.datetime(2023, 4, 12, 9), dt.datetime(2023, 5, 12, 9), dt.datetime(2023, 7, 5, 9)]
    rows += [{**rows[0], "start": when} for when in later]
    table = encounters_table(con, rows)
    got = relationship_breaks(table, confirm=0, lookback_months=3).to_pyarrow().to_pylist()
    assert got == [
        {
            "patient_id": "p",
            "from_clinician_id": "B",
            "to_clinician_id": "A",
            "break_date": dt.date(2023, 4, 12),
            "kind": "partner",
            "cause": "patient_moved_on",
        }
    ]
    # Confirmed breaks need no tie-break: on 10 March A and B have 1 visit each, so nobody
    # holds p (holding needs 2 and more than half); from 12 April A holds p (2 of 3, then
    # 3 of 4, 4 of 5), so nothing broke, and the data end before any year of silence.
    assert relationship_breaks(table).to_pyarrow().num_rows == 0
