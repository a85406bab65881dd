"""The cohort of an outcome study: one row per patient, built in Ibis.

docs/definitions.md, *Outcome windows*. Everything heavy happens in the
engine: the exposure comes from :func:`~carethread.measures.patient_continuity`
(or :func:`~carethread.outcomes.duration.relationship_duration`) over the
baseline window; emergency visits and admissions are counted in one aggregate
over the encounters of both windows; the patients table adds age, sex, death
and the user's covariates. Only the finished cohort, one row per patient,
goes to Python for the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from carethread.errors import OptionError
from carethread.measures.continuity import INDEX_COLUMNS, patient_continuity
from carethread.measures.practices import clinician_practice
from carethread.options import Settings
from carethread.outcomes.duration import relationship_duration
from carethread.outcomes.windows import StudyWindows
from carethread.visits import encounters_in_window

#: Outcomes counted from encounter settings.
SETTING_OUTCOMES: dict[str, str] = {"ed_visits": "emergency", "admissions": "inpatient"}

#: Every outcome a study can count: settings, the patients table's deaths, a user table of events.
OUTCOMES: tuple[str, ...] = (*SETTING_OUTCOMES, "death", "events")

#: Every exposure: a continuity index of the baseline window, or the relationship's duration.
EXPOSURES: tuple[str, ...] = (*INDEX_COLUMNS, "duration")

#: Whose score a patient is given: their own, or the mean of their usual clinician's cohort patients.
EXPOSURE_LEVELS: tuple[str, ...] = ("patient", "clinician")

#: Columns of :func:`outcome_cohort` before the user's covariates.
COHORT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "practice_id",
    "usual_clinician_id",
    "exposure",
    "n_visits",
    "age",
    "male",
    "baseline_ed_visits",
    "baseline_admissions",
    "events",
    "time_days",
    "event_days",
)


def check_study(exposure: str, outcome: str, exposure_level: str = "patient") -> None:
    """The exposure, outcome and exposure level are ones a study knows.

    >>> check_study("upc", "death")
    >>> check_study("upc", "falls")
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --outcome must be one of ed_visits, admissions, death, events, not 'falls'.
    """
    if exposure not in EXPOSURES:
        raise OptionError(f"--exposure must be one of {', '.join(EXPOSURES)}, not {exposure!r}.")
    if outcome not in OUTCOMES:
        raise OptionError(f"--outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}.")
    if exposure_level not in EXPOSURE_LEVELS:
        raise OptionError(f"exposure_level must be one of {', '.join(EXPOSURE_LEVELS)}, not {exposure_level!r}.")


def _exposure(encounters, *, settings, windows: StudyWindows, exposure: str, min_visits: int) -> ibis.Table:
    """``patient_id, usual_clinician_id, exposure, n_visits`` of every patient with enough baseline visits."""
    lo, hi = windows.baseline_start, windows.baseline_end
    counted = patient_continuity(encounters, settings=settings, start=lo, end=hi, min_visits=min_visits)
    if exposure == "duration":
        since = relationship_duration(encounters, settings=settings, end=hi)
        counted = counted.filter(counted.n_visits >= min_visits)
        joined = since.join(counted.select("patient_id", "n_visits"), "patient_id")
        return joined.select(
            "patient_id", "usual_clinician_id", exposure=joined.duration_years, n_visits=joined.n_visits
        )
    scored = counted.filter(counted[exposure].notnull())
    return scored.select("patient_id", "usual_clinician_id", exposure=scored[exposure], n_visits=scored.n_visits)


def _acute_counts(encounters, windows: StudyWindows, outcome: str, events: ibis.Table | None) -> ibis.Table:
    """Baseline emergency days and admissions, and the outcome's days in the follow-up.

    Days, not encounters: two emergency encounters of one patient on one day
    are one visit (a transfer, a re-registration), as two encounters with one
    clinician on one day are one visit (docs/definitions.md, *Visits*).
    """
    lo, mid, hi = windows.baseline_start, windows.followup_start, windows.followup_end
    e = encounters_in_window(encounters, start=lo, end=hi)
    e = e.filter(e.setting.isin(tuple(SETTING_OUTCOMES.values())))
    days = e.select(
        patient_id=e.patient_id.cast("string"), setting=e.setting.cast("string"), day=e.start.cast("date")
    ).distinct()
    if outcome == "events":
        user = events.select(
            patient_id=events.patient_id.cast("string"),
            setting=ibis.literal("events", type="string"),
            day=events.event_date.cast("date"),
        )
        user = user.filter((user.day >= mid.date()) & (user.day < hi.date())).distinct()
        days = days.union(user.cast(days.schema()))
    kind = SETTING_OUTCOMES.get(outcome, "events")
    before = days.day < mid.date()
    after = ~before & (days.setting == kind)
    return days.group_by("patient_id").aggregate(
        baseline_ed_visits=days.count(where=before & (days.setting == "emergency")),
        baseline_admissions=days.count(where=before & (days.setting == "inpatient")),
        followup_events=days.count(where=after),
        first_event=days.day.min(where=after),
    )


def _people(patients: ibis.Table | None, covariates: Sequence[str]) -> ibis.Table | None:
    """``patient_id, birth_date, sex, death_date`` and the covariates, one row per patient."""
    if patients is None:
        if covariates:
            raise OptionError("--covariates name columns of the patients table, and the input has none.")
        return None
    missing = [c for c in covariates if c not in patients.columns]
    if missing:
        raise OptionError(
            f"--covariates: the patients table has no column {', '.join(missing)}; "
            f"its columns are {', '.join(patients.columns)}."
        )
    wanted = {name: patients[name] for name in ("birth_date", "sex", "death_date") if name in patients.columns}
    return patients.select("patient_id", **wanted, **{c: patients[c] for c in covariates})


def outcome_cohort(
    encounters: ibis.Table,
    *,
    patients: ibis.Table | None = None,
    clinicians: ibis.Table | None = None,
    settings: Settings = None,
    windows: StudyWindows,
    exposure: str = "upc",
    outcome: str = "ed_visits",
    events: ibis.Table | None = None,
    min_visits: int = 2,
    min_age: float | None = None,
    max_age: float | None = None,
    exposure_level: str = "patient",
    covariates: Sequence[str] = (),
) -> ibis.Table:
    """One row per patient of the cohort: exposure, covariates, outcome and follow-up time.

    Parameters
    ----------
    encounters, patients, clinicians
        Canonical tables; ``patients`` gives age, sex, death and the
        covariates, ``clinicians`` each clinician's practice (the cluster).
    settings
        Settings whose encounters count as visits for the exposure.
    windows
        The baseline and follow-up (:func:`~carethread.outcomes.windows.study_windows`).
    exposure
        A column of :func:`~carethread.measures.patient_continuity` over the
        baseline, or ``"duration"`` (years with the usual clinician at the
        end of the baseline, :func:`~carethread.outcomes.duration.relationship_duration`).
    outcome
        ``ed_visits`` or ``admissions`` (days with an emergency or inpatient
        encounter), ``death`` (``death_date``) or ``events`` (days of the
        ``events`` table, ``patient_id`` and ``event_date``).
    min_visits
        Baseline visits a patient needs to enter the cohort (an index needs 2).
    min_age, max_age
        Age range, in years at the start of the follow-up (inclusive);
        patients without a birth date are left out when either is given.
    exposure_level
        ``"clinician"`` gives each patient the mean exposure of their usual
        clinician's cohort patients (Bazemore et al. 2018).
    covariates
        Columns of ``patients`` added as they are.

    Returns
    -------
    ibis.Table
        :data:`COHORT_COLUMNS` then the covariates. ``age`` is in years at
        the start of the follow-up, ``male`` 1 or 0 (null for another or an
        unknown sex); ``events`` counts the outcome's days in the follow-up
        (1 or 0 for death); ``time_days`` is the follow-up to its end or to
        death (the day of death counts); ``event_days`` the days to the first
        event, counting its day (``time_days`` when there is none).

    Notes
    -----
    The cohort is every patient alive at the start of the follow-up with
    ``min_visits`` visits in the baseline (and, for an index, a score).
    Nothing says when a patient leaves the area: without an enrolment table a
    patient who moves away is followed to the end with no further event
    (docs/outcomes.md, *Limits*).

    Examples
    --------
    Patient ``p`` has two visits with ``A`` in 2023 and one emergency visit
    in 2024:

    >>> import datetime as dt
    >>> from carethread.outcomes.windows import StudyWindows
    >>> enc = ibis.memtable({"patient_id": ["p"] * 3, "clinician_id": ["A", "A", "E"],
    ...     "practice_id": ["X", "X", "H"], "setting": ["primary_care"] * 2 + ["emergency"],
    ...     "start": [dt.datetime(2023, 2, 1), dt.datetime(2023, 5, 1), dt.datetime(2024, 3, 1)]})
    >>> w = StudyWindows(dt.datetime(2023, 1, 1), dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1))
    >>> row = outcome_cohort(enc, windows=w).to_pyarrow().to_pylist()[0]
    >>> row["exposure"], row["n_visits"], row["events"], row["time_days"], row["event_days"], row["practice_id"]
    (1.0, 2, 1, 366, 61, 'X')
    """
    check_study(exposure, outcome, exposure_level)
    if outcome == "events" and events is None:
        raise OptionError("--outcome events needs a table of events: pass --events FILE.")
    mid, hi = windows.followup_start.date(), windows.followup_end.date()
    cohort = _exposure(encounters, settings=settings, windows=windows, exposure=exposure, min_visits=min_visits)
    if exposure_level == "clinician":
        by_clinician = ibis.window(group_by=cohort.usual_clinician_id)
        cohort = cohort.mutate(exposure=cohort.exposure.mean().over(by_clinician))
    practice = clinician_practice(encounters, clinicians=clinicians, settings=settings)
    cohort = cohort.left_join(practice, cohort.usual_clinician_id == practice.clinician_id).drop("clinician_id")
    counts = _acute_counts(encounters, windows, outcome, events)
    cohort = cohort.left_join(counts, "patient_id").drop("patient_id_right")
    people = _people(patients, covariates)
    if people is None:
        cohort = cohort.mutate(birth_date=ibis.null("date"), sex=ibis.null("string"), death_date=ibis.null("date"))
    else:
        cohort = cohort.left_join(people, "patient_id").drop("patient_id_right")
    death = cohort.death_date.cast("date")
    cohort = cohort.filter(death.isnull() | (death >= mid))
    age = ibis.literal(mid).delta(cohort.birth_date.cast("date"), unit="day").cast("float64") / 365.25
    died = death.notnull() & (death < hi)
    stop = ibis.ifelse(died, (death + ibis.interval(days=1)).cast("date"), ibis.literal(hi))
    time_days = stop.delta(ibis.literal(mid), unit="day")
    if outcome == "death":
        n_events, first = died.cast("int64"), ibis.ifelse(died, death, ibis.null("date"))
    else:
        n_events, first = cohort.followup_events.fill_null(0), cohort.first_event
    sex = cohort.sex.upper().substr(0, 1)
    out = cohort.select(
        "patient_id",
        "practice_id",
        "usual_clinician_id",
        "exposure",
        "n_visits",
        age=age,
        male=ibis.cases((sex == "M", 1.0), (sex == "F", 0.0), else_=ibis.null("float64")),
        baseline_ed_visits=cohort.baseline_ed_visits.fill_null(0),
        baseline_admissions=cohort.baseline_admissions.fill_null(0),
        events=n_events,
        time_days=time_days.cast("int64"),
        event_days=ibis.ifelse(first.notnull(), first.delta(ibis.literal(mid), unit="day") + 1, time_days).cast(
            "int64"
        ),
        **{c: cohort[c] for c in covariates},
    )
    if min_age is not None:
        out = out.filter(out.age >= min_age)
    if max_age is not None:
        out = out.filter(out.age < max_age + 1)
    return out
