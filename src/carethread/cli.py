"""The ``carethread`` command line: a thin layer over the library.

Each command parses its options, calls one library function, and formats the
result. Library errors become one line and an exit code here and nowhere else:
0 ok, 1 data problem, 2 usage error (DESIGN.md section 5).
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from carethread import __version__
from carethread.errors import CarethreadError, OptionError

app = typer.Typer(
    name="carethread",
    help="Measure, explain and protect the doctor-patient relationship from encounter data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

out_console = Console(highlight=False, soft_wrap=True)
if not out_console.is_terminal:
    # Piped output is read by programs and people alike: never truncate columns.
    out_console = Console(highlight=False, soft_wrap=True, width=240)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

# Options shared by every command that reads data (DESIGN.md section 5).
InputArg = Annotated[
    Path | None,
    typer.Argument(
        help="A file, a glob or a folder of encounter data; omit it to read OMOP tables from --engine or --database.",
        show_default=False,
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="auto, generic, synthea, fhir or omop.")]
EngineOpt = Annotated[
    str | None, typer.Option("--engine", help="Ibis URL (e.g. postgres://...); default embedded DuckDB.")
]
DatabaseOpt = Annotated[Path | None, typer.Option("--database", help="DuckDB database file instead of memory.")]
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema", help="Database schema holding the OMOP CDM tables (with --engine, --database or a .duckdb INPUT)."
    ),
]
VisitConceptsOpt = Annotated[
    str | None,
    typer.Option(
        "--visit-concepts",
        help="OMOP visit_concept_id settings: 38004207=specialty,262=inpatient, or a file of such lines.",
    ),
]
MapOpt = Annotated[str | None, typer.Option("--map", help="Column names: patient_id=PAT_ID,start=VISIT_DT.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write to a .csv or .parquet file instead of printing.")]
SettingsOpt = Annotated[
    str | None,
    typer.Option("--settings", help="Comma list of settings that count as visits [default: primary_care,virtual]."),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="Window start date, inclusive (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Window end date, exclusive (YYYY-MM-DD).")]
MinVisitsOpt = Annotated[int, typer.Option("--min-visits", help="Patients with fewer visits get null indices.")]
QuarantineOpt = Annotated[
    Path | None,
    typer.Option("--quarantine", help="Write rejected rows (with reasons) to this .csv or .parquet file."),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 if any row was rejected.")]
ExtractionOpt = Annotated[
    str | None,
    typer.Option("--extraction-date", help="Day the data was extracted; later dates are rejected [default: today]."),
]
DateFormatOpt = Annotated[str | None, typer.Option("--date-format", help="strptime pattern for dates, e.g. %d/%m/%Y.")]
LimitOpt = Annotated[int, typer.Option("--limit", help="Rows to print when there is no --out.")]


def _version(value: bool) -> None:
    if value:
        out_console.print(f"carethread {__version__}")
        raise typer.Exit()


#: Engine resources from the top-level options; every command's connection uses them.
_RESOURCES: dict[str, object] = {}
#: --batches: patient batches for the measures that batch (None: as the memory limit needs).
_BATCHES: dict[str, int | None] = {"forced": None}


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            envvar="CARETHREAD_MEMORY_LIMIT",
            help="Memory the embedded DuckDB may use before spilling to --temp-dir, e.g. 8GB [default: 60% of RAM].",
        ),
    ] = None,
    temp_dir: Annotated[
        Path | None,
        typer.Option(
            "--temp-dir",
            envvar="CARETHREAD_TEMP_DIR",
            help="Folder for DuckDB to spill to [default: a private folder in the system temp folder].",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            envvar="CARETHREAD_THREADS",
            min=1,
            help="Threads for the embedded DuckDB [default: all cores].",
        ),
    ] = None,
    batches: Annotated[
        int | None,
        typer.Option(
            "--batches",
            envvar="CARETHREAD_BATCHES",
            min=1,
            help="Run patients, dyads and breaks on this many slices of patients, one at a time, to bound memory "
            "(embedded DuckDB) [default: as many as the input needs under --memory-limit].",
        ),
    ] = None,
) -> None:
    """Measure, explain and protect the doctor-patient relationship from encounter data."""
    _RESOURCES.update(memory_limit=memory_limit, temp_dir=temp_dir, threads=threads)
    _BATCHES["forced"] = batches


@contextlib.contextmanager
def _reported():
    """Turn library errors into one line on stderr and the contract's exit code."""
    try:
        yield
    except OptionError as exc:
        err_console.print(f"Error: {exc}")
        raise typer.Exit(2) from None
    except CarethreadError as exc:
        err_console.print(f"Error: {exc}")
        raise typer.Exit(1) from None
    except Exception as exc:
        if os.environ.get("CARETHREAD_DEBUG"):
            raise
        # Engine messages can quote data values, so only the error's type is shown.
        err_console.print(
            f"Error: the computation failed ({type(exc).__name__}). "
            "Re-run with CARETHREAD_DEBUG=1 for details (they may contain data values)."
        )
        raise typer.Exit(1) from None


@contextlib.contextmanager
def _step(message: str):
    """A spinner on a terminal; nothing when piped."""
    if err_console.is_terminal:
        with err_console.status(message):
            yield
    else:
        yield


def _remarks(remarks: list[str]) -> None:
    if remarks:
        err_console.print("Remarks:")
        for i, remark in enumerate(remarks, 1):
            err_console.print(f"  {i}. {remark}")


def _load(
    input,
    *,
    format,
    engine,
    database,
    mapping,
    quarantine,
    strict,
    extraction_date,
    date_format,
    schema=None,
    visit_concepts=None,
):
    """Connect, read and validate; report reconciliation, write the quarantine."""
    from carethread.engine import connect
    from carethread.output import check_out_path, write_table
    from carethread.readers import detect_format, read

    if input is None and engine is None and database is None:
        raise OptionError(
            "Missing INPUT: give a file or folder, or read OMOP CDM tables from a database with "
            "--engine URL (or --database FILE.duckdb) and --schema."
        )
    if quarantine is not None:
        check_out_path(quarantine)
    con = connect(engine, database=database, **_RESOURCES)
    if str(format).strip().lower() == "auto" and input is None:
        format = "omop"  # tables in a database: only the OMOP reader reads those
        err_console.print("Format: omop (no INPUT, tables read from the database; --format overrides)")
    elif str(format).strip().lower() == "auto":
        format = detect_format(input)
        # Said before reading, so a format-specific error is read in its context;
        # not for a missing input, where the reader's error says all there is.
        if os.path.exists(input) or glob.has_magic(os.fspath(input)):
            err_console.print(f"Format: {format} (detected; --format overrides)")
    with _step("Reading and validating"):
        data = read(
            input,
            format=format,
            con=con,
            mapping=mapping,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
    err_console.print(data.reconciliation())
    if quarantine is not None:
        write_table(data.quarantine, quarantine)
        err_console.print(f"Quarantine written to {quarantine}")
    if strict and data.n_quarantined:
        _remarks(data.remarks)
        raise CarethreadError(
            f"{data.n_quarantined} rows were rejected and --strict is set; fix them or drop --strict."
        )
    return data


def _batches(data, measure) -> int:
    """Patient batches for ``measure`` on this input and engine (:func:`carethread.batches.plan`)."""
    from carethread.batches import plan

    forced = _BATCHES["forced"]
    batches = plan(data.encounters._find_backend(), sum(c.accepted for c in data.counts), measure, forced=forced)
    if batches > 1:
        why = "as --batches asks" if forced else "to stay within the memory limit; --batches overrides"
        err_console.print(f"Computing in {batches} patient batches ({why})")
    return batches


def _in_batches(batches: int) -> str:
    return f" in {batches} patient batches" if batches > 1 else ""


def _emit(table, out: Path | None, limit: int, title: str | None = None, keep_order: bool = False) -> None:
    from carethread.output import print_table, write_table

    if out is None:
        print_table(table, out_console, limit=limit, title=title, sort=not keep_order)
    else:
        with _step(f"Writing {out.name}"):
            write_table(table, out)
        err_console.print(f"Wrote {out}")


@app.command()
def patients(
    input: InputArg = None,
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    out: OutOpt = None,
    settings: SettingsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    min_visits: MinVisitsOpt = 2,
    level: Annotated[str, typer.Option("--level", help="clinician or practice.")] = "clinician",
    known_lookback_days: Annotated[
        int, typer.Option("--known-lookback-days", help="Look-back of known-provider continuity.")
    ] = 365,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
    limit: LimitOpt = 20,
) -> None:
    """One row per patient: visits, clinicians, usual clinician and every continuity index."""
    from carethread.batches import run_in_batches
    from carethread.measures.continuity import patient_continuity, patient_continuity_remarks
    from carethread.options import check_options
    from carethread.output import check_out_path

    with _reported():
        if out is not None:
            check_out_path(out)
        check_options(
            settings=settings,
            start=start,
            end=end,
            min_visits=min_visits,
            level=level,
            known_lookback_days=known_lookback_days,
        )
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        options = dict(settings=settings, start=start, end=end, min_visits=min_visits, level=level)
        batches = _batches(data, patient_continuity)
        with (
            _step("Computing patient continuity" + _in_batches(batches)),
            run_in_batches(
                patient_continuity,
                data.encounters,
                batches=batches,
                known_lookback_days=known_lookback_days,
                **options,
            ) as result,
        ):
            result = result.cache()
        _emit(result, out, limit)
        _remarks(data.remarks + patient_continuity_remarks(data.encounters, result, **options))


AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Attribution date (YYYY-MM-DD) [default: the day after the last encounter]."),
]
RuleOpt = Annotated[str, typer.Option("--rule", help="plurality, majority, recent or tiered.")]
LookbackOpt = Annotated[int, typer.Option("--lookback", help="Attribution look-back in months.")]


def _as_of(as_of, data):
    from carethread.visits import default_as_of

    return as_of if as_of is not None else default_as_of(data.encounters)


@app.command()
def attribute(
    input: InputArg = None,
    as_of: AsOfOpt = None,
    rule: RuleOpt = "plurality",
    lookback: LookbackOpt = 18,
    ranking: Annotated[
        Path | None, typer.Option("--ranking", help="Also write the full auditable ranking (.csv or .parquet).")
    ] = None,
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    out: OutOpt = None,
    settings: SettingsOpt = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
    limit: LimitOpt = 20,
) -> None:
    """Assign each patient to one clinician (panel attribution) as of a date."""
    from carethread.measures import attribution
    from carethread.options import check_options, check_rule
    from carethread.output import check_out_path, write_table

    with _reported():
        for path in (out, ranking):
            if path is not None:
                check_out_path(path)
        check_options(settings=settings, start=as_of)
        check_rule(rule, attribution.RULES)
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        options = dict(
            as_of=_as_of(as_of, data),
            rule=rule,
            lookback_months=lookback,
            settings=settings,
            clinicians=data.clinicians,
        )
        with _step("Attributing patients"):
            result = attribution.attribute(data.encounters, **options).cache()
        _emit(result, out, limit)
        if ranking is not None:
            write_table(attribution.attribution_ranking(data.encounters, **options), ranking)
            err_console.print(f"Ranking written to {ranking}")
        _remarks(data.remarks + attribution.attribution_remarks(data.encounters, result, **options))


@app.command()
def panels(
    input: InputArg = None,
    as_of: AsOfOpt = None,
    rule: RuleOpt = "plurality",
    lookback: LookbackOpt = 18,
    rollup: Annotated[
        str, typer.Option("--rollup", help="clinician (one row each), practice or system.")
    ] = "clinician",
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    out: OutOpt = None,
    settings: SettingsOpt = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
    limit: LimitOpt = 20,
) -> None:
    """One row per clinician: panel size, provider- and patient-side continuity, load."""
    from carethread.measures import attribution
    from carethread.measures.panels import panel_rollup
    from carethread.measures.panels import panels as panel_table
    from carethread.options import check_options, check_rule
    from carethread.output import check_out_path

    with _reported():
        if out is not None:
            check_out_path(out)
        if rollup not in ("clinician", "practice", "system"):
            raise OptionError(f"--rollup must be clinician, practice or system, not {rollup!r}.")
        check_options(settings=settings, start=as_of)
        check_rule(rule, attribution.RULES)
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        with _step("Computing panels"):
            result = panel_table(
                data.encounters,
                as_of=_as_of(as_of, data),
                rule=rule,
                lookback_months=lookback,
                settings=settings,
                clinicians=data.clinicians,
            )
            if rollup != "clinician":
                result = panel_rollup(result, by=rollup)
        _emit(result.cache(), out, limit)
        _remarks(data.remarks)


@app.command()
def dyads(
    input: InputArg = None,
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    out: OutOpt = None,
    settings: SettingsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
    limit: LimitOpt = 20,
) -> None:
    """Every patient-clinician pair: visits, dependence on each side, duration and gaps."""
    from carethread.batches import run_in_batches
    from carethread.measures.dyads import dyads as dyad_table
    from carethread.options import check_options
    from carethread.output import check_out_path

    with _reported():
        if out is not None:
            check_out_path(out)
        check_options(settings=settings, start=start, end=end)
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        batches = _batches(data, dyad_table)
        with (
            _step("Computing dyads" + _in_batches(batches)),
            run_in_batches(
                dyad_table, data.encounters, batches=batches, settings=settings, start=start, end=end
            ) as result,
        ):
            result = result.cache()
        _emit(result, out, limit)
        _remarks(data.remarks)


@app.command()
def breaks(
    input: InputArg = None,
    period: Annotated[str, typer.Option("--period", help="month, quarter or year.")] = "quarter",
    lookback: LookbackOpt = 18,
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    out: OutOpt = None,
    settings: SettingsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
    limit: LimitOpt = 20,
) -> None:
    """Relationship breaks: each move of a patient's attributed clinician, dated and classified."""
    from carethread.batches import run_in_batches
    from carethread.measures.breaks import relationship_breaks
    from carethread.options import check_options
    from carethread.output import check_out_path

    with _reported():
        if out is not None:
            check_out_path(out)
        check_options(settings=settings, start=start, end=end)
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        options = dict(clinicians=data.clinicians, settings=settings, start=start, end=end)
        batches = _batches(data, relationship_breaks)
        with (
            _step("Tracking attribution period by period" + _in_batches(batches)),
            run_in_batches(
                relationship_breaks,
                data.encounters,
                batches=batches,
                period=period,
                lookback_months=lookback,
                **options,
            ) as result,
        ):
            result = result.cache()
        _emit(result, out, limit)
        _remarks(data.remarks)


@app.command()
def summary(
    input: InputArg = None,
    as_of: AsOfOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples over patients for the intervals.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    out: OutOpt = None,
    settings: SettingsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """Who needs the relationship more? The population answer, with bootstrap intervals."""
    from carethread.options import check_options
    from carethread.output import check_out_path
    from carethread.summary import who_needs_whom_from_encounters

    with _reported():
        if out is not None:
            check_out_path(out)
        check_options(settings=settings, start=start, end=end)
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        with _step("Weighing both sides of every relationship"):
            answer = who_needs_whom_from_encounters(
                data.encounters,
                as_of=as_of,
                settings=settings,
                start=start,
                end=end,
                clinicians=data.clinicians,
                bootstrap=bootstrap,
                seed=seed,
            )
        out_console.print(answer.headline)
        _emit(ibis_table(answer.table), out, limit=50, keep_order=True)
        _remarks(data.remarks + list(answer.remarks))


def ibis_table(table):
    """A small in-memory result (pyarrow or pandas) as an Ibis table for output."""
    import ibis

    return ibis.memtable(table)


@app.command()
def synth(
    patients: Annotated[int, typer.Option("--patients", help="Patients in the system.")] = 20_000,
    years: Annotated[
        float,
        typer.Option("--years", help="Years of the span the ground truth covers; encounters start 18 months earlier."),
    ] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 0,
    start: Annotated[str, typer.Option("--start", help="First day of the span.")] = "2022-01-01",
    out: Annotated[Path, typer.Option("--out", help="Folder to write the tables to.")] = Path("carethread-synth"),
    chunk_patients: Annotated[
        int, typer.Option("--chunk-patients", help="Patients per chunk for large systems.")
    ] = 200_000,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="parquet, or fhir (a FHIR R4 Bulk Data export: NDJSON + manifest.json; ground truth stays Parquet).",
        ),
    ] = "parquet",
) -> None:
    """Generate a synthetic health system (encounters, clinicians, patients, ground truth) as Parquet or FHIR NDJSON."""
    from carethread.synth import write_chunked
    from carethread.synth.fhir import write_fhir_chunked

    with _reported():
        kind = format.strip().lower()
        if kind not in ("parquet", "fhir"):
            raise OptionError(f"--format {format!r}: synth writes parquet or fhir.")
        with _step("Generating"):
            if kind == "fhir":
                paths = write_fhir_chunked(
                    out, patients, years=years, seed=seed, start=start, chunk_patients=chunk_patients
                )
            else:
                paths = write_chunked(out, patients, years=years, seed=seed, start=start, chunk_patients=chunk_patients)
        for name, path in paths.items():
            out_console.print(f"{name}: {path}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the data, tables and report.")] = Path(
        "carethread-demo"
    ),
    patients: Annotated[int, typer.Option("--patients", help="Patients in the synthetic system.")] = 20_000,
    years: Annotated[
        float,
        typer.Option("--years", help="Years of the span the ground truth covers; encounters start 18 months earlier."),
    ] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Generate a synthetic health system, run every measure, write the tables and print the headline."""
    from carethread.demo import run_demo

    with _reported():
        run_demo(out, n_patients=patients, years=years, seed=seed, console=out_console, step=_step)


@app.command()
def report(
    input: InputArg = None,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    no_privacy: Annotated[
        bool,
        typer.Option(
            "--no-privacy",
            help="Show real clinician and practice ids and exact small counts; every page then says NOT FOR SHARING.",
        ),
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="File holding the pseudonym key (hex) [default: .carethread-key beside the data, created on first use].",
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of the report [default: Care relationships: <input name>].")
    ] = None,
    as_of: AsOfOpt = None,
    lookback: LookbackOpt = 18,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the who-needs-whom intervals.")
    ] = 200,
    format: FormatOpt = "auto",
    engine: EngineOpt = None,
    database: DatabaseOpt = None,
    schema: SchemaOpt = None,
    map: MapOpt = None,
    visit_concepts: VisitConceptsOpt = None,
    settings: SettingsOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    min_visits: MinVisitsOpt = 2,
    quarantine: QuarantineOpt = None,
    strict: StrictOpt = False,
    extraction_date: ExtractionOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """One self-contained HTML report to share: who needs the relationship more, and where relationships break."""
    from carethread.options import check_options
    from carethread.privacy import load_or_create_key
    from carethread.reporting import report as write_report

    with _reported():
        if out.suffix.lower() not in (".html", ".htm"):
            raise OptionError(f"--out {out.name}: the report is an HTML file; give a name ending in .html.")
        check_options(settings=settings, start=start, end=end, min_visits=min_visits)
        if key_file is not None and not key_file.is_file():
            raise OptionError(
                f"--key-file {key_file}: no such file; write the key (hex) into it or leave the option out."
            )
        key = key_file.read_text().strip() if key_file is not None else None
        data = _load(
            input,
            format=format,
            engine=engine,
            database=database,
            mapping=map,
            quarantine=quarantine,
            strict=strict,
            extraction_date=extraction_date,
            date_format=date_format,
            schema=schema,
            visit_concepts=visit_concepts,
        )
        path = write_report(
            data,
            out=out,
            settings=settings,
            start=start,
            end=end,
            min_visits=min_visits,
            as_of=as_of,
            lookback_months=lookback,
            privacy=not no_privacy,
            title=title or f"Care relationships: {input.name if input is not None else schema or 'database'}",
            key=load_or_create_key(input, key=key) if not no_privacy else None,
            bootstrap=bootstrap,
        )
        err_console.print(f"Wrote {path}" + ("" if not no_privacy else " (privacy protections OFF: not for sharing)"))


def run() -> None:  # pragma: no cover - console entry point wrapper
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
