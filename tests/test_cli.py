"""The command line: exact output, exit codes, files written."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

import carethread
from carethread.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "cli"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_patients_prints_table_reconciliation_and_remarks():
    res = invoke("patients", FIXTURES / "encounters.csv", "--extraction-date", "2024-01-01")
    assert res.exit_code == 0
    lines = [line for line in res.stdout.splitlines() if line.startswith("│")]
    assert lines == [
        "│ 007        │ 5        │ 3            │ A                  │ 0.6000 │ 0.3000 │ 0.0000 │ 0.5122 │ 0.4400 │ 0.5000  │ 0.5000         │",
        "│ 008        │ 1        │ 1            │ B                  │        │        │        │        │        │         │                │",
        "│ 009        │ 0        │ 0            │                    │        │        │        │        │        │         │                │",
    ]
    assert res.stderr.splitlines() == [
        "Format: generic (detected; --format overrides)",
        "encounters.csv: 9 rows read = 9 accepted + 0 quarantined",
        "Remarks:",
        "  1. encounters.csv: 1 accepted encounter has no clinician_id: counted for outcomes, left out of clinician-level measures.",
        "  2. 1 encounter in the chosen settings had no clinician and was left out of every index.",
        "  3. 2 of 3 patients had fewer than 2 visits; their indices are null (their visit counts are kept).",
        "  4. 1 patient had encounters in the window but no visit in the chosen settings (for example emergency-only care).",
    ]


def test_patients_writes_csv_with_contract_columns_and_leading_zeros(tmp_path):
    out = tmp_path / "p.csv"
    res = invoke("patients", FIXTURES / "encounters.csv", "--out", out, "--extraction-date", "2024-01-01")
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == [
        "patient_id",
        "n_visits",
        "n_clinicians",
        "usual_clinician_id",
        "upc",
        "coc",
        "secon",
        "mmci",
        "hhi",
        "k_index",
        "known_provider",
    ]
    assert sorted(r["patient_id"] for r in rows) == ["007", "008", "009"]
    assert f"Wrote {out}" in res.stderr


def test_patients_writes_parquet(tmp_path):
    out = tmp_path / "p.parquet"
    assert invoke("patients", FIXTURES / "encounters.csv", "--out", out).exit_code == 0
    assert pq.read_table(out).num_rows == 3


def test_bad_rows_are_quarantined_with_a_remark_and_exit_0(tmp_path):
    q = tmp_path / "q.csv"
    res = invoke("patients", FIXTURES / "bad.csv", "--quarantine", q, "--extraction-date", "2024-01-01")
    assert res.exit_code == 0
    assert "bad.csv: 5 rows read = 2 accepted + 3 quarantined" in res.stderr
    assert "3 of 5 rows quarantined" in res.stderr
    reasons = sorted(r["reason"] for r in csv.DictReader(q.open()))
    assert len(reasons) == 3


def test_strict_exits_1_on_bad_rows():
    res = invoke("patients", FIXTURES / "bad.csv", "--strict", "--extraction-date", "2024-01-01")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1] == "Error: 3 rows were rejected and --strict is set; fix them or drop --strict."


def test_an_explicit_format_is_not_announced():
    res = invoke("patients", FIXTURES / "encounters.csv", "--format", "generic", "--extraction-date", "2024-01-01")
    assert res.exit_code == 0
    assert res.stderr.splitlines()[0] == "encounters.csv: 9 rows read = 9 accepted + 0 quarantined"


def test_missing_file_exits_1_with_how_to_fix():
    res = invoke("patients", FIXTURES / "nope.csv")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: ")
    assert "does not exist" in res.stderr and "Traceback" not in res.stderr


def test_missing_required_column_exits_1_without_identifiers(tmp_path):
    f = tmp_path / "enc.csv"
    f.write_text("patientid,start\nSECRET-MRN-1,2023-01-01\n")
    res = invoke("patients", f)
    assert res.exit_code == 1
    assert "patient_id" in res.stderr and "--map" in res.stderr
    assert "SECRET-MRN-1" not in res.stderr + res.stdout


def test_usage_errors_exit_2_before_reading():
    res = invoke("patients", FIXTURES / "encounters.csv", "--min-visits", "0")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == ["Error: --min-visits must be a whole number of at least 1, not 0."]
    assert invoke("patients", FIXTURES / "encounters.csv", "--settings", "telepathy").exit_code == 2
    assert invoke("patients", FIXTURES / "encounters.csv", "--out", "x.txt").exit_code == 2
    assert (
        invoke("patients", FIXTURES / "encounters.csv", "--start", "2024-01-01", "--end", "2023-01-01").exit_code == 2
    )
    assert invoke("patients", FIXTURES / "encounters.csv", "--no-such-flag").exit_code == 2


def test_every_command_has_help():
    """--help lists every command; each command's help opens with its usage and its docstring's summary.
    (The full text of every help is checked against docs/cli.md by test_cli_reference_is_current.)"""
    import typer

    commands = typer.main.get_command(app).commands
    res = invoke("--help")
    assert res.exit_code == 0
    listed = [line.split()[0] for line in res.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == list(commands)
    for name, command in commands.items():
        sub = invoke(name, "--help")
        assert sub.exit_code == 0
        usage, summary = sub.stdout.split("\n\n")[:2]
        assert usage.split()[:4] == ["Usage:", "carethread", name, "[OPTIONS]"]
        assert summary.split() == command.help.split("\n\n")[0].split()


def test_synth_then_patients_round_trip(tmp_path):
    res = invoke("synth", "--patients", 300, "--years", 1, "--seed", 3, "--out", tmp_path / "s")
    assert res.exit_code == 0, res.stderr
    res = invoke("patients", tmp_path / "s", "--out", tmp_path / "p.parquet")
    assert res.exit_code == 0, res.stderr
    # The file holds what the library computes from the same folder, one row per patient seen.
    expected = carethread.patient_continuity(carethread.read(tmp_path / "s", con=carethread.connect()).encounters)
    expected = expected.to_pyarrow().sort_by("patient_id")
    assert pq.read_table(tmp_path / "p.parquet").sort_by("patient_id").cast(expected.schema).equals(expected)


def test_relationship_commands_run_on_synthetic_data(tmp_path):
    assert invoke("synth", "--patients", 600, "--years", 2, "--seed", 5, "--out", tmp_path / "s").exit_code == 0
    data = tmp_path / "s"
    res = invoke(
        "attribute",
        data,
        "--as-of",
        "2023-07-01",
        "--rule",
        "majority",
        "--out",
        tmp_path / "a.csv",
        "--ranking",
        tmp_path / "r.csv",
    )
    assert res.exit_code == 0, res.stderr
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "patient_id,clinician_id,rule,visits_with_clinician,visits_total,share,last_visit,tie_broken"
    assert (tmp_path / "r.csv").read_text().startswith("patient_id,clinician_id,visits,last_visit,rank,reason")
    for command, columns in [
        ("panels", "clinician_id,practice_id,panel_size,visits,visits_with_own_panel,provider_side_continuity"),
        ("dyads", "patient_id,clinician_id,dyad_visits,patient_visits,clinician_visits,patient_dependence"),
        ("breaks", "patient_id,from_clinician_id,to_clinician_id,break_date,kind"),
    ]:
        out = tmp_path / f"{command}.csv"
        res = invoke(command, data, "--out", out)
        assert res.exit_code == 0, (command, res.stderr)
        assert out.read_text().splitlines()[0].startswith(columns), command
    res = invoke("summary", data, "--bootstrap", 20)
    assert res.exit_code == 0, res.stderr
    from carethread.summary import who_needs_whom_from_encounters

    loaded = carethread.read(data, con=carethread.connect())
    answer = who_needs_whom_from_encounters(loaded.encounters, clinicians=loaded.clinicians, bootstrap=20, seed=0)
    assert res.stdout.splitlines()[0] == answer.headline


def test_relationship_commands_reject_bad_options():
    f = FIXTURES / "encounters.csv"
    assert invoke("attribute", f, "--rule", "loudest").exit_code == 2
    assert invoke("panels", f, "--rollup", "galaxy").exit_code == 2
    res = invoke("attribute", f, "--rule", "tiered", "--as-of", "2024-01-01")
    assert res.exit_code == 1 and "clinicians" in res.stderr


def test_cli_reference_is_current():
    """docs/cli.md is generated from --help; regenerate with python -m carethread.cli_reference."""
    from carethread.cli_reference import render

    committed = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    assert committed == render(), "docs/cli.md is stale: python -m carethread.cli_reference > docs/cli.md"


def test_engine_resources_reach_duckdb(monkeypatch, tmp_path):
    """--memory-limit, --temp-dir and --threads (or their CARETHREAD_* variables) set the connection."""
    import carethread.engine

    seen = []
    real = carethread.engine.connect

    def spy(*args, **kwargs):
        con = real(*args, **kwargs)
        seen.append(
            con.raw_sql(
                "SELECT current_setting('memory_limit'), current_setting('temp_directory'), current_setting('threads')"
            ).fetchone()
        )
        return con

    monkeypatch.setattr(carethread.engine, "connect", spy)
    res = runner.invoke(
        app,
        [
            "--memory-limit",
            "1GB",
            "--temp-dir",
            str(tmp_path),
            "patients",
            str(FIXTURES / "encounters.csv"),
            "--extraction-date",
            "2024-01-01",
        ],
        env={"CARETHREAD_THREADS": "1"},
    )
    assert res.exit_code == 0, res.stderr
    limit, temp_dir, threads = seen[-1]
    assert limit.startswith("953.6 MiB") or limit.startswith("1.0 GiB") or limit.startswith("1000.0 MiB"), limit
    assert (temp_dir, int(threads)) == (str(tmp_path), 1)


def test_bad_memory_limit_exits_2():
    res = invoke("--memory-limit", "lots", "patients", FIXTURES / "encounters.csv")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "Error: --memory-limit 'lots' is not an amount of memory; write it like 8GB or 512MB."
    ]
