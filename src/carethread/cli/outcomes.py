"""The ``outcomes`` command: what the relationship is worth, as a cohort study on the input."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.console import emit, err_console, out_console, print_remarks, step
from carethread.cli.data_options import DataOptions, data_command

SIDES = ("patient", "relationships", "clinician")


@data_command(omit=("start", "end"))
def outcomes(
    *,
    design: Annotated[
        str | None,
        typer.Option("--design", help="barker2017, bazemore2018, nyweide2013 or sandvik2022 (sets all below)."),
    ] = None,
    exposure: Annotated[
        str | None, typer.Option("--exposure", help="upc, coc, secon, mmci, hhi, k_index, known_provider or duration.")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="ed_visits, admissions, death or events (a comma list fits each).")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="poisson, negbin, logistic or cox.")] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Baseline window START:END [default: 12 months before --followup].")
    ] = None,
    followup: Annotated[
        str | None, typer.Option("--followup", help="Follow-up window START:END [default: the last 24 months].")
    ] = None,
    covariates: Annotated[
        str | None, typer.Option("--covariates", help="Columns of the patients table to adjust for: col,col.")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="CSV or Parquet of dated events per patient (patient_id, start).")
    ] = None,
    events_map: Annotated[
        str | None, typer.Option("--events-map", help="Column names of --events, as --map: start=received.")
    ] = None,
    min_visits: Annotated[int | None, typer.Option("--min-visits", help="Baseline visits to enter the cohort.")] = None,
    min_age: Annotated[float | None, typer.Option("--min-age", help="Youngest age at the follow-up's start.")] = None,
    max_age: Annotated[float | None, typer.Option("--max-age", help="Oldest age at the follow-up's start.")] = None,
    unadjusted: Annotated[bool, typer.Option("--unadjusted", help="Fit the exposure alone, no covariate.")] = False,
    side: Annotated[
        str,
        typer.Option("--side", help="patient (outcomes), relationships (their survival) or clinician (tenure)."),
    ] = "patient",
    shared: DataOptions,
) -> None:
    """What the relationship is worth: outcome rates, odds or hazards by baseline continuity (IRR, OR, HR)."""
    from carethread.options import check_rule
    from carethread.outcomes.study import resolve_design
    from carethread.outcomes.windows import parse_window

    check_rule(side, SIDES, "side")
    resolve_design(design, exposure=exposure, outcome=outcome, model=model, min_visits=min_visits)
    parse_window(baseline, "baseline")
    parse_window(followup, "followup")
    data = shared.read()
    if side == "relationships":
        return _relationships(data, shared)
    if side == "clinician":
        return _clinician(data, shared, baseline=baseline, followup=followup, design=design)
    from carethread.outcomes import outcomes as study
    from carethread.outcomes.remarks import outcomes_remarks

    options = dict(
        design=design, exposure=exposure, outcome=outcome, model=model, baseline=baseline, followup=followup,
        min_visits=min_visits, min_age=min_age, max_age=max_age,
    )  # fmt: skip
    table = _events(events, events_map, data, shared)
    names = tuple(c.strip() for c in (covariates or "").split(",") if c.strip())
    with step("Fitting the outcome models"):
        result = study(
            data.encounters,
            clinicians=data.clinicians,
            settings=shared.settings,
            patients=data.patients,
            covariates=names,
            events=table,
            unadjusted=unadjusted,
            **options,
        ).cache()
    emit(result, shared.out, limit=max(shared.limit, 100), order_by=())
    print_remarks(data.remarks + outcomes_remarks(data.encounters, result, **options))


def _events(path: Path | None, mapping: str | None, data, shared: DataOptions):
    """The ``--events`` table, read and reconciled like the input (its quarantine joins ``--quarantine``)."""
    if path is None:
        return None
    from carethread.outcomes.events import read_events
    from carethread.output import write_table

    with step("Reading and validating the events"):
        table, read = read_events(
            path,
            con=data.encounters._find_backend(),
            mapping=mapping,
            extraction_date=shared.extraction_date,
            date_format=shared.date_format,
        )
    err_console.print(read.reconciliation())
    data.remarks.extend(read.remarks)
    if shared.quarantine is not None and read.n_quarantined:
        events_quarantine = shared.quarantine.with_name(f"{shared.quarantine.stem}-events{shared.quarantine.suffix}")
        write_table(read.quarantine, events_quarantine)
        err_console.print(f"Events quarantine written to {events_quarantine}")
    return table


def _relationships(data, shared: DataOptions) -> None:
    import ibis

    from carethread.cli.measures import computed_in_batches
    from carethread.measures.breaks import relationship_breaks
    from carethread.outcomes.survival import relationship_survival

    # The breaks follow each patient through time: in patient batches on a large input, like `carethread breaks`.
    breaks = computed_in_batches(
        "Finding the relationship breaks", relationship_breaks, data, shared, clinicians=data.clinicians,
        settings=shared.settings,
    )  # fmt: skip
    with step("Following every relationship to its break"):
        curve = relationship_survival(
            data.encounters, clinicians=data.clinicians, settings=shared.settings, breaks=breaks
        )
    emit(ibis.memtable(curve), shared.out, limit=shared.limit, order_by=())
    print_remarks(
        [
            *data.remarks,
            "Relationships are counted from their first visit in the data: those already running when the data "
            "begin are left-censored, so the curve understates how long relationships last.",
        ]
    )


def _clinician(data, shared: DataOptions, *, baseline, followup, design) -> None:
    from carethread.outcomes.clinician import ASSOCIATION, tenure_hazards
    from carethread.outcomes.study import resolve_design
    from carethread.outcomes.windows import study_windows

    chosen = resolve_design(design)
    windows = study_windows(
        data.encounters,
        baseline=baseline,
        followup=followup,
        baseline_months=chosen.baseline_months,
        followup_months=chosen.followup_months,
    )
    with step("Following clinicians from the end of the baseline"):
        result = tenure_hazards(
            data.encounters, clinicians=data.clinicians, settings=shared.settings, as_of=windows.followup_start
        ).cache()
    out_console.print(ASSOCIATION)
    emit(result, shared.out, limit=shared.limit, order_by=())
    print_remarks([*data.remarks, f"Continuity and load as of {windows.followup_start:%Y-%m-%d}. {ASSOCIATION}"])
