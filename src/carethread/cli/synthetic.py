"""The commands that need no input: ``synth`` writes a synthetic health system, ``demo`` runs ``all`` on one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.app import reported
from carethread.cli.console import out_console, step
from carethread.errors import OptionError

OutcomesOpt = Annotated[
    bool,
    typer.Option(
        "--outcomes/--no-outcomes",
        help="Emergency visits, admissions, deaths and clinician departures of known effect in the last 24 months "
        "(true_effects.parquet).",
    ),
]
RatioOpt = Annotated[float, typer.Option(show_default=True)]

YearsOpt = Annotated[
    float,
    typer.Option("--years", help="Years of the span the ground truth covers; encounters start 18 months earlier."),
]


def synth(
    patients: Annotated[int, typer.Option("--patients", help="Patients in the system.")] = 20_000,
    years: YearsOpt = 3,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 0,
    start: Annotated[str, typer.Option("--start", help="First day of the span.")] = "2022-01-01",
    out: Annotated[Path, typer.Option("--out", help="Folder to write the tables to.")] = Path("carethread-synth"),
    chunk_patients: Annotated[
        int, typer.Option("--chunk-patients", help="Patients per chunk for large systems.")
    ] = 200_000,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="parquet, or fhir (a FHIR R4 Bulk Data export: NDJSON + manifest.json; ground truth stays Parquet).",
        ),
    ] = "parquet",
    outcomes: OutcomesOpt = False,
    ed_irr: Annotated[
        float, typer.Option("--ed-irr", help="With --outcomes: emergency visits' rate ratio per +0.2 UPC.")
    ] = 0.80,
    death_hr: Annotated[
        float, typer.Option("--death-hr", help="With --outcomes: death's hazard ratio per +0.1 UPC.")
    ] = 0.85,
    admission_hr: Annotated[
        float, typer.Option("--admission-hr", help="With --outcomes: admissions' hazard ratio per +0.1 COC.")
    ] = 0.90,
    departure_hr: Annotated[
        float,
        typer.Option(
            "--departure-hr", help="With --outcomes: clinician departure, lowest continuity tertile vs others."
        ),
    ] = 1.5,
) -> None:
    """Generate a synthetic health system (encounters, clinicians, patients, ground truth) as Parquet or FHIR NDJSON."""
    from carethread.output import check_out_folder
    from carethread.synth import write_chunked
    from carethread.synth.fhir import write_fhir_chunked

    with reported():
        check_out_folder(out)
        kind = output_format.strip().lower()
        if kind not in ("parquet", "fhir"):
            raise OptionError(f"--format {output_format!r}: synth writes parquet or fhir.")
        options = dict(years=years, seed=seed, start=start, chunk_patients=chunk_patients)
        if outcomes:
            from carethread.synth.outcomes import OutcomeEffects

            if kind == "fhir":
                raise OptionError("--outcomes writes Parquet: drop --format fhir.")
            options["outcomes"] = OutcomeEffects(ed_irr, death_hr, admission_hr, departure_hr).check()
        write = write_fhir_chunked if kind == "fhir" else write_chunked
        with step("Generating"):
            paths = write(out, patients, **options)
        for name, path in paths.items():
            out_console.print(f"{name}: {path}")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the data, tables and report.")] = Path(
        "carethread-demo"
    ),
    patients: Annotated[int, typer.Option("--patients", help="Patients in the synthetic system.")] = 20_000,
    years: YearsOpt = 3,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Generate a synthetic health system and run all on it: every table, the answer, the report, the manifest."""
    from carethread.demo import run_demo
    from carethread.output import check_out_folder

    with reported():
        check_out_folder(out)
        run_demo(out, n_patients=patients, years=years, seed=seed, console=out_console, step=step)
