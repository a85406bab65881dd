"""Checks and conversions for the options every measure shares.

One grammar for every measure (docs/definitions.md)::

    measure(encounters, *, clinicians=None, settings=None, start=None, end=None,
            as_of=None, <options of the measure, units in their names>) -> ibis.Table

A measure takes only the shared options it uses, always with these names and
types and in this order. The checks live here so that each measure validates
them the same way and says how to fix them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

import ibis
import pyarrow as pa

from carethread.errors import OptionError
from carethread.schema import DEFAULT_VISIT_SETTINGS, SETTINGS, normalize_label

#: Settings whose encounters count as visits: ``None`` (``primary_care`` and
#: ``virtual``), a comma-separated string or an iterable of setting names.
Settings: TypeAlias = str | Iterable[str] | None

#: A date or moment: ``YYYY-MM-DD`` (or ISO date and time), a date or a datetime.
DateLike: TypeAlias = str | _dt.date | _dt.datetime | None

#: The canonical clinicians table: an Ibis table, or data ``ibis.memtable`` reads (an
#: Arrow table, a mapping of columns, a pandas DataFrame).
Clinicians: TypeAlias = ibis.Table | pa.Table | Mapping[str, Sequence] | None

LEVELS: tuple[str, ...] = ("clinician", "practice")


def normalize_settings(settings: Settings) -> tuple[str, ...]:
    """Return the settings as a sorted tuple of canonical names.

    Accepts ``None`` (the default ``primary_care`` and ``virtual``), a comma
    separated string, or an iterable. Each name is read like the readers read
    the setting column (:func:`carethread.schema.normalize_label`): case,
    surrounding spaces and the separators between words do not matter.

    >>> normalize_settings("virtual, Primary  Care")
    ('primary_care', 'virtual')
    """
    if settings is None:
        return DEFAULT_VISIT_SETTINGS
    if isinstance(settings, str):
        settings = settings.split(",")
    chosen = {label for label in (normalize_label(s) for s in settings) if label}
    unknown = sorted(chosen - set(SETTINGS))
    if unknown:
        raise OptionError(f"Unknown setting {', '.join(unknown)}; choose from {', '.join(SETTINGS)}.")
    if not chosen:
        raise OptionError(f"No setting given; choose from {', '.join(SETTINGS)}.")
    return tuple(sorted(chosen))


def clinicians_table(clinicians: Clinicians) -> ibis.Table | None:
    """The clinicians table as an Ibis table (``None`` stays ``None``).

    >>> clinicians_table({"clinician_id": ["A"], "capacity": [900]}).count().execute()
    1
    """
    if clinicians is None or isinstance(clinicians, ibis.Table):
        return clinicians
    return ibis.memtable(clinicians)


def as_timestamp(value: DateLike, name: str) -> _dt.datetime | None:
    """Parse a window bound (date, datetime or ISO string); ``None`` stays ``None``.

    >>> as_timestamp("2024-03-01", "start")
    datetime.datetime(2024, 3, 1, 0, 0)
    """
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    try:
        return _dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise OptionError(f"--{name} {value!s:.40} is not a date; write it as YYYY-MM-DD.") from None


def check_window(start: DateLike, end: DateLike) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """Parse and check a ``[start, end)`` window."""
    s, e = as_timestamp(start, "start"), as_timestamp(end, "end")
    if s is not None and e is not None and e <= s:
        raise OptionError(f"--end ({e:%Y-%m-%d}) must be after --start ({s:%Y-%m-%d}).")
    return s, e


def check_min_visits(min_visits: int) -> int:
    """``min_visits`` must be a whole number of at least 1."""
    if isinstance(min_visits, bool) or int(min_visits) != min_visits or min_visits < 1:
        raise OptionError(f"--min-visits must be a whole number of at least 1, not {min_visits!r}.")
    return int(min_visits)


def check_level(level: str) -> str:
    """``level`` is ``clinician`` or ``practice``."""
    if level not in LEVELS:
        raise OptionError(f"--level must be one of {', '.join(LEVELS)}, not {level!r}.")
    return level


def check_lookback_days(days: int | None, name: str = "known-lookback-days") -> int | None:
    """A look-back in whole days (at least 1), or ``None`` for unbounded."""
    if days is None:
        return None
    if isinstance(days, bool) or int(days) != days or days < 1:
        raise OptionError(f"--{name} must be a whole number of days of at least 1, not {days!r}.")
    return int(days)


def check_options(
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    min_visits: int = 2,
    level: str = "clinician",
    known_lookback_days: int | None = None,
) -> None:
    """Check every shared option at once, before any data is read."""
    normalize_settings(settings)
    check_window(start, end)
    check_min_visits(min_visits)
    check_level(level)
    check_lookback_days(known_lookback_days)


def check_rule(rule: str, rules: Iterable[str], name: str = "rule") -> str:
    """``rule`` must be one of ``rules``; the message lists them.

    >>> check_rule("plurality", ("plurality", "majority"))
    'plurality'
    """
    rules = tuple(rules)
    if rule not in rules:
        raise OptionError(f"--{name} must be one of {', '.join(rules)}, not {rule!r}.")
    return rule


def check_months(months: int, name: str = "lookback") -> int:
    """A number of whole months, at least 1 (a look-back, a waiting time).

    >>> check_months(18)
    18
    """
    if isinstance(months, bool) or not isinstance(months, (int, float)) or int(months) != months or months < 1:
        raise OptionError(f"--{name} must be a whole number of months of at least 1, not {months!r}.")
    return int(months)


def months_before(moment: _dt.datetime, months: int) -> _dt.datetime:
    """``moment`` moved back by whole calendar months, the day clamped to the month's end.

    >>> months_before(_dt.datetime(2024, 8, 31), 18)
    datetime.datetime(2023, 2, 28, 0, 0)
    """
    import calendar

    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
