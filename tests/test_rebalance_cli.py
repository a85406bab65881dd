"""``carethread rebalance`` and ``carethread what-if``: exact output, exit codes, nothing written half."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carethread.cli import app
from tests.test_rebalance import CAPACITY, PRACTICE, VISITS

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_practice(folder: Path, visits: dict, capacity: dict) -> Path:
    """The hand-made practice of tests/test_rebalance.py as a folder of CSV files (one visit a day)."""
    folder.mkdir()
    day = 0
    with (folder / "encounters.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["encounter_id", "patient_id", "clinician_id", "practice_id", "start", "setting"])
        for patient, seen in visits.items():
            for clinician, n in seen:
                for _ in range(n):
                    day += 1
                    start = dt.date(2024, 1, 1) + dt.timedelta(days=day)
                    w.writerow([f"e{day}", patient, clinician, PRACTICE[clinician], start, "primary_care"])
    with (folder / "clinicians.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clinician_id", "practice_id", "capacity"])
        for clinician in sorted(capacity):
            w.writerow([clinician, PRACTICE[clinician], capacity[clinician]])
    return folder


@pytest.fixture
def practice(tmp_path):
    return write_practice(tmp_path / "data", VISITS, CAPACITY)


def test_rebalance_writes_the_plan_the_summary_and_the_explanations(practice, tmp_path):
    out, summary, explain = tmp_path / "moves.csv", tmp_path / "summary.csv", tmp_path / "why.parquet"
    res = invoke(
        "rebalance",
        practice,
        "--as-of",
        "2024-06-01",
        "--leave",
        "A",
        "--half-life-months",
        1_000_000,
        "--out",
        out,
        "--summary",
        summary,
        "--explain",
        explain,
    )
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines()[0] == (
        "As of 1 Jun 2024: 3 orphaned patients and 0 patients on panels over capacity planned; 3 moved, 2 of them "
        "to a clinician they already know; 0 cannot be placed."
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "patient_id,from_clinician_id,to_clinician_id,strength_kept,reason"
    assert [line.split(",")[:3] for line in lines[1:]] == [["p1", "A", "C"], ["p2", "A", "B"], ["p3", "A", "D"]]
    assert summary.read_text().splitlines()[0] == (
        "clinician_id,practice_id,status,capacity,panel_before,joined,left,panel_after,relationships_kept,"
        "free_after,place_value"
    )
    assert explain.exists()
    assert "HiGHS LP (transportation problem: its LP optimum is integral): Optimal, gap 0," in res.stderr


def test_infeasible_capacity_exits_1_and_writes_nothing(tmp_path):
    """Two orphans and one free place (tests/test_rebalance.py derives it): a clear message, exit 1, no file."""
    folder = write_practice(
        tmp_path / "short",
        {"p1": [("A", 2), ("B", 1)], "p2": [("A", 1)], "b1": [("B", 1)], "c1": [("C", 1)]},
        {"A": 5, "B": 2, "C": 1},
    )
    out, summary, explain = tmp_path / "moves.csv", tmp_path / "summary.csv", tmp_path / "why.csv"
    args = ("rebalance", folder, "--as-of", "2024-06-01", "--leave", "A", "--out", out, "--summary", summary)
    res = invoke(*args, "--explain", explain)
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1] == (
        "Error: 1 planned patient cannot be placed within the clinicians' capacities (1 of 2 orphaned, 0 of 0 on "
        "panels over capacity), in 1 practice. Raise capacities, reopen closed clinicians, widen the allowed sets "
        "or the candidates, or allow unplaced patients (--allow-unplaced) to get the plan with them marked."
    )
    assert not out.exists() and not summary.exists() and not explain.exists()
    res = invoke(*args, "--allow-unplaced")
    assert res.exit_code == 0, res.stderr
    assert out.read_text().splitlines()[2].startswith("p2,A,,,clinician leaves; no place free")


def test_what_if_prints_the_comparison(practice, tmp_path):
    out = tmp_path / "whatif.csv"
    res = invoke("what-if", practice, "--leave", "A", "--as-of", "2024-06-01", "--half-life-months", 1_000_000)
    assert res.exit_code == 0, res.stderr
    assert (
        res.stdout.splitlines()[0] == "If 1 clinician left on the planning date, 3 patients would need a new clinician:"
    )
    res = invoke("what-if", practice, "--leave", "A", "--as-of", "2024-06-01", "--out", out)
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["strategy"], r["kept_known"]) for r in rows] == [
        ("optimal plan", "2"),
        ("greedy by strength", "1"),
        ("list builder (known clinicians over capacity)", "2"),
        ("most spare capacity", "0"),
        ("random within the practice", rows[4]["kept_known"]),
    ]


def test_planning_options_are_usage_errors(practice):
    assert invoke("rebalance", practice, "--leave", "A", "--capacity", "beds").exit_code == 2
    assert invoke("rebalance", practice, "--leave", "A", "--summary", "s.txt").exit_code == 2
    res = invoke("what-if", practice, "--as-of", "2024-06-01")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1].startswith("Error: Nobody leaves on the planning date")
