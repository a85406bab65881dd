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


def no_breaks() -> pd.DataFrame:
    """An empty :func:`~carethread.reporting.compute.breaks_by_quarter` result (before breaks are computed)."""
    return pd.DataFrame(columns=["quarter", "quarter_start", "kind", "breaks"])


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
    clinicians_hidden, attributed, break_kinds
        Set by protection: clinicians left out as too small, the attributed
        patients (``None`` when that total would give a hidden panel away),
        and breaks per kind over the whole period with their shares.
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
    departed: pd.DataFrame | None = None
    departed_destinations: pd.DataFrame | None = None
    who: object | None = None
    privacy: bool | None = None
    clinicians_hidden: int = 0
    attributed: int | None = None
    break_kinds: pd.DataFrame | None = None
    who_headline: str | None = None
    who_table: pd.DataFrame | None = None
    who_values: dict = field(default_factory=dict)
    network: object | None = None  # carethread.reporting.network.NetworkValues
    #: The "If a clinician leaves" section (:class:`carethread.reporting.departure.Departure`).
    departure: object | None = None

    def count(self, n) -> str:
        """A count as the report writes it (``<11`` for 1-10 with privacy on)."""
        if self.privacy is None:
            raise RuntimeError("Exact report values are never written: protect them first.")
        return pv.suppress(n, privacy=self.privacy)
