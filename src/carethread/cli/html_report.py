"""``carethread report``: the shareable HTML report of an input.

The command gathers its options into one
:class:`~carethread.reporting.ReportOptions` and hands it, with the data it
read, to :func:`carethread.reporting.report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.console import err_console, say_window
from carethread.cli.data_options import DataOptions, data_command
from carethread.cli.measure_options import (
    AsOfOpt,
    LookbackMonthsOpt,
    MinVisitsOpt,
    OldLookbackOpt,
    PopulationOpt,
    check_as_of,
    check_lookback,
)
from carethread.cli.report_options import (
    BootstrapOpt,
    KeyFileOpt,
    KeyOpt,
    NoPrivacyOpt,
    TitleOpt,
    TrendYearsOpt,
    check_bootstrap,
    pseudonym_key,
    source_name,
    trend_years_of,
)
from carethread.errors import OptionError


@data_command(omit=("out", "limit"))
def report(
    ctx: typer.Context,
    *,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    no_privacy: NoPrivacyOpt = False,
    key: KeyOpt = None,
    key_file: KeyFileOpt = None,
    title: TitleOpt = None,
    as_of: AsOfOpt = None,
    lookback_months: LookbackMonthsOpt = 18,
    lookback: OldLookbackOpt = None,
    bootstrap: BootstrapOpt = 200,
    population: PopulationOpt = None,
    trend_years: TrendYearsOpt = None,
    shared: DataOptions,
    min_visits: MinVisitsOpt = 2,
) -> None:
    """One self-contained HTML report to share: who needs the relationship more, and where relationships break."""
    from carethread.options import check_options
    from carethread.output import check_out_path
    from carethread.reporting import ReportOptions, write_report
    from carethread.run.windows import all_data_window, current_window, over_time_line
    from carethread.summary.population import check_population

    if out.suffix.lower() not in (".html", ".htm"):
        raise OptionError(f"--out {out.name}: the report is an HTML file; give a name ending in .html.")
    check_out_path(out, suffixes=(".html", ".htm"))
    check_options(min_visits=min_visits)
    check_as_of(as_of)
    check_population(population)
    months = check_lookback(ctx, lookback_months, lookback)
    check_bootstrap(bootstrap)
    secret = pseudonym_key(shared.input_path, key, key_file, no_privacy)
    years = trend_years_of(trend_years)
    data = shared.read()
    say_window(
        current_window(data.encounters, **shared.window(), as_of=as_of, lookback_months=months).line(),
        over_time_line(all_data_window(data.encounters, **shared.window()), years),
    )
    options = ReportOptions(
        **shared.window(),
        as_of=as_of,
        lookback_months=months,
        min_visits=min_visits,
        privacy=not no_privacy,
        key=secret,
        title=title or f"Care relationships: {source_name(shared.input_path, shared.schema)}",
        bootstrap=bootstrap,
        population=population,
        trend_years=years,
    )
    path = write_report(data, options, out=out, source=shared.input_path)
    err_console.print(f"Wrote {path}" + ("" if not no_privacy else " (privacy protections OFF: not for sharing)"))
