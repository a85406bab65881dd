"""``carethread demo``: the whole product, end to end, on a synthetic health system."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import ibis
from rich.console import Console
from rich.table import Table as RichTable

from carethread.wording import decimals, format_count, percent


def _print_summary(summary_rows: list[dict], console: Console) -> None:
    view = RichTable(title="Patient continuity, population summary", header_style="bold")
    for column in ("index", "patients", "mean", "q1", "median", "q3", "pooled"):
        view.add_column(column, justify="right" if column != "index" else "left")
    for r in summary_rows:
        statistics = [decimals(r[column]) for column in ("mean", "q1", "median", "q3", "pooled")]
        view.add_row(r["index"], format_count(r["patients_included"]), *statistics)
    console.print(view)


def run_demo(
    out_dir: str | Path = "carethread-demo",
    *,
    n_patients: int = 20_000,
    years: float = 3,
    seed: int = 0,
    console: Console | None = None,
    step=None,
) -> dict[str, Path]:
    """Generate a synthetic system, compute every measure, write the tables.

    Writes ``data/`` (the synthetic input with ground truth), ``patients.parquet``
    ``continuity_summary.csv`` and the shareable ``report.html`` into
    ``out_dir`` and prints the population summary. Returns the paths written.
    """
    from carethread.engine import connect
    from carethread.measures.continuity import continuity_summary, patient_continuity, patient_continuity_remarks
    from carethread.output import write_table
    from carethread.readers import read
    from carethread.synth import generate

    console = console or Console()
    step = step or (lambda message: contextlib.nullcontext())
    out = Path(out_dir)
    began = time.perf_counter()
    with step(f"Generating a synthetic health system of {format_count(n_patients)} patients"):
        system = generate(n_patients, years=years, seed=seed, outcomes=True)
        system.write(out / "data")
    con = connect()
    with step("Reading and validating"):
        data = read(out / "data", con=con)
    console.print(data.reconciliation())
    with step("Computing patient continuity"):
        patients = patient_continuity(data.encounters).cache()
        paths = {"patients": write_table(patients, out / "patients.parquet")}
        summary = continuity_summary(patients).cache()
        paths["continuity_summary"] = write_table(summary, out / "continuity_summary.csv")
    rows = summary.to_pyarrow().to_pylist()
    _print_summary(rows, console)
    upc = next(r for r in rows if r["index"] == "upc")
    console.print(
        f"A typical patient (median) saw their usual clinician at {percent(upc['median'])} of visits; "
        f"pooled over all visits, {percent(upc['pooled'])}."
    )
    for i, remark in enumerate(data.remarks + patient_continuity_remarks(data.encounters, patients), 1):
        console.print(f"  {i}. {remark}")
    from carethread.privacy import load_or_create_key
    from carethread.reporting import report
    from carethread.summary import who_needs_whom_from_encounters

    with step("Weighing both sides of every relationship"):
        answer = who_needs_whom_from_encounters(data.encounters, clinicians=data.clinicians, seed=seed)
        paths["who_needs_whom"] = write_table(ibis.memtable(answer.table), out / "who_needs_whom.csv")
    console.print(f"Who needs whom: {answer.headline}")

    paths["report"] = report(
        data,
        out=out / "report.html",
        con=con,
        key=load_or_create_key(out / "data"),
        title="Care relationships: synthetic demo health system",
    )
    console.print(f"Report: {paths['report']} (open it in a browser)")
    console.print(f"Done in {time.perf_counter() - began:.1f} s. Tables and report in {out}/")
    return paths
