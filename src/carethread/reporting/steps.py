"""The report's steps before drawing: read the input, then compute each section's values.

Each ``compute_*`` function runs one group of measures in the engine and
returns the exact fields of :class:`~carethread.reporting.values.ReportValues`
it fills (:mod:`carethread.reporting.compute` aggregates them). The measure
tables that who-needs-whom summarises (the patients' continuity, the dyads,
the breaks) are computed once here and handed on, not computed again.
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
    window: dict = field(default_factory=dict)


def read_inputs(input_or_data, options: ReportOptions, *, con=None, format: str = "auto") -> Inputs:  # noqa: A002
    """Read and validate (or take) the data, cache its tables, fix the span and the pseudonym labels."""
    source_path = None
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
    o = options
    span = cp.span_of(enc, start=o.start, end=o.end, as_of=o.as_of, lookback_months=o.lookback_months)
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
        span=span,
        clinician_label=_labels(secret, "Clinician", ids["clinician_id"], o.privacy),
        practice_label=_labels(secret, "Practice", ids["practice_id"], o.privacy),
        # Cross-sectional sections describe the attribution window, like panels and who-needs-whom.
        window={"settings": o.settings, "start": span.lo, "end": span.hi},
    )


def _labels(secret: bytes, kind: str, ids: list[str], privacy: bool) -> pv.Pseudonymizer:
    return pv.Pseudonymizer(secret, kind, ids if privacy else (), enabled=privacy)


def compute_patients(inputs: Inputs, options: ReportOptions) -> tuple[ibis.Table, dict]:
    """Patient continuity (kept for who-needs-whom) and the fields of the Patients section."""
    from carethread.measures.continuity import continuity_summary, patient_continuity, patient_continuity_remarks

    enc, window, min_visits = inputs.encounters, inputs.window, options.min_visits
    patients = patient_continuity(enc, min_visits=min_visits, **window).cache()
    remarks = patient_continuity_remarks(enc, patients, min_visits=min_visits, **window)
    return patients, {
        "continuity_summary": continuity_summary(patients).to_pandas(),
        "histograms": cp.histograms(patients),
        "high_upc": cp.high_upc(patients),
        "age_bands": cp.age_bands(patients, inputs.people, inputs.span.as_of),
        "overview": cp.overview(enc, **window),
        "remarks": list(inputs.data.remarks) + remarks,
    }


def compute_clinicians(inputs: Inputs, options: ReportOptions) -> dict:
    """Panels: the fields of the Clinicians section."""
    from carethread.measures.panels import panels

    panel = panels(
        inputs.encounters,
        as_of=inputs.span.as_of,
        lookback_months=options.lookback_months,
        clinicians=inputs.clinicians,
        **inputs.window,
    )
    return {"clinicians": cp.clinician_table(panel)}


def compute_pairs(inputs: Inputs) -> tuple[ibis.Table, dict]:
    """Dyads (kept for who-needs-whom) and the fields of the Pairs section."""
    from carethread.measures.dyads import dyads

    pairs = dyads(inputs.encounters, **inputs.window).cache()
    return pairs, {"relationships": cp.relationship_counts(pairs), "dependence_bins": cp.dependence_bins(pairs)}


def compute_trends(inputs: Inputs, options: ReportOptions) -> dict:
    """Continuity per quarter, and the rejected rows of the methods section."""
    trends, months = cp.trends(inputs.encounters, inputs.span, settings=options.settings, min_visits=options.min_visits)
    return {
        "trends": trends,
        "trend_window_months": months,
        "quarantine": cp.quarantine_by_reason(inputs.data.quarantine),
    }


def compute_breaks(inputs: Inputs, options: ReportOptions) -> tuple[ibis.Table, dict]:
    """Relationship breaks over the user's window (kept for who-needs-whom) and the Breaks section's fields."""
    from carethread.measures.breaks import relationship_breaks

    span = inputs.span
    breaks = relationship_breaks(
        inputs.encounters,
        clinicians=inputs.clinicians,
        settings=options.settings,
        start=span.start,
        end=span.end,
    ).cache()
    by_quarter = cp.breaks_by_quarter(breaks, start=span.start, end=span.end)
    departed, destinations = cp.departed_clinicians(breaks, inputs.clinicians, span)
    return breaks, {"breaks_by_quarter": by_quarter, "departed": departed, "departed_destinations": destinations}


def compute_who(inputs: Inputs, options: ReportOptions, *, patients: ibis.Table, pairs: ibis.Table, breaks):
    """Who needs whom, summarised from the tables the other sections computed."""
    from carethread.measures.attribution import attribute
    from carethread.summary import who_needs_whom

    span = inputs.span
    return who_needs_whom(
        pairs,
        continuity=patients,
        attribution=attribute(
            inputs.encounters, as_of=span.as_of, lookback_months=options.lookback_months, settings=options.settings
        ),
        breaks=breaks,
        start=span.lo,
        end=span.hi,
        as_of=span.as_of,
        min_visits=options.min_visits,
        bootstrap=options.bootstrap,
        seed=0,
    )
