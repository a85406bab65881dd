"""The CLI reference (docs/cli.md), generated from the commands' own ``--help``.

Regenerate with ``python -m carethread.cli_reference > docs/cli.md``; a test
fails when the committed file differs, so the reference cannot drift.
"""

from __future__ import annotations

import os

from typer.main import get_command
from typer.testing import CliRunner

from carethread.cli import app

#: Help is rendered at a fixed width so the file is the same on every machine.
WIDTH = "100"


def command_names() -> list[str]:
    """Every ``carethread`` subcommand, in the order ``--help`` lists them."""
    return list(get_command(app).commands)


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": WIDTH, "TERM": "dumb"})
    return result.stdout.rstrip()


def render() -> str:
    """The Markdown reference: the top-level help, then each command's."""
    parts = [
        "# carethread command-line reference",
        "",
        "Generated from `--help` by `python -m carethread.cli_reference`; do not edit by hand.",
        "",
        "```text",
        _help(),
        "```",
    ]
    for name in command_names():
        parts += ["", f"## carethread {name}", "", "```text", _help(name), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("COLUMNS", WIDTH)
    print(render(), end="")
