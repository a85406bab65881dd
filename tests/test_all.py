"""``carethread all`` and ``run_all``: one run, one truth.

The demo (``carethread demo`` = synth + all) is built once (``tests.test_report.shared_demo``);
every number its console prints, its files hold and its report shows must agree, word for word
where they are words. ``run_all`` must write the same tables as the separate commands with their
defaults (one window story), write each window into the files' metadata, record everything in
``manifest.json``, and take new measures through its registry.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import carethread
from carethread.cli import app
from carethread.output import metadata_sidecar
from carethread.wording import about, format_count, percent
from tests.conftest import SAMPLES
from tests.test_report import Page, shared_demo

TABLES = ("patients", "attribution", "attribution_ranking", "panels", "dyads", "breaks")


@pytest.fixture(scope="module")
def demo() -> Path:
    return shared_demo()


@pytest.fixture(scope="module")
def console(demo) -> list[str]:
    return (demo / "console.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def page(demo) -> Page:
    return Page((demo / "report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest(demo) -> dict:
    return json.loads((demo / "manifest.json").read_text(encoding="utf-8"))


def who_values(folder: Path) -> dict[str, dict]:
    with (folder / "who_needs_whom.csv").open() as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def number(text: str) -> int:
    return int(re.sub(r"[ \u00a0]", "", text))


def line_starting(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.startswith(start))


def test_the_console_starts_with_the_window_and_prints_the_reports_headline_word_for_word(console, page, manifest):
    current = manifest["windows"]["current"]
    assert console[0] == f"Window: {current['text']}; visits in {', '.join(current['settings'])}."
    assert console[1] == f"Breaks: {manifest['windows']['over_time']['text']}; trends: the latest 5 years."
    assert console[2] == page.sections["answer"]["takeaway"].strip()
    assert console[2].startswith("Patients need the relationship")


def test_median_upc_and_its_patients_agree_in_console_csv_parquet_and_report(demo, console, page):
    with (demo / "continuity_summary.csv").open() as handle:
        upc = next(row for row in csv.DictReader(handle) if row["index"] == "upc")
    median, pooled, patients = float(upc["median"]), float(upc["pooled"]), int(upc["patients_included"])
    scored = pq.read_table(demo / "patients.parquet")
    assert patients == scored.num_rows - scored["upc"].null_count
    assert line_starting(console, "Median UPC") == (
        f"Median UPC {percent(median)} over {format_count(patients)} patients with at least 2 visits "
        f"(pooled over their visits: {percent(pooled)})."
    )
    text = " ".join(page.text)
    assert (
        f"The typical (median) patient saw their usual clinician at {percent(median)} of visits; pooled over all "
        f"visits, {percent(pooled)}." in text
    )
    # The methods table (index, patients, mean, median, pooled) and the UPC histogram's subtitle.
    cells = " ¦ ".join(page.text)
    mean = float(upc["mean"])
    assert f"upc ¦ {format_count(patients)} ¦ {percent(mean)} ¦ {percent(median)} ¦ {percent(pooled)}" in cells
    assert f"{format_count(patients)} patients" in text


def test_who_needs_whom_values_agree_in_console_csv_and_report(demo, console, page):
    values = who_values(demo)
    pt = float(values["patient_share_from_usual_clinician"]["value"])
    cl = float(values["patient_share_of_usual_clinicians_work"]["value"])
    per_clinician = float(values["patients_per_clinician"]["value"])
    headline = console[2]
    assert f"a typical patient gets {percent(pt)} of their care from one clinician" in headline
    assert f"a typical patient is {percent(cl)} of that clinician's work" in headline
    assert f"Each clinician holds about {about(per_clinician)} relationships" in headline
    text = " ¦ ".join(page.text)
    for name in ("patient_share_from_usual_clinician", "provider_side_continuity", "patient_side_continuity"):
        row = values[name]
        assert f"{row['description']} ¦ {percent(float(row['value']))}" in text, name


def test_break_counts_agree_in_console_files_and_report(demo, console, page):
    breaks = pq.read_table(demo / "breaks.parquet").num_rows
    in_window = int(float(who_values(demo)["breaks_total"]["value"]))
    line = line_starting(console, "Relationship breaks:")
    total, current = (number(n) for n in re.findall(r"(\d[\d ]*) (?:over|of them)", line))
    assert (total, current) == (breaks, in_window)
    takeaway = page.sections["breaks"]["takeaway"]
    assert takeaway.startswith(f"{format_count(breaks)} relationships broke over ")
    assert f"{format_count(in_window)} of them are dated in the current window" in takeaway


def test_every_table_carries_its_window_in_its_metadata(demo, manifest):
    current, over_time = manifest["windows"]["current"]["text"], manifest["windows"]["over_time"]["text"]
    for name in TABLES:
        meta = pq.read_schema(demo / f"{name}.parquet").metadata
        expected = over_time if name == "breaks" else current
        assert meta[b"carethread.window"].decode() == expected, name
        assert manifest["outputs"][name]["window"] == expected
    for name in ("continuity_summary", "who_needs_whom"):
        sidecar = json.loads(metadata_sidecar(demo / f"{name}.csv").read_text())
        assert sidecar["carethread.window"] == current
        assert sidecar["carethread.window_end_exclusive"] == manifest["windows"]["current"]["end_exclusive"][:10]


def test_the_manifest_records_inputs_options_windows_versions_timings_and_rows(demo, manifest):
    files = {f["source"]: f for f in manifest["input"]["files"]}
    assert files["encounters.parquet"]["read"] == files["encounters.parquet"]["accepted"] > 0
    assert manifest["input"]["encounters_accepted"] == files["encounters.parquet"]["accepted"]
    assert manifest["options"]["lookback_months"] == 18 and manifest["options"]["rule"] == "plurality"
    assert manifest["options"]["seed"] == 1 and manifest["population"]["population"] == "complete"
    assert set(manifest["seconds"]) >= {"read", "stage", "windows", *TABLES, "who_needs_whom", "report"}
    assert manifest["total_seconds"] == pytest.approx(sum(manifest["seconds"].values()), abs=0.01)
    assert manifest["versions"]["carethread"] == carethread.__version__
    for name in TABLES:
        assert manifest["outputs"][name]["rows"] == pq.ParquetFile(demo / f"{name}.parquet").metadata.num_rows
    assert {p.name for p in demo.iterdir()} >= {
        *(f"{name}.parquet" for name in TABLES),
        "continuity_summary.csv",
        "who_needs_whom.csv",
        "report.html",
        "manifest.json",
    }


def test_breaks_have_their_columns_and_carry_their_options_in_metadata_and_manifest(demo, manifest):
    """Issue 12 item 5: the breaks table's columns, and the options that made it beside its window."""
    breaks = pq.read_table(demo / "breaks.parquet")
    assert breaks.column_names == ["patient_id", "from_clinician_id", "to_clinician_id", "break_date", "kind", "cause"]
    assert set(breaks.column("cause").to_pylist()) == {"clinician_left", "patient_moved_on"}
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(demo / "breaks.parquet").metadata.items()}
    assert {k: meta[k] for k in meta if k.startswith("carethread.") and "window" not in k} == {
        "carethread.settings": "primary_care,virtual",
        "carethread.confirm": "1",
        "carethread.confirm_months": "18",
        "carethread.usual_months": "24",
    }  # the attribution date and look-back are the current picture's, not the breaks'
    record = manifest["outputs"]["breaks"]
    assert record["options"] == {"confirm": 1, "confirm_months": 18, "usual_months": 24, "period": None}
    assert record["window"] == manifest["windows"]["over_time"]["text"]
    assert {k: manifest["options"][k] for k in record["options"]} == record["options"]
    # who_needs_whom counts the window's breaks by kind and by cause, and the two add up alike.
    values = who_values(demo)
    kinds = sum(float(values[f"breaks_{k}"]["value"]) for k in ("partner", "other_practice", "emergency_only", "lost"))
    causes = sum(float(values[f"breaks_{c}"]["value"]) for c in ("clinician_left", "patient_moved_on"))
    assert kinds == causes == float(values["breaks_total"]["value"])


def test_all_takes_the_breaks_options_of_the_breaks_command(tmp_path):
    """--confirm 0 --period year: attribution churn over the attribution look-back, as `breaks` computes it."""
    from carethread.run import run_all
    from carethread.synth import generate

    generate(300, years=2, seed=4).write(tmp_path / "data")
    result = run_all(tmp_path / "data", out=tmp_path / "out", confirm=0, period="year", bootstrap=0, key="ab" * 16)
    data = carethread.read(tmp_path / "data", con=carethread.connect())
    expected = carethread.relationship_breaks(
        data.encounters, clinicians=data.clinicians, confirm=0, period="year", lookback_months=18
    ).to_pyarrow()
    ours = pq.read_table(result.paths["breaks"])
    order = [(c, "ascending") for c in ours.column_names]
    assert ours.num_rows > 0 and ours.sort_by(order).equals(expected.sort_by(order).cast(ours.schema))
    meta = pq.read_schema(result.paths["breaks"]).metadata
    assert (meta[b"carethread.confirm"], meta[b"carethread.period"], meta[b"carethread.lookback_months"]) == (
        b"0",
        b"year",
        b"18",
    )
    assert result.manifest["outputs"]["breaks"]["options"]["period"] == "year"
    assert "attribution churn" in (tmp_path / "out" / "report.html").read_text()


@pytest.fixture(scope="module")
def separate(demo, tmp_path_factory) -> Path:
    """The separate commands, with their defaults, on the demo's data."""
    folder = tmp_path_factory.mktemp("separate")
    runner = CliRunner()
    for command in ("patients", "attribute", "panels", "dyads", "breaks", "network"):
        res = runner.invoke(app, [command, str(demo / "data"), "--out", str(folder / f"{command}.parquet")])
        assert res.exit_code == 0, (command, res.stderr)
        (folder / f"{command}.txt").write_text(res.stdout)
    return folder


@pytest.mark.parametrize(
    ("command", "table", "key"),
    [
        ("patients", "patients", ["patient_id"]),
        ("attribute", "attribution", ["patient_id"]),
        ("panels", "panels", ["clinician_id"]),
        ("dyads", "dyads", ["patient_id", "clinician_id"]),
        ("breaks", "breaks", None),
        ("network", "network", ["clinician_a", "clinician_b"]),
    ],
)
def test_all_writes_what_each_command_writes_with_its_defaults(demo, separate, manifest, command, table, key):
    ours = pq.read_table(demo / f"{table}.parquet")
    theirs = pq.read_table(separate / f"{command}.parquet")
    order = [(k, "ascending") for k in (key or ours.column_names)]
    assert ours.sort_by(order).equals(theirs.sort_by(order).cast(ours.schema)), command
    # The same window, said the same way on the command's first line and in both files.
    scope = "over_time" if command in ("breaks", "network") else "current"
    assert (
        (separate / f"{command}.txt")
        .read_text()
        .splitlines()[0]
        .startswith(f"Window: {manifest['windows'][scope]['text']}")
    )
    assert (
        pq.read_schema(separate / f"{command}.parquet").metadata == pq.read_schema(demo / f"{table}.parquet").metadata
    )


def test_a_registered_measure_is_computed_written_and_recorded(tmp_path):
    from carethread.run import CURRENT, MEASURES, Measure, register, run_all, table_of
    from carethread.visits import visits

    def visit_days(ctx):
        v = visits(ctx.encounters, **ctx.current.bounds())
        return table_of(v.group_by("clinician_id").aggregate(days=v.visit_date.nunique()))

    rows = [
        {"patient_id": p, "clinician_id": "A", "start": f"2024-0{m}-0{d} 09:00", "setting": "primary_care"}
        for p in ("p", "q")
        for m, d in ((1, 2), (2, 3), (3, 4))
    ]
    data = tmp_path / "encounters.csv"
    data.write_text("patient_id,clinician_id,start,setting\n" + "".join(",".join(r.values()) + "\n" for r in rows))
    register(Measure("visit_days", CURRENT, visit_days), before="breaks")
    try:
        result = run_all(data, out=tmp_path / "out", bootstrap=0, key="ab" * 16)
    finally:
        MEASURES[:] = [m for m in MEASURES if m.name != "visit_days"]
    written = pq.read_table(result.paths["visit_days"])
    assert written.to_pylist() == [{"clinician_id": "A", "days": 3}]
    assert list(result.manifest["outputs"]).index("visit_days") == list(result.manifest["outputs"]).index("breaks") - 1
    assert result.manifest["outputs"]["visit_days"]["window"] == result.windows["current"].text()


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()))
def test_all_on_each_public_sample_writes_every_table_the_report_and_the_manifest(sample, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        ["all", str(SAMPLES / sample), "--extraction-date", "2024-06-30", "--out", str(out), "--bootstrap", "20"],
    )
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("Window: ") and lines[1].startswith("Breaks: ")
    manifest = json.loads((out / "manifest.json").read_text())
    for name in (*TABLES, "continuity_summary", "who_needs_whom", "report"):
        assert (out / manifest["outputs"][name]["file"]).is_file(), name
    # Every public sample holds a handful of each clinician's patients: no verdict, and the reason.
    assert manifest["population"]["population"] == "sample"
    assert lines[2].startswith("No verdict on who needs whom: this extract seems to hold a sample of patients")
    html = (out / "report.html").read_text()
    assert "not measurable from a patient sample" in html


def test_run_all_rejects_bad_options_before_reading(tmp_path):
    from carethread.errors import OptionError
    from carethread.run import run_all

    with pytest.raises(OptionError, match="--population must be sample or complete"):
        run_all(tmp_path / "nothing", out=tmp_path / "out", population="half")
    with pytest.raises(OptionError, match="rule"):
        run_all(tmp_path / "nothing", out=tmp_path / "out", rule="loudest")
    assert not (tmp_path / "out").exists()


def test_staging_keeps_small_inputs_in_memory_and_large_ones_in_one_parquet_file(monkeypatch, tmp_path):
    from carethread.engine import connect
    from carethread.run import pipeline

    con = connect(temp_dir=tmp_path / "spill")
    data = carethread.read(SAMPLES / "synthea-csv-dbt-27", con=con, extraction_date="2024-06-30")
    n = sum(c.accepted for c in data.counts)
    small = pipeline.stage(data, n)
    monkeypatch.setattr(pipeline, "STAGE_IN_MEMORY", 10)
    large = pipeline.stage(data, n)
    assert len(list((tmp_path / "spill").glob("*.parquet"))) == 1  # the CSV input, staged once
    for table in (small.encounters, large.encounters):
        assert table.count().execute() == data.encounters.count().execute() == 604
