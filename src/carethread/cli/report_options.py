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
KeyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File holding the pseudonym key (hex) [default: .carethread-key beside the data, created on first use].",
    ),
]
TitleOpt = Annotated[
    str | None, typer.Option("--title", help="Title of the report [default: Care relationships: <input name>].")
]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for the who-needs-whom intervals.")]
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


def pseudonym_key(input_path: Path | None, key_file: Path | None, no_privacy: bool) -> bytes | None:
    """The report's pseudonym key: ``--key-file``, else the stored one (made on first use); none without privacy."""
    from carethread.privacy import load_or_create_key

    if key_file is not None and not key_file.is_file():
        raise OptionError(f"--key-file {key_file}: no such file; write the key (hex) into it or leave the option out.")
    if no_privacy:
        return None
    return load_or_create_key(input_path, key=key_file.read_text().strip() if key_file is not None else None)


def source_name(input_path: Path | None, schema: str | None) -> str:
    """The input's name in a report's default title."""
    return input_path.name if input_path is not None else schema or "database"
