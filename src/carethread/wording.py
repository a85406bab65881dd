"""Numbers in sentences: one way to write counts, shares, rounded figures and dates.

Every message, remark, headline and report cell that puts a number into text
goes through this module, so the command line, the remarks and the HTML
report write the same number the same way:

* counts group thousands with a space (``1 832``), as ISO 31-0 and most
  European style guides do, so a count reads the same in every language and
  never looks like a decimal (``1,832`` is 1.832 in much of Europe);
* shares are percentages with a space before the sign (``67 %``), whole from
  10 % up and with two significant digits below, so small shares keep their
  information (``0.060 %``, not ``0 %``);
* a figure spoken about (``about 1 400 relationships``) keeps two significant
  digits;
* a missing value (``None``, NaN, pandas' NA) is written :data:`MISSING` by the
  functions made for table cells (:func:`percent`, :func:`about`,
  :func:`decimals`).

:func:`carethread.privacy.suppress` builds on :func:`format_count` to write
counts that may be small.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
from collections.abc import Callable

#: How a missing value is written in a sentence or a table cell.
MISSING = "—"


def is_missing(value) -> bool:
    """Whether ``value`` is missing: ``None``, NaN, or pandas' NA.

    >>> is_missing(None), is_missing(float("nan")), is_missing(0.0), is_missing(3)
    (True, True, False, False)
    """
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are the values unequal to themselves
    except TypeError:  # pandas.NA refuses to be a boolean
        return True


def _missing_as_dash(write: Callable[..., str]) -> Callable[..., str]:
    """Let ``write(value, ...)`` take a missing value too, and write it :data:`MISSING`."""

    @functools.wraps(write)
    def writes_missing(value, *args, **kwargs) -> str:
        return MISSING if is_missing(value) else write(value, *args, **kwargs)

    return writes_missing


def format_count(n: int) -> str:
    """Write a count with a space between thousands.

    >>> format_count(1832)
    '1 832'
    >>> format_count(12)
    '12'
    """
    return f"{int(n):,}".replace(",", " ")


def plural(n: int, word: str, many: str | None = None) -> str:
    """A count and its noun: ``'1 row'``, ``'2 rows'``, ``'1 000 rows'``.

    ``many`` is the plural when it is not ``word + "s"``.

    >>> plural(1, "row"), plural(1000, "row"), plural(2, "person", "people")
    ('1 row', '1 000 rows', '2 people')
    """
    return f"{format_count(n)} {word if n == 1 else (many or word + 's')}"


@_missing_as_dash
def about(n: float | None) -> str:
    """A figure rounded for speech: two significant digits, thousands spaced.

    >>> about(1437), about(2), about(1.5), about(87.4), about(None)
    ('1 400', '2', '1.5', '87', '—')
    """
    n = float(n)
    if n >= 10:
        digits = math.floor(math.log10(n)) - 1
        return format_count(round(round(n, -digits)))
    return f"{round(n, 1):g}"


@_missing_as_dash
def percent(share: float | None) -> str:
    """A share as a percentage: whole percent from 10 %, two significant digits below.

    >>> percent(0.6667), percent(0.0452), percent(0.000714), percent(0), percent(None)
    ('67 %', '4.5 %', '0.071 %', '0 %', '—')
    """
    p = float(share) * 100
    if p >= 10 or p == 0:
        return f"{round(p):.0f} %"
    digits = 1 - math.floor(math.log10(p))
    return f"{round(p, digits):.{max(digits, 0)}f} %"


@_missing_as_dash
def decimals(value: float | None, places: int = 3) -> str:
    """A statistic with a fixed number of decimal places (``0.667``).

    >>> decimals(2 / 3), decimals(0.5, 1), decimals(None)
    ('0.667', '0.5', '—')
    """
    return f"{float(value):.{places}f}"


@_missing_as_dash
def day(value: _dt.date | None) -> str:
    """A date as people write it: ``1 Jul 2023`` (:data:`MISSING` when unknown).

    >>> import datetime as dt
    >>> day(dt.date(2023, 7, 1)), day(dt.datetime(2024, 12, 31, 9)), day(None)
    ('1 Jul 2023', '31 Dec 2024', '—')
    """
    return f"{value.day} {value:%b %Y}"


def quarter(value: _dt.date) -> str:
    """The calendar quarter of a date: ``2024 Q3``.

    >>> import datetime as dt
    >>> quarter(dt.date(2024, 7, 1)), quarter(dt.date(2024, 12, 31))
    ('2024 Q3', '2024 Q4')
    """
    return f"{value.year} Q{(value.month - 1) // 3 + 1}"
