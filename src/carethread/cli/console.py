"""What the command line prints: results on stdout, everything else on stderr.

Results go to stdout so they can be piped; progress, reconciliation counts,
remarks and errors go to stderr. Both consoles write to whichever stream is
``sys.stdout`` / ``sys.stderr`` when they print, so a test runner that swaps
the streams captures them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

#: Width of result tables when stdout is neither a terminal nor told its width (``COLUMNS``):
#: piped output is read by programs and people alike, so it is wide, but bounded.
PIPED_WIDTH = 240


def table_width() -> int:
    """Columns a result table may use: ``COLUMNS`` when set, else the terminal's width, else :data:`PIPED_WIDTH`.

    >>> import os
    >>> before = os.environ.get("COLUMNS"); os.environ["COLUMNS"] = "80"
    >>> table_width()
    80
    >>> _ = os.environ.pop("COLUMNS"); os.environ.update({} if before is None else {"COLUMNS": before})
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return out_console.width if out_console.is_terminal else PIPED_WIDTH


@contextlib.contextmanager
def step(message: str) -> Iterator[None]:
    """A spinner on a terminal; nothing when piped."""
    if err_console.is_terminal:
        with err_console.status(message):
            yield
    else:
        yield


def print_remarks(remarks: list[str]) -> None:
    """The numbered data-quality remarks, if any, on stderr."""
    if remarks:
        err_console.print("Remarks:")
        for i, remark in enumerate(remarks, 1):
            err_console.print(f"  {i}. {remark}")


def emit(
    table,
    out: Path | None,
    *,
    limit: int,
    order_by: Sequence[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Print up to ``limit`` rows of ``table`` in ``order_by`` order (default: every column, first to
    last; ``()``: the table's own), or write all of it to ``out`` (.csv or .parquet; ``-``: CSV on stdout)
    with ``metadata`` (the window and settings it describes; not on stdout)."""
    from carethread.cli.table import print_table
    from carethread.output import is_stdout, write_table

    if out is None:
        print_table(table, out_console, limit=limit, order_by=order_by, width=table_width())
    elif is_stdout(out):
        with step("Writing CSV to standard output"):
            write_table(table, out)
    else:
        with step(f"Writing {out.name}"):
            write_table(table, out, metadata=metadata)
        err_console.print(f"Wrote {out}")


def say_window(*lines: str, out: Path | None = None) -> None:
    """The window and settings a command used: its first lines on stdout (on stderr when stdout carries
    the data, ``--out -``)."""
    from carethread.output import is_stdout

    console = err_console if is_stdout(out) else out_console
    for line in lines:
        console.print(line)
