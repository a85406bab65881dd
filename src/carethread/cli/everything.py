"""``carethread all``: every measure, the answer, the report and a manifest, from one input read once.

The command checks its options, reads the input through :class:`DataOptions`
and hands it to :func:`carethread.run_all`; it prints the window first, then
the report's headline word for word and the numbers beside it
(:mod:`carethread.run.story`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.console import out_console, print_remarks, step
from carethread.cli.data_options import DataOptions, data_command
from carethread.cli.measure_options import (
    AsOfOpt,
    ConfirmMonthsOpt,
    ConfirmOpt,
    LookbackMonthsOpt,
    MinVisitsOpt,
    PeriodOpt,
    PopulationOpt,
    RuleOpt,
    UsualMonthsOpt,
    check_attribution,
)
from carethread.cli.report_options import (
    BootstrapOpt,
    KeyOpt,
    NoPrivacyOpt,
    TitleOpt,
    TrendYearsOpt,
    check_bootstrap,
    pseudonym_key,
    source_name,
    trend_years_of,
)


@data_command(omit=("out", "limit"))
def run_everything(
    ctx: typer.Context,
    *,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write every table, the report and manifest.json into.")
    ] = Path("carethread-out"),
    as_of: AsOfOpt = None,
    rule: RuleOpt = "plurality",
    lookback_months: LookbackMonthsOpt = 18,
    confirm: ConfirmOpt = 1,
    confirm_months: ConfirmMonthsOpt = 18,
    usual_months: UsualMonthsOpt = 24,
    period: PeriodOpt = None,
    population: PopulationOpt = None,
    bootstrap: BootstrapOpt = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    trend_years: TrendYearsOpt = None,
    no_privacy: NoPrivacyOpt = False,
    key: KeyOpt = None,
    title: TitleOpt = None,
    shared: DataOptions,
    min_visits: MinVisitsOpt = 2,
) -> None:
    """Every measure, the who-needs-whom answer, the report and a manifest, from one input read once."""
    from carethread.measures.breaks import check_break_options
    from carethread.options import check_options
    from carethread.output import check_out_folder
    from carethread.run.pipeline import run_all
    from carethread.run.story import console_lines
    from carethread.summary.population import check_population

    months = check_attribution(ctx, as_of, rule, lookback_months, None)
    check_options(min_visits=min_visits)
    breaks = dict(confirm=confirm, confirm_months=confirm_months, usual_months=usual_months, period=period)
    check_break_options(**breaks, **({"lookback_months": months} if confirm == 0 else {}))
    check_population(population)
    check_bootstrap(bootstrap)
    check_out_folder(out)
    secret = pseudonym_key(shared.input_path, key, None, no_privacy)
    data = shared.read()
    result = run_all(
        data,
        out=out,
        settings=shared.settings,
        start=shared.start,
        end=shared.end,
        as_of=as_of,
        lookback_months=months,
        rule=rule,
        **breaks,
        min_visits=min_visits,
        population=population,
        bootstrap=bootstrap,
        seed=seed,
        trend_years=trend_years_of(trend_years),
        privacy=not no_privacy,
        key=secret,
        title=title or f"Care relationships: {source_name(shared.input_path, shared.schema)}",
        batches=shared.resources.batches,
        source=shared.input_path,
        progress=step,
    )
    for line in console_lines(result):
        out_console.print(line)
    print_remarks(list(result.shown.remarks))
