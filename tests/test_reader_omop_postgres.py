"""The OMOP reader against a real PostgreSQL server: same results as the CSV folder on DuckDB.

The server is a throwaway one started for the session (tests/postgres.py,
``postgres_server`` in conftest.py); the tests skip only when none can be
started outside CI.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import ibis
import pytest
from typer.testing import CliRunner

from carethread.cli import app
from carethread.measures.continuity import patient_continuity
from carethread.readers import read
from tests.postgres import load_omop
from tests.test_reader_omop import BROKEN, SYNTHEA27

EXTRACTION = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def cdm(postgres_server):
    """The Synthea27Nj sample in schema ``cdm`` (CDM DDL types), the broken fixture in ``raw`` (all text)."""
    loaded = load_omop(postgres_server, SYNTHEA27, "cdm")
    assert loaded["visit_occurrence"] == 1791
    load_omop(postgres_server, BROKEN, "raw", typed=False)
    return postgres_server


@pytest.fixture(scope="module")
def pg(cdm):
    con = ibis.connect(cdm.url)
    yield con
    con.disconnect()


def rows(table):
    return table.to_pyarrow().to_pylist()


def by(key, records):
    return sorted(records, key=lambda r: r[key])


def test_cli_patients_from_postgres_equals_duckdb_on_the_csv_folder(cdm, tmp_path):
    runner = CliRunner()
    on_postgres = runner.invoke(
        app,
        [
            "patients",
            "--format",
            "omop",
            "--engine",
            cdm.url,
            "--schema",
            "cdm",
            "--extraction-date",
            "2024-06-30",
            "--out",
            str(tmp_path / "pg.csv"),
        ],
    )
    assert on_postgres.exit_code == 0, on_postgres.stderr
    on_duckdb = runner.invoke(
        app,
        [
            "patients",
            str(SYNTHEA27),
            "--format",
            "omop",
            "--extraction-date",
            "2024-06-30",
            "--out",
            str(tmp_path / "duckdb.csv"),
        ],
    )
    assert on_duckdb.exit_code == 0, on_duckdb.stderr
    assert on_postgres.stderr.splitlines()[:3] == [
        "cdm.visit_occurrence: 1 791 rows read = 1 791 accepted + 0 quarantined",
        "cdm.person: 28 rows read = 28 accepted + 0 quarantined",
        "cdm.provider: 67 rows read = 67 accepted + 0 quarantined",
    ]

    def table(path: Path):
        with path.open(newline="") as fh:
            return sorted(csv.DictReader(fh), key=lambda r: r["patient_id"])

    pg_rows, duck_rows = table(tmp_path / "pg.csv"), table(tmp_path / "duckdb.csv")
    # The attribution window (the 18 months before 30 Jun 2024) holds visits of 23 of the 28 persons.
    assert len(pg_rows) == len(duck_rows) == 23
    assert list(pg_rows[0]) == list(duck_rows[0])
    for a, b in zip(pg_rows, duck_rows, strict=True):
        for column in a:
            if a[column] and column not in ("patient_id", "usual_clinician_id"):
                assert float(a[column]) == pytest.approx(float(b[column]), abs=1e-12), (a["patient_id"], column)
            else:
                assert a[column] == b[column], (a["patient_id"], column)


def test_python_api_on_postgres_matches_duckdb_table_for_table(pg):
    on_pg = read(format="omop", con=pg, schema="cdm", extraction_date=EXTRACTION)
    on_duckdb = read(SYNTHEA27, extraction_date=EXTRACTION)
    assert on_pg.format == "omop"
    assert [(c.read, c.accepted, c.quarantined) for c in on_pg.counts] == [
        (c.read, c.accepted, c.quarantined) for c in on_duckdb.counts
    ]
    assert by("encounter_id", rows(on_pg.encounters)) == by("encounter_id", rows(on_duckdb.encounters))
    assert by("patient_id", rows(on_pg.patients)) == by("patient_id", rows(on_duckdb.patients))
    assert by("clinician_id", rows(on_pg.clinicians)) == by("clinician_id", rows(on_duckdb.clinicians))
    assert on_pg.remarks == on_duckdb.remarks == []
    # The measures run inside PostgreSQL too: the result is a PostgreSQL expression.
    result = patient_continuity(on_pg.encounters)
    assert result._find_backend().name == "postgres"
    assert by("patient_id", rows(result)) == by("patient_id", rows(patient_continuity(on_duckdb.encounters)))


def test_checks_run_inside_postgres_on_a_cdm_stored_as_text(pg):
    """The broken fixture loaded with every column as text: parsing, duplicate and
    reference checks happen in PostgreSQL and quarantine what DuckDB quarantines."""
    on_pg = read(format="omop", con=pg, schema="raw", extraction_date=EXTRACTION)
    on_duckdb = read(BROKEN, extraction_date=EXTRACTION)
    assert [(c.read, c.accepted, c.quarantined) for c in on_pg.counts] == [(13, 6, 7), (6, 2, 4), (6, 5, 1)]

    def reasons(data):
        return Counter((r["column"], r["value"], r["reason"]) for r in rows(data.quarantine))

    assert reasons(on_pg) == reasons(on_duckdb)
    assert by("encounter_id", rows(on_pg.encounters)) == by("encounter_id", rows(on_duckdb.encounters))
    assert by("patient_id", rows(on_pg.patients)) == by("patient_id", rows(on_duckdb.patients))
    # Database rows are numbered in key order: the second visit_occurrence_id 1 is row 2 there.
    duplicate = [r for r in rows(on_pg.quarantine) if r["reason"] == "duplicate_encounter_id"]
    assert [(r["source"], r["row"]) for r in duplicate] == [("raw.visit_occurrence", "2")]

    # Remarks agree except for source names and row numbers (key order there, file order here,
    # where a CSV file's data row also names its line).
    def plain(remark, source_suffix):
        remark = re.sub(r"at data row (\d+) \(line \d+\)", r"at row \1", remark)
        return re.sub(r"at row \d+", "at row N", remark.replace(source_suffix, "")).upper()

    assert [plain(r.replace("raw.", ""), "") for r in on_pg.remarks] == [plain(r, ".csv") for r in on_duckdb.remarks]


def test_missing_schema_and_files_on_postgres_exit_cleanly(cdm):
    runner = CliRunner()
    res = runner.invoke(app, ["patients", "--format", "omop", "--engine", cdm.url, "--schema", "nowhere"])
    assert res.exit_code == 1
    assert "has no visit_occurrence table" in res.stderr and "Traceback" not in res.stderr
    res = runner.invoke(app, ["patients", str(BROKEN), "--engine", cdm.url])
    assert res.exit_code == 2 and "embedded DuckDB" in res.stderr


def test_a_read_only_connection_writes_nothing_and_gets_the_same_result(cdm):
    con = ibis.connect(cdm.url)
    try:
        con.raw_sql("SET default_transaction_read_only = on")  # like a replica: no temporary tables
        data = read(format="omop", con=con, schema="cdm", extraction_date=EXTRACTION)
        got = by("patient_id", rows(patient_continuity(data.encounters)))
    finally:
        con.disconnect()
    expected = by("patient_id", rows(patient_continuity(read(SYNTHEA27, extraction_date=EXTRACTION).encounters)))
    assert got == expected
