"""The HTML report, step by step: read, compute each section, protect, draw, assemble.

:func:`report` reads the data (or takes a :class:`~carethread.data.CanonicalData`),
runs every measure in the engine, aggregates the results to a few hundred
rows, suppresses small counts and pseudonymises clinicians and practices
(:mod:`carethread.privacy`), draws the charts as inline SVG
(:mod:`carethread.reporting.charts`) and writes one HTML file. The file makes
no request of any kind (no scripts, no fonts, no images from elsewhere; a
Content-Security-Policy forbids them), opens offline, prints cleanly and
reflows on a phone.

The steps (:func:`build`):

1. read (:func:`~carethread.reporting.steps.read_inputs`);
2. compute each section (the ``compute_*`` functions of
   :mod:`carethread.reporting.steps`) into exact
   :class:`~carethread.reporting.values.ReportValues`;
3. protect (:func:`carethread.reporting.protect.protect`);
4. draw the sections (:mod:`carethread.reporting.sections`; charts render
   on a worker thread, :mod:`carethread.reporting.render`);
5. assemble the page (:func:`assemble`).

Drawing the first sections while the engine computed the breaks used to be
a step of its own, but it did not pay: vl-convert holds the GIL while it
renders, so the main thread waited for the charts either way
(bench/RESULTS.md, *The HTML report*).
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from string import Template

from carethread.deprecation import warn_renamed
from carethread.output import write_text
from carethread.reporting import steps, worth
from carethread.reporting.html import esc, header, stamp
from carethread.reporting.methods import methods_section
from carethread.reporting.network import compute_network, protect_network
from carethread.reporting.progress import STEPS, Progress
from carethread.reporting.protect import protect
from carethread.reporting.render import Renderer, rendering
from carethread.reporting.steps import Inputs, ReportOptions, Tables
from carethread.reporting.values import ReportValues
from carethread.windows import TREND_YEARS
from carethread.wording import day, plural

__all__ = ["STEPS", "ReportOptions", "Tables", "build", "report", "write_report"]

#: The order of the sections on the page, between the header and the methods
#: (:mod:`carethread.reporting.sections` draws section ``x`` with ``x_section``).
PAGE_ORDER: tuple[str, ...] = (
    "answer",
    "patients",
    "clinicians",
    "pairs",
    "network",
    "breaks",
    "trends",
    "worth",
    "departure",
)

#: The order the sections are drawn in, which numbers their charts' SVG ids: the order
#: of earlier versions (which drew the first three early), so a report's HTML stays the same.
DRAW_ORDER: tuple[str, ...] = ("patients", "clinicians", "trends", "answer", "pairs", "breaks", "network", "departure")


def report(
    input_or_data,
    *,
    out,
    con=None,
    format: str = "auto",  # noqa: A002  (the CLI option is --format)
    settings: str | Iterable[str] | None = None,
    start=None,
    end=None,
    as_of=None,
    lookback_months: int = 18,
    min_visits: int = 2,
    privacy: bool = True,
    key: str | bytes | None = None,
    title: str | None = None,
    bootstrap: int = 200,
    population: str | None = None,
    trend_years: int | None = TREND_YEARS,
    rule: str = "plurality",
    breaks: dict | None = None,
    progress: bool | None = None,
    lookback: int | None = None,
) -> Path:
    """Write the HTML report of an input and return its path.

    Parameters
    ----------
    input_or_data
        A file, glob or folder (read with :func:`carethread.readers.read`), or
        a :class:`~carethread.data.CanonicalData` already read.
    out
        Path of the HTML file to write (folders are created).
    con, format
        Engine connection and input format when reading a path.
    settings, start, end, min_visits
        As for every measure: settings that count as visits, the window
        ``[start, end)``, patients with fewer visits get no index.
    as_of, lookback_months
        Attribution date (default ``end``, else the day after the last
        encounter) and look-back in months (default 18). The answer,
        patients, clinicians and pairs describe the attribution window
        ``[as_of - lookback_months, as_of)``; breaks all the data
        (docs/windows.md).
    privacy
        ``True`` (default): no patient identifier (never, in any mode),
        clinicians and practices under keyed pseudonyms, counts from 1 to 10
        shown as ``<11`` with complementary suppression. ``False`` shows real
        clinician ids and exact counts and stamps every page "not for sharing".
    key
        Pseudonym key (hex or text, at least 16 bytes). Default: the user's
        key (:mod:`carethread.pseudonym_key`), created (mode 0600) on first use.
    title
        Report title (default: "Care relationships" and the input's name).
    bootstrap
        Bootstrap resamples of the who-needs-whom intervals.
    population
        ``"sample"``, ``"complete"`` or ``None`` (guess): whether the extract
        holds every patient of its clinicians (:mod:`carethread.measures.dependence.population`).
        On a sample the clinician side is shown as not measurable.
    trend_years
        Years of data the trends cover, the latest (default 5; ``None``: all).
    rule
        Attribution rule of the panels and the answer's own-panel measures
        (:func:`carethread.measures.attribution.attribute`).
    breaks
        Options of :func:`carethread.relationship_breaks` (``confirm``,
        ``confirm_months``, ...; default: its defaults).
    progress
        ``None`` (default): a progress bar when stderr is a terminal, nothing
        when piped; ``True`` / ``False`` to force.
    lookback
        Deprecated name of ``lookback_months``.

    Returns
    -------
    pathlib.Path
        The report written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from carethread.synth import generate
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(300, years=1.5, seed=3).write(folder / "data")
    >>> path = report(folder / "data", out=folder / "report.html", bootstrap=10)  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'report.html'
    """
    if lookback is not None:
        warn_renamed("report(lookback=...)", "report(lookback_months=...)")
        lookback_months = lookback
    options = ReportOptions(
        settings=settings,
        start=start,
        end=end,
        as_of=as_of,
        lookback_months=lookback_months,
        min_visits=min_visits,
        privacy=privacy,
        key=key,
        title=title,
        bootstrap=bootstrap,
        population=population,
        trend_years=trend_years,
        rule=rule,
        breaks=dict(breaks or {}),
    )
    return write_report(input_or_data, options, out=out, con=con, format=format, progress=progress)


def write_report(
    input_or_data,
    options: ReportOptions,
    *,
    out,
    con=None,
    format: str = "auto",  # noqa: A002
    progress: bool | None = None,
    tables: Tables | None = None,
    source: Path | None = None,
    keep: dict | None = None,
) -> Path:
    """:func:`report` with its options in one :class:`ReportOptions`, and the measure tables when known.

    ``tables`` (:class:`~carethread.reporting.steps.Tables`) are the measure
    results the report summarises, when the caller computed them already
    (:func:`carethread.run_all`); the data's tables are then taken as staged.
    ``source`` is the input's path when ``input_or_data`` is data (for the
    report's name and the pseudonym key). ``keep``: as for :func:`build`.
    """
    out = Path(out)
    with Progress(progress) as bar:
        html = build(input_or_data, options, con=con, format=format, bar=bar, keep=keep, tables=tables, source=source)
        with bar.step(STEPS[-1]):
            write_text(out, html)  # whole or not at all, at exactly this path
    return out


def build(
    input_or_data,
    options: ReportOptions | None = None,
    *,
    con=None,
    format: str = "auto",  # noqa: A002
    bar: Progress | None = None,
    keep: dict | None = None,
    tables: Tables | None = None,
    source: Path | None = None,
) -> str:
    """The report as an HTML string (see :func:`report`; ``options`` default to its defaults).

    ``keep``, when given, receives the exact values (``computed``) and the
    protected ones (``shown``); tests inspect the chart data through it.
    ``tables`` and ``source``: as for :func:`write_report`.
    """
    from carethread.options import check_options

    options = options or ReportOptions()
    _require_chart_packages()
    check_options(settings=options.settings, start=options.start, end=options.end, min_visits=options.min_visits)
    renderer = Renderer()
    try:
        renderer.warm_up()
        bar = bar or Progress(False)
        return _build(
            input_or_data,
            options,
            con=con,
            format=format,
            bar=bar,
            keep=keep,
            renderer=renderer,
            tables=tables,
            source=source,
        )
    finally:
        renderer.close()


def _build(input_or_data, options: ReportOptions, *, con, format, bar, keep, renderer, tables, source) -> str:  # noqa: A002
    with bar.step(STEPS[0]):
        inputs = steps.read_inputs(
            input_or_data, options, con=con, format=format, staged=tables is not None, source=source
        )
    with bar.step(STEPS[1]):
        tables = tables or steps.compute_tables(inputs, options)
    with bar.step(STEPS[2]):
        patient_fields = steps.compute_patients(inputs, options, tables.patients)
        clinician_fields = steps.compute_clinicians(inputs, tables.panels)
        pair_fields = steps.compute_pairs(tables.dyads)
        network = compute_network(
            inputs.encounters,
            clinicians=inputs.clinicians,
            start=inputs.span.lo,
            end=inputs.span.hi,
            network=tables.network,
            density=tables.care_density,
        )
    with bar.step(STEPS[3]):
        trend_fields = steps.compute_trends(inputs, options)
    with bar.step(STEPS[4]):
        break_fields = steps.compute_breaks(inputs, tables.breaks)
    with bar.step(STEPS[5]):
        who = steps.compute_who(inputs, options, tables)
        worth_values = worth.compute_worth(
            inputs.encounters,
            clinicians=inputs.clinicians,
            patients=inputs.people,
            settings=options.settings,
            **inputs.over_time.bounds(),
            breaks=tables.breaks,
        )
    from carethread.reporting.departure import compute_departure, protect_departure

    with bar.step(STEPS[6]):
        departure = compute_departure(inputs, options)
    remarks = patient_fields.pop("remarks")
    values = ReportValues(
        span=inputs.span,
        reads=list(inputs.data.counts),
        remarks=remarks + [r for r in who.remarks if r not in remarks],
        who=who,
        population=who.population,
        min_visits=options.min_visits,
        trend_years=options.trend_years,
        windows={"current": inputs.current, "over_time": inputs.over_time},
        confirmed_breaks=options.breaks.get("confirm", 1) != 0,
        **patient_fields,
        **clinician_fields,
        **pair_fields,
        **trend_fields,
        **break_fields,
        departure=departure,
    )
    shown = protect(
        values, privacy=options.privacy, clinician_label=inputs.clinician_label, practice_label=inputs.practice_label
    )
    shown.network = protect_network(
        network, privacy=options.privacy, clinician_label=inputs.clinician_label, practice_label=inputs.practice_label
    )
    shown.departure = protect_departure(departure, privacy=options.privacy, clinician_label=inputs.clinician_label)
    if keep is not None:
        keep.update(computed=values, shown=shown)
    with bar.step(STEPS[7]):
        drawn = draw(renderer, shown, DRAW_ORDER)
        with rendering(renderer):  # the section of its own module, drawn last (its charts number after the rest)
            drawn["worth"] = worth.worth_section(worth.protect_worth(worth_values, privacy=options.privacy))
        return assemble(renderer, shown, drawn, inputs, options)


def draw(renderer: Renderer, shown: ReportValues, names: Iterable[str]) -> dict[str, str]:
    """Each named section's HTML; its charts are handed to ``renderer`` and drawn on its threads."""
    from carethread.reporting import sections

    with rendering(renderer):
        return {name: getattr(sections, f"{name}_section")(shown) for name in names}


def assemble(
    renderer: Renderer, shown: ReportValues, drawn: dict[str, str], inputs: Inputs, options: ReportOptions
) -> str:
    """The page: header, the drawn sections, methods and footer in the template, charts filled in."""
    versions = _versions()
    title = options.title or f"Care relationships: {inputs.name}"
    made = dt.datetime.now()
    with rendering(renderer):
        body = "".join(
            [
                header(
                    shown,
                    title=title,
                    source=inputs.name,
                    made=f"{day(made)} {made:%H:%M}",
                    version=versions["carethread"],
                ),
                *(drawn[name] for name in PAGE_ORDER),
                methods_section(shown, params=_parameters(shown, inputs, options), versions=versions),
                f"<footer>carethread {esc(versions['carethread'])} · {esc(title)} · {stamp(options.privacy)}</footer>",
            ]
        )
    return Template(_asset("template.html")).substitute(
        title=esc(title),
        version=esc(versions["carethread"]),
        css=_asset("report.css"),
        body_class="privacy-on" if options.privacy else "privacy-off",
        stamp=stamp(options.privacy),
        body=renderer.fill(body),
    )


def _breaks_rule(options: ReportOptions) -> str:
    """The rule of the relationship breaks, as the methods section lists it."""
    from carethread.measures.breaks import check_break_options

    o = check_break_options(**options.breaks)
    if o["confirm"] == 0:
        return (
            f"attribution churn: the attributed clinician (over {o['lookback_months']} months) changes from one "
            f"{o['period']} to the next"
        )
    visits = plural(o["confirm"], "later visit")
    months = options.breaks.get("confirm_months", 18)
    return (
        f"confirmed changes of usual clinician (at least {visits} with the new clinician within {months} months), "
        "and "
        "a year without primary care; cause: the clinician left (no encounter from the break on) or the patient "
        "moved on"
    )


def _parameters(shown: ReportValues, inputs: Inputs, options: ReportOptions) -> dict[str, str]:
    """The settings and parameters the methods section lists."""
    current, over_time = inputs.current, inputs.over_time
    lookback = options.lookback_months
    trends = f"the latest {options.trend_years} years" if options.trend_years else "all the data"
    population = shown.population
    return {
        "Data span": over_time.text(),
        "Current window (answer, patients, clinicians, pairs)": current.text(),
        "Breaks": over_time.text(),
        "Trends": f"{trends}: trailing {shown.trend_window_months}-month windows, one per quarter",
        "Settings counted as visits": ", ".join(current.settings),
        "Minimum visits for a score": str(options.min_visits),
        "Attribution": ("plurality of visits" if options.rule == "plurality" else f"the {options.rule} rule")
        + f" over the {lookback} months before {day(current.as_of)}",
        "Relationship breaks": _breaks_rule(options),
        "Patients in the extract": population.reason() if population is not None else "not checked",
        "Who-needs-whom intervals": f"{options.bootstrap} bootstrap resamples, seed 0",
        "If a clinician leaves": "plan solved with HiGHS; strength = visits weighted by a 12-month half-life, "
        "+ 0.5 for the practice (docs/rebalance.md)",
        "Input format": inputs.data.format,
        "Privacy": (
            "on: keyed pseudonyms (HMAC-SHA256, key kept by whoever made the report), "
            "counts from 1 to 10 shown as <11, complementary cells hidden"
            if options.privacy
            else "OFF (--no-privacy): real identifiers and exact counts"
        ),
    }


def _require_chart_packages() -> None:
    """Fail early, naming the install command, when the chart packages are missing."""
    import importlib.util

    from carethread.errors import MissingDependencyError

    missing = [
        name
        for module, name in (("altair", "altair"), ("vl_convert", "vl-convert-python"))
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise MissingDependencyError(
            f"The report draws its charts with {' and '.join(missing)}: pip install {' '.join(missing)}"
        )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("carethread", "ibis-framework", "duckdb", "altair", "vl-convert-python"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    out["Python"] = platform.python_version()
    return out


def _asset(name: str) -> str:
    return resources.files("carethread.reporting").joinpath(name).read_text(encoding="utf-8")
