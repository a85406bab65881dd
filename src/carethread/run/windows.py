"""One window story: which period each result describes, said the same way everywhere.

Every command, :func:`carethread.run_all` and the report use the same two
defaults (docs/windows.md):

* **The current picture** — patients, attribution, panels, dyads, who needs
  whom, and the report's answer, patients, clinicians and pairs — covers the
  attribution window ``[as_of - lookback_months, as_of)``: ``as_of`` is
  ``--as-of``, else ``--end``, else the day after the last encounter, and the
  look-back is 18 months. ``--start`` and ``--end`` replace either side.
* **Over time** — relationship breaks and the report's breaks section — covers
  all the data (``[--start, --end)`` when given); the report's trends cover its
  last :data:`TREND_YEARS` years unless told otherwise.

A :class:`Window` says which one a result used: in words on the first line
the command prints (:meth:`Window.line`) and as text pairs in the file it
writes (:meth:`Window.metadata`, Parquet key-value metadata or a CSV's JSON
sidecar). Python's measure functions take exactly the window they are given
(open when ``None``); the window story is the default of the commands,
:func:`carethread.run_all` and the report.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carethread.options import DateLike, Settings, as_timestamp, check_window, normalize_settings
from carethread.wording import day

if TYPE_CHECKING:
    import ibis

#: The two scopes a result can have.
CURRENT, OVER_TIME = "current", "all"

#: Years of data the report's trends cover by default (the latest ones).
TREND_YEARS = 5


@dataclass(frozen=True)
class Window:
    """The period and settings of one result.

    ``start`` is inclusive and ``end`` exclusive (``None``: open);
    ``first``/``last`` are the first and last encounter days inside it,
    ``as_of`` the attribution date and ``lookback_months`` its look-back
    (the current picture's only); ``given`` says which of ``start``/``end``
    the user set.
    """

    scope: str
    start: _dt.datetime | None
    end: _dt.datetime | None
    settings: tuple[str, ...]
    as_of: _dt.datetime | None = None
    lookback_months: int | None = None
    first: _dt.date | None = None
    last: _dt.date | None = None
    given: tuple[bool, bool] = (False, False)

    def bounds(self) -> dict[str, _dt.datetime | None]:
        """``start`` and ``end`` as keyword arguments of a measure."""
        return {"start": self.start, "end": self.end}

    def span(self) -> str:
        """The days covered, both inclusive: ``2 Jul 2023 to 1 Jan 2025``."""
        lo = self.start.date() if self.start is not None else self.first
        hi = (self.end - _dt.timedelta(days=1)).date() if self.end is not None else self.last
        return f"{day(lo)} to {day(hi)}"

    def reason(self) -> str:
        """Why this window: the default it is, or that it was given."""
        if self.scope == CURRENT:
            if not any(self.given):
                return f"the attribution window: the {self.lookback_months} months before {day(self.as_of)}"
            return f"--start/--end as given; attribution as of {day(self.as_of)}"
        return "all the data" if not any(self.given) else "--start/--end as given"

    def text(self) -> str:
        """The window in words: ``2 Jul 2023 to 1 Jan 2025 (the attribution window: ...)``."""
        return f"{self.span()} ({self.reason()})"

    def line(self) -> str:
        """The first line a command prints: the window and the settings counted as visits."""
        return f"Window: {self.text()}; visits in {', '.join(self.settings)}."

    def metadata(self, **options) -> dict[str, str]:
        """Text pairs for a result file's metadata: the window (dates ISO, ``end`` exclusive, empty when
        open; the attribution date and look-back in the current picture's) and the measure's ``options``
        that are set, each as ``carethread.<name>``.

        >>> w = Window(OVER_TIME, None, None, ("primary_care",), first=_dt.date(2020, 1, 1), last=_dt.date(2020, 6, 30))
        >>> w.metadata(confirm=1, period=None)["carethread.confirm"], "carethread.period" in w.metadata(period=None)
        ('1', False)
        """

        def iso(moment) -> str:
            return moment.date().isoformat() if isinstance(moment, _dt.datetime) else ""

        pairs = {
            "carethread.window": self.text(),
            "carethread.window_scope": "current picture" if self.scope == CURRENT else "over time",
            "carethread.window_start": iso(self.start),
            "carethread.window_end_exclusive": iso(self.end),
            "carethread.settings": ",".join(self.settings),
        }
        if self.scope == CURRENT:
            pairs |= {"carethread.as_of": iso(self.as_of), "carethread.lookback_months": str(self.lookback_months)}
        return pairs | {f"carethread.{name}": str(value) for name, value in options.items() if value is not None}


def _days(encounters: ibis.Table, lo, hi) -> tuple[_dt.date | None, _dt.date | None]:
    """First and last encounter day in ``[lo, hi)``."""
    from carethread.visits import encounters_in_window

    e = encounters_in_window(encounters, start=lo, end=hi)
    row = e.aggregate(first=e.start.min(), last=e.start.max()).to_pyarrow().to_pylist()[0]
    return tuple(v.date() if isinstance(v, _dt.datetime) else v for v in (row["first"], row["last"]))


def current_window(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    as_of: DateLike = None,
    lookback_months: int = 18,
) -> Window:
    """The window of the current picture: the attribution window, ``start``/``end`` replacing a side.

    ``as_of`` defaults as every measure's (:func:`carethread.visits.default_as_of`);
    with no encounter at all, to today.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"start": [dt.datetime(2023, 2, 1, 9), dt.datetime(2024, 12, 31, 9)]})
    >>> print(current_window(enc).line())  # doctest: +NORMALIZE_WHITESPACE
    Window: 1 Jul 2023 to 31 Dec 2024 (the attribution window: the 18 months before 1 Jan 2025);
    visits in primary_care, virtual.
    """
    from carethread.measures.panels import counting_window
    from carethread.options import check_months
    from carethread.visits import default_as_of

    check_window(start, end)
    months = check_months(lookback_months, "lookback-months")
    when = as_timestamp(as_of, "as-of") if as_of is not None else default_as_of(encounters, end=end)
    when = when or _dt.datetime.combine(_dt.date.today(), _dt.time())
    lo, hi = counting_window(when, months, start, end)
    return Window(
        CURRENT,
        lo,
        hi,
        normalize_settings(settings),
        as_of=when,
        lookback_months=months,
        given=(start is not None, end is not None),
    )


def all_data_window(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
) -> Window:
    """The window of results over time: all the data, or ``[start, end)`` when given.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"start": [dt.datetime(2023, 2, 1, 9), dt.datetime(2024, 12, 31, 9)]})
    >>> print(all_data_window(enc).text())
    1 Feb 2023 to 31 Dec 2024 (all the data)
    """
    lo, hi = check_window(start, end)
    first, last = _days(encounters, lo, hi)
    return Window(
        OVER_TIME,
        lo,
        hi,
        normalize_settings(settings),
        first=first,
        last=last,
        given=(start is not None, end is not None),
    )


def over_time_line(over_time: Window, trend_years: int | None) -> str:
    """The second line of a command that covers time: the breaks' window and the trends' years.

    >>> w = Window(OVER_TIME, None, None, ("primary_care",), first=_dt.date(2020, 1, 1), last=_dt.date(2024, 12, 31))
    >>> over_time_line(w, 5)
    'Breaks: 1 Jan 2020 to 31 Dec 2024 (all the data); trends: the latest 5 years.'
    """
    trends = f"the latest {trend_years} years" if trend_years else "all the data"
    return f"Breaks: {over_time.text()}; trends: {trends}."
