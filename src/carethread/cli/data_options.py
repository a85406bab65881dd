"""The options every command that reads data shares, declared once.

:class:`DataOptions` is both the declaration and the value: each field is
one command-line option (its typer annotation says its name and help), in
the order ``--help`` lists them. :func:`data_command` adds those options to a
command and hands the command one :class:`DataOptions`, checked; the command
then checks only its own options, calls one library function and formats the
result::

    @data_command(omit=("start", "end"))
    def attribute(*, as_of: AsOfOpt = None, shared: DataOptions) -> None:
        data = shared.read()
        ...

A command's own options declared before its :class:`DataOptions` parameter
are listed right after INPUT; those declared after it, after the window
options (``--start``, ``--end``) and before ``--quarantine``.
"""

from __future__ import annotations

import functools
import glob
import inspect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_type_hints

import typer
from typer.models import ParameterInfo

from carethread.cli.app import Resources, reported
from carethread.cli.console import err_console, print_remarks, step
from carethread.errors import CarethreadError, InputError, OptionError

if TYPE_CHECKING:
    from carethread.data import CanonicalData


@dataclass(frozen=True)
class DataOptions:
    """The shared options of one data command, as given (fields in ``--help`` order)."""

    input_path: Annotated[
        Path | None,
        typer.Argument(
            metavar="input",
            help="A file, a glob or a folder of encounter data; "
            "omit it to read OMOP tables from --engine or --database.",
            show_default=False,
        ),
    ] = None
    input_format: Annotated[str, typer.Option("--format", help="auto, generic, synthea, fhir or omop.")] = "auto"
    engine: Annotated[
        str | None, typer.Option("--engine", help="Ibis URL (e.g. postgres://...); default embedded DuckDB.")
    ] = None
    database: Annotated[Path | None, typer.Option("--database", help="DuckDB database file instead of memory.")] = None
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Database schema holding the OMOP CDM tables (with --engine, --database or a .duckdb INPUT).",
        ),
    ] = None
    column_map: Annotated[str | None, typer.Option("--map", help="Column names: patient_id=PAT_ID,start=VISIT_DT.")] = (
        None
    )
    visit_concepts: Annotated[
        str | None,
        typer.Option(
            "--visit-concepts",
            help="OMOP visit_concept_id settings: 38004207=specialty,262=inpatient, or a file of such lines.",
        ),
    ] = None
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to a .csv or .parquet file instead of printing; - writes CSV to stdout."),
    ] = None
    settings: Annotated[
        str | None,
        typer.Option("--settings", help="Comma list of settings that count as visits [default: primary_care,virtual]."),
    ] = None
    start: Annotated[str | None, typer.Option("--start", help="Window start date, inclusive (YYYY-MM-DD).")] = None
    end: Annotated[str | None, typer.Option("--end", help="Window end date, exclusive (YYYY-MM-DD).")] = None
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", help="Write rejected rows (with reasons) to this .csv or .parquet file."),
    ] = None
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any row was rejected.")] = False
    extraction_date: Annotated[
        str | None,
        typer.Option(
            "--extraction-date", help="Day the data was extracted; later dates are rejected [default: today]."
        ),
    ] = None
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="strptime pattern for dates, e.g. %d/%m/%Y; auto finds one pattern that reads every date.",
        ),
    ] = None
    setting_map: Annotated[
        str | None,
        typer.Option(
            "--setting-map",
            help='Care settings of the extract\'s own codes: "Office Visit=primary_care,ED=emergency", '
            "or a file of such lines.",
        ),
    ] = None
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to print when there is no --out.")] = 20
    #: The top-level options of this invocation (from the typer context), not an option of the command.
    resources: Resources = field(default_factory=Resources)

    def check(self) -> None:
        """Check the options that need no data: the output paths, the settings and the window.

        The output paths are checked where they will be written (not a
        folder, in a folder that takes files) before anything is computed.
        """
        from carethread.options import check_options
        from carethread.output import check_out_path

        if self.out is not None:
            check_out_path(self.out, stdout=True)
        if self.quarantine is not None:
            check_out_path(self.quarantine, option="--quarantine")
        check_options(settings=self.settings, start=self.start, end=self.end)

    def window(self) -> dict[str, str | None]:
        """``settings``, ``start`` and ``end``, as keyword arguments of a measure."""
        return {"settings": self.settings, "start": self.start, "end": self.end}

    def read(self) -> CanonicalData:
        """Connect, read and validate the input; report the reconciliation, write the quarantine.

        Returns the :class:`~carethread.data.CanonicalData`. With ``--strict``
        a rejected row is an error (exit 1).
        """
        from carethread.output import write_table
        from carethread.readers import read

        if self.input_path is None and self.engine is None and self.database is None:
            raise OptionError(
                "Missing INPUT: give a file or folder, or read OMOP CDM tables from a database with "
                "--engine URL (or --database FILE.duckdb) and --schema."
            )
        con = self._connect()
        input_format = self._announced_format()
        with step("Reading and validating"):
            data = read(
                self.input_path,
                format=input_format,
                con=con,
                mapping=self.column_map,
                extraction_date=self.extraction_date,
                date_format=self.date_format,
                schema=self.schema,
                visit_concepts=self.visit_concepts,
                setting_map=self.setting_map,
            )
        err_console.print(data.reconciliation())
        if self.quarantine is not None:
            write_table(data.quarantine, self.quarantine)
            err_console.print(f"Quarantine written to {self.quarantine}")
        if self.strict and data.n_quarantined:
            print_remarks(data.remarks)
            raise CarethreadError(
                f"{data.n_quarantined} rows were rejected and --strict is set; fix them or drop --strict."
            )
        return data

    def _connect(self):
        """The engine's connection; one that cannot be made is an error that says where and what to check."""
        from carethread.engine import connect

        try:
            return connect(self.engine, database=self.database, **self.resources.engine())
        except CarethreadError:
            raise
        except Exception as exc:
            if self.engine is None:
                where = f"--database {self.database}" if self.database is not None else "the embedded DuckDB"
                fix = "check that the file is a DuckDB database that no other program has open for writing"
            else:
                where = f"--engine {_without_credentials(self.engine)}"
                fix = "check that the server runs and that the URL's host, port, database and user are right"
            raise InputError(f"Could not connect to {where} ({type(exc).__name__}): {fix}.") from None

    def _announced_format(self) -> str:
        """``--format``, or for ``auto`` the format detected, said on stderr before reading.

        Said before reading, so a format-specific error is read in its context;
        not for a missing input, where the reader's error says all there is.
        """
        from carethread.readers import detect_format

        if str(self.input_format).strip().lower() != "auto":
            return self.input_format
        if self.input_path is None:  # tables in a database: only the OMOP reader reads those
            err_console.print("Format: omop (no INPUT, tables read from the database; --format overrides)")
            return "omop"
        detected = detect_format(self.input_path)
        if os.path.exists(self.input_path) or glob.has_magic(os.fspath(self.input_path)):
            err_console.print(f"Format: {detected} (detected; --format overrides)")
        return detected


def _without_credentials(url: str) -> str:
    """``url`` with any user name and password left out (they are not for messages).

    >>> _without_credentials("postgres://ann:secret@db.example:5433/cdm")
    'postgres://db.example:5433/cdm'
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(str(url))
        host, port = parts.hostname, parts.port
    except ValueError:  # an unreadable port: say nothing more of the URL
        return "the URL given"
    if host is None:
        return f"{parts.scheme}://…" if parts.scheme else "the URL given"
    return urlunsplit((parts.scheme, host + (f":{port}" if port else ""), parts.path, "", ""))


def _is_option(annotation) -> bool:
    return any(isinstance(meta, ParameterInfo) for meta in getattr(annotation, "__metadata__", ()))


def shared_parameters() -> list[inspect.Parameter]:
    """The command-line parameters :class:`DataOptions` declares, in ``--help`` order."""
    hints = get_type_hints(DataOptions, include_extras=True)
    return [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
        for f in fields(DataOptions)
        if _is_option(hints[f.name])
    ]


#: The first shared option listed after a command's own trailing options.
_AFTER_OWN = "quarantine"

_CONTEXT = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)


def data_command(*, omit: Iterable[str] = ()) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared data options (all but ``omit``) as one checked :class:`DataOptions`.

    The command takes exactly one parameter annotated :class:`DataOptions`,
    and the typer context if it declares a parameter annotated
    ``typer.Context``; its other parameters are its own options (the module
    docstring says where ``--help`` lists them). The options it omits keep
    their defaults in the :class:`DataOptions` it receives. The command runs
    inside :func:`~carethread.cli.app.reported`, so a library error becomes
    one line and an exit code.
    """
    omit = frozenset(omit)
    shared = shared_parameters()
    unknown = omit - {p.name for p in shared}
    if unknown:
        raise TypeError(f"data_command(omit=...): no shared option {', '.join(sorted(unknown))}")
    names = [p.name for p in shared]
    head = [p for p in shared if p.name not in omit and names.index(p.name) < names.index(_AFTER_OWN)]
    tail = [p for p in shared if p.name not in omit and names.index(p.name) >= names.index(_AFTER_OWN)]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(command, eval_str=True).parameters.values())
        slots = [p for p in own if p.annotation is DataOptions]
        if len(slots) != 1:
            raise TypeError(f"{command.__name__}: one parameter must be annotated DataOptions")
        contexts = [p.name for p in own if p.annotation is typer.Context]
        at = own.index(slots[0])
        before, after = [
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in side if p.name not in contexts]
            for side in (own[:at], own[at + 1 :])
        ]
        clash = {p.name for p in before + after} & {p.name for p in head + tail}
        if clash:
            raise TypeError(f"{command.__name__}: own options shadow shared ones: {', '.join(sorted(clash))}")
        parameters = [_CONTEXT, head[0], *before, *head[1:], *after, *tail]  # head[0]: INPUT, the one argument

        @functools.wraps(command)
        def run(ctx: typer.Context, **values) -> None:
            options = DataOptions(resources=Resources.of(ctx), **{p.name: values.pop(p.name) for p in head + tail})
            with reported():
                options.check()
                command(**{slots[0].name: options}, **dict.fromkeys(contexts, ctx), **values)

        run.__signature__ = inspect.Signature(parameters)
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate
