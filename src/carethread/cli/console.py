"""What the command line prints: results on stdout, everything else on stderr.

Results go to stdout so they can be piped; progress, reconciliation counts,
remarks and errors go to stderr. Both consoles write to whichever stream is
``sys.stdout`` / ``sys.stderr`` when they print, so a test runner that swaps
the streams captures them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console

out_console = Console(highlight=False, soft_wrap=True)
if not out_console.is_terminal:
    # Piped output is read by programs and people alike: never truncate columns.
    out_console = Console(highlight=False, soft_wrap=True, width=240)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


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
    last; ``()``: the table's own), or write all of it to ``out`` (.csv or .parquet) with ``metadata``
    (the window and settings it describes)."""
    from carethread.output import print_table, write_table

    if out is None:
        print_table(table, out_console, limit=limit, order_by=order_by)
    else:
        with step(f"Writing {out.name}"):
            write_table(table, out, metadata=metadata)
        err_console.print(f"Wrote {out}")


def say_window(*lines: str, out: Path | None = None) -> None:
    """The window and settings a command used: its first lines on stdout (on stderr when stdout carries
    the data, ``--out -``)."""
    console = err_console if out is not None and str(out) == "-" else out_console
    for line in lines:
        console.print(line)
