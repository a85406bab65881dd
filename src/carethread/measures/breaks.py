"""Relationship breaks: a confirmed change of usual clinician, or a lapse from one.

:func:`relationship_breaks` states the rule (and docs/definitions.md,
*Relationship breaks*). Each patient's visits come in order from
:mod:`carethread.measures.timeline`; :mod:`carethread.measures.switches` and
:mod:`carethread.measures.lapses` find the breaks in them and
:mod:`carethread.measures.break_causes` says which kind and why;
``confirm=0`` gives the raw moves of quarterly attribution instead of
confirmed switches (:mod:`carethread.measures.churn`).
"""

from __future__ import annotations

import inspect

import ibis

from carethread.deprecation import renamed_keywords, warn_renamed
from carethread.errors import OptionError
from carethread.measures.break_causes import CAUSES, LEFT_SEEN_MONTHS, days_after
from carethread.measures.churn import PERIODS, check_churn
from carethread.measures.display import as_result
from carethread.measures.lapses import lapses
from carethread.measures.practices import clinician_practice
from carethread.measures.switches import attribution_churn, confirmed_switches
from carethread.measures.timeline import clinician_codes, patient_days, timeline, window_days
from carethread.options import (
    Clinicians,
    DateLike,
    Settings,
    check_months,
    check_window,
    clinicians_table,
    normalize_settings,
)
from carethread.schema import SETTINGS
from carethread.visits import default_as_of, encounters_in_window, visits

__all__ = [
    "BREAK_COLUMNS",
    "BREAK_ORDER",
    "CAUSES",
    "KINDS",
    "LEFT_SEEN_MONTHS",
    "PERIODS",
    "check_break_options",
    "clinician_activity",
    "relationship_breaks",
    "whole_input_parameters",
]

#: Columns of :func:`relationship_breaks`, in order.
BREAK_COLUMNS: tuple[str, ...] = ("patient_id", "from_clinician_id", "to_clinician_id", "break_date", "kind", "cause")

#: The order of :func:`relationship_breaks` rows: a total order, so output is deterministic.
BREAK_ORDER: tuple[str, ...] = ("patient_id", "break_date", "kind", "from_clinician_id", "to_clinician_id")

#: Kinds of break, in the order docs/definitions.md lists them.
KINDS: tuple[str, ...] = ("partner", "other_practice", "emergency_only", "lost")


def clinician_activity(encounters: ibis.Table, *, clinicians: Clinicians = None) -> ibis.Table:
    """``clinician_id, practice_id, last_encounter``: each clinician's practice and last encounter day.

    The practice is :func:`carethread.measures.practices.clinician_practice`
    over every setting (the clinicians table's when it lists one, else the
    practice of most of their encounters); ``last_encounter`` is the day of
    their last encounter of any kind with any patient (null for a clinician
    only the clinicians table names). It decides ``partner`` versus
    ``other_practice`` and whether a clinician stopped seeing patients
    (cause ``clinician_left``).

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "q", "q"], "clinician_id": ["A", "A", "B"],
    ...     "practice_id": ["X", "X", "Y"], "setting": ["primary_care", "emergency", "primary_care"],
    ...     "start": [dt.datetime(2024, 1, 5, 9), dt.datetime(2024, 2, 1, 23), dt.datetime(2024, 3, 9, 8)]})
    >>> clinician_activity(enc).order_by("clinician_id").to_pyarrow().to_pylist()[0]
    {'clinician_id': 'A', 'practice_id': 'X', 'last_encounter': datetime.date(2024, 2, 1)}
    """
    e = encounters.filter(encounters.clinician_id.notnull())
    last = e.group_by("clinician_id").aggregate(last_encounter=e.start.max().cast("date"))
    practice = clinician_practice(encounters, clinicians=clinicians, settings=SETTINGS)
    # A view: with a clinicians table ``practice`` is a projection of a join, which Ibis
    # would otherwise extend with this join and then reject the key as foreign to it.
    j = practice.view().outer_join(last, "clinician_id")
    return j.select(
        clinician_id=j.clinician_id.fill_null(j.clinician_id_right),
        practice_id=j.practice_id,
        last_encounter=j.last_encounter,
    )


def clinician_practices(encounters: ibis.Table, clinicians: Clinicians = None) -> ibis.Table:
    """Deprecated: :func:`carethread.measures.practices.clinician_practice` over every setting."""
    warn_renamed(
        "carethread.measures.breaks.clinician_practices(encounters, clinicians)",
        "carethread.measures.practices.clinician_practice(encounters, clinicians=..., settings=SETTINGS)",
    )
    return clinician_practice(encounters, clinicians=clinicians, settings=SETTINGS)


def whole_input_parameters(
    encounters: ibis.Table, *, clinicians: Clinicians = None, start: DateLike = None, end: DateLike = None
) -> dict:
    """``end`` and ``clinicians`` as :func:`relationship_breaks` derives them from all encounters.

    Passed back in, they make the measure separable by patient
    (:mod:`carethread.batches`): the end of the data comes from the last
    encounter of the whole input, and each clinician's practice and last
    encounter (:func:`clinician_activity`) from all of their encounters, not
    from one slice of patients.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "q"], "clinician_id": ["A", "B"], "practice_id": ["X", "Y"],
    ...     "setting": ["primary_care"] * 2, "start": [dt.datetime(2024, 1, 5), dt.datetime(2024, 3, 9)]})
    >>> fixed = whole_input_parameters(enc)
    >>> fixed["end"], fixed["clinicians"].column_names
    (datetime.datetime(2024, 3, 10, 0, 0), ['clinician_id', 'practice_id', 'last_encounter'])
    """
    lo, hi = check_window(start, end)
    e = encounters_in_window(encounters, start=lo, end=hi)
    return {
        "end": default_as_of(e, end=hi),
        "clinicians": clinician_activity(e, clinicians=clinicians).to_pyarrow(),
    }


def _clinician_table(e: ibis.Table, clinicians: Clinicians) -> ibis.Table:
    """The clinicians table :func:`whole_input_parameters` fixed, or one derived from ``e``."""
    clinicians = clinicians_table(clinicians)
    if clinicians is not None and "last_encounter" in clinicians.columns:
        return clinicians.select(
            clinician_id=clinicians.clinician_id.cast("string"),
            practice_id=clinicians.practice_id.cast("string"),
            last_encounter=clinicians.last_encounter.cast("date"),
        )
    return clinician_activity(e, clinicians=clinicians)


def _data_end(days: ibis.Table, hi) -> ibis.Value:
    """The end of the data: ``end``, else the day after the last encounter (of ``days``,
    :func:`~carethread.measures.timeline.patient_days`)."""
    if hi is not None:
        return ibis.literal(hi.date())
    return days_after(days.date.max(), 1)


def check_break_options(**options) -> dict:
    """:func:`relationship_breaks`' own options, checked before any data is read.

    ``options`` are keywords of :func:`relationship_breaks` (``confirm``,
    ``usual_months``, ...); those left out take its defaults. Raises
    :class:`~carethread.errors.OptionError` naming the option as the command
    line spells it. Returns them with the windows in days (``usual_days``,
    ``confirm_days``) and attribution churn's defaults filled in (``period``
    ``"quarter"``, ``lookback_months`` 18), which only ``confirm=0`` takes:
    given with a confirmation they would be ignored, so they are an error.

    >>> check_break_options(confirm=0, period="month")["lookback_months"]
    18
    """
    parameters = inspect.signature(relationship_breaks).parameters
    defaults = {name: p.default for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"relationship_breaks() has no option {', '.join(unknown)}.")
    o = {**defaults, **options}
    confirm, period, lookback_months = o["confirm"], o["period"], o["lookback_months"]
    if isinstance(confirm, bool) or not isinstance(confirm, int) or confirm < 0:
        raise OptionError(f"--confirm must be a whole number of visits, 0 or more, not {confirm!r}.")
    if confirm > 0 and (period is not None or lookback_months is not None):
        given = "--period" if period is not None else "--lookback-months"
        raise OptionError(
            f"{given} sets attribution churn (--confirm 0) only; confirmed breaks take --usual-months and "
            "--confirm-months instead (docs/breaks.md). Leave it out, or add --confirm 0."
        )
    period, lookback_months = check_churn(
        "quarter" if period is None else period, 18 if lookback_months is None else lookback_months
    )
    return {
        "usual_days": window_days(check_months(o["usual_months"], "usual-months")),
        "confirm": confirm,
        "confirm_days": window_days(check_months(o["confirm_months"], "confirm-months")),
        "lost_months": check_months(o["lost_after_months"], "lost-after-months"),
        "emergency_months": check_months(o["emergency_after_months"], "emergency-after-months"),
        "period": period,
        "lookback_months": lookback_months,
    }


@renamed_keywords(lookback="lookback_months")
def relationship_breaks(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    usual_months: int = 24,
    confirm: int = 1,
    confirm_months: int = 18,
    lost_after_months: int = 12,
    emergency_after_months: int = 12,
    period: str | None = None,
    lookback_months: int | None = None,
) -> ibis.Table:
    """Every relationship break: a confirmed change of usual clinician, or a lapse from one.

    **The rule, as a practice manager would apply it to one patient's
    visits.** A clinician *holds* the patient at a visit when, counting the
    patient's visits in the two years up to and including that day, the
    clinician has at least two of them and more than half. The patient's usual
    clinician is the one who held them most recently. Then the patient has
    broken with their usual clinician A:

    * **for B** (``partner`` if B works in A's practice, else
      ``other_practice``) when, after the last visit at which A held them, A
      is not seen again, the patient returns within two years, and their
      first visit with someone new, B, opens 18 months in which B has more
      than half of the patient's visits, on at least 2 days (3 when B is A's
      partner and A still sees patients: partner visits are routine holiday
      and overflow cover) and A has none. Nobody else may have held the
      patient in between. The break is dated by that first visit with B.
    * **to emergency care only** (``emergency_only``) when a year passes
      after the last visit with no visit, and the first encounter after it
      is an emergency or urgent-care one (nothing else first). Dated by that
      encounter.
    * **to nobody** (``lost``) when, after the last visit, a year passes
      without any encounter at all. Dated the day after the last encounter.

    Each break also says why: ``clinician_left`` when A stopped seeing
    patients (anyone, in any setting) between the patient's last visit and
    the break, and the data run at least three months past the break;
    otherwise ``patient_moved_on``.

    **Formula.** Visits are distinct (patient, clinician, day) in ``settings``
    (:func:`carethread.visits.visits`); ``n_c[x, y)`` counts a patient's
    visits with ``c`` on days ``x <= day < y`` and ``n[x, y)`` all of them;
    ``U`` and ``C`` are ``usual_months`` and ``confirm_months`` in days (a
    month is 365.25 / 12 days: 24 months = 731 days, 18 = 548). ``c`` holds
    the patient at its visit on day ``t`` when ``n_c(t-U, t] >= 2`` and
    ``2 n_c(t-U, t] > n(t-U, t]``; at most one clinician holds on a day.
    For a visit with ``b`` on day ``d`` let ``s`` be the latest day before
    ``d`` on which someone holds the patient and ``a`` that clinician. It is
    a switch ``a -> b`` dated ``d`` when ``b != a``, ``d - s < U``,
    ``n_b(s, d) = 0``, ``n_a(s, d + C) = 0``, ``2 n_b[d, d+C) > n[d, d+C)``
    and ``n_b[d, d+C) >= 1 + confirm + [partner and not left]``. A lapse
    follows a visit day ``t`` (its *episode*: ``t`` and the days up to the
    next visit day): ``emergency_only`` when there is no visit in the
    ``emergency_after_months`` after ``t``, the first later day of the
    episode with an encounter has an emergency or urgent-care one and no
    other kind, and no ``lost_after_months`` silence starts earlier in the
    episode; otherwise ``lost`` when some day of the episode is followed by
    no encounter for ``lost_after_months``. Its clinician ``a`` is the one
    holding the patient on the latest day ``s <= t`` that anyone does, with
    ``t - s < U``. ``left`` (cause ``clinician_left``): ``a``'s last
    encounter is on or after ``s`` (switch) or ``t`` (lapse), before the
    break date, and ``break_date + 3 months <= end`` of the data.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``), all settings: emergency
        and urgent-care encounters classify lapses, and every encounter of a
        clinician shows whether they still see patients.
    clinicians
        Canonical clinicians table; its ``practice_id`` decides ``partner``
        versus ``other_practice``. Without it (or for a clinician missing
        from it) a clinician's practice is the one of most of their
        encounters. A ``last_encounter`` column, as
        :func:`whole_input_parameters` returns, fixes each clinician's last
        encounter instead of reading it from ``encounters``.
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    start, end
        Window ``[start, end)`` on encounters. The data end at ``end`` or,
        without it, the day after the last encounter.
    usual_months
        The look-back in which a clinician must hold the patient (default 24).
    confirm
        Later visits with ``b`` that confirm a switch (default 1: ``b`` seen
        on two days; one more for a partner while ``a`` still sees
        patients). ``0`` reports attribution churn instead of confirmed
        switches: every move of plurality attribution between consecutive
        ``period`` starts over a trailing ``lookback_months``, with the
        tie-break of :func:`~carethread.measures.attribution.attribute` and
        of the usual clinician (docs/definitions.md, *Usual clinician*),
        dated the same way (:mod:`carethread.measures.churn`).
    confirm_months
        The window from the first visit with ``b`` in which ``b`` must be the
        usual clinician and ``a`` absent (default 18).
    lost_after_months, emergency_after_months
        The silence that makes a patient ``lost``, and the time without a
        visit that an ``emergency_only`` lapse needs (both default 12).
    period, lookback_months
        ``confirm=0`` only (an :class:`~carethread.errors.OptionError`
        otherwise): attribution is compared between consecutive
        ``"quarter"`` (default), ``"month"`` or ``"year"`` starts, over a
        trailing look-back of ``lookback_months`` (default 18, at least one
        period). ``lookback_months`` was ``lookback``, a deprecated alias.

    Returns
    -------
    ibis.Table
        ``patient_id, from_clinician_id, to_clinician_id, break_date, kind,
        cause`` (:data:`BREAK_COLUMNS`), ordered by :data:`BREAK_ORDER`;
        ``to_clinician_id`` is null for ``emergency_only`` and ``lost``.

    Notes
    -----
    Edge cases:

    * Ties never move a patient: holding needs a strict majority of the
      look-back, a switch a strict majority of the confirmation window.
    * A single visit with someone else never makes a break: ``b`` must be
      seen on at least two days.
    * A new patient breaks with nobody: no clinician holds them until one has
      two visits and the majority.
    * The end of the data is no evidence that ``a`` is gone. Windows simply
      end there, so a break near the end needs ``b``'s confirming visits
      before it: ``a``'s absence counts through the patient's own visits,
      never through time alone. Lapses are reported only when the data
      cover their whole silence (``emergency_after_months`` after the last
      visit; ``lost_after_months`` after the last encounter).
    * A patient can break several times (back and forth, or a switch then a
      lapse); each break is one row.
    * An unknown practice counts as another practice. Encounters without a
      clinician count for lapses, not as visits.
    * ``clinician_left`` reads each clinician's last encounter in the data, so
      a clinician who returns after a year away counts as still practising.

    Precision and recall on the synthetic health system, how they depend on
    the share of visits away from the usual clinician, and how the rule was
    chosen: docs/breaks.md.

    Examples
    --------
    Patient ``p`` sees ``A`` monthly through 2022, then ``B`` (same practice)
    monthly from February 2023; ``A`` keeps seeing patient ``q``. A held
    ``p`` at every visit of 2022; ``B`` has all of ``p``'s visits from
    February 2023 on; so ``p`` left ``A`` for ``B`` on 10 February 2023, and
    not because ``A`` left:

    >>> import ibis, datetime as dt
    >>> p = [("A", dt.datetime(2022, m, 10)) for m in range(1, 13)] + [
    ...     ("B", dt.datetime(2023, m, 10)) for m in range(2, 13)]
    >>> q = [("A", dt.datetime(y, m, 20)) for y in (2022, 2023) for m in range(1, 13)]
    >>> enc = ibis.memtable({"patient_id": ["p"] * len(p) + ["q"] * len(q),
    ...     "clinician_id": [c for c, _ in p + q], "practice_id": ["X"] * (len(p) + len(q)),
    ...     "setting": ["primary_care"] * (len(p) + len(q)), "start": [d for _, d in p + q]})
    >>> [row] = relationship_breaks(enc).to_pyarrow().to_pylist()
    >>> row["from_clinician_id"], row["to_clinician_id"], row["break_date"], row["kind"], row["cause"]
    ('A', 'B', datetime.date(2023, 2, 10), 'partner', 'patient_moved_on')
    """
    o = check_break_options(
        usual_months=usual_months,
        confirm=confirm,
        confirm_months=confirm_months,
        lost_after_months=lost_after_months,
        emergency_after_months=emergency_after_months,
        period=period,
        lookback_months=lookback_months,
    )
    lo, hi = check_window(start, end)
    chosen = normalize_settings(settings)

    e = encounters_in_window(encounters, start=lo, end=hi)
    days = patient_days(e, chosen)
    data_end = _data_end(days, hi)
    info = _clinician_table(e, clinicians)
    v, other_days = days.filter(days.clinician_id.notnull()), days.filter(days.clinician_id.isnull())
    codes = clinician_codes(v)
    t = timeline(v, codes, usual_days=o["usual_days"])
    if o["confirm"] == 0:
        moves = visits(e, settings=chosen)
        switches = attribution_churn(moves, v, info, data_end, period=o["period"], lookback_months=o["lookback_months"])
    else:
        switches = confirmed_switches(
            t, codes, info, data_end, confirm=o["confirm"], usual_days=o["usual_days"], confirm_days=o["confirm_days"]
        )
    lapsed = lapses(
        t,
        codes,
        other_days,
        info,
        data_end,
        usual_days=o["usual_days"],
        lost_months=o["lost_months"],
        emergency_months=o["emergency_months"],
    )
    return as_result(switches.union(lapsed).select(*BREAK_COLUMNS).order_by(*BREAK_ORDER))
