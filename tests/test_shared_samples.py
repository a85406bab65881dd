"""Issue acceptance: ``carethread patients SAMPLE`` detects every public sample's format and
reconciles every file it reads (read = accepted + quarantined), with no traceback."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import carethread
import carethread.run
from carethread.cli import app
from tests.conftest import SAMPLES

RECONCILIATION = re.compile(
    r"^(?P<source>\S.*): (?P<read>[\d ]+) rows? read = "
    r"(?P<accepted>[\d ]+) accepted \+ (?P<quarantined>[\d ]+) quarantined$"
)


def number(text: str) -> int:
    return int(text.replace(" ", ""))


@pytest.mark.parametrize(
    ("sample", "fmt", "encounters_source", "encounters_read"),
    [
        ("synthea-csv-unmc-111", "synthea", "encounters.csv.gz", 7584),
        ("synthea-csv-dbt-27", "synthea", "encounters.csv", 604),
        ("fhir-bulk-smart-10", "fhir", "Encounter.000.ndjson", 1215),
        ("omop54-synthea27nj", "omop", "VISIT_OCCURRENCE.csv", 1791),
        ("omop50-synpuf-10", "omop", "visit_occurrence.csv", 27),
    ],
)
def test_every_sample_is_detected_and_reconciled(sample, fmt, encounters_source, encounters_read, tmp_path):
    out = tmp_path / "patients.csv"
    res = CliRunner().invoke(
        app, ["patients", str(SAMPLES / sample), "--extraction-date", "2024-06-30", "--out", str(out)]
    )
    assert res.exit_code == 0, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.splitlines()
    assert lines[0] == f"Format: {fmt} (detected; --format overrides)"
    counts = {m["source"]: m for m in map(RECONCILIATION.match, lines) if m}
    assert counts[encounters_source]["read"] and number(counts[encounters_source]["read"]) == encounters_read
    for m in counts.values():
        assert number(m["read"]) == number(m["accepted"]) + number(m["quarantined"])
    # One row per patient with an accepted encounter in the command's default window (the attribution
    # window, which its first line on stdout names), as the library computes it.
    data = carethread.read(SAMPLES / sample, con=carethread.connect(), extraction_date="2024-06-30")
    window = carethread.run.current_window(data.encounters)
    assert res.stdout.splitlines()[0] == window.line()
    expected = carethread.patient_continuity(data.encounters, **window.bounds()).count().execute()
    assert len(out.read_text().splitlines()) - 1 == expected
