"""Relationship duration: how long a patient has been with their usual clinician.

docs/definitions.md, *Relationship duration*. The measure Sandvik et al.
(2022) found to predict mortality, acute admission and out-of-hours use:
the time since the first visit with the clinician who is the patient's
usual clinician now.
"""

from __future__ import annotations

import ibis

from carethread.measures.continuity import patient_continuity
from carethread.measures.display import as_result
from carethread.measures.dyads import dyad_counts
from carethread.options import DateLike, Settings, as_timestamp, check_months, months_before
from carethread.visits import default_as_of, encounters_in_window

#: Columns of :func:`relationship_duration`, in order.
DURATION_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "usual_clinician_id",
    "first_visit",
    "duration_years",
    "left_censored",
)


def relationship_duration(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    as_of: DateLike = None,
    lookback_months: int = 24,
    censored_within_months: int = 12,
) -> ibis.Table:
    """Years since the first visit with the patient's current usual clinician.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    start, end
        Window ``[start, end)`` of the encounters read; ``start`` is where the
        data begin for this measure.
    as_of
        The date the duration is measured at (default: ``end``, else the day
        after the last encounter, :func:`carethread.visits.default_as_of`).
    lookback_months
        The usual clinician is the one of most visits in the
        ``lookback_months`` before ``as_of`` (docs/definitions.md, *Usual
        clinician*; default 24).
    censored_within_months
        A relationship whose first visit in the data falls within this many
        months of the data's first encounter is ``left_censored`` (default 12).

    Returns
    -------
    ibis.Table
        One row per patient with a visit in the look-back: ``patient_id,
        usual_clinician_id, first_visit`` (date of the first visit with that
        clinician in the window), ``duration_years = (as_of - first_visit) /
        365.25`` and ``left_censored``.

    Notes
    -----
    The data cannot show a relationship older than themselves: a patient seen
    by the same clinician since before the first encounter on file gets the
    time since the data began. Such durations are lower bounds, flagged
    ``left_censored``; the flag is a rule of thumb (a first visit in the data's
    first ``censored_within_months``), since an older relationship can also
    show a first visit later. Bands longer than the data (Sandvik et al.
    2022 go beyond 15 years) stay empty on short extracts. A patient who left
    and came back is counted from the first visit ever with the clinician.

    Sandvik H, Hetlevik Ø, Blinkenberg J, Hunskaar S. Continuity in general
    practice as predictor of mortality, acute hospitalisation, and use of
    out-of-hours care: a registry-based observational study in Norway. Br J
    Gen Pract 2022;72(715):e84-e90.

    Examples
    --------
    ``p`` first saw ``A`` on 1 March 2023; measured on 1 March 2024 the
    relationship is one year old (366 days, a leap year):

    >>> import datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 3, "clinician_id": ["B", "A", "A"],
    ...     "practice_id": ["X"] * 3, "setting": ["primary_care"] * 3,
    ...     "start": [dt.datetime(2022, 1, 5), dt.datetime(2023, 3, 1), dt.datetime(2023, 9, 1)]})
    >>> row = relationship_duration(enc, as_of="2024-03-01").to_pyarrow().to_pylist()[0]
    >>> row["usual_clinician_id"], row["first_visit"], round(row["duration_years"], 3), row["left_censored"]
    ('A', datetime.date(2023, 3, 1), 1.002, False)
    """
    lookback = check_months(lookback_months, "lookback-months")
    censored = check_months(censored_within_months, "censored-within-months")
    as_of = as_timestamp(as_of, "as-of") or default_as_of(encounters_in_window(encounters, start=start), end=end)
    lo = as_timestamp(start, "start")
    recent = months_before(as_of, lookback)
    usual = patient_continuity(
        encounters, settings=settings, start=max(recent, lo) if lo else recent, end=as_of, min_visits=1
    )
    usual = usual.filter(usual.usual_clinician_id.notnull()).select("patient_id", "usual_clinician_id")
    pairs = dyad_counts(encounters, settings=settings, start=start, end=as_of)
    joined = usual.join(
        pairs,
        [usual.patient_id == pairs.patient_id, usual.usual_clinician_id == pairs.clinician_id],
    )
    data_start = encounters_in_window(encounters, start=start, end=as_of).start.min().to_pyarrow().as_py()
    known_from = months_before(data_start, -censored).date() if data_start else as_of.date()
    first = joined.first_visit.cast("date")
    days = ibis.literal(as_of.date()).delta(first, unit="day").cast("float64")
    return as_result(
        joined.select(
            "patient_id",
            "usual_clinician_id",
            first_visit=first,
            duration_years=days / 365.25,
            left_censored=first < ibis.literal(known_from),
        )
    )
