"""The command line: exact output, exit codes, files written."""

from __future__ import annotations

import csv
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

import carethread
from carethread.cli import app
from carethread.cli.app import Resources
from carethread.cli.data_options import DataOptions, data_command, shared_parameters

FIXTURES = Path(__file__).parent / "fixtures" / "cli"
runner = CliRunner()


def invoke(*args, columns: int | None = None):
    """Run the CLI; result tables are as wide as ``columns`` (unset: not a terminal, so 240)."""
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": None if columns is None else str(columns)})


def test_patients_prints_table_reconciliation_and_remarks():
    res = invoke("patients", FIXTURES / "encounters.csv", "--extraction-date", "2024-01-01")
    assert res.exit_code == 0
    lines = [line for line in res.stdout.splitlines() if line.startswith("│")]
    assert lines == [
        # Shares as per cent, as the report writes them: UPC 3 of 5 visits = 60 %, MMCI 0.5122 = 51 %.
        "│ 007        │ 5        │ 3            │ A                  │ 60 % │ 30 % │ 0 %   │ 51 % │ 44 % │ 50 %    │ "
        "50 %           │",
        "│ 008        │ 1        │ 1            │ B                  │      │      │       │      │      │         │ "
        "               │",
        "│ 009        │ 0        │ 0            │                    │      │      │       │      │      │         │ "
        "               │",
    ]
    assert res.stderr.splitlines() == [
        "Format: generic (detected; --format overrides)",
        "encounters.csv: 9 rows read = 9 accepted + 0 quarantined",
        "Remarks:",
        "  1. encounters.csv: 1 accepted encounter has no clinician_id: counted for outcomes, "
        "left out of clinician-level measures.",
        "  2. 1 encounter in the chosen settings had no clinician and was left out of every index.",
        "  3. 2 of 3 patients had fewer than 2 visits; their indices are null (their visit counts are kept).",
        "  4. 1 patient had encounters in the window but no visit in the chosen settings "
        "(for example emergency-only care).",
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


def test_help_lists_every_command_with_its_summary():
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


def test_every_command_and_option_has_help():
    """Every command has a one-line summary and every visible option says what it does (docs/cli.md shows them)."""
    group = get_command(app)
    assert list(group.commands) == [
        "patients",
        "attribute",
        "panels",
        "dyads",
        "breaks",
        "summary",
        "all",
        "network",
        "outcomes",
        "rebalance",
        "what-if",
        "synth",
        "demo",
        "report",
    ]
    for name, command in group.commands.items():
        assert command.help and command.help.strip().endswith("."), name
        for param in command.params:
            if not getattr(param, "hidden", False):
                assert param.help and param.help.strip().endswith((".", "]")), (name, param.name)


def test_synth_then_patients_round_trip(tmp_path):
    res = invoke("synth", "--patients", 300, "--years", 1, "--seed", 3, "--out", tmp_path / "s")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"{name}: {tmp_path / 's' / file}"
        for name, file in [
            ("encounters", "encounters"),
            ("clinicians", "clinicians.parquet"),
            ("patients", "patients.parquet"),
            ("true_usual", "true_usual.parquet"),
            ("true_switches", "true_switches.parquet"),
        ]
    ]
    res = invoke("patients", tmp_path / "s", "--out", tmp_path / "p.parquet")
    assert res.exit_code == 0, res.stderr
    # The file holds what the library computes from the same folder over the command's default
    # window (the attribution window), one row per patient seen; the first line says which.
    from carethread.run import current_window

    enc = carethread.read(tmp_path / "s", con=carethread.connect()).encounters
    window = current_window(enc)
    assert res.stdout.splitlines()[0] == window.line()
    expected = carethread.patient_continuity(enc, **window.bounds())
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
        ("breaks", "patient_id,from_clinician_id,to_clinician_id,break_date,kind,cause"),
    ]:
        out = tmp_path / f"{command}.csv"
        res = invoke(command, data, "--out", out)
        assert res.exit_code == 0, (command, res.stderr)
        assert out.read_text().splitlines()[0].startswith(columns), command
    res = invoke("summary", data, "--bootstrap", 20)
    assert res.exit_code == 0, res.stderr
    from carethread.measures.dependence import who_needs_whom_from_encounters

    loaded = carethread.read(data, con=carethread.connect())
    answer = who_needs_whom_from_encounters(loaded.encounters, clinicians=loaded.clinicians, bootstrap=20, seed=0)
    assert res.stdout.splitlines()[0].startswith("Window: ") and res.stdout.splitlines()[1] == answer.headline


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


# The options every data command shares: declared once (carethread.cli.data_options), the same everywhere.

#: Each shared option as --help shows it, in order: (parameter, option or argument name, help).
SHARED = [
    (
        "input_path",
        "input",
        "A file, a glob or a folder of encounter data; omit it to read OMOP tables from --engine or --database.",
    ),
    ("input_format", "--format", "auto, generic, synthea, fhir or omop."),
    ("engine", "--engine", "Ibis URL (e.g. postgres://...); default embedded DuckDB."),
    ("database", "--database", "DuckDB database file instead of memory."),
    (
        "schema",
        "--schema",
        "Database schema holding the OMOP CDM tables (with --engine, --database or a .duckdb INPUT).",
    ),
    ("column_map", "--map", "Column names: patient_id=PAT_ID,start=VISIT_DT."),
    (
        "visit_concepts",
        "--visit-concepts",
        "OMOP visit_concept_id settings: 38004207=specialty,262=inpatient, or a file of such lines.",
    ),
    ("out", "--out", "Write to a .csv or .parquet file instead of printing; - writes CSV to stdout."),
    ("settings", "--settings", "Comma list of settings that count as visits [default: primary_care,virtual]."),
    ("start", "--start", "Window start date, inclusive (YYYY-MM-DD)."),
    ("end", "--end", "Window end date, exclusive (YYYY-MM-DD)."),
    ("quarantine", "--quarantine", "Write rejected rows (with reasons) to this .csv or .parquet file."),
    ("strict", "--strict", "Exit 1 if any row was rejected."),
    ("extraction_date", "--extraction-date", "Day the data was extracted; later dates are rejected [default: today]."),
    (
        "date_format",
        "--date-format",
        "strptime pattern for dates, e.g. %d/%m/%Y; auto finds one pattern that reads every date.",
    ),
    (
        "setting_map",
        "--setting-map",
        'Care settings of the extract\'s own codes: "Office Visit=primary_care,ED=emergency", or a file of such lines.',
    ),
    ("limit", "--limit", "Rows to print when there is no --out."),
]

#: For each data command: the shared options it leaves out (attribute and panels date by --as-of;
#: summary and report print no table; report writes HTML with its own --out), then its own options
#: listed right after INPUT, then those listed after the window (--end), each in --help order.
DATA_COMMANDS = {
    "patients": (set(), [], ["min_visits", "level", "known_lookback_days", "care_density"]),
    "attribute": ({"start", "end"}, ["as_of", "rule", "lookback_months", "ranking"], []),
    "panels": ({"start", "end"}, ["as_of", "rule", "lookback_months", "rollup"], []),
    "dyads": (set(), [], []),
    "breaks": (set(), ["confirm", "confirm_months", "usual_months", "period", "lookback_months"], []),
    "summary": ({"limit"}, ["as_of", "bootstrap", "seed", "population"], []),
    "all": (
        {"out", "limit"},
        [
            "out",
            "as_of",
            "rule",
            "lookback_months",
            "confirm",
            "confirm_months",
            "usual_months",
            "period",
            "population",
            "bootstrap",
            "seed",
            "trend_years",
            "no_privacy",
            "key",
            "title",
        ],
        ["min_visits"],
    ),
    "network": ({"out"}, ["within", "min_shared", "shareable", "key_file", "teams", "out"], []),
    "report": (
        {"out", "limit"},
        [
            "out",
            "no_privacy",
            "key",
            "title",
            "as_of",
            "lookback_months",
            "bootstrap",
            "population",
            "trend_years",
        ],
        ["min_visits"],
    ),
}


def _params(command: str) -> list:
    return [p for p in get_command(app).commands[command].params if p.name != "help" and not p.hidden]


def test_every_data_command_exposes_the_shared_options_in_order_with_the_same_help():
    assert [p.name for p in shared_parameters()] == [name for name, _, _ in SHARED]
    for command, (omitted, before, _) in DATA_COMMANDS.items():
        shared = [(name, flag, text) for name, flag, text in SHARED if name not in omitted]
        names = {name for name, _, _ in shared}
        got = [
            (p.name, p.metavar if p.param_type_name == "argument" else p.opts[0], p.help)
            for p in _params(command)
            if p.name in names and p.name not in before  # report's own --out is not the shared one
        ]
        assert got == shared, command


def test_own_options_are_listed_after_input_or_after_the_window():
    for command, (omitted, before, after) in DATA_COMMANDS.items():
        shared = [name for name, _, _ in SHARED if name not in omitted]
        cut = shared.index("quarantine")
        expected = [shared[0], *before, *shared[1:cut], *after, *shared[cut:]]
        assert [p.name for p in _params(command)] == expected, command


def test_a_data_command_gets_its_options_as_one_checked_object(tmp_path):
    """The decorator hands a command one DataOptions; a command run without the app gets default resources."""
    seen = []

    @data_command(omit=("limit",))
    def probe(*, tag: str = "x", shared: DataOptions, after: int = 1) -> None:
        seen.append((tag, shared, after))

    toy = typer.Typer()
    toy.command()(probe)
    toy.command("other")(lambda: None)  # two commands, so the probe is a subcommand as in carethread
    res = runner.invoke(
        toy,
        shlex.split("probe in.csv --tag y --format generic --map patient_id=PID --start 2024-01-01 --after 3 --strict"),
    )
    assert res.exit_code == 0, res.output
    assert seen == [
        (
            "y",
            DataOptions(
                input_path=Path("in.csv"),
                input_format="generic",
                column_map="patient_id=PID",
                start="2024-01-01",
                strict=True,
                resources=Resources(),
            ),
            3,
        )
    ]
    # The shared checks run before the command: a bad window never reaches it.
    res = runner.invoke(toy, ["probe", "in.csv", "--start", "2024-02-01", "--end", "2024-01-01"])
    assert (res.exit_code, res.stderr) == (2, "Error: --end (2024-01-01) must be after --start (2024-02-01).\n")
    assert len(seen) == 1


def test_top_level_options_travel_with_each_invocation(monkeypatch, tmp_path):
    """--batches, --memory-limit, --threads and --temp-dir of one run do not reach the next (no module state)."""
    import carethread.engine

    connected = []
    real = carethread.engine.connect

    def spy(*args, **kwargs):
        connected.append({k: kwargs.get(k) for k in ("memory_limit", "temp_dir", "threads")})
        return real(*args, **kwargs)

    monkeypatch.setattr(carethread.engine, "connect", spy)
    f = FIXTURES / "encounters.csv"
    first = invoke("--batches", 3, "--memory-limit", "1GB", "--threads", 1, "--temp-dir", tmp_path, "dyads", f)
    second = invoke("dyads", f)
    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    assert "Computing in 3 patient batches (as --batches asks)" in first.stderr.splitlines()
    assert not [line for line in second.stderr.splitlines() if "patient batches" in line]
    assert connected == [
        {"memory_limit": "1GB", "temp_dir": tmp_path, "threads": 1},
        {"memory_limit": None, "temp_dir": None, "threads": None},
    ]
    assert first.stdout == second.stdout  # batching changes how, not what


def test_lookback_months_and_its_deprecated_alias(tmp_path):
    f = FIXTURES / "encounters.csv"
    new = invoke("attribute", f, "--lookback-months", 2, "--as-of", "2023-06-01")
    old = invoke("attribute", f, "--lookback", 2, "--as-of", "2023-06-01")
    assert (new.exit_code, old.exit_code) == (0, 0)
    assert old.stdout == new.stdout
    assert old.stderr.splitlines() == [
        "Note: --lookback is deprecated and will be removed; use --lookback-months.",
        *new.stderr.splitlines(),
    ]
    assert "--lookback" not in invoke("attribute", "--help").stdout.replace("--lookback-months", "")


WRITE_TO = "write to a .csv or .parquet file (the extension decides the format)."
MONTHS = "must be a whole number of months of at least 1, not 0."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["attribute", "--lookback-months", 0], f"--lookback-months {MONTHS}"),
        (["panels", "--lookback", 0], f"--lookback {MONTHS}"),
        (
            ["breaks", "--confirm", 0, "--period", "year", "--lookback-months", 6],
            "--lookback-months (6 months) must be at least one year (12 months).",
        ),
        (
            ["breaks", "--confirm", 0, "--period", "year", "--lookback", 6],
            "--lookback (6 months) must be at least one year (12 months).",
        ),
        (
            ["breaks", "--confirm", 0, "--period", "decade"],
            "--period must be one of month, quarter, year, not 'decade'.",
        ),
        (
            ["breaks", "--period", "month"],
            "--period sets attribution churn (--confirm 0) only; confirmed breaks take --usual-months and "
            "--confirm-months instead (docs/breaks.md). Leave it out, or add --confirm 0.",
        ),
        (["breaks", "--confirm", -1], "--confirm must be a whole number of visits, 0 or more, not -1."),
        (["breaks", "--confirm-months", 0], f"--confirm-months {MONTHS}"),
        (["breaks", "--usual-months", 0], f"--usual-months {MONTHS}"),
        (
            ["report", "--lookback", 3, "--lookback-months", 3],
            "--lookback is the old name of --lookback-months; give only --lookback-months.",
        ),
        (["attribute", "--as-of", "2024-13-01"], "--as-of 2024-13-01 is not a date; write it as YYYY-MM-DD."),
        (["summary", "--as-of", "yesterday"], "--as-of yesterday is not a date; write it as YYYY-MM-DD."),
        (["attribute", "--ranking", "r.txt"], f"--ranking r.txt: {WRITE_TO}"),
        (["dyads", "--quarantine", "q.txt"], f"--quarantine q.txt: {WRITE_TO}"),
    ],
)
def test_option_errors_name_the_option_typed_and_come_before_reading(args, message):
    command, *options = args
    res = invoke(command, FIXTURES / "encounters.csv", *options)
    assert res.exit_code == 2
    assert res.stderr.splitlines()[-1] == f"Error: {message}"
    assert "rows read" not in res.stderr  # usage errors exit before the input is read


def test_report_options_are_report_keywords():
    """The report command builds a ReportOptions and passes its fields to report() by name."""
    import dataclasses
    import inspect

    from carethread.reporting import ReportOptions, report

    keywords = inspect.signature(report).parameters
    assert all(f.name in keywords for f in dataclasses.fields(ReportOptions))


def test_breaks_options_reach_the_library(tmp_path):
    """--confirm, --confirm-months, --usual-months, --period and --lookback-months (and the old
    --lookback) give the rows relationship_breaks gives with the same keywords."""
    assert invoke("synth", "--patients", 300, "--years", 2, "--seed", 5, "--out", tmp_path / "s").exit_code == 0
    loaded = carethread.read(tmp_path / "s", con=carethread.connect())
    cases = [
        ([], {}),
        (
            ["--confirm", 2, "--confirm-months", 12, "--usual-months", 12],
            dict(confirm=2, confirm_months=12, usual_months=12),
        ),
        (
            ["--confirm", 0, "--period", "month", "--lookback-months", 6],
            dict(confirm=0, period="month", lookback_months=6),
        ),
        (["--confirm", 0, "--lookback", 6], dict(confirm=0, lookback_months=6)),
    ]
    for args, keywords in cases:
        out = tmp_path / "b.parquet"
        res = invoke("breaks", tmp_path / "s", *args, "--out", out)
        assert res.exit_code == 0, (args, res.stderr)
        expected = carethread.relationship_breaks(loaded.encounters, clinicians=loaded.clinicians, **keywords)
        expected = expected.to_pyarrow()
        assert expected.num_rows > 0
        assert pq.read_table(out).cast(expected.schema).equals(expected), args


# --- console tables and the remaining usage errors (issues 13 and 17) ------------------------------


def long_id_encounters(folder: Path) -> Path:
    """Encounters whose ids are as long as real ones: two patients, two clinicians, seven visits."""
    visits = [
        ("PATIENT-0000000001", "CLINICIAN-000000001", "2023-01-10"),
        ("PATIENT-0000000001", "CLINICIAN-000000001", "2023-03-10"),
        ("PATIENT-0000000001", "CLINICIAN-000000002", "2023-05-10"),
        ("PATIENT-0000000002", "CLINICIAN-000000002", "2023-02-01"),
        ("PATIENT-0000000002", "CLINICIAN-000000002", "2023-06-01"),
        ("PATIENT-0000000002", "CLINICIAN-000000002", "2023-09-01"),
        ("PATIENT-0000000002", "CLINICIAN-000000001", "2023-10-01"),
    ]
    path = folder / "encounters.csv"
    lines = ["patient_id,clinician_id,start,setting"] + [f"{p},{c},{d},primary_care" for p, c, d in visits]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_console_tables_fit_80_columns_and_never_cut_an_id_or_a_number(tmp_path):
    from rich.cells import cell_len

    res = invoke("dyads", long_id_encounters(tmp_path), "--extraction-date", "2024-01-01", columns=80)
    assert res.exit_code == 0, res.stderr
    table = [line for line in res.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(cell_len(line) for line in table) <= 80
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in table if line.startswith("│")]
    # Every id whole, counts as integers; the columns that do not fit are named, not squeezed.
    assert rows == [
        ["PATIENT-0000000001", "CLINICIAN-000000001", "2", "3", "3"],
        ["PATIENT-0000000001", "CLINICIAN-000000002", "1", "3", "4"],
        ["PATIENT-0000000002", "CLINICIAN-000000001", "1", "4", "3"],
        ["PATIENT-0000000002", "CLINICIAN-000000002", "3", "4", "4"],
    ]
    assert res.stdout.splitlines()[-1] == (
        "Not shown, too wide for 80 columns: patient_dependence, clinician_dependence, first_visit, last_visit, "
        "duration_days, longest_gap_days; write them all with --out FILE.csv|.parquet."
    )
    wide = invoke("dyads", long_id_encounters(tmp_path), "--extraction-date", "2024-01-01", columns=200)
    assert "Not shown" not in wide.stdout
    first = next(line for line in wide.stdout.splitlines() if line.startswith("│"))
    # Dependence as per cent: patient 1 made 2 of 3 visits with clinician 1 (67 %), who saw 3 visits in all.
    assert [c.strip() for c in first.strip("│").split("│")] == [
        "PATIENT-0000000001",
        "CLINICIAN-000000001",
        "2",
        "3",
        "3",
        "67 %",
        "67 %",
        "2023-01-10",
        "2023-03-10",
        "59",
        "59",
    ]


def test_limit_below_zero_is_a_usage_error():
    res = invoke("patients", FIXTURES / "encounters.csv", "--limit", -1)
    assert res.exit_code == 2
    assert "Invalid value for '--limit'" in res.stderr and "greater than or equal to 0" in res.stderr


def test_an_unreachable_engine_is_one_sentence_without_credentials():
    import socket

    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = invoke("patients", "--engine", f"postgres://ann:secret@127.0.0.1:{port}/cdm", "--schema", "cdm")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1] == (
        f"Error: Could not connect to --engine postgres://127.0.0.1:{port}/cdm (OperationalError): check that the "
        "server runs and that the URL's host, port, database and user are right."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "--bootstrap", -1], "Invalid value for '--bootstrap'"),
        (
            ["report", "--bootstrap", 0],
            "Error: --bootstrap 0: the report shows intervals, which need at least 1 resample (200 by default; "
            "`carethread summary --bootstrap 0` gives the answer without intervals).",
        ),
    ],
)
def test_bootstrap_must_give_intervals_where_they_are_shown(tmp_path, args, message):
    command, *options = args
    res = invoke(command, FIXTURES / "encounters.csv", *options, "--out", tmp_path / "x.html")
    assert res.exit_code == 2
    assert message in res.stderr
    assert listing(tmp_path) == []


def test_summary_bootstrap_0_means_no_intervals():
    res = invoke("summary", FIXTURES / "encounters.csv", "--bootstrap", 0)
    assert res.exit_code == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if line.startswith("│")]
    # Patient 007: 3 of 5 visits with A (60 %); 008 has one visit and is left out; no interval around it.
    assert [cell.strip() for cell in rows[0].split("│")[1:5]] == ["patient_share_from_usual_clinician", "60 %", "", ""]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_report_without_a_clinician_column_is_written_and_says_so(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "visits.csv").write_text(
        "patient_id,start,setting\n"
        + "".join(f"P{p:03d},2023-0{m}-01,primary_care\n" for p in range(30) for m in (1, 4, 7))
    )
    res = invoke("report", data, "--out", tmp_path / "r.html", "--bootstrap", 5, "--extraction-date", "2024-01-01")
    assert res.exit_code == 0, res.stderr
    html = (tmp_path / "r.html").read_text()
    assert "No clinician has a panel of patients or a visit in this data." in html
    assert "No patient–clinician relationship in this data." in html
    assert "visits.csv has no clinician_id column" in html
