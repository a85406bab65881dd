"""The two windows of a cohort study: a baseline that measures, a follow-up that counts.

docs/definitions.md, *Outcome windows*. The exposure (a continuity index, or
the relationship's duration) and the adjustment covariates are measured in the
baseline window ``[baseline_start, baseline_end)``; outcomes are counted in the
follow-up window ``[followup_start, followup_end)`` that starts where the
baseline ends. Measuring both in one window invites reverse causation: an
illness that brings a patient to the emergency department also sends them to
whichever clinician is free, so low continuity would follow the outcome
rather than precede it (docs/outcomes.md).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import ibis

from carethread.errors import OptionError
from carethread.options import DateLike, as_timestamp, check_months, months_before
from carethread.visits import default_as_of


@dataclass(frozen=True)
class StudyWindows:
    """Baseline ``[baseline_start, followup_start)`` then follow-up ``[followup_start, followup_end)``."""

    baseline_start: _dt.datetime
    followup_start: _dt.datetime
    followup_end: _dt.datetime

    @property
    def baseline_end(self) -> _dt.datetime:
        """The baseline's exclusive end: the first day of the follow-up."""
        return self.followup_start

    @property
    def followup_days(self) -> int:
        """Days in the follow-up window."""
        return (self.followup_end - self.followup_start).days

    def text(self) -> str:
        """``baseline A to B, follow-up B to C`` (end dates exclusive).

        >>> StudyWindows(_dt.datetime(2022, 1, 1), _dt.datetime(2023, 1, 1), _dt.datetime(2025, 1, 1)).text()
        'baseline 2022-01-01 to 2023-01-01, follow-up 2023-01-01 to 2025-01-01'
        """
        return (
            f"baseline {self.baseline_start:%Y-%m-%d} to {self.followup_start:%Y-%m-%d}, "
            f"follow-up {self.followup_start:%Y-%m-%d} to {self.followup_end:%Y-%m-%d}"
        )


def parse_window(text: DateLike | tuple | None, name: str) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """``"A:B"`` (either side may be empty) or a pair as two moments.

    >>> parse_window("2022-01-01:2023-01-01", "baseline")
    (datetime.datetime(2022, 1, 1, 0, 0), datetime.datetime(2023, 1, 1, 0, 0))
    >>> parse_window(None, "baseline")
    (None, None)
    """
    if text is None:
        return None, None
    if isinstance(text, (tuple, list)):
        if len(text) != 2:
            raise OptionError(f"--{name} takes two dates, START:END.")
        lo, hi = text
    else:
        lo, sep, hi = str(text).partition(":")
        if not sep:
            raise OptionError(f"--{name} {text!s:.40} is not START:END; write it as 2022-01-01:2023-01-01.")
    lo = as_timestamp(lo or None, name)
    hi = as_timestamp(hi or None, name)
    if lo is not None and hi is not None and hi <= lo:
        raise OptionError(f"--{name}: the end ({hi:%Y-%m-%d}) must be after the start ({lo:%Y-%m-%d}).")
    return lo, hi


def data_end(encounters: ibis.Table) -> _dt.datetime:
    """The end of the data: the first day of the month after the last encounter.

    The day after the last encounter (:func:`carethread.visits.default_as_of`),
    moved on to the next first of a month unless it is one, so that default
    windows are whole months.

    >>> import datetime as dt
    >>> enc = ibis.memtable({"start": [dt.datetime(2024, 12, 30, 9)]})
    >>> data_end(enc)
    datetime.datetime(2025, 1, 1, 0, 0)
    """
    after = default_as_of(encounters)
    if after is None:
        raise OptionError("The input has no encounter, so it has no baseline or follow-up window.")
    if after.day == 1:
        return after
    month = after.replace(day=1)
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)


def study_windows(
    encounters: ibis.Table,
    *,
    baseline: DateLike | tuple | None = None,
    followup: DateLike | tuple | None = None,
    baseline_months: int = 12,
    followup_months: int = 24,
) -> StudyWindows:
    """The baseline and follow-up windows, from what is given and the data.

    Parameters
    ----------
    encounters
        Canonical encounters; their last date ends the follow-up when
        ``followup`` does not (:func:`data_end`).
    baseline, followup
        ``"A:B"`` and ``"B:C"`` (or pairs); either side may be left empty.
    baseline_months, followup_months
        Lengths used for a side not given (defaults 12 and 24: one year of
        baseline, two of follow-up, as Nyweide et al. 2013).

    Returns
    -------
    StudyWindows

    Notes
    -----
    The follow-up starts where the baseline ends: a gap or an overlap is an
    error, because a same-window design reads reverse causation as effect.
    The defaults place the follow-up at the end of the data: it ends at
    :func:`data_end` and starts ``followup_months`` earlier; the baseline is
    the ``baseline_months`` before it.

    Examples
    --------
    >>> import datetime as dt
    >>> enc = ibis.memtable({"start": [dt.datetime(2021, 3, 1), dt.datetime(2024, 12, 31, 9)]})
    >>> study_windows(enc).text()
    'baseline 2022-01-01 to 2023-01-01, follow-up 2023-01-01 to 2025-01-01'
    >>> study_windows(enc, baseline="2022-01-01:2023-01-01", followup="2023-01-01:2024-01-01").text()
    'baseline 2022-01-01 to 2023-01-01, follow-up 2023-01-01 to 2024-01-01'
    """
    b_lo, b_hi = parse_window(baseline, "baseline")
    f_lo, f_hi = parse_window(followup, "followup")
    if b_hi is not None and f_lo is not None and b_hi != f_lo:
        raise OptionError(
            f"The follow-up must start where the baseline ends ({b_hi:%Y-%m-%d}), not on {f_lo:%Y-%m-%d}: "
            "measuring exposure and outcome in overlapping windows reads reverse causation as effect."
        )
    start = f_lo or b_hi
    end = f_hi
    if start is None:
        end = end or data_end(encounters)
        start = months_before(end, check_months(followup_months, "followup-months"))
    elif end is None:
        end = _months_after(start, check_months(followup_months, "followup-months"))
    if end <= start:
        raise OptionError(f"The follow-up must end after it starts ({start:%Y-%m-%d}).")
    base = b_lo or months_before(start, check_months(baseline_months, "baseline-months"))
    if base >= start:
        raise OptionError(f"The baseline must start before the follow-up ({start:%Y-%m-%d}).")
    return StudyWindows(base, start, end)


def _months_after(moment: _dt.datetime, months: int) -> _dt.datetime:
    """``moment`` moved on by whole months (the day clamped to the month's end)."""
    return months_before(moment, -months)
