"""Patient batches give exactly the rows, and the column types, of one run (carethread.batches)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from carethread import engine
from carethread.batches import (
    STAGE_FROM,
    WORKING_BYTES,
    batches_needed,
    in_patient_batches,
    patient_batch,
    plan,
    run_in_batches,
)
from carethread.cli import app
from carethread.measures.breaks import BREAK_ORDER, relationship_breaks
from carethread.measures.continuity import patient_continuity
from carethread.measures.dyads import dyads
from carethread.synth import generate, write_chunked
from tests.conftest import encounters_table


def _sorted(table: pa.Table, keys) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])


@pytest.fixture(scope="module")
def system():
    con = engine.connect()
    s = generate(1_500, years=2, seed=3)
    return con.create_table("encounters", s.encounters), con.create_table("clinicians", s.clinicians)


def test_batches_needed_grows_with_the_input_and_shrinks_with_memory():
    assert batches_needed(10**6, 150, 6 * 10**9) == 1
    assert batches_needed(10**8, 150, 6 * 10**9) == 7  # 1.5e10 bytes of work, 40 % of 6e9 per batch
    assert batches_needed(10**8, 150, 3 * 10**9) == 13
    assert batches_needed(10**9, 150, 6 * 10**9) == 63
    assert batches_needed(0, 150, 6 * 10**9) == 1


def test_plan_follows_the_memory_limit_and_only_batches_duckdb():
    small = engine.connect(memory_limit="100MB")
    limit, _ = engine.duckdb_resources(small)
    assert 0.99e8 < limit <= 1e8  # DuckDB reports the limit rounded to 0.1 MiB
    assert plan(small, 10**7, "patients") == batches_needed(10**7, 135, limit) in (34, 35)
    assert plan(small, 10**7, "attribute") == 1  # reads only its look-back window
    assert plan(small, 10**7, patient_continuity) == plan(small, 10**7, "patients")
    assert plan(small, 10**7, relationship_breaks) == batches_needed(10**7, 150, limit)
    largest = max(WORKING_BYTES.values())  # care density's 160 since the network measure
    assert plan(small, 10**7, lambda e: e) == batches_needed(10**7, largest, limit)  # unknown: the largest need
    assert plan(engine.connect(memory_limit="8GB"), 10**6, "breaks") == 1


def test_every_patient_lands_in_exactly_one_batch(system):
    enc, _ = system
    parts = [set(patient_batch(enc, i, 7).patient_id.to_pyarrow().to_pylist()) for i in range(7)]
    assert sum(len(p) for p in parts) == len(set().union(*parts))
    assert set().union(*parts) == set(enc.patient_id.to_pyarrow().to_pylist())


def _one_run(measure, enc, order, **options) -> pa.Table:
    result = measure(enc, **options).to_pyarrow()
    return _sorted(result, order)


# Batched and unbatched results are equal in values *and* types: pyarrow's equals compares
# the schemas too. Before the batches wrote each slice with the engine's own types, a sum
# of booleans came back as a double (DuckDB's HUGEINT) and a date plus an interval as a
# timestamp.
MEASURES = {
    "patients": (patient_continuity, ["patient_id"], {}),
    "dyads": (dyads, ["patient_id", "clinician_id"], {}),
    "breaks": (relationship_breaks, list(BREAK_ORDER), {"with_clinicians": True}),
}


@pytest.mark.parametrize("batches", [2, STAGE_FROM + 1])  # filtered, and staged slices
@pytest.mark.parametrize("name", list(MEASURES))
def test_in_batches_equals_one_run_in_values_and_types(system, name, batches):
    enc, clinicians = system
    measure, order, how = MEASURES[name]
    options = {"clinicians": clinicians} if how.get("with_clinicians") else {}
    one = _one_run(measure, enc, order, **options)
    assert one.num_rows > 50
    with run_in_batches(measure, enc, batches=batches, **options) as result:
        many = result.to_pyarrow()
    if name != "dyads":  # dyads have no order of their own
        assert many.equals(many.sort_by([(k, "ascending") for k in order]))
    assert _sorted(many, order).equals(one)


def test_breaks_kinds_are_all_there_to_compare(system):
    enc, clinicians = system
    kinds = set(relationship_breaks(enc, clinicians=clinicians).kind.to_list())
    assert kinds == {"partner", "other_practice", "emergency_only", "lost"}


def test_without_a_count_the_batches_follow_the_memory_limit(tmp_path, monkeypatch):
    import carethread.batches as batching

    con = engine.connect(memory_limit="100MB")
    enc = con.create_table("encounters", generate(300, years=1, seed=4).encounters)
    limit, _ = engine.duckdb_resources(con)
    n = enc.count().execute()
    # As if each encounter needed 20 kB: a small input then needs 3 batches under 100 MB.
    monkeypatch.setitem(batching.WORKING_BYTES, "patients", 20_000)
    assert plan(con, n, patient_continuity) == batches_needed(n, 20_000, limit) == 3
    with run_in_batches(patient_continuity, enc, folder=tmp_path / "work") as result:
        assert len(list((tmp_path / "work" / "results").glob("*.parquet"))) == 3
        many = result.to_pyarrow()
    assert many.equals(patient_continuity(enc).order_by("patient_id").to_pyarrow())
    assert not (tmp_path / "work").exists()


def test_the_old_in_patient_batches_warns_and_gives_the_same_rows(system):
    enc, _ = system
    with run_in_batches(patient_continuity, enc, batches=3) as result:
        new = result.to_pyarrow()
    with (
        pytest.warns(DeprecationWarning, match=r"in_patient_batches\(encounters, measure, ...\) is deprecated"),
        in_patient_batches(enc, patient_continuity, batches=3, order_by=["patient_id"]) as result,
    ):
        old = result.to_pyarrow()
    assert old.equals(new)


def test_batch_files_are_removed_afterwards(system, tmp_path):
    enc, _ = system
    folder = tmp_path / "work"
    with run_in_batches(patient_continuity, enc, batches=STAGE_FROM, folder=folder) as result:
        assert result.count().execute() == enc.patient_id.nunique().execute()  # one row per patient
        assert len(list(folder.rglob("part-*.parquet"))) == STAGE_FROM  # one result file per batch
    assert not folder.exists()


def test_one_batch_writes_nothing(system, tmp_path):
    enc, _ = system
    with run_in_batches(patient_continuity, enc, batches=1, folder=tmp_path / "never") as result:
        assert result.count().execute() == enc.patient_id.nunique().execute()  # one row per patient
    assert not (tmp_path / "never").exists()


day = st.integers(0, 400).map(lambda d: dt.datetime(2023, 1, 1) + dt.timedelta(days=d, hours=9))
encounter = st.fixed_dictionaries(
    {
        "patient_id": st.sampled_from([f"p{i}" for i in range(12)]),
        "clinician_id": st.one_of(st.none(), st.sampled_from(["A", "B", "C"])),
        "practice_id": st.sampled_from(["X", "Y"]),
        "start": day,
        "setting": st.sampled_from(["primary_care", "virtual", "emergency", "inpatient"]),
    }
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(encounter, min_size=1, max_size=60), batches=st.sampled_from([2, 3, STAGE_FROM + 2]))
def test_batched_equals_unbatched_on_any_input(con, rows, batches):
    enc = encounters_table(con, rows)
    one = _one_run(patient_continuity, enc, ["patient_id"], min_visits=1)
    with run_in_batches(patient_continuity, enc, batches=batches, min_visits=1) as t:
        many = t.to_pyarrow()
    assert many.equals(one)
    one_b = _one_run(relationship_breaks, enc, list(BREAK_ORDER), end=dt.date(2024, 3, 1))
    with run_in_batches(relationship_breaks, enc, batches=batches, end=dt.date(2024, 3, 1)) as t:
        many_b = t.to_pyarrow()
    assert many_b.equals(one_b)
    one_d = _one_run(dyads, enc, ["patient_id", "clinician_id"])
    with run_in_batches(dyads, enc, batches=batches) as t:
        many_d = _sorted(t.to_pyarrow(), ["patient_id", "clinician_id"])
    assert many_d.equals(one_d)


def test_cli_batches_a_large_input_and_writes_the_same_file(tmp_path):
    write_chunked(tmp_path / "in", 3_000, years=2, seed=5, chunk_patients=1_000)
    runner = CliRunner()
    for measure, keys in (
        ("patients", ["patient_id"]),
        ("breaks", BREAK_ORDER),
        ("dyads", ["patient_id", "clinician_id"]),
    ):
        plain = runner.invoke(
            app, [measure, str(tmp_path / "in" / "encounters"), "--out", str(tmp_path / f"{measure}.parquet")]
        )
        assert plain.exit_code == 0, plain.output
        assert "patient batches" not in plain.stderr
        small = runner.invoke(
            app,
            [
                "--batches",
                "4",
                measure,
                str(tmp_path / "in" / "encounters"),
                "--out",
                str(tmp_path / f"{measure}-batched.parquet"),
            ],
        )
        assert small.exit_code == 0, small.output
        assert "Computing in 4 patient batches (as --batches asks)" in small.stderr
        a = pq.read_table(tmp_path / f"{measure}.parquet")
        b = pq.read_table(tmp_path / f"{measure}-batched.parquet")
        assert b.num_rows == a.num_rows > 0
        assert _sorted(b, keys).equals(_sorted(a, keys))  # the same values and the same types


def test_reading_the_resources_leaves_the_connection_usable():
    con = engine.connect(memory_limit="1GB")
    t = con.create_table("t", pa.table({"x": [1, 2]}))
    engine.duckdb_resources(con)
    assert t.aggregate(top=t.x.max()).to_pyarrow()["top"].to_pylist() == [2]


@pytest.mark.parametrize("batches", [2, 5])
def test_the_reports_trends_in_batches_equal_one_run(system, monkeypatch, batches):
    """The trends add each batch's per-window sums: same patients, counts and means as one run."""
    import pandas as pd

    from carethread.reporting import compute
    from carethread.reporting.values import Span
    from carethread.windows import all_data_window, current_window

    encounters, _clinicians = system
    span = Span.of(current_window(encounters), all_data_window(encounters))
    one, months = compute.trends(encounters, span)
    monkeypatch.setattr(compute, "plan", lambda *_args, **_kw: batches)
    several, months_batched = compute.trends(encounters, span)
    assert months == months_batched == 12
    assert one.patients.sum() > 1_000  # windows with patients in them, not an empty comparison
    pd.testing.assert_frame_equal(several, one, rtol=1e-12)
