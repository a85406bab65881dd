"""Encounters to visits: what every continuity measure counts (docs/definitions.md, *Visits*).

1. Keep encounters in the chosen settings and window that have a clinician
   (or, at practice level, a practice).
2. A visit is a distinct (patient, clinician, calendar day): several
   encounters of one patient with one clinician on one day are one visit.
3. A patient's visits are ordered by earliest start time that day, then by
   clinician id. :func:`visit_order` names that order for every measure.

The default attribution date of every measure that takes ``as_of`` is
:func:`default_as_of`, here and nowhere else.
"""

from __future__ import annotations

import datetime as _dt

import ibis

from carethread.options import DateLike, Settings, as_timestamp, check_level, check_window, normalize_settings


def provider_column(level: str) -> str:
    """The encounter column that identifies the care provider at ``level``.

    >>> provider_column("practice")
    'practice_id'
    """
    return {"clinician": "clinician_id", "practice": "practice_id"}[check_level(level)]


def encounters_in_window(encounters: ibis.Table, *, start: DateLike = None, end: DateLike = None) -> ibis.Table:
    """Encounters whose ``start`` lies in ``[start, end)``; open bounds when ``None``."""
    lo, hi = check_window(start, end)
    e = encounters
    if lo is not None:
        e = e.filter(e.start >= lo)
    if hi is not None:
        e = e.filter(e.start < hi)
    return e


def visits(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    level: str = "clinician",
) -> ibis.Table:
    """Collapse encounters into visits.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings that count (default ``primary_care`` and ``virtual``).
    start, end
        Window ``[start, end)`` on the encounter start; ``None`` leaves a side open.
    level
        ``"clinician"`` (default) or ``"practice"``: who a visit is *with*.

    Returns
    -------
    ibis.Table
        One row per visit: ``patient_id``, ``clinician_id`` (or ``practice_id``
        at practice level), ``visit_date`` (date), ``first_start`` (earliest
        start that day, which orders a patient's visits) and ``n_encounters``.

    Notes
    -----
    Encounters without a clinician (practice) are left out here; they still
    count for outcomes. Same-day repeats collapse, so ``n_encounters`` may
    exceed 1.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p1", "p1", "p1"], "clinician_id": ["A", "A", "B"],
    ...     "practice_id": ["X", "X", "X"], "setting": ["primary_care"] * 3,
    ...     "start": [dt.datetime(2024, 1, 2, 9), dt.datetime(2024, 1, 2, 15), dt.datetime(2024, 1, 3, 9)]})
    >>> visits(enc).order_by("visit_date").n_encounters.to_list()
    [2, 1]
    """
    provider = provider_column(level)
    e = encounters_in_window(encounters, start=start, end=end)
    e = e.filter(e.setting.isin(normalize_settings(settings)), e[provider].notnull())
    return e.group_by(
        patient_id=e.patient_id,
        **{provider: e[provider]},
        visit_date=e.start.cast("date"),
    ).aggregate(first_start=e.start.min(), n_encounters=e.count())


def visit_order(v: ibis.Table, provider: str = "clinician_id") -> list:
    """Sort keys of a patient's visits: earliest start that day, then provider id."""
    return [v.first_start, v[provider]]


def default_as_of(encounters: ibis.Table, *, end: DateLike = None) -> _dt.datetime | None:
    """The attribution date a measure uses when none is given.

    ``end`` when given (the window's exclusive end), else midnight of the day
    after the last encounter, so that the last day's visits count; ``None``
    when there is no encounter at all. Every measure that takes ``as_of``
    uses this default.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"start": [dt.datetime(2024, 3, 1, 9)]})
    >>> default_as_of(enc)
    datetime.datetime(2024, 3, 2, 0, 0)
    >>> default_as_of(enc, end="2024-01-01")
    datetime.datetime(2024, 1, 1, 0, 0)
    """
    if end is not None:
        return as_timestamp(end, "end")
    last = encounters.aggregate(last=encounters.start.max()).to_pyarrow()["last"][0].as_py()
    if last is None:
        return None
    return _dt.datetime.combine(last.date() + _dt.timedelta(days=1), _dt.time())
