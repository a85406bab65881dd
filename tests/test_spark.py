"""The same measures on Spark (local mode) and DuckDB give identical results.

Every measure runs through Ibis unchanged on both engines (ibis' test-suite
idea: one suite, every backend). Each input is registered on both with
``tests.conftest.encounters_table``; each measure's output is compared row by
row after sorting, floats to 1e-12, column names and types included. One
SparkSession serves the whole run (starting a JVM takes seconds). Anything
Spark cannot do would be a strict xfail naming the missing operation.

The tests skip when pyspark or Java is missing, except under CI (``CI`` set),
where a missing Spark is a failure: CI installs both.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import os
import shutil
from collections.abc import Callable

import pyarrow as pa
import pytest

import carethread.engine as engine
from carethread.measures.attribution import RULES, attribute, attribution_ranking, attribution_summary
from carethread.measures.breaks import relationship_breaks
from carethread.measures.continuity import continuity_summary, patient_continuity, visit_counts
from carethread.measures.dyads import dyads
from carethread.measures.network import care_density, fragmented_care_density, sharing_network
from carethread.measures.panels import panel_rollup, panels
from carethread.summary import who_needs_whom_from_encounters
from carethread.synth import generate
from carethread.visits import default_as_of
from tests.conftest import ENCOUNTER_ARROW, encounters_table

TOL = 1e-12


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'carethread[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Debian: apt-get install openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="session")
def spark():
    """One local Spark backend for the whole test run."""
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark tests, but {missing}.")
        pytest.skip(missing)
    con = engine.connect("spark", threads=2)
    # The inputs here are tiny: one shuffle partition and no adaptive
    # re-planning between stages halve the run time (results do not depend
    # on either setting).
    con._session.conf.set("spark.sql.shuffle.partitions", "1")
    con._session.conf.set("spark.sql.adaptive.enabled", "false")
    return con


# --- inputs ------------------------------------------------------------------------------


def _at(day: int, hour: int = 9, minute: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2022, 1, 3, hour, minute, 0, micro) + dt.timedelta(days=day)


def _e(p, c, day, *, practice="X", setting="primary_care", hour=9, minute=0, micro=0):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": practice,
        "setting": setting,
        "start": _at(day, hour, minute, micro),
    }


def hand_made_rows() -> list[dict]:
    """Small patients, each exercising one rule of DESIGN.md sections 3 and 4."""
    rows = []
    # The INDICES.md sequence A A B A C, weekly.
    rows += [_e("p01", c, 7 * i) for i, c in enumerate("AABAC")]
    # Same-day encounters: two with A are one visit; B earlier that day sorts first.
    rows += [
        _e("p02", "A", 0, hour=15),
        _e("p02", "A", 0, hour=16),
        _e("p02", "B", 0, hour=10),
        _e("p02", "A", 30),
        _e("p02", "B", 31),
    ]
    # Plurality tie 2-2: the most recent visit wins; a tie on both goes to the smaller id.
    rows += [_e("p03", c, d) for c, d in (("A", 1), ("A", 2), ("B", 3), ("B", 4))]
    rows += [_e("p04", "B", 5), _e("p04", "C", 5, hour=9, micro=1), _e("p04", "B", 9), _e("p04", "C", 9)]
    # Recent rule: equal start times to the microsecond, and a one-microsecond difference.
    rows += [
        _e("p05", "A", 40, hour=11, micro=7),
        _e("p05", "B", 40, hour=11, micro=7),
        _e("p06", "B", 41, hour=11, micro=7),
        _e("p06", "A", 41, hour=11, micro=8),
    ]
    # Missing clinician, a single visit, and an emergency-only patient.
    rows += [
        _e("p07", None, 3),
        _e("p07", "A", 4),
        _e("p08", None, 6, setting="emergency"),
        _e("p08", None, 80, setting="urgent_care"),
        _e("p09", "D", 2, practice="Y", setting="specialty"),
    ]
    # A switch to a partner, then to another practice (confirmed breaks).
    rows += [_e("p10", "A", 30 * m) for m in range(8)]
    rows += [_e("p10", "B", 30 * m + 240) for m in range(12)]
    rows += [_e("p10", "D", 30 * m + 900, practice="Y") for m in range(10)]
    # Visits stop; emergency care follows (emergency_only); another goes silent after an admission (lost).
    rows += [_e("p11", "C", 14 * m) for m in range(8)] + [_e("p11", None, 300, setting="emergency")]
    rows += [_e("p12", "A", 20 * m) for m in range(5)] + [_e("p12", None, 90, setting="inpatient")]
    # Virtual visits count; a long gap in one dyad; a second practice.
    rows += [
        _e("p13", "E", d, practice="Y", setting=s)
        for d, s in ((0, "virtual"), (200, "primary_care"), (201, "virtual"), (760, "primary_care"))
    ]
    return rows


def hand_made_clinicians() -> pa.Table:
    return pa.table(
        {
            "clinician_id": ["A", "B", "C", "D", "E"],
            "practice_id": ["X", "X", "X", "Y", "Y"],
            "role": ["physician", " NP", "physician", "physician", "pa"],
            "specialty": [" Family medicine\t", "family medicine", "cardiology", "internal medicine", None],
            "capacity": [1500, 900, None, 1200, 800],
        }
    )


def _generated():
    s = generate(240, years=3, seed=11, patients_per_clinician=60)
    return s.encounters.select(ENCOUNTER_ARROW.names).cast(ENCOUNTER_ARROW).to_pylist(), s.clinicians


#: name -> (rows and clinicians, as_of: None = the day after the last encounter)
INPUTS: dict[str, tuple[Callable[[], tuple[list[dict], pa.Table | None]], str | None]] = {
    "hand-made": (lambda: (hand_made_rows(), hand_made_clinicians()), "2023-01-01"),
    "generated": (_generated, None),
    "empty": (lambda: ([], hand_made_clinicians()), "2025-01-01"),
}


@pytest.fixture(scope="module")
def inputs(spark):
    """Each input registered once on DuckDB and once on Spark: name -> (duck, spark, clinicians, as_of)."""
    duck = engine.connect()
    out = {}
    for name, (make, as_of) in INPUTS.items():
        rows, clinicians = make()
        table_name = "enc_" + name.replace("-", "_")
        d = encounters_table(duck, rows, name=table_name)
        s = encounters_table(spark, rows, name=table_name)
        out[name] = (d, s, clinicians, as_of or default_as_of(d))
    return out


# --- measures ------------------------------------------------------------------------------

# name -> f(encounters, clinicians, as_of) -> ibis.Table or pyarrow.Table
MEASURES: dict[str, Callable] = {
    "patient_continuity": lambda e, c, a: patient_continuity(e),
    "patient_continuity[practice,min1,unbounded]": lambda e, c, a: patient_continuity(
        e, level="practice", min_visits=1, known_lookback_days=None
    ),
    "patient_continuity[window,settings]": lambda e, c, a: patient_continuity(
        e, start="2022-03-01", end="2023-06-01", settings="primary_care,virtual,specialty", known_lookback_days=30
    ),
    "visit_counts": lambda e, c, a: visit_counts(e),
    "continuity_summary": lambda e, c, a: continuity_summary(patient_continuity(e).cache()),
    **{
        f"attribute[{rule}]": lambda e, c, a, rule=rule: attribute(e, as_of=a, rule=rule, clinicians=c)
        for rule in RULES
    },
    **{
        f"attribution_ranking[{rule}]": lambda e, c, a, rule=rule: attribution_ranking(
            e, as_of=a, rule=rule, clinicians=c
        )
        for rule in RULES
    },
    "attribution_summary": lambda e, c, a: attribution_summary(
        attribute(e, as_of=a, rule="majority"), ranking=attribution_ranking(e, as_of=a, rule="majority")
    ),
    "panels": lambda e, c, a: panels(e, as_of=a, clinicians=c),
    "panels[recent,12m,window]": lambda e, c, a: panels(
        e, as_of=a, rule="recent", lookback_months=12, start="2022-06-01"
    ),
    "panel_rollup[practice]": lambda e, c, a: panel_rollup(panels(e, as_of=a, clinicians=c), by="practice"),
    "dyads": lambda e, c, a: dyads(e),
    # Cached, as the CLI and the report do (caching is its own code path on Spark).
    "relationship_breaks": lambda e, c, a: relationship_breaks(e, clinicians=c).cache(),
    "relationship_breaks[confirm=2,12m]": lambda e, c, a: relationship_breaks(
        e, clinicians=c, confirm=2, usual_months=12, confirm_months=12, lost_after_months=6, emergency_after_months=6
    ),
    "relationship_breaks[churn,month,6m]": lambda e, c, a: relationship_breaks(
        e, confirm=0, period="month", lookback_months=6, lost_after_months=6, emergency_after_months=6
    ),
    "who_needs_whom": lambda e, c, a: _who(e, c, a),
    # The pair self-join, the within-days bucket join and the per-patient pair weights.
    "sharing_network": lambda e, c, a: sharing_network(e),
    "sharing_network[within 30,primary care]": lambda e, c, a: sharing_network(
        e, within_days=30, settings="primary_care,virtual"
    ),
    "care_density": lambda e, c, a: care_density(e),
    "fragmented_care_density[role,by_connection]": lambda e, c, a: fragmented_care_density(
        e, clinicians=c, type_column="role", by_connection=True
    ),
}

#: (measure, input) pairs Spark cannot run, with the missing operation (strict xfail).
GAPS: dict[tuple[str, str], str] = {}


def _who(e, c, a) -> pa.Table:
    """Estimates, bootstrap intervals, headline, counts and remarks as one table."""
    w = who_needs_whom_from_encounters(e, as_of=a, clinicians=c, bootstrap=20, seed=3)
    facts = [f"headline: {w.headline}", *(f"{k}: {v}" for k, v in w.counts.items()), f"remarks: {w.remarks}"]
    none = pa.nulls(len(facts), pa.float64())
    extra = pa.table({"name": facts, "value": none, "ci_low": none, "ci_high": none})
    return pa.concat_tables([w.table.select(extra.schema.names), extra])


def _arrow(result) -> pa.Table:
    return result if isinstance(result, pa.Table) else result.to_pyarrow()


def _sort_key(row: dict):
    def one(v):
        if v is None:
            return (0, "")
        if isinstance(v, float):
            return (1, f"{v:.9e}" if math.isfinite(v) else str(v))
        return (1, str(v))

    return tuple(one(v) for v in row.values())


def assert_same_rows(expected: pa.Table, got: pa.Table) -> None:
    """Same columns and types, same rows in any order, floats equal to 1e-12."""
    assert got.schema.names == expected.schema.names
    assert [str(t) for t in got.schema.types] == [str(t) for t in expected.schema.types]
    want = sorted(expected.to_pylist(), key=_sort_key)
    have = sorted(got.to_pylist(), key=_sort_key)
    assert len(have) == len(want)
    for i, (w, h) in enumerate(zip(want, have, strict=True)):
        for col, wv in w.items():
            hv = h[col]
            if isinstance(wv, float) and isinstance(hv, float):
                assert math.isclose(hv, wv, rel_tol=TOL, abs_tol=TOL), (i, col, wv, hv)
            else:
                assert hv == wv, (i, col, wv, hv)


def _cases():
    for measure in MEASURES:
        for name in INPUTS:
            marks = []
            if (measure, name) in GAPS:
                marks.append(pytest.mark.xfail(strict=True, reason=GAPS[measure, name]))
            yield pytest.param(measure, name, id=f"{measure}-{name}", marks=marks)


@pytest.mark.parametrize(("measure", "name"), list(_cases()))
def test_spark_matches_duckdb(inputs, measure, name):
    duck, spark, clinicians, as_of = inputs[name]
    f = MEASURES[measure]
    expected = _arrow(f(duck, clinicians, as_of))
    got = _arrow(f(spark, clinicians, as_of))
    assert_same_rows(expected, got)


def test_hand_made_input_is_not_trivial(inputs):
    """The comparison only means something if the measures find something."""
    duck, _, clinicians, as_of = inputs["hand-made"]
    kinds = set(relationship_breaks(duck, clinicians=clinicians).kind.to_list())
    assert kinds == {"partner", "other_practice", "emergency_only", "lost"}
    # Last visits tied: p04 (B and C both at 09:00 on day 9) and p05 (A and B at the same
    # microsecond); p06's last two differ by a microsecond.
    recent = attribute(duck, as_of=as_of, rule="recent").to_pyarrow().to_pylist()
    assert {r["patient_id"] for r in recent if r["tie_broken"]} == {"p04", "p05"}


# --- the engine ----------------------------------------------------------------------------


def test_connect_spark_is_local_quiet_and_utc(spark):
    session = spark._session
    conf = session.conf
    assert spark.name == "pyspark"
    assert session.sparkContext.master.startswith("local")
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert not os.path.exists("spark-warehouse")  # create_table wrote to a private folder


def test_an_existing_session_is_used_as_given(spark):
    con = engine.connect(spark._session)
    assert con.name == "pyspark" and con._session is spark._session
    t = encounters_table(con, [_e("p", "A", 1), _e("p", "A", 2)], name="given_session")
    assert patient_continuity(t).upc.to_list() == [1.0]


def test_import_table_moves_duckdb_tables_to_spark(spark):
    duck = engine.connect()
    rows = hand_made_rows()
    d = encounters_table(duck, rows)
    s = engine.import_table(spark, d, "encounters")
    assert s.columns == d.columns and s.schema()["start"].is_timestamp()
    assert_same_rows(patient_continuity(d).to_pyarrow(), patient_continuity(s).to_pyarrow())


def test_reading_a_file_onto_spark(spark, tmp_path):
    """Readers validate with DuckDB, then hand the canonical tables to Spark."""
    from carethread.readers import read

    path = tmp_path / "encounters.csv"
    path.write_text("patient_id,clinician_id,start\n007,A,2024-01-02\n007,A,2024-02-03\n008,,2024-01-05\n")
    data = read(path, con=spark, extraction_date="2024-06-30")
    assert engine.backend_name(data.encounters) == "pyspark"
    assert data.reconciliation() == "encounters.csv: 3 rows read = 3 accepted + 0 quarantined"
    rows = patient_continuity(data.encounters).order_by("patient_id").to_pyarrow().to_pylist()
    assert [(r["patient_id"], r["n_visits"], r["upc"]) for r in rows] == [("007", 2, 1.0), ("008", 0, None)]


def test_missing_pyspark_names_the_install_command(monkeypatch):
    import sys

    from carethread.errors import MissingDependencyError

    for module in ("pyspark", "pyspark.sql", "ibis.backends.pyspark"):  # as if never installed
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'carethread\[spark\]'"):
        engine.connect("spark")
