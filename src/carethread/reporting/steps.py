"""The report's steps before drawing: read the input, then compute each section's values.

The measure tables the report summarises (:class:`Tables`: the patients'
continuity, panels, dyads, breaks and attribution, and the who-needs-whom
answer) are either handed in (by :func:`carethread.run_all`, which has
written them already) or computed once here (:func:`compute_tables`). Each
``compute_*`` function then aggregates one group of them into the exact
fields of :class:`~carethread.reporting.values.ReportValues` it fills
(:mod:`carethread.reporting.compute` does the aggregation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ibis

from carethread import privacy as pv
from carethread.data import CanonicalData
from carethread.reporting import compute as cp
from carethread.reporting.values import Span
from carethread.windows import TREND_YEARS, Window, all_data_window, current_window


@dataclass(frozen=True)
class ReportOptions:
    """What a report covers and how it shows it (see :func:`carethread.reporting.report`)."""

    settings: str | Iterable[str] | None = None
    start: object = None
    end: object = None
    as_of: object = None
    lookback_months: int = 18
    min_visits: int = 2
    privacy: bool = True
    key: str | bytes | None = None
    title: str | None = None
    bootstrap: int = 200
    population: str | None = None
    trend_years: int | None = TREND_YEARS
    rule: str = "plurality"
    breaks: dict = field(default_factory=dict)  # options of relationship_breaks (confirm, confirm_months, ...)


@dataclass
class Tables:
    """The measure results a report summarises, over its two windows (docs/windows.md).

    ``patients``, ``panels``, ``dyads`` and ``attribution`` describe the
    current window, ``breaks`` all the data; ``who`` is the who-needs-whom
    answer of those tables (computed by the report when ``None``).
    """

    patients: ibis.Table
    panels: ibis.Table
    dyads: ibis.Table
    breaks: ibis.Table
    attribution: ibis.Table
    who: object | None = None
    #: ``run_all``'s sharing network (every pair) and care density over the same window; the report
    #: computes its own when ``None``.
    network: ibis.Table | None = None
    care_density: ibis.Table | None = None


@dataclass
class Inputs:
    """What the read step hands every later step."""

    data: CanonicalData
    name: str
    encounters: ibis.Table
    clinicians: ibis.Table | None
    people: ibis.Table | None
    span: Span
    clinician_label: pv.Pseudonymizer
    practice_label: pv.Pseudonymizer
    current: Window
    over_time: Window

    @property
    def window(self) -> dict:
        """Settings and the current window, as keyword arguments of a measure."""
        return {"settings": self.current.settings, **self.current.bounds()}


def read_inputs(
    input_or_data,
    options: ReportOptions,
    *,
    con=None,
    format: str = "auto",  # noqa: A002
    staged: bool = False,
    source: Path | None = None,
) -> Inputs:
    """Read and validate (or take) the data, cache its tables, fix the windows and the pseudonym labels.

    ``staged``: the data's tables are materialised already (by
    :func:`carethread.run_all`), so they are not cached again. ``source``:
    the input's path when the data are given, for the pseudonym key's place.
    """
    source_path = source
    if isinstance(input_or_data, CanonicalData):
        data = input_or_data
    else:
        from carethread.engine import connect
        from carethread.readers import read

        source_path = Path(input_or_data)
        data = read(source_path, format=format, con=con or connect())

    # Every measure below scans the encounters several times; materialise the
    # validated tables once instead of re-running validation on each scan.
    def kept(table):
        return table if staged or table is None else table.cache()

    enc, clinicians, people = kept(data.encounters), kept(data.clinicians), kept(data.patients)
    o = options
    window = dict(settings=o.settings, start=o.start, end=o.end)
    current = current_window(enc, **window, as_of=o.as_of, lookback_months=o.lookback_months)
    over_time = all_data_window(enc, **window)
    ids = cp.provider_ids(enc, clinicians)
    # Labels come from every clinician and practice in the data, so a label does not depend
    # on which clinicians a section happens to show.
    secret = pv.load_or_create_key(source_path, key=o.key) if o.privacy else b""
    sources = ", ".join(c.source for c in data.counts)
    return Inputs(
        data=data,
        name=source_path.name if source_path is not None else (sources or "data given in Python"),
        encounters=enc,
        clinicians=clinicians,
        people=people,
        span=Span.of(current, over_time),
        clinician_label=_labels(secret, "Clinician", ids["clinician_id"], o.privacy),
        practice_label=_labels(secret, "Practice", ids["practice_id"], o.privacy),
        current=current,
        over_time=over_time,
    )


def _labels(secret: bytes, kind: str, ids: list[str], privacy: bool) -> pv.Pseudonymizer:
    return pv.Pseudonymizer(secret, kind, ids if privacy else (), enabled=privacy)


def compute_tables(inputs: Inputs, options: ReportOptions) -> Tables:
    """The measure tables of a report that was not handed them, each computed once and cached."""
    from carethread.measures.attribution import attribute
    from carethread.measures.breaks import relationship_breaks
    from carethread.measures.continuity import patient_continuity
    from carethread.measures.dyads import dyads
    from carethread.measures.panels import panels

    enc, current = inputs.encounters, inputs.current
    attribution = dict(
        clinicians=inputs.clinicians,
        settings=current.settings,
        as_of=current.as_of,
        rule=options.rule,
        lookback_months=options.lookback_months,
    )
    return Tables(
        patients=patient_continuity(enc, min_visits=options.min_visits, **inputs.window).cache(),
        panels=panels(enc, **attribution, **current.bounds()).cache(),
        dyads=dyads(enc, **inputs.window).cache(),
        breaks=relationship_breaks(
            enc,
            clinicians=inputs.clinicians,
            settings=current.settings,
            **inputs.over_time.bounds(),
            **options.breaks,
        ).cache(),
        attribution=attribute(enc, **attribution).cache(),
    )


def compute_patients(inputs: Inputs, options: ReportOptions, patients: ibis.Table) -> dict:
    """The fields of the Patients section, from the patients' continuity over the current window."""
    from carethread.measures.continuity import continuity_summary, patient_continuity_remarks

    enc, window, min_visits = inputs.encounters, inputs.window, options.min_visits
    remarks = patient_continuity_remarks(enc, patients, min_visits=min_visits, **window)
    return {
        "continuity_summary": continuity_summary(patients).to_pandas(),
        "histograms": cp.histograms(patients),
        "high_upc": cp.high_upc(patients),
        "age_bands": cp.age_bands(patients, inputs.people, inputs.span.as_of),
        "overview": cp.overview(enc, **window),
        "remarks": list(inputs.data.remarks) + remarks,
    }


def compute_clinicians(inputs: Inputs, panels: ibis.Table) -> dict:
    """The fields of the Clinicians section, from the panels."""
    return {"clinicians": cp.clinician_table(panels, inputs.clinicians, inputs.span.as_of)}


def compute_pairs(dyads: ibis.Table) -> dict:
    """The fields of the Pairs section, from the dyads."""
    return {
        "relationships": cp.relationship_counts(dyads),
        "dependence_bins": cp.dependence_bins(dyads),
        "dependence_sides": cp.dependence_sides(dyads),
    }


def compute_trends(inputs: Inputs, options: ReportOptions) -> dict:
    """Continuity per quarter over the latest ``trend_years``, and the rejected rows of the methods section."""
    trends, months = cp.trends(
        inputs.encounters,
        inputs.span,
        settings=options.settings,
        min_visits=options.min_visits,
        years=options.trend_years,
    )
    return {
        "trends": trends,
        "trend_window_months": months,
        "quarantine": cp.quarantine_by_reason(inputs.data.quarantine),
    }


def compute_breaks(inputs: Inputs, breaks: ibis.Table) -> dict:
    """The Breaks section's fields, from the breaks over all the data."""
    span = inputs.span
    departed, destinations = cp.departed_clinicians(breaks, inputs.clinicians, span)
    return {
        "breaks_by_quarter": cp.breaks_by_quarter(breaks, start=span.start, end=span.end),
        "breaks_by_cause": cp.breaks_by_quarter(breaks, by="cause", start=span.start, end=span.end),
        "breaks_current": cp.breaks_in_window(breaks, start=span.lo, end=span.hi),
        "departed": departed,
        "departed_destinations": destinations,
    }


def compute_who(inputs: Inputs, options: ReportOptions, tables: Tables):
    """Who needs whom: the answer handed in, or summarised from the same tables as the sections."""
    from carethread.measures.dependence import who_needs_whom

    if tables.who is not None:
        return tables.who
    return who_needs_whom(
        tables.dyads,
        continuity=tables.patients,
        attribution=tables.attribution,
        breaks=tables.breaks,
        panels=tables.panels,
        population=options.population,
        **inputs.current.bounds(),
        as_of=inputs.current.as_of,
        min_visits=options.min_visits,
        bootstrap=options.bootstrap,
        seed=0,
    )
