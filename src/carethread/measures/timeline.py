"""Each patient's visits in order, with who held the patient at each of them.

One aggregate over the encounters gives the visits (patient, clinician, day:
those of :func:`carethread.visits.visits`) and, apart, the patient-days of
other encounters. Window passes over the visits then add what
:mod:`carethread.measures.breaks` reads: counts in the look-back and in the
confirmation window, neighbouring visits, and the latest visit at which a
clinician held the patient. That takes three sorts of the visits (the
patient's in day order, each patient and clinician's, the patient's again) and
no attribution at any calendar boundary. Windows count days (integers), which
every engine frames exactly.
"""

from __future__ import annotations

import ibis

#: Settings whose encounters make a lapse ``emergency_only``.
ACUTE_SETTINGS: tuple[str, ...] = ("emergency", "urgent_care")

# A holding visit is carried forward as one integer: its day, the day of the
# same clinician's next visit and the clinician's code, in bit fields of 17,
# 17 and 24 bits (days are shifted by 2**16, so 1890-2150 fit; NEVER marks
# "no next visit"; up to 16 million clinicians).
_SHIFT = 2**16
_NEVER = 2**17 - 1
_DAY_BITS, _NEXT_BITS = 41, 24
_DAY_UNIT, _NEXT_UNIT, _CODES = 2**_DAY_BITS, 2**_NEXT_BITS, 2**24


def window_days(months: int) -> int:
    """A window of whole months as days: a month is 365.25 / 12 days, rounded half up.

    >>> window_days(18), window_days(12), window_days(24)
    (548, 365, 731)
    """
    return int(months * 365.25 / 12 + 0.5)


def patient_days(encounters: ibis.Table, settings: tuple[str, ...]) -> ibis.Table:
    """``patient_id, clinician_id, date, day, acute, other``: visits, and other encounter days.

    A visit row has the clinician; a row with a null clinician stands for a
    patient's other encounters that day (``acute``: an emergency or
    urgent-care one; ``other``: any other that is not a visit). ``day`` is
    the date as days since 1970-01-01.
    """
    e = encounters
    is_visit = e.setting.isin(settings) & e.clinician_id.notnull()
    is_acute = e.setting.isin(ACUTE_SETTINGS) & ~is_visit
    t = e.group_by(
        patient_id=e.patient_id,
        clinician_id=ibis.ifelse(is_visit, e.clinician_id, ibis.null("string")),
        date=e.start.cast("date"),
    ).aggregate(acute=is_acute.any(), other=(~is_visit & ~is_acute).any())
    return t.mutate(day=t.date.epoch_days().cast("int64"))


def clinician_codes(v: ibis.Table) -> ibis.Table:
    """``clinician_id, code``: a whole number for each clinician of visits ``v`` (from 0)."""
    ids = v.select("clinician_id").distinct()
    return ids.mutate(code=ibis.row_number().over(order_by="clinician_id"))


def _frame(by: list[str], lo, hi):
    return ibis.window(group_by=by, order_by="day", range=(lo, hi))


def timeline(v: ibis.Table, codes: ibis.Table, *, usual_days: int) -> ibis.Table:
    """The visits ``v`` (visit rows of :func:`patient_days`) as ``patient_id, day, code``
    (the clinician's code, :func:`clinician_codes`) with, for each:

    * ``prev_c``, ``next_c``: the days of the previous and next visits with
      this clinician.
    * ``next_day``: the day of the patient's next visit in day order: on one
      of a day's visits the next visit day, on the others the same day.
    * ``holds``: this clinician has at least 2 and more than half of the
      patient's visits on days ``day - usual_days + 1 .. day``: they hold
      the patient. At most one clinician holds on a day (a strict majority
      of the same window).
    * ``held``: for a holding visit, ``(day, next_c, code)`` in one integer
      (:func:`decode_held`), which sorts as the day does.

    Two sorts of the visits: the patient's in day order, and each patient
    and clinician's.
    """
    c = codes.select(cid="clinician_id", code="code")
    v = v.inner_join(c, v.clinician_id == c.cid).select("patient_id", "day", "code")
    patient, pair = ["patient_id"], ["patient_id", "code"]
    v = v.mutate(
        n_back=v.day.count().over(_frame(patient, -(usual_days - 1), 0)),
        # In day order only, to share the sort: among a day's visits one (any)
        # gets the next visit day, the others the same day.
        next_day=v.day.lead().over(ibis.window(group_by=patient, order_by="day")),
        nc_back=v.day.count().over(_frame(pair, -(usual_days - 1), 0)),
        prev_c=v.day.lag().over(ibis.window(group_by=pair, order_by="day")),
        next_c=v.day.lead().over(ibis.window(group_by=pair, order_by="day")),
    )
    holds = (v.nc_back >= 2) & (v.nc_back * 2 > v.n_back)
    key = (v.day + _SHIFT) * _DAY_UNIT + (v.next_c + _SHIFT).fill_null(_NEVER) * _NEXT_UNIT + v.code
    # No column is dropped after the windows: a projection there would be
    # merged into each consumer, and Ibis would then repeat the windows in
    # every branch instead of sharing them.
    return v.mutate(holds=holds, held=ibis.ifelse(holds, key, ibis.null("int64")))


def decode_held(held: ibis.Value) -> tuple[ibis.Value, ibis.Value, ibis.Value]:
    """``(day, next visit day or null, code)`` of a :func:`timeline` holding key.

    Shifts and masks, not division: engines divide integers as doubles,
    which are not exact at this size.
    """
    nxt = (held >> _NEXT_BITS) & _NEVER
    return (
        (held >> _DAY_BITS) - _SHIFT,
        ibis.ifelse(nxt == _NEVER, ibis.null("int64"), nxt - _SHIFT),
        held & (_CODES - 1),
    )
