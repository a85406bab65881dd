"""``carethread.outcomes``: a cohort study of continuity and outcomes in one call.

The cohort (exposure, covariates, counts) is built in the engine
(:mod:`.cohort`); its one row per patient goes to statsmodels (:mod:`.models`);
the estimates come back as one tidy table with the E-value of each headline
(:mod:`.evalue`). docs/outcomes.md explains the designs for a reader who is
not a statistician.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ibis
import pandas as pd

from carethread.measures.display import as_result
from carethread.options import Clinicians, DateLike, Settings, check_min_visits, clinicians_table
from carethread.outcomes.cohort import check_study, outcome_cohort
from carethread.outcomes.designs import Design
from carethread.outcomes.designs import design as preset
from carethread.outcomes.evalue import e_values
from carethread.outcomes.models import RATIOS, ROW_COLUMNS, check_model, fit_study
from carethread.outcomes.windows import StudyWindows, study_windows

#: Columns of :func:`outcomes`, in order: a fitted row's, then what the study was.
OUTCOME_COLUMNS: tuple[str, ...] = (
    *ROW_COLUMNS[:-1],
    "design",
    "outcome",
    "exposure",
    ROW_COLUMNS[-1],
    "e_value",
    "e_value_ci",
)

#: The type of each column of :func:`outcomes`.
TYPES = {
    "term": "string",
    "estimate": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "p_value": "float64",
    "n": "int64",
    "events": "int64",
    "model": "string",
    "design": "string",
    "outcome": "string",
    "exposure": "string",
    "clusters": "int64",
    "e_value": "float64",
    "e_value_ci": "float64",
}


def _names(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v.strip()) or None


def resolve_design(
    design: str | None = None,
    *,
    exposure: str | None = None,
    outcome: str | Iterable[str] | None = None,
    model: str | None = None,
    min_visits: int | None = None,
    min_age: float | None = None,
    max_age: float | None = None,
) -> Design:
    """The preset ``design`` (or the default study) with the options given in place of its own.

    >>> d = resolve_design("nyweide2013", model="poisson")
    >>> d.exposure, d.outcomes, d.model, d.min_visits
    ('coc', ('admissions',), 'poisson', 4)
    """
    chosen = preset(design).override(
        exposure=exposure, outcomes=_names(outcome), model=model, min_visits=min_visits, min_age=min_age,
        max_age=max_age,
    )  # fmt: skip
    check_model(chosen.model)
    check_min_visits(chosen.min_visits)
    for name in chosen.outcomes:
        check_study(chosen.exposure, name, chosen.exposure_level)
    return chosen


def _headline_rows(rows: list[dict]) -> set[int]:
    """Positions of the headline rows: the exposure per unit and its highest group."""
    exposure_rows = [i for i, r in enumerate(rows) if r["term"].startswith(("per_", "quintile_", "years_"))]
    heads = {i for i in exposure_rows if rows[i]["term"].startswith("per_")}
    groups = [i for i in exposure_rows if not rows[i]["term"].startswith("per_")]
    if groups:
        heads.add(groups[-1])
    return heads


def study_table(rows: list[dict], *, design: str, outcome: str, exposure: str, share: float) -> pd.DataFrame:
    """Fitted rows as the output's columns, E-values on the headline rows.

    ``share`` is the share of patients with the outcome, which decides
    whether an odds or hazard ratio is converted before its E-value.
    """
    heads = _headline_rows(rows)
    out = []
    for i, row in enumerate(rows):
        ev = (None, None)
        if i in heads:
            ev = e_values(row["estimate"], row["ci_low"], row["ci_high"], RATIOS[row["model"]], share)
        out.append({**row, "design": design, "outcome": outcome, "exposure": exposure, "e_value": ev[0],
                    "e_value_ci": ev[1]})  # fmt: skip
    frame = pd.DataFrame(out, columns=list(OUTCOME_COLUMNS))
    return frame


def outcomes(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    patients: ibis.Table | None = None,
    design: str | None = None,
    exposure: str | None = None,
    outcome: str | Sequence[str] | None = None,
    model: str | None = None,
    baseline: DateLike | tuple | None = None,
    followup: DateLike | tuple | None = None,
    covariates: Sequence[str] = (),
    events: ibis.Table | None = None,
    min_visits: int | None = None,
    min_age: float | None = None,
    max_age: float | None = None,
    unadjusted: bool = False,
) -> ibis.Table:
    """What continuity is worth: outcome rates, odds or hazards by the baseline relationship.

    Parameters
    ----------
    encounters
        Canonical encounters, every setting (emergency and inpatient
        encounters are outcomes and baseline covariates).
    clinicians
        Canonical clinicians table (each clinician's practice: the cluster).
    settings
        Settings whose encounters count as visits for the exposure.
    patients
        Canonical patients table: age (from ``birth_date``), sex, deaths and
        the ``covariates``. Without it, age and sex are left out and death
        cannot be studied.
    design
        A preset of :data:`carethread.outcomes.designs.DESIGNS`
        (``barker2017``, ``bazemore2018``, ``nyweide2013``, ``sandvik2022``):
        it sets the exposure, windows, cohort, outcomes and model; the other
        options given override it. Default: UPC, ``ed_visits``, Poisson, one
        year of baseline and two of follow-up.
    exposure
        ``upc``, ``coc``, ``secon``, ``mmci``, ``hhi``, ``k_index``,
        ``known_provider`` (over the baseline) or ``duration``.
    outcome
        ``ed_visits``, ``admissions``, ``death``, ``events`` (the ``events``
        table), or several (comma list): each is fitted on its own.
    model
        ``poisson``, ``negbin`` (IRR), ``logistic`` (OR) or ``cox`` (HR).
    baseline, followup
        ``"A:B"`` and ``"B:C"``; the follow-up starts where the baseline ends.
        Default: the design's lengths, ending at the end of the data
        (:func:`carethread.outcomes.windows.study_windows`).
    covariates
        Columns of ``patients`` to adjust for as well.
    events
        ``patient_id, event_date``: the user's outcome events
        (:func:`carethread.outcomes.read_events` reads a file of them).
    min_visits, min_age, max_age
        The cohort: baseline visits, and age in years at the start of the
        follow-up (inclusive), overriding the design's.
    unadjusted
        Fit the exposure alone (no covariate): to see how much the
        adjustment moves the estimate.

    Returns
    -------
    ibis.Table
        :data:`OUTCOME_COLUMNS`, one row per term and outcome: ``per_0.1``
        (``per_year`` for duration), ``quintile_2`` ... ``quintile_5`` (or
        ``years_2_3`` ... ``years_over_15``), then the covariates
        ``age_per_10y, male, baseline_visits, baseline_ed_visits,
        baseline_admissions`` and the user's. ``estimate`` is the ratio
        (IRR, OR or HR; the ``model`` says which), ``ci_low``/``ci_high`` its
        95 % interval with standard errors clustered by practice
        (``clusters`` of them); ``n`` and ``events`` count the patients in the
        model and their events (per group on a group's row). ``e_value`` and
        ``e_value_ci`` (VanderWeele & Ding 2017) are given on the headline
        rows: the exposure per unit and its highest group. An outcome that
        cannot be estimated (no event: no death dates, no emergency
        encounters) keeps its exposure rows with null estimates, which
        :func:`outcomes_remarks` explains.

    Notes
    -----
    An observational association, adjusted for the covariates above and
    nothing else: the E-value says how strongly an unmeasured confounder
    would have to be tied to both the exposure and the outcome to explain
    the estimate away. Models: :mod:`carethread.outcomes.models`; windows,
    cohort and outcomes: docs/definitions.md, *Outcome windows*.

    Examples
    --------
    >>> from carethread.synth import generate
    >>> s = generate(1_500, years=2, seed=3, outcomes=True)
    >>> t = outcomes(ibis.memtable(s.encounters), patients=ibis.memtable(s.patients)).to_pandas()
    >>> t.term.tolist()[:2], t.model.iloc[0], t.design.iloc[0]
    (['per_0.1', 'quintile_2'], 'poisson', 'default')
    """
    chosen = resolve_design(
        design, exposure=exposure, outcome=outcome, model=model, min_visits=min_visits, min_age=min_age,
        max_age=max_age,
    )  # fmt: skip
    windows = study_windows(
        encounters,
        baseline=baseline,
        followup=followup,
        baseline_months=chosen.baseline_months,
        followup_months=chosen.followup_months,
    )
    frames = [
        study_frame(
            encounters,
            clinicians=clinicians_table(clinicians),
            settings=settings,
            patients=patients,
            chosen=chosen,
            outcome=name,
            windows=windows,
            covariates=covariates,
            events=events,
            unadjusted=unadjusted,
        )
        for name in chosen.outcomes
    ]
    table = pd.concat(frames, ignore_index=True)
    return as_result(ibis.memtable(table, schema=ibis.schema(TYPES)))


def study_frame(
    encounters: ibis.Table,
    *,
    clinicians,
    settings,
    patients,
    chosen: Design,
    outcome: str,
    windows: StudyWindows,
    covariates: Sequence[str] = (),
    events=None,
    unadjusted: bool = False,
) -> pd.DataFrame:
    """One outcome of a study: the cohort in the engine, then the fit (:func:`outcomes`)."""
    cohort = outcome_cohort(
        encounters,
        patients=patients,
        clinicians=clinicians,
        settings=settings,
        windows=windows,
        exposure=chosen.exposure,
        outcome=outcome,
        events=events,
        min_visits=chosen.min_visits,
        min_age=chosen.min_age,
        max_age=chosen.max_age,
        exposure_level=chosen.exposure_level,
        covariates=covariates,
    )
    frame = cohort.to_pandas()
    if unadjusted:
        frame = frame.assign(age=0.0, male=0.0, n_visits=0, baseline_ed_visits=0, baseline_admissions=0)
        covariates = ()
    rows = fit_study(frame, exposure=chosen.exposure, model=chosen.model, covariates=covariates)
    events_any = (frame["events"] > 0).mean() if len(frame) else 0.0
    design_name = chosen.name if not unadjusted else f"{chosen.name} (unadjusted)"
    return study_table(rows, design=design_name, outcome=outcome, exposure=chosen.exposure, share=events_any)


__all__ = ["OUTCOME_COLUMNS", "ROW_COLUMNS", "outcomes", "resolve_design", "study_frame", "study_windows"]
