"""Options several commands share beyond the data options: the attribution date, rule and look-back, the minimum visits.

``--lookback`` became ``--lookback-months`` (units in names, as the Python
API's ``lookback_months``); the old name still works for one release, hidden
from ``--help``, and says so on stderr.
"""

from __future__ import annotations

from typing import Annotated

import typer

from carethread.cli.console import err_console
from carethread.errors import OptionError

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Attribution date (YYYY-MM-DD) [default: the day after the last encounter]."),
]
RuleOpt = Annotated[str, typer.Option("--rule", help="plurality, majority, recent or tiered.")]
LookbackMonthsOpt = Annotated[int, typer.Option("--lookback-months", help="Attribution look-back in months.")]
#: The deprecated name of --lookback-months, hidden from --help.
OldLookbackOpt = Annotated[int | None, typer.Option("--lookback", hidden=True)]
MinVisitsOpt = Annotated[int, typer.Option("--min-visits", help="Patients with fewer visits get null indices.")]
ConfirmOpt = Annotated[
    int,
    typer.Option(
        "--confirm",
        help="Later visits with the new clinician that confirm a switch; 0 lists attribution churn instead.",
    ),
]
ConfirmMonthsOpt = Annotated[
    int,
    typer.Option(
        "--confirm-months", help="Months from the first visit with the new clinician in which it is confirmed."
    ),
]
UsualMonthsOpt = Annotated[
    int,
    typer.Option("--usual-months", help="Months in which the usual clinician has 2 and over half of the visits."),
]
PeriodOpt = Annotated[
    str | None, typer.Option("--period", help="With --confirm 0: month, quarter or year [default: quarter].")
]
PopulationOpt = Annotated[
    str | None,
    typer.Option(
        "--population",
        help="sample (the extract holds only some of each clinician's patients: no who-needs-whom verdict, "
        "clinician side not measured) or complete [default: guessed from clinicians' visits per working day].",
    ),
]


def check_as_of(as_of: str | None) -> None:
    """``--as-of`` must be a date when given."""
    from carethread.options import as_timestamp

    as_timestamp(as_of, "as-of")


def check_attribution(
    ctx: typer.Context, as_of: str | None, rule: str, lookback_months: int, lookback: int | None
) -> int:
    """Check ``--as-of``, ``--rule`` and the look-back of attribute and panels; return the look-back in months."""
    from carethread.measures.attribution import RULES
    from carethread.options import check_rule

    check_as_of(as_of)
    check_rule(rule, RULES)
    return check_lookback(ctx, lookback_months, lookback)


def check_lookback(ctx: typer.Context, lookback_months: int, lookback: int | None, *, period: str | None = None) -> int:
    """The look-back from ``--lookback-months`` or the deprecated ``--lookback``, checked.

    ``lookback_months`` and ``lookback`` are the command's parameters of
    those names; ``ctx`` tells whether the first was given. Messages
    name the option as typed. With ``period`` (relationship breaks) the
    look-back must also cover one period.
    """
    from carethread.options import check_months, check_rule

    months, name = lookback_months, "lookback-months"
    if lookback is not None:
        if ctx.get_parameter_source("lookback_months").name != "DEFAULT":
            raise OptionError("--lookback is the old name of --lookback-months; give only --lookback-months.")
        err_console.print("Note: --lookback is deprecated and will be removed; use --lookback-months.")
        months, name = lookback, "lookback"
    if period is None:
        return check_months(months, name)
    from carethread.measures.breaks import PERIODS

    check_rule(period, PERIODS, "period")
    months = check_months(months, name)
    if months < PERIODS[period]:
        raise OptionError(f"--{name} ({months} months) must be at least one {period} ({PERIODS[period]} months).")
    return months
