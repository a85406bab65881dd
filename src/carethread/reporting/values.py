"""What one report shows, first exact (computed) and then protected (shown): one dataclass for both.

:mod:`carethread.reporting.compute` fills a :class:`ReportValues` with exact
counts (``privacy`` is ``None``: nothing in it may be written);
:func:`carethread.reporting.protect.protect` returns a copy with small counts
suppressed, pseudonyms in place of clinician and practice ids and the fields
only a shown report has (``privacy`` set). Sections draw from the protected
copy only, and :meth:`ReportValues.count` refuses to write an exact count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from carethread import privacy as pv


@dataclass
class Span:
    """The periods the report covers.

    ``first``/``last`` are the first and last encounter days in ``[start,
    end)`` (the user's window, open when ``None``): breaks and trends cover
    them. ``lo``/``hi`` is the *current* window the cross-sectional sections
    describe — the attribution window ``[as_of - lookback_months, as_of)``
    unless ``start``/``end`` replace a side — the same window the panels and
    the who-needs-whom summary use, so their numbers agree.
    """

    first: dt.date | None
    last: dt.date | None
    start: dt.datetime | None
    end: dt.datetime | None
    as_of: dt.datetime
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None
    lookback_months: int = 18

    @classmethod
    def of(cls, current, over_time) -> Span:
        """The span of the two windows of :mod:`carethread.run.windows` (the current picture, over time)."""
        return cls(
            over_time.first,
            over_time.last,
            over_time.start,
            over_time.end,
            current.as_of,
            current.start,
            current.end,
            current.lookback_months,
        )


def no_breaks(by: str = "kind") -> pd.DataFrame:
    """An empty :func:`~carethread.reporting.compute.breaks_by_quarter` result (before breaks are computed)."""
    return pd.DataFrame(columns=["quarter", "quarter_start", by, "breaks"])


@dataclass
class ReportValues:
    """All aggregates of one report, exact or protected (see the module docstring).

    Frames of counts gain a ``state`` column when protected (``shown``,
    ``small``, ``complementary``, ``withheld``; see :mod:`carethread.privacy`)
    and their hidden counts become null.

    Attributes
    ----------
    reads
        Rows read, accepted and quarantined per source: the readers'
        :class:`~carethread.data.ReadCount` when exact, their texts
        (``source, read, accepted, quarantined``) when protected.
    who
        The :class:`~carethread.summary.WhoNeedsWhom` result when exact;
        ``None`` once protected, where ``who_headline``, ``who_table`` and
        ``who_values`` hold what may be shown of it.
    privacy
        ``None`` for exact values; ``True`` or ``False`` (no suppression,
        real identifiers) once protected.
    breaks_by_quarter, breaks_by_cause
        Breaks per quarter by kind, and by cause.
    clinicians_hidden, attributed, break_kinds, break_causes
        Set by protection: clinicians left out as too small, the attributed
        patients (``None`` when that total would give a hidden panel away),
        and breaks per kind and per cause over the whole period with their
        shares.
    dependence_sides
        Relationships above, on and below the line of equal dependence
        (patient dependence against clinician dependence).
    breaks_current
        Breaks dated in the current window, by kind and ``total``: the
        counts who-needs-whom gives.
    population
        The :class:`~carethread.summary.population.Population` the answer
        assumed (a patient sample leaves the clinician side unmeasured).
    min_visits, trend_years, windows, confirmed_breaks
        The fewest visits for a score, the years of trends shown, the
        two :class:`~carethread.run.windows.Window` (``current``,
        ``over_time``) the sections describe, and whether breaks are
        confirmed changes of usual clinician (else attribution churn).
    """

    span: Span
    overview: dict
    continuity_summary: pd.DataFrame
    histograms: pd.DataFrame
    high_upc: dict
    age_bands: pd.DataFrame | None
    clinicians: pd.DataFrame
    relationships: dict
    dependence_bins: pd.DataFrame
    trends: pd.DataFrame
    trend_window_months: int
    quarantine: pd.DataFrame
    reads: list
    remarks: list[str] = field(default_factory=list)
    breaks_by_quarter: pd.DataFrame = field(default_factory=no_breaks)
    breaks_by_cause: pd.DataFrame = field(default_factory=lambda: no_breaks("cause"))
    departed: pd.DataFrame | None = None
    departed_destinations: pd.DataFrame | None = None
    who: object | None = None
    privacy: bool | None = None
    clinicians_hidden: int = 0
    attributed: int | None = None
    left_panels: int | None = None
    break_kinds: pd.DataFrame | None = None
    break_causes: pd.DataFrame | None = None
    who_headline: str | None = None
    who_table: pd.DataFrame | None = None
    who_values: dict = field(default_factory=dict)
    dependence_sides: dict = field(default_factory=dict)
    breaks_current: dict = field(default_factory=dict)
    population: object | None = None
    min_visits: int = 2
    trend_years: int | None = None
    windows: dict = field(default_factory=dict)
    confirmed_breaks: bool = True
    network: object | None = None  # carethread.reporting.network.NetworkValues
    #: The "If a clinician leaves" section (:class:`carethread.reporting.departure.Departure`).
    departure: object | None = None

    def count(self, n) -> str:
        """A count as the report writes it (``<11`` for 1-10 with privacy on)."""
        if self.privacy is None:
            raise RuntimeError("Exact report values are never written: protect them first.")
        return pv.suppress(n, privacy=self.privacy)
