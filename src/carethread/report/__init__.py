"""The HTML report: one self-contained file for people who will never open a terminal.

:func:`report` reads the data (or takes a :class:`~carethread.data.CanonicalData`),
runs every measure in the engine, aggregates the results to a few hundred
rows, suppresses small counts and pseudonymises clinicians and practices
(:mod:`carethread.privacy`), draws the charts as inline SVG
(:mod:`carethread.report.charts`) and writes one HTML file. The file makes no
request of any kind (no scripts, no fonts, no images from elsewhere; a
Content-Security-Policy forbids them), opens offline, prints cleanly and
reflows on a phone.

Modules: :mod:`.compute` (aggregates in Ibis), :mod:`.protect` (suppression
and pseudonyms), :mod:`.charts` (Altair → SVG), :mod:`.sections` (HTML).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sys
import types
from importlib import resources
from pathlib import Path
from string import Template

from carethread.data import CanonicalData

__all__ = ["build", "report"]

#: The steps a report goes through, for the progress bar.
STEPS: tuple[str, ...] = (
    "Reading and validating",
    "Patient continuity",
    "Panels",
    "Relationships (dyads)",
    "Trends",
    "Relationship breaks",
    "Who needs whom",
    "Drawing charts",
    "Writing the report",
)


class _Progress:
    """A rich progress bar over :data:`STEPS` on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool | None):
        from rich.console import Console

        console = Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else bool(enabled)
        self._bar = None
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._task = self._bar.add_task("Report", total=len(STEPS))

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()

    @contextlib.contextmanager
    def step(self, name: str):
        if self._bar is not None:
            self._bar.update(self._task, description=name)
        yield
        if self._bar is not None:
            self._bar.advance(self._task)


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
    return resources.files("carethread.report").joinpath(name).read_text(encoding="utf-8")


def report(
    input_or_data,
    *,
    out,
    con=None,
    format: str = "auto",  # noqa: A002  (the CLI option is --format)
    settings=None,
    start=None,
    end=None,
    min_visits: int = 2,
    as_of=None,
    lookback: int = 18,
    privacy: bool = True,
    key: str | bytes | None = None,
    title: str | None = None,
    bootstrap: int = 200,
    progress: bool | None = None,
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
    as_of, lookback
        Attribution date (default ``end``, else the day after the last
        encounter) and look-back in months (default 18) of panels and breaks.
    privacy
        ``True`` (default): no patient identifier (never, in any mode),
        clinicians and practices under keyed pseudonyms, counts from 1 to 10
        shown as ``<11`` with complementary suppression. ``False`` shows real
        clinician ids and exact counts and stamps every page "not for sharing".
    key
        Pseudonym key (hex or text, at least 16 bytes). Default: the key in
        ``.carethread-key`` beside the input, created (mode 0600) on first use.
    title
        Report title (default: "Care relationships" and the input's name).
    bootstrap
        Bootstrap resamples of the who-needs-whom intervals.
    progress
        ``None`` (default): a progress bar when stderr is a terminal, nothing
        when piped; ``True`` / ``False`` to force.

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
    out = Path(out)
    with _Progress(progress) as bar:
        html = build(
            input_or_data,
            con=con,
            format=format,
            settings=settings,
            start=start,
            end=end,
            min_visits=min_visits,
            as_of=as_of,
            lookback=lookback,
            privacy=privacy,
            key=key,
            title=title,
            bootstrap=bootstrap,
            bar=bar,
        )
        with bar.step(STEPS[-1]):
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, out)
    return out


def build(
    input_or_data,
    *,
    con=None,
    format: str = "auto",  # noqa: A002
    settings=None,
    start=None,
    end=None,
    min_visits: int = 2,
    as_of=None,
    lookback: int = 18,
    privacy: bool = True,
    key=None,
    title: str | None = None,
    bootstrap: int = 200,
    bar: _Progress | None = None,
    keep: dict | None = None,
) -> str:
    """The report as an HTML string (see :func:`report`).

    ``keep``, when given, receives the intermediate ``computed`` and
    ``shown`` results (tests inspect the chart data through it).
    """
    from carethread.options import check_options
    from carethread.report.render import Renderer

    _require_chart_packages()
    bar = bar or _Progress(False)
    check_options(settings=settings, start=start, end=end, min_visits=min_visits)
    renderer = Renderer()
    try:
        renderer.warm_up()
        return _build(
            input_or_data,
            con=con,
            format=format,
            settings=settings,
            start=start,
            end=end,
            min_visits=min_visits,
            as_of=as_of,
            lookback=lookback,
            privacy=privacy,
            key=key,
            title=title,
            bootstrap=bootstrap,
            bar=bar,
            keep=keep,
            renderer=renderer,
        )
    finally:
        renderer.close()


def _build(
    input_or_data,
    *,
    con,
    format,
    settings,
    start,
    end,
    min_visits,
    as_of,
    lookback,
    privacy,
    key,
    title,
    bootstrap,
    bar,
    keep,
    renderer,
) -> str:
    """Compute, protect and draw; sections whose data is ready are drawn while later measures run."""
    from carethread import privacy as pv
    from carethread.options import normalize_settings
    from carethread.report import compute as cp
    from carethread.report import sections as sx
    from carethread.report.protect import protect
    from carethread.report.render import rendering

    source_path = None
    with bar.step(STEPS[0]):
        if isinstance(input_or_data, CanonicalData):
            data = input_or_data
        else:
            from carethread.engine import connect
            from carethread.readers import read

            source_path = Path(input_or_data)
            data = read(source_path, format=format, con=con or connect())
        # Every measure below scans the encounters several times; materialise the
        # validated tables once instead of re-running validation on each scan.
        enc = data.encounters.cache()
        clinicians = data.clinicians.cache() if data.clinicians is not None else None
        people = data.patients.cache() if data.patients is not None else None
        span = cp.span_of(enc, start=start, end=end, as_of=as_of, lookback=lookback)
        ids = cp.provider_ids(enc, clinicians)
    # Labels come from every clinician and practice in the data, so a label does not depend
    # on which clinicians a section happens to show.
    secret = pv.load_or_create_key(source_path, key=key) if privacy else b""
    clinician_label = pv.Pseudonymizer(secret, "Clinician", ids["clinician_id"] if privacy else (), enabled=privacy)
    practice_label = pv.Pseudonymizer(secret, "Practice", ids["practice_id"] if privacy else (), enabled=privacy)
    # Cross-sectional sections describe the attribution window, like panels and who-needs-whom.
    options = dict(settings=settings, start=span.lo, end=span.hi)

    with bar.step(STEPS[1]):
        from carethread.measures.continuity import (
            continuity_summary,
            patient_continuity,
            patient_continuity_remarks,
        )

        patients = patient_continuity(enc, min_visits=min_visits, **options).cache()
        summary = continuity_summary(patients).to_pandas()
        hist = cp.histograms(patients)
        high = cp.high_upc(patients)
        ages = cp.age_bands(patients, people, span.as_of)
        overview = cp.overview(enc, **options)
        remarks = list(data.remarks) + patient_continuity_remarks(enc, patients, min_visits=min_visits, **options)
    with bar.step(STEPS[2]):
        from carethread.measures.panels import panels

        panel = panels(
            enc,
            as_of=span.as_of,
            lookback=lookback,
            settings=settings,
            clinicians=clinicians,
            start=span.lo,
            end=span.hi,
        )
        clin = cp.clinician_table(panel)
    with bar.step(STEPS[3]):
        from carethread.measures.dyads import dyads

        pairs = dyads(enc, **options).cache()
        relationships = cp.relationship_counts(pairs)
        bins = cp.dependence_bins(pairs)
    with bar.step(STEPS[4]):
        trend, months = cp.trends(enc, span, settings=settings, min_visits=min_visits)
        quarantine = cp.quarantine_by_reason(data.quarantine)

    computed = cp.Computed(
        span=span,
        overview=overview,
        continuity_summary=summary,
        histograms=hist,
        high_upc=high,
        age_bands=ages,
        clinicians=clin,
        relationships=relationships,
        dependence_bins=bins,
        breaks_by_quarter=cp.no_breaks(),
        departed=None,
        departed_destinations=None,
        trends=trend,
        trend_window_months=months,
        quarantine=quarantine,
        who=None,
        remarks=remarks,
    )

    def protected():
        return protect(
            computed,
            privacy=privacy,
            clinician_label=clinician_label,
            practice_label=practice_label,
            counts=data.counts,
            remarks=remarks,
        )

    drawn = {}
    with rendering(renderer):
        # These charts render on the worker thread while the engine computes breaks and the summary.
        shown = protected()
        drawn["patients"] = sx.patients_section(shown)
        drawn["clinicians"] = sx.clinicians_section(shown)
        drawn["trends"] = sx.trends_section(shown)

    with bar.step(STEPS[5]):
        from carethread.measures.breaks import relationship_breaks

        breaks = relationship_breaks(
            enc, clinicians=clinicians, lookback=lookback, settings=settings, start=span.start, end=span.end
        ).cache()
        computed.breaks_by_quarter = cp.breaks_by_quarter(breaks, start=span.start, end=span.end)
        computed.departed, computed.departed_destinations = cp.departed_clinicians(breaks, clinicians, span)
    with bar.step(STEPS[6]):
        from carethread.summary import who_needs_whom_from_encounters

        computed.who = who_needs_whom_from_encounters(
            enc,
            as_of=span.as_of,
            settings=settings,
            start=span.lo,
            end=span.hi,
            lookback_months=lookback,
            min_visits=min_visits,
            clinicians=clinicians,
            bootstrap=bootstrap,
            seed=0,
        )
        remarks += [r for r in computed.who.remarks if r not in remarks]
    shown = protected()
    if keep is not None:
        keep.update(computed=computed, shown=shown)

    with bar.step(STEPS[7]):
        versions = _versions()
        sources = ", ".join(c.source for c in data.counts)
        name = source_path.name if source_path is not None else (sources or "data given in Python")
        title = title or f"Care relationships: {name}"
        params = {
            "Data span": _window_text(span),
            "Current window (answer, patients, clinicians, pairs)": sx.window_text(span.lo, span.hi),
            "Settings counted as visits": ", ".join(normalize_settings(settings)),
            "Minimum visits for a score": str(min_visits),
            "Attribution": f"plurality of visits over the {lookback} months before {span.as_of:%-d %b %Y}",
            "Relationship breaks": f"quarterly, attribution over a trailing {lookback} months",
            "Trends": f"trailing {months}-month windows, one per quarter",
            "Who-needs-whom intervals": f"{bootstrap} bootstrap resamples, seed 0",
            "Input format": data.format,
            "Privacy": (
                "on: keyed pseudonyms (HMAC-SHA256, key kept beside the data), counts from 1 to 10 shown as <11, "
                "complementary cells hidden"
                if privacy
                else "OFF (--no-privacy): real identifiers and exact counts"
            ),
        }
        made = dt.datetime.now().strftime("%-d %b %Y %H:%M")
        with rendering(renderer):
            body = "".join(
                [
                    sx.header(shown, title=title, source=name, made=made, version=versions["carethread"]),
                    sx.answer_section(shown),
                    drawn["patients"],
                    drawn["clinicians"],
                    sx.pairs_section(shown),
                    sx.breaks_section(shown),
                    drawn["trends"],
                    sx.methods_section(shown, params=params, versions=versions),
                    f"<footer>carethread {sx.esc(versions['carethread'])} · {sx.esc(title)} · {sx.stamp(privacy)}</footer>",
                ]
            )
        body = renderer.fill(body)
    return Template(_asset("template.html")).substitute(
        title=sx.esc(title),
        version=sx.esc(versions["carethread"]),
        css=_asset("report.css"),
        body_class="privacy-on" if privacy else "privacy-off",
        stamp=sx.stamp(privacy),
        body=body,
    )


class _CallableModule(types.ModuleType):
    """``carethread.report(...)`` calls :func:`report`.

    ``carethread.report`` is this package as soon as anything imports it (Python
    binds a subpackage on its parent), so the documented call
    ``carethread.report(input, out=...)`` must work on the module itself.
    """

    def __call__(self, *args, **kwargs) -> Path:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule


def _window_text(span) -> str:
    first = span.start.date() if span.start else span.first
    last = (span.end.date() - dt.timedelta(days=1)) if span.end else span.last
    fmt = lambda d: d.strftime("%-d %b %Y") if d else "open"  # noqa: E731
    return f"{fmt(first)} to {fmt(last)} (inclusive)"
