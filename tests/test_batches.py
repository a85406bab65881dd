"""Patient batches give exactly the rows of one run (carethread.batches)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from carethread import engine
from carethread.batches import STAGE_FROM, batches_needed, in_patient_batches, patient_batch, plan
from carethread.cli import app
from carethread.measures.breaks import BREAK_ORDER, relationship_breaks, whole_input_parameters
from carethread.measures.continuity import patient_continuity
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
    assert plan(engine.connect(memory_limit="8GB"), 10**6, "breaks") == 1


def test_every_patient_lands_in_exactly_one_batch(system):
    enc, _ = system
    parts = [set(patient_batch(enc, i, 7).patient_id.to_pyarrow().to_pylist()) for i in range(7)]
    assert sum(len(p) for p in parts) == len(set().union(*parts))
    assert set().union(*parts) == set(enc.patient_id.to_pyarrow().to_pylist())


@pytest.mark.parametrize("batches", [2, STAGE_FROM])
def test_patient_continuity_in_batches_equals_one_run(system, batches):
    enc, _ = system
    one = _sorted(patient_continuity(enc).to_pyarrow(), ["patient_id"])
    with in_patient_batches(enc, patient_continuity, batches=batches, order_by=["patient_id"]) as result:
        many = result.to_pyarrow()
    assert many.column("patient_id").to_pylist() == sorted(many.column("patient_id").to_pylist())
    assert many.equals(one.cast(many.schema))


@pytest.mark.parametrize("batches", [3, STAGE_FROM + 1])  # filtered, and staged slices
def test_breaks_in_batches_equal_one_run_once_whole_input_parameters_are_fixed(system, batches):
    enc, clinicians = system
    one = relationship_breaks(enc, clinicians=clinicians).to_pyarrow()
    assert one.num_rows > 50  # the system has breaks of every kind to compare
    fixed = whole_input_parameters(enc, clinicians=clinicians)
    with in_patient_batches(enc, lambda e: relationship_breaks(e, **fixed), batches=batches, order_by=BREAK_ORDER) as t:
        many = t.to_pyarrow()
    # Identical values and types: dates stay dates through the batches' Parquet files.
    assert many.schema == one.schema and many.equals(one)


def test_batch_files_are_removed_afterwards(system, tmp_path):
    enc, _ = system
    folder = tmp_path / "work"
    with in_patient_batches(enc, patient_continuity, batches=STAGE_FROM, folder=folder) as result:
        assert result.count().execute() > 0
        assert any(folder.rglob("*.parquet"))
    assert not folder.exists()


def test_one_batch_writes_nothing(system, tmp_path):
    enc, _ = system
    with in_patient_batches(enc, patient_continuity, batches=1, folder=tmp_path / "never") as result:
        assert result.count().execute() > 0
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
    one = _sorted(patient_continuity(enc, min_visits=1).to_pyarrow(), ["patient_id"])
    with in_patient_batches(
        enc, lambda e: patient_continuity(e, min_visits=1), batches=batches, order_by=["patient_id"]
    ) as t:
        many = t.to_pyarrow()
    assert many.equals(one.cast(many.schema))
    fixed = whole_input_parameters(enc, end=dt.date(2024, 3, 1))
    one_b = relationship_breaks(enc, **fixed).to_pyarrow()
    with in_patient_batches(enc, lambda e: relationship_breaks(e, **fixed), batches=batches, order_by=BREAK_ORDER) as t:
        many_b = t.to_pyarrow()
    assert many_b.schema == one_b.schema and many_b.equals(one_b)


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
        if measure == "breaks":  # identical values and types
            assert b.schema == a.schema and b.equals(a)
        assert _sorted(b, keys).equals(_sorted(a, keys).cast(b.schema))


def test_reading_the_resources_leaves_the_connection_usable():
    con = engine.connect(memory_limit="1GB")
    t = con.create_table("t", pa.table({"x": [1, 2]}))
    engine.duckdb_resources(con)
    assert t.aggregate(top=t.x.max()).to_pyarrow()["top"].to_pylist() == [2]
