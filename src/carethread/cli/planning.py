"""The planning commands: ``rebalance`` (who takes over, keeping the most relationships) and ``what-if``.

Both call one library function (:func:`carethread.measures.rebalance.rebalance`,
:func:`carethread.measures.rebalance.what_if`) and format its result. A plan
that cannot place every patient is an error (exit 1) and nothing is
written, unless ``--allow-unplaced`` asks for the plan with those patients
marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.console import emit, err_console, out_console, print_remarks, step
from carethread.cli.data_options import DataOptions, data_command
from carethread.cli.measure_options import AsOfOpt, LookbackMonthsOpt, RuleOpt, check_attribution

LeaveOpt = Annotated[
    str | None,
    typer.Option(
        "--leave", help="Clinician ids who leave, comma-separated [default: clinicians with an active_to date]."
    ),
]
CapacityOpt = Annotated[
    str,
    typer.Option(
        "--capacity", help="patients (clinicians.capacity) or visits (Murray: visits per day × working days)."
    ),
]
VisitsPerDayOpt = Annotated[
    float | None,
    typer.Option("--visits-per-day", help="With --capacity visits: visits per day [default: each clinician's own]."),
]
WorkingDaysOpt = Annotated[
    float | None,
    typer.Option("--working-days", help="With --capacity visits: working days a year [default: each clinician's own]."),
]
HalfLifeOpt = Annotated[float, typer.Option("--half-life-months", help="Months after which a visit counts half.")]
PracticeWeightOpt = Annotated[
    float, typer.Option("--practice-weight", help="Strength of a clinician of the patient's own practice.")
]
ClosedOpt = Annotated[
    str | None, typer.Option("--closed", help="Clinician ids closed to new patients, comma-separated.")
]
SamePracticeOpt = Annotated[bool, typer.Option("--same-practice", help="Keep every patient in their own practice.")]
#: Clinicians whose panel changes printed when the summary is not written to a file.
SUMMARY_ROWS = 100

CandidatesOpt = Annotated[
    int, typer.Option("--candidates", help="Strongest candidate clinicians kept per patient (bounds the model).")
]


def side_table(path: Path | None, option: str):
    """A small user table (CSV or Parquet) with every column as text, as an Ibis table; ``None`` stays ``None``.

    Identifiers stay text, so leading zeros survive (docs/formats.md).
    """
    if path is None:
        return None
    import csv

    import ibis
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from carethread.errors import InputError

    if not path.is_file():
        raise InputError(f"{option} {path.name} does not exist; give a .csv or .parquet file.")
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path)
        table = table.cast(pa.schema([(name, pa.string()) for name in table.column_names]))
    else:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        types = {name: pa.string() for name in header}
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    return ibis.memtable(table)


@data_command(omit=("start", "end"))
def rebalance(
    ctx: typer.Context,
    *,
    as_of: AsOfOpt = None,
    leave: LeaveOpt = None,
    shared: DataOptions,
    rule: RuleOpt = "plurality",
    lookback_months: LookbackMonthsOpt = 18,
    capacity: CapacityOpt = "patients",
    visits_per_day: VisitsPerDayOpt = None,
    working_days: WorkingDaysOpt = None,
    half_life_months: HalfLifeOpt = 12.0,
    practice_weight: PracticeWeightOpt = 0.5,
    network_weight: Annotated[
        float,
        typer.Option(
            "--network-weight",
            help="Weight of the share of the patient's clinician's patients a clinician also saw, added to "
            "the strength (0: visits and practice only).",
        ),
    ] = 0.0,
    closed: ClosedOpt = None,
    same_practice: SamePracticeOpt = False,
    allowed: Annotated[
        Path | None,
        typer.Option("--allowed", help="File of patient_id,clinician_id pairs each listed patient may go to."),
    ] = None,
    patient_attributes: Annotated[
        Path | None, typer.Option("--patient-attributes", help="File of patient_id and the columns --match compares.")
    ] = None,
    clinician_attributes: Annotated[
        Path | None,
        typer.Option("--clinician-attributes", help="File of clinician_id and the columns --match compares."),
    ] = None,
    match: Annotated[
        str | None,
        typer.Option("--match", help="Columns that must agree: language,preferred_sex=sex (patient=clinician column)."),
    ] = None,
    max_moves: Annotated[
        int | None, typer.Option("--max-moves", help="At most this many patients who are not orphans move.")
    ] = None,
    keep_overflow: Annotated[
        bool, typer.Option("--keep-overflow", help="Leave panels already over capacity as they are.")
    ] = False,
    candidates: CandidatesOpt = 8,
    allow_unplaced: Annotated[
        bool,
        typer.Option("--allow-unplaced", help="Write the plan even when some patients cannot be placed (marked)."),
    ] = False,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Write the per-clinician summary to this .csv or .parquet file.")
    ] = None,
    explain: Annotated[
        Path | None,
        typer.Option("--explain", help="Write why each patient goes where, and the alternatives, to this file."),
    ] = None,
) -> None:
    """Reassign a departing clinician's patients (and overflowing panels) keeping the most relationships."""
    from carethread.measures.rebalance import rebalance as plan_rebalance
    from carethread.output import check_out_path, write_table

    for path, option in ((summary, "--summary"), (explain, "--explain")):
        if path is not None:
            check_out_path(path, option=option)
    months = check_attribution(ctx, as_of, rule, lookback_months, None)
    data = shared.read()
    with step("Planning"):
        plan = plan_rebalance(
            data.encounters,
            clinicians=data.clinicians,
            settings=shared.settings,
            as_of=as_of,
            leave=leave,
            rule=rule,
            lookback_months=months,
            capacity=capacity,
            visits_per_day=visits_per_day,
            working_days_per_year=working_days,
            half_life_months=half_life_months,
            practice_weight=practice_weight,
            network_weight=network_weight,
            closed=closed,
            same_practice=same_practice,
            allowed=side_table(allowed, "--allowed"),
            patient_attributes=side_table(patient_attributes, "--patient-attributes"),
            clinician_attributes=side_table(clinician_attributes, "--clinician-attributes"),
            match=match,
            max_moves=max_moves,
            resolve_overflow=not keep_overflow,
            candidates_per_patient=candidates,
            allow_unplaced=allow_unplaced,
        )
    err_console.print(plan.solver_line())
    out_console.print(plan.headline())
    emit(plan.moves, shared.out, limit=shared.limit)
    if summary is not None:
        emit(plan.clinicians, summary, limit=shared.limit)
    else:
        from carethread.cli.console import table_width
        from carethread.cli.table import print_table

        changed = plan.clinicians.filter((plan.clinicians.joined > 0) | (plan.clinicians.left > 0))
        print_table(
            changed, out_console, limit=SUMMARY_ROWS, title="Clinicians whose panel changes", width=table_width()
        )
    if explain is not None:
        write_table(plan.explanations, explain)
        err_console.print(f"Explanations written to {explain}")
    if plan.unplaced:
        emit(plan.shortfall, None, limit=shared.limit)
    print_remarks(data.remarks + list(plan.remarks))


@data_command(omit=("start", "end"))
def what_if(
    ctx: typer.Context,
    *,
    leave: LeaveOpt = None,
    as_of: AsOfOpt = None,
    shared: DataOptions,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random strategy.")] = 0,
    capacity: CapacityOpt = "patients",
    visits_per_day: VisitsPerDayOpt = None,
    working_days: WorkingDaysOpt = None,
    half_life_months: HalfLifeOpt = 12.0,
    practice_weight: PracticeWeightOpt = 0.5,
    same_practice: SamePracticeOpt = False,
    closed: ClosedOpt = None,
    candidates: CandidatesOpt = 8,
) -> None:
    """Compare the optimal plan for a departure with greedy, list-builder, most-spare and random reassignment."""
    from carethread.measures.rebalance import what_if as compare
    from carethread.wording import plural

    check_attribution(ctx, as_of, "plurality", 18, None)
    data = shared.read()
    with step("Comparing strategies"):
        result = compare(
            data.encounters,
            clinicians=data.clinicians,
            settings=shared.settings,
            as_of=as_of,
            leave=leave,
            seed=seed,
            capacity=capacity,
            visits_per_day=visits_per_day,
            working_days_per_year=working_days,
            half_life_months=half_life_months,
            practice_weight=practice_weight,
            same_practice=same_practice,
            closed=closed,
            candidates_per_patient=candidates,
        )
    out_console.print(
        f"If {plural(result.departing, 'clinician')} left on the planning date, "
        f"{plural(result.orphans, 'patient')} would need a new clinician:"
    )
    emit(result.table, shared.out, limit=shared.limit, order_by=())
    print_remarks(data.remarks + list(result.plans["optimal"].remarks))
