"""``carethread report``: the shareable HTML report of an input.

The command gathers its options into one
:class:`~carethread.reporting.ReportOptions` and hands it, with the data it
read, to :func:`carethread.reporting.report`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from carethread.cli.console import err_console
from carethread.cli.data_options import DataOptions, data_command
from carethread.cli.measure_options import (
    AsOfOpt,
    LookbackMonthsOpt,
    MinVisitsOpt,
    OldLookbackOpt,
    check_as_of,
    check_lookback,
)
from carethread.errors import OptionError


@data_command(omit=("out", "limit"))
def report(
    ctx: typer.Context,
    *,
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
            help="File holding the pseudonym key (hex) "
            "[default: .carethread-key beside the data, created on first use].",
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of the report [default: Care relationships: <input name>].")
    ] = None,
    as_of: AsOfOpt = None,
    lookback_months: LookbackMonthsOpt = 18,
    lookback: OldLookbackOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the who-needs-whom intervals.")
    ] = 200,
    shared: DataOptions,
    min_visits: MinVisitsOpt = 2,
) -> None:
    """One self-contained HTML report to share: who needs the relationship more, and where relationships break."""
    from carethread.options import check_options
    from carethread.privacy import load_or_create_key
    from carethread.reporting import ReportOptions
    from carethread.reporting import report as write_report

    if out.suffix.lower() not in (".html", ".htm"):
        raise OptionError(f"--out {out.name}: the report is an HTML file; give a name ending in .html.")
    check_options(min_visits=min_visits)
    check_as_of(as_of)
    months = check_lookback(ctx, lookback_months, lookback)
    if key_file is not None and not key_file.is_file():
        raise OptionError(f"--key-file {key_file}: no such file; write the key (hex) into it or leave the option out.")
    key = key_file.read_text().strip() if key_file is not None else None
    data = shared.read()
    source = shared.input_path.name if shared.input_path is not None else shared.schema or "database"
    options = ReportOptions(
        **shared.window(),
        as_of=as_of,
        lookback_months=months,
        min_visits=min_visits,
        privacy=not no_privacy,
        key=load_or_create_key(shared.input_path, key=key) if not no_privacy else None,
        title=title or f"Care relationships: {source}",
        bootstrap=bootstrap,
    )
    path = write_report(data, out=out, **asdict(options))
    err_console.print(f"Wrote {path}" + ("" if not no_privacy else " (privacy protections OFF: not for sharing)"))
