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
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="File holding the pseudonym key (hex), created there on first use "
            "[default: one key per user, in the user's config folder].",
        ),
    ] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", hidden=True)] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of the report [default: Care relationships: <input name>].")
    ] = None,
    as_of: AsOfOpt = None,
    lookback_months: LookbackMonthsOpt = 18,
    lookback: OldLookbackOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the who-needs-whom intervals (at least 1).")
    ] = 200,
    shared: DataOptions,
    min_visits: MinVisitsOpt = 2,
) -> None:
    """One self-contained HTML report to share: who needs the relationship more, and where relationships break."""
    from carethread.options import check_options
    from carethread.output import check_out_path
    from carethread.reporting import ReportOptions
    from carethread.reporting import report as write_report

    if out.suffix.lower() not in (".html", ".htm"):
        raise OptionError(f"--out {out.name}: the report is an HTML file; give a name ending in .html.")
    check_out_path(out, suffixes=(".html", ".htm"))
    check_options(min_visits=min_visits)
    check_as_of(as_of)
    months = check_lookback(ctx, lookback_months, lookback)
    if bootstrap < 1:
        raise OptionError(
            f"--bootstrap {bootstrap}: the report shows intervals, which need at least 1 resample "
            "(200 by default; `carethread summary --bootstrap 0` gives the answer without intervals)."
        )
    secret = None if no_privacy else _pseudonym_key(key, key_file, shared.input_path)
    data = shared.read()
    source = shared.input_path.name if shared.input_path is not None else shared.schema or "database"
    options = ReportOptions(
        **shared.window(),
        as_of=as_of,
        lookback_months=months,
        min_visits=min_visits,
        privacy=not no_privacy,
        key=secret,
        title=title or f"Care relationships: {source}",
        bootstrap=bootstrap,
    )
    path = write_report(data, out=out, **asdict(options))
    err_console.print(f"Wrote {path}" + ("" if not no_privacy else " (privacy protections OFF: not for sharing)"))


def _pseudonym_key(key: Path | None, key_file: Path | None, input_path: Path | None) -> bytes:
    """The key of ``--key`` (or the deprecated ``--key-file``, which must exist), else the user's; said when new."""
    from carethread.privacy import stored_key

    if key_file is not None:
        if key is not None:
            raise OptionError("--key-file is the old name of --key; give only --key.")
        err_console.print("Note: --key-file is deprecated and will be removed; use --key.")
        if not key_file.is_file():
            raise OptionError(
                f"--key-file {key_file}: no such file; write the key (hex) into it or leave the option out."
            )
        key = key_file
    stored = stored_key(key, data_path=input_path)
    if stored.notice():
        err_console.print(stored.notice())
    return stored.key
