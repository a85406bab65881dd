"""Dates written in other ways than ISO 8601: which one pattern reads them all, if any.

Real extracts write ``08/14/2024`` or ``3/12/2024 9:05``. When every such value
of a column fits one pattern, the quarantine's remark (and the error when no
row is valid) names the ``--date-format`` that reads them, and
``date_format="auto"`` reads them with it. A pattern is never guessed between
readings that disagree: when the values fit both a day-first and a month-first
pattern (``03/04/2024``), both are named and the user chooses.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

_DAYS = (
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
)
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", "T%H:%M", "T%H:%M:%S")

#: Every pattern tried, a date form followed by an optional time of day.
PATTERNS: tuple[str, ...] = tuple(day + time for day in _DAYS for time in _TIMES)

#: Values this many at most are looked at (distinct ones).
SAMPLE = 1_000

_ISO = re.compile(r"\d{4}-\d{1,2}-\d{1,2}([ T].*)?")


@dataclass(frozen=True)
class DateGuess:
    """What a set of date values fits: one ``pattern``, or ``ambiguous`` patterns that
    read them differently (day first or month first), or neither."""

    pattern: str | None = None
    ambiguous: tuple[str, ...] = ()


def _reading(value: str, pattern: str) -> _dt.datetime | None:
    try:
        return _dt.datetime.strptime(value, pattern)
    except ValueError:
        return None


def guess_date_format(values: Iterable[str | None]) -> DateGuess:
    """The one strptime pattern that reads every value, from :data:`PATTERNS`.

    ISO values are left out (they are read anyway). Patterns that read every
    value the same way count as one (``%d %b %Y`` and ``%d %B %Y`` for ``14 May
    2024``); patterns that read them differently make the guess ambiguous.

    >>> guess_date_format(["08/14/2024", "3/12/2024"])
    DateGuess(pattern='%m/%d/%Y', ambiguous=())
    >>> guess_date_format(["3/12/2024 9:05", "3/14/2024 10:30", "2024-01-02"]).pattern
    '%m/%d/%Y %H:%M'
    >>> guess_date_format(["03/04/2024", "05/06/2024"]).ambiguous
    ('%m/%d/%Y', '%d/%m/%Y')
    >>> guess_date_format(["soon", "08/14/2024"])
    DateGuess(pattern=None, ambiguous=())
    """
    sample: list[str] = []
    for value in values:
        text = (value or "").strip()
        if text and not _ISO.fullmatch(text) and text not in sample:
            sample.append(text)
            if len(sample) >= SAMPLE:
                break
    if not sample:
        return DateGuess()
    readings: dict[tuple, str] = {}
    for pattern in PATTERNS:
        first = _reading(sample[0], pattern)
        if first is None:
            continue
        read = [first, *(_reading(v, pattern) for v in sample[1:])]
        if all(r is not None for r in read):
            readings.setdefault(tuple(read), pattern)
    if len(readings) == 1:
        return DateGuess(pattern=next(iter(readings.values())))
    return DateGuess(ambiguous=tuple(readings.values()))


def date_hint(column: str, guess: DateGuess) -> str | None:
    """A sentence on the pattern that would read a column's unparseable values, if any.

    >>> date_hint("start", DateGuess(pattern="%m/%d/%Y"))
    'The start values that are not ISO dates all fit %m/%d/%Y: pass --date-format %m/%d/%Y (or --date-format auto).'
    """
    if guess.pattern is not None:
        return (
            f"The {column} values that are not ISO dates all fit {guess.pattern}: pass --date-format "
            f"{guess.pattern} (or --date-format auto)."
        )
    if guess.ambiguous:
        shown = " or ".join(guess.ambiguous[:3])
        return (
            f"The {column} values that are not ISO dates fit {shown}, which read them differently (day or "
            "month first): pass the --date-format your data uses."
        )
    return None
