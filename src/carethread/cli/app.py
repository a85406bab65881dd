"""The ``carethread`` application: its top-level options and its error boundary.

The top-level options (``--memory-limit``, ``--temp-dir``, ``--threads``,
``--batches``) become one :class:`Resources` in the typer context object, so
each invocation carries its own and nothing is left behind in the module for
the next one. Library errors become one line on stderr and an exit code here
and nowhere else: 0 ok, 1 data problem (or a result that could not be
written), 2 usage error, 130 stopped by Ctrl-C (SIGINT), 143 stopped by
SIGTERM. A signal stops a running query too
(:func:`carethread.engine.signals.stop_on_signals`), and a file being
written is discarded (:mod:`carethread.output`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from carethread import __version__
from carethread.cli.console import err_console, out_console
from carethread.errors import CarethreadError, OptionError

app = typer.Typer(
    name="carethread",
    help="Measure, explain and protect the doctor-patient relationship from encounter data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass(frozen=True)
class Resources:
    """What the embedded engine may use, from the top-level options (``None``: its default)."""

    memory_limit: str | None = None
    temp_dir: Path | None = None
    threads: int | None = None
    batches: int | None = None  # patient batches of the measures that batch (None: as the memory limit needs)

    @classmethod
    def of(cls, ctx: typer.Context) -> Resources:
        """The resources of this invocation (the defaults when the command runs without the app)."""
        return ctx.find_object(cls) or cls()

    def engine(self) -> dict[str, object]:
        """The keyword arguments of :func:`carethread.engine.connect` these resources set."""
        return {"memory_limit": self.memory_limit, "temp_dir": self.temp_dir, "threads": self.threads}


def _version(value: bool) -> None:
    if value:
        out_console.print(f"carethread {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            envvar="CARETHREAD_MEMORY_LIMIT",
            help="Memory the embedded DuckDB may use before spilling to --temp-dir, e.g. 8GB [default: 20% of RAM].",
        ),
    ] = None,
    temp_dir: Annotated[
        Path | None,
        typer.Option(
            "--temp-dir",
            envvar="CARETHREAD_TEMP_DIR",
            help="Folder for DuckDB to spill to [default: a private folder in the system temp folder].",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            envvar="CARETHREAD_THREADS",
            min=1,
            help="Threads for the embedded DuckDB [default: all cores].",
        ),
    ] = None,
    batches: Annotated[
        int | None,
        typer.Option(
            "--batches",
            envvar="CARETHREAD_BATCHES",
            min=1,
            help="Run patients, dyads and breaks on this many slices of patients, one at a time, to bound memory "
            "(embedded DuckDB) [default: as many as the input needs under --memory-limit].",
        ),
    ] = None,
) -> None:
    """Measure, explain and protect the doctor-patient relationship from encounter data."""
    ctx.obj = Resources(memory_limit=memory_limit, temp_dir=temp_dir, threads=threads, batches=batches)


#: What a stopped run says; outputs already complete stay, the one being written is discarded.
STOPPED = (
    "Error: stopped by {signal} before the run finished; no partial file was left "
    "(files completed before it stay). Run the command again to finish."
)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn library errors and signals into one line on stderr and the contract's exit code."""
    from carethread.engine.signals import EXIT_SIGINT, Terminated, stop_on_signals

    try:
        with stop_on_signals():
            yield
    except KeyboardInterrupt:
        err_console.print(STOPPED.format(signal="Ctrl-C (SIGINT)"))
        raise typer.Exit(EXIT_SIGINT) from None
    except Terminated as stop:
        err_console.print(STOPPED.format(signal="SIGTERM"))
        raise typer.Exit(stop.code) from None
    except OptionError as exc:
        err_console.print(f"Error: {exc}")
        raise typer.Exit(2) from None
    except CarethreadError as exc:
        err_console.print(f"Error: {exc}")
        raise typer.Exit(1) from None
    except Exception as exc:
        if os.environ.get("CARETHREAD_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            # A file the system refused: its path (given by the user, or under one) and the system's words.
            err_console.print(
                f"Error: {exc.filename}: {exc.strerror or type(exc).__name__}; check the path and its permissions."
            )
        else:
            # Engine messages can quote data values, so only the error's type is shown.
            err_console.print(
                f"Error: the computation failed ({type(exc).__name__}). "
                "Re-run with CARETHREAD_DEBUG=1 for details (they may contain data values)."
            )
        raise typer.Exit(1) from None
