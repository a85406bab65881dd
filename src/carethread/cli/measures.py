"""The measure commands: patients, attribute, panels, dyads, breaks and summary.

Each gets its input, window and output through :class:`DataOptions`, checks
its own options, calls one library measure and prints or writes the result,
then the remarks. The first line each prints is the window and settings it
used, and a file it writes carries them in its metadata: the current
picture (patients, attribute, panels, dyads, summary) covers the
attribution window, breaks all the data (:mod:`carethread.run.windows`).
Library modules are imported inside the commands, so ``--help`` does not
wait for Ibis.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.console import emit, err_console, out_console, print_remarks, say_window, step
from carethread.cli.data_options import DataOptions, data_command
from carethread.cli.measure_options import (
    AsOfOpt,
    ConfirmMonthsOpt,
    ConfirmOpt,
    LookbackMonthsOpt,
    MinVisitsOpt,
    OldLookbackOpt,
    PeriodOpt,
    PopulationOpt,
    RuleOpt,
    UsualMonthsOpt,
    check_as_of,
    check_attribution,
    check_lookback,
)


def current(data, shared: DataOptions, *, as_of=None, lookback_months: int = 18):
    """The current picture's window of this command (the attribution window, --start/--end replacing a side)."""
    from carethread.run.windows import current_window

    return current_window(data.encounters, **shared.window(), as_of=as_of, lookback_months=lookback_months)


def computed_in_batches(message: str, measure: Callable, data, shared: DataOptions, **options):
    """``measure`` of the encounters, run by :func:`carethread.batches.run_in_batches`, cached.

    The number of patient batches is the library's plan (or ``--batches``);
    it is said on stderr when there is more than one.
    """
    from carethread.batches import plan, run_in_batches

    forced = shared.resources.batches
    n_encounters = sum(count.accepted for count in data.counts)
    batches = plan(data.encounters._find_backend(), n_encounters, measure, forced=forced)
    if batches > 1:
        why = "as --batches asks" if forced else "to stay within the memory limit; --batches overrides"
        err_console.print(f"Computing in {batches} patient batches ({why})")
        message += f" in {batches} patient batches"
    with step(message), run_in_batches(measure, data.encounters, batches=batches, **options) as result:
        return result.cache()


@data_command()
def patients(
    *,
    shared: DataOptions,
    min_visits: MinVisitsOpt = 2,
    level: Annotated[str, typer.Option("--level", help="clinician or practice.")] = "clinician",
    known_lookback_days: Annotated[
        int, typer.Option("--known-lookback-days", help="Look-back of known-provider continuity.")
    ] = 365,
    care_density: Annotated[
        bool,
        typer.Option(
            "--care-density", help="Add care_density (Pollack 2013; over every setting unless --settings is given)."
        ),
    ] = False,
) -> None:
    """One row per patient: visits, clinicians, usual clinician and every continuity index."""
    from carethread.measures.continuity import patient_continuity, patient_continuity_remarks
    from carethread.options import check_options

    check_options(min_visits=min_visits, level=level, known_lookback_days=known_lookback_days)
    data = shared.read()
    window = current(data, shared)
    say_window(window.line(), out=shared.out)
    options = dict(settings=shared.settings, **window.bounds(), min_visits=min_visits, level=level)
    result = computed_in_batches(
        "Computing patient continuity",
        patient_continuity,
        data,
        shared,
        known_lookback_days=known_lookback_days,
        **options,
    )
    if care_density:
        from carethread.cli.network import with_care_density

        result = with_care_density(result, data, shared)
    emit(result, shared.out, limit=shared.limit, metadata=window.metadata())
    print_remarks(data.remarks + patient_continuity_remarks(data.encounters, result, **options))


@data_command(omit=("start", "end"))
def attribute(
    ctx: typer.Context,
    *,
    as_of: AsOfOpt = None,
    rule: RuleOpt = "plurality",
    lookback_months: LookbackMonthsOpt = 18,
    lookback: OldLookbackOpt = None,
    ranking: Annotated[
        Path | None, typer.Option("--ranking", help="Also write the full auditable ranking (.csv or .parquet).")
    ] = None,
    shared: DataOptions,
) -> None:
    """Assign each patient to one clinician (panel attribution) as of a date."""
    from carethread.measures import attribution
    from carethread.output import check_out_path, write_table

    if ranking is not None:
        check_out_path(ranking, option="--ranking")
    months = check_attribution(ctx, as_of, rule, lookback_months, lookback)
    data = shared.read()
    window = current(data, shared, as_of=as_of, lookback_months=months)
    say_window(window.line(), out=shared.out)
    options = dict(
        as_of=window.as_of, rule=rule, lookback_months=months, settings=shared.settings, clinicians=data.clinicians
    )
    with step("Attributing patients"):
        result = attribution.attribute(data.encounters, **options).cache()
    emit(result, shared.out, limit=shared.limit, metadata=window.metadata())
    if ranking is not None:
        write_table(attribution.attribution_ranking(data.encounters, **options), ranking, metadata=window.metadata())
        err_console.print(f"Ranking written to {ranking}")
    print_remarks(data.remarks + attribution.attribution_remarks(data.encounters, result, **options))


@data_command(omit=("start", "end"))
def panels(
    ctx: typer.Context,
    *,
    as_of: AsOfOpt = None,
    rule: RuleOpt = "plurality",
    lookback_months: LookbackMonthsOpt = 18,
    lookback: OldLookbackOpt = None,
    rollup: Annotated[
        str, typer.Option("--rollup", help="clinician (one row each), practice or system.")
    ] = "clinician",
    shared: DataOptions,
) -> None:
    """One row per clinician: panel size, provider- and patient-side continuity, load."""
    from carethread.errors import OptionError
    from carethread.measures.panels import panel_rollup
    from carethread.measures.panels import panels as panel_table

    if rollup not in ("clinician", "practice", "system"):
        raise OptionError(f"--rollup must be clinician, practice or system, not {rollup!r}.")
    months = check_attribution(ctx, as_of, rule, lookback_months, lookback)
    data = shared.read()
    window = current(data, shared, as_of=as_of, lookback_months=months)
    say_window(window.line(), out=shared.out)
    with step("Computing panels"):
        result = panel_table(
            data.encounters,
            clinicians=data.clinicians,
            settings=shared.settings,
            as_of=window.as_of,
            rule=rule,
            lookback_months=months,
        )
        if rollup != "clinician":
            result = panel_rollup(result, by=rollup)
    emit(result.cache(), shared.out, limit=shared.limit, metadata=window.metadata())
    print_remarks(data.remarks)


@data_command()
def dyads(*, shared: DataOptions) -> None:
    """Every patient-clinician pair: visits, dependence on each side, duration and gaps."""
    from carethread.measures.dyads import dyads as dyad_table

    data = shared.read()
    window = current(data, shared)
    say_window(window.line(), out=shared.out)
    result = computed_in_batches(
        "Computing dyads", dyad_table, data, shared, settings=shared.settings, **window.bounds()
    )
    emit(result, shared.out, limit=shared.limit, metadata=window.metadata())
    print_remarks(data.remarks)


@data_command()
def breaks(
    ctx: typer.Context,
    *,
    confirm: ConfirmOpt = 1,
    confirm_months: ConfirmMonthsOpt = 18,
    usual_months: UsualMonthsOpt = 24,
    period: PeriodOpt = None,
    lookback_months: Annotated[
        int | None,
        typer.Option("--lookback-months", help="With --confirm 0: attribution look-back in months [default: 18]."),
    ] = None,
    lookback: OldLookbackOpt = None,
    shared: DataOptions,
) -> None:
    """Relationship breaks: each confirmed change of a patient's usual clinician or lapse, dated, with its cause."""
    from carethread.measures.breaks import BREAK_ORDER, check_break_options, relationship_breaks
    from carethread.run.windows import all_data_window

    options = dict(confirm=confirm, confirm_months=confirm_months, usual_months=usual_months)
    if period is not None or lookback_months is not None or lookback is not None:
        months = 18 if lookback_months is None else lookback_months
        months = check_lookback(ctx, months, lookback, period="quarter" if period is None else period)
        options.update(period=period, lookback_months=months)
    check_break_options(**options)
    data = shared.read()
    window = all_data_window(data.encounters, **shared.window())
    say_window(window.line(), out=shared.out)
    result = computed_in_batches(
        "Tracking attribution period by period" if confirm == 0 else "Following each patient's usual clinician",
        relationship_breaks,
        data,
        shared,
        clinicians=data.clinicians,
        **shared.window(),
        **options,
    )
    # Each patient's breaks in time order.
    emit(result, shared.out, limit=shared.limit, order_by=BREAK_ORDER, metadata=window.metadata(**options))
    print_remarks(data.remarks)


@data_command(omit=("limit",))
def summary(
    *,
    as_of: AsOfOpt = None,
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", min=0, help="Bootstrap resamples over patients for the intervals; 0 for none."),
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    population: PopulationOpt = None,
    shared: DataOptions,
) -> None:
    """Who needs the relationship more? The population answer, with bootstrap intervals."""
    import ibis

    from carethread.output import is_stdout
    from carethread.summary import who_needs_whom_from_encounters
    from carethread.summary.population import check_population

    check_as_of(as_of)
    check_population(population)
    data = shared.read()
    window = current(data, shared, as_of=as_of)
    say_window(window.line(), out=shared.out)
    with step("Weighing both sides of every relationship"):
        answer = who_needs_whom_from_encounters(
            data.encounters,
            clinicians=data.clinicians,
            **shared.window(),
            as_of=as_of,
            bootstrap=bootstrap,
            seed=seed,
            population=population,
        )
    # With --out - stdout is the CSV alone; the headline goes with the other messages.
    (err_console if is_stdout(shared.out) else out_console).print(answer.headline)
    if bootstrap == 0:
        err_console.print("No intervals: --bootstrap 0 skips the bootstrap (ci_low and ci_high are empty).")
    emit(ibis.memtable(answer.table), shared.out, limit=50, order_by=(), metadata=window.metadata())
    print_remarks(data.remarks + list(answer.remarks))
