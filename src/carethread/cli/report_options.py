"""Options of the commands that write the HTML report (``report`` and ``all``), declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carethread.errors import OptionError

NoPrivacyOpt = Annotated[
    bool,
    typer.Option(
        "--no-privacy",
        help="Show real clinician and practice ids and exact small counts; every page then says NOT FOR SHARING.",
    ),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="File holding the pseudonym key (hex), created there on first use "
        "[default: one key per user, in the user's config folder].",
    ),
]
#: The old name of ``--key``, hidden; the file must exist.
KeyFileOpt = Annotated[Path | None, typer.Option("--key-file", hidden=True)]
TitleOpt = Annotated[
    str | None, typer.Option("--title", help="Title of the report [default: Care relationships: <input name>].")
]
BootstrapOpt = Annotated[
    int, typer.Option("--bootstrap", help="Bootstrap resamples for the who-needs-whom intervals (at least 1).")
]
TrendYearsOpt = Annotated[
    int | None,
    typer.Option(
        "--trend-years", min=0, help="Years of data the report's trends cover, the latest; 0 for all [default: 5]."
    ),
]


def trend_years_of(value: int | None) -> int | None:
    """``--trend-years`` as the library takes it: the default when not given, ``None`` (all) for 0."""
    from carethread.run.windows import TREND_YEARS

    return TREND_YEARS if value is None else (value or None)


def check_bootstrap(bootstrap: int) -> None:
    """A report shows intervals: ``--bootstrap`` must be at least 1."""
    if bootstrap < 1:
        raise OptionError(
            f"--bootstrap {bootstrap}: the report shows intervals, which need at least 1 resample "
            "(200 by default; `carethread summary --bootstrap 0` gives the answer without intervals)."
        )


def pseudonym_key(input_path: Path | None, key: Path | None, key_file: Path | None, no_privacy: bool) -> bytes | None:
    """The report's pseudonym key: ``--key`` (or the deprecated ``--key-file``, which must exist), else the
    user's (said when new); none without privacy."""
    from carethread.cli.console import err_console
    from carethread.privacy import stored_key

    if no_privacy:
        return None
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


def source_name(input_path: Path | None, schema: str | None) -> str:
    """The input's name in a report's default title."""
    return input_path.name if input_path is not None else schema or "database"
