"""The regression models of an outcome study, fitted by statsmodels on one row per patient.

* ``poisson`` -- GLM Poisson, log link, ``log(follow-up years)`` as offset:
  rate ratios (IRR) of the outcome's count.
* ``negbin`` -- negative binomial (NB2, its dispersion estimated), the same
  offset: IRR, for counts more spread out than Poisson.
* ``logistic`` -- any event in the follow-up: odds ratios (OR).
* ``cox`` -- Cox proportional hazards of the time to the first event (to
  death for ``death``), censored at the end of the follow-up: hazard ratios
  (HR), Breslow ties.

Standard errors are clustered by practice (a cluster-robust sandwich;
statsmodels' ``cov_type="cluster"``, and ``PHReg.fit(groups=...)`` for Cox, its
score residuals computed in linear time by :mod:`carethread.outcomes.cox`),
because patients of one practice share its clinicians, its rules and its
hospital. A patient without a practice is a cluster of their own. A sandwich
over fewer than :data:`MIN_CLUSTERS` clusters is too narrow (with G clusters
it has rank below G), so with fewer practices the count and logistic models
use the heteroskedasticity-robust sandwich of each patient (``HC0``) and Cox
its model-based errors; ``clusters`` is then 0. Intervals are 95 %, on the
ratio scale.

Each model is fitted twice: with the exposure per unit (+0.1 of an index, one
year of duration) and with its groups (quintiles, lowest the reference; or
Sandvik's duration bands, the first year the reference). Covariates come from
the first fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from carethread.errors import OptionError

#: Models, and the ratio each reports.
RATIOS: dict[str, str] = {"poisson": "IRR", "negbin": "IRR", "logistic": "OR", "cox": "HR"}
MODELS: tuple[str, ...] = tuple(RATIOS)

_SEPARATED = 15.0

#: Fewest practices whose clusters the standard errors use.
MIN_CLUSTERS = 20

#: The adjustment every model makes: name in the output -> cohort column and scale.
BASE_COVARIATES: dict[str, tuple[str, float]] = {
    "age_per_10y": ("age", 10.0),
    "male": ("male", 1.0),
    "baseline_visits": ("n_visits", 1.0),
    "baseline_ed_visits": ("baseline_ed_visits", 1.0),
    "baseline_admissions": ("baseline_admissions", 1.0),
}

#: Sandvik et al. (2022) bands of the relationship's year: label -> first year in it.
DURATION_BANDS: dict[str, int] = {"years_1": 1, "years_2_3": 2, "years_4_5": 4, "years_6_10": 6, "years_11_15": 11}
_OVER_15 = "years_over_15"

#: Columns of one fitted row, before ``design``, ``outcome`` and ``exposure``.
ROW_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "events",
    "model",
    "clusters",
)


def check_model(model: str) -> str:
    """``model`` is one of :data:`MODELS`.

    >>> check_model("cox")
    'cox'
    """
    if model not in MODELS:
        raise OptionError(f"--model must be one of {', '.join(MODELS)}, not {model!r}.")
    return model


def quintiles(x: pd.Series) -> pd.Series:
    """Quintile 1-5 of each value by its mean rank: tied values share one quintile.

    ``ceil(5 * mean_rank / n)``. Many equal scores (UPC = 1 for a loyal
    population) land in the quintile of their average rank, so a quintile
    can be empty; the others keep their meaning.

    >>> quintiles(pd.Series([0.1, 0.2, 0.3, 0.4, 0.5, 1, 1, 1, 1, 1])).tolist()
    [1, 1, 2, 2, 3, 4, 4, 4, 4, 4]
    """
    return np.ceil(5 * x.rank(method="average") / len(x)).astype(int)


def duration_bands(years: pd.Series) -> pd.Series:
    """Sandvik's bands of the relationship's current year (``floor(years) + 1``).

    >>> duration_bands(pd.Series([0.5, 1.0, 3.9, 12.0, 20.0])).tolist()
    ['years_1', 'years_2_3', 'years_4_5', 'years_11_15', 'years_over_15']
    """
    year = np.floor(years) + 1
    labels = list(DURATION_BANDS)
    edges = [*DURATION_BANDS.values(), 16]
    out = pd.Series(_OVER_15, index=years.index, dtype=object)
    for label, lo, hi in zip(labels, edges[:-1], edges[1:], strict=True):
        out[(year >= lo) & (year < hi)] = label
    return out


def exposure_terms(frame: pd.DataFrame, exposure: str) -> tuple[str, pd.Series, pd.DataFrame]:
    """``(unit term, exposure per unit, group dummies)`` for one cohort.

    Indices enter per +0.1 (``per_0.1``) and by quintile (``quintile_2`` ...
    ``quintile_5``, the lowest the reference); duration per year
    (``per_year``) and by Sandvik's bands (``years_2_3`` ... ``years_over_15``,
    the first year the reference). Empty groups get no column.
    """
    x = frame["exposure"].astype(float)
    if exposure == "duration":
        unit, per, groups = "per_year", 1.0, duration_bands(x)
        order = [*DURATION_BANDS, _OVER_15][1:]
    else:
        unit, per = "per_0.1", 0.1
        groups = quintiles(x).map(lambda q: f"quintile_{q}")
        order = [f"quintile_{q}" for q in range(2, 6)]
    dummies = pd.DataFrame({name: (groups == name).astype(float) for name in order if (groups == name).any()})
    return unit, x / per, dummies.set_axis(frame.index)


def covariate_matrix(frame: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """The adjustment columns: :data:`BASE_COVARIATES`, then the user's.

    A numeric user column enters as it is; any other becomes one indicator
    per value but its most common one (the reference), named
    ``<column>_<value>``. A column with one value (or none) is left out: it
    cannot be estimated, and the remarks say so.
    """
    columns = {name: frame[source].astype(float) / scale for name, (source, scale) in BASE_COVARIATES.items()}
    for name in covariates:
        values = frame[name]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() == values.notna().sum():
            columns[name] = numeric.astype(float)
            continue
        text = values.astype("string")
        reference = text.value_counts().index[0] if text.notna().any() else None
        for level in sorted(text.dropna().unique()):
            if level != reference:
                columns[f"{name}_{level}"] = (text == level).astype(float).where(text.notna())
    matrix = pd.DataFrame(columns, index=frame.index)
    varying = [c for c in matrix if matrix[c].dropna().nunique() > 1]
    return matrix[varying]


def _clusters(practice: pd.Series) -> np.ndarray:
    """Integer cluster codes; a patient without a practice is a cluster of one."""
    codes, _ = pd.factorize(practice, use_na_sentinel=True)
    alone = codes < 0
    codes = codes.copy()
    codes[alone] = codes.max(initial=-1) + 1 + np.arange(alone.sum())
    return codes


def _fit(model: str, y: np.ndarray, x: pd.DataFrame, years: np.ndarray, days: np.ndarray, groups: np.ndarray):
    """statsmodels' fit; returns ``(params, conf_int, pvalues)`` as Series/DataFrame on the ratio scale's log."""
    import statsmodels.api as sm

    from carethread.outcomes.cox import ClusteredPHReg

    clustered = np.unique(groups).size >= MIN_CLUSTERS
    robust = {"cov_type": "cluster", "cov_kwds": {"groups": groups}} if clustered else {"cov_type": "HC0"}
    if model == "cox":
        fitted = ClusteredPHReg(days, x, status=(y > 0).astype(float), ties="breslow").fit(
            **({"groups": groups} if clustered else {})
        )
        params = pd.Series(fitted.params, index=x.columns)
        ci = pd.DataFrame(fitted.conf_int(), index=x.columns)
        return params, ci, pd.Series(fitted.pvalues, index=x.columns)
    design = sm.add_constant(x, has_constant="add")
    if model == "poisson":
        fitted = sm.GLM(y, design, family=sm.families.Poisson(), offset=np.log(years)).fit(**robust)
    elif model == "negbin":
        fitted = sm.NegativeBinomial(y, design, offset=np.log(years)).fit(disp=0, maxiter=200, **robust)
    else:
        fitted = sm.Logit((y > 0).astype(float), design).fit(disp=0, maxiter=200, **robust)
    keep = list(x.columns)
    return fitted.params[keep], fitted.conf_int().loc[keep], fitted.pvalues[keep]


def _rows(params, ci, pvalues, terms, n, events, model, clusters) -> list[dict]:
    rows = []
    for term in terms:
        with np.errstate(over="ignore"):  # a separated term's interval overflows: it is reported as null
            estimate = float(np.exp(params[term]))
            low, high = (float(np.exp(v)) for v in ci.loc[term])
        # A ratio beyond e^15 is a separation (a group with no event), not an estimate.
        finite = all(math.isfinite(v) for v in (estimate, low, high)) and abs(params[term]) < _SEPARATED
        rows.append(
            dict(
                term=term,
                estimate=estimate if finite else None,
                ci_low=low if finite else None,
                ci_high=high if finite else None,
                p_value=float(pvalues[term]) if finite else None,
                n=int(n[term]) if isinstance(n, dict) else int(n),
                events=int(events[term]) if isinstance(events, dict) else int(events),
                model=model,
                clusters=clusters,
            )
        )
    return rows


def _empty(terms: Sequence[str], n: int, events: int, model: str, clusters: int) -> list[dict]:
    return [
        dict(term=t, estimate=None, ci_low=None, ci_high=None, p_value=None, n=n, events=events, model=model,
             clusters=clusters)
        for t in terms
    ]  # fmt: skip


def fit_study(frame: pd.DataFrame, *, exposure: str, model: str, covariates: Sequence[str] = ()) -> list[dict]:
    """Fit ``model`` to a cohort (one row per patient, :func:`~carethread.outcomes.cohort.outcome_cohort`).

    Returns one dict per term (:data:`ROW_COLUMNS`): the exposure per unit,
    its groups, then the covariates. ``n`` and ``events`` count the patients
    in the model and their events (for a count model the events, for
    logistic and Cox the patients with one), per group on a group's row.
    When a model cannot be fitted (no event, too few patients, a
    separation), its exposure rows come back with null estimates.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> frame = pd.DataFrame({"exposure": rng.random(n), "age": rng.normal(50, 10, n),
    ...     "male": rng.integers(0, 2, n), "n_visits": rng.integers(2, 9, n),
    ...     "baseline_ed_visits": rng.poisson(0.3, n), "baseline_admissions": rng.poisson(0.1, n),
    ...     "practice_id": rng.choice(list("ABCDEFGH"), n), "time_days": 365, "event_days": 365})
    >>> frame["events"] = rng.poisson(np.exp(-1 - 0.5 * frame.exposure))
    >>> rows = fit_study(frame, exposure="upc", model="poisson")
    >>> [r["term"] for r in rows][:6]
    ['per_0.1', 'quintile_2', 'quintile_3', 'quintile_4', 'quintile_5', 'age_per_10y']
    >>> rows[0]["n"], rows[0]["clusters"]  # 8 practices: too few to cluster by
    (400, 0)
    """
    check_model(model)
    extra = covariate_matrix(frame, covariates)
    unit, per_unit, groups = exposure_terms(frame, exposure)
    used = pd.concat([frame[["events", "time_days", "event_days", "practice_id"]], extra], axis=1)
    complete = used.drop(columns="practice_id").notna().all(axis=1) & per_unit.notna()
    frame, extra, per_unit, groups = frame[complete], extra[complete], per_unit[complete], groups[complete]
    y = frame["events"].to_numpy(float)
    counted = y if model in ("poisson", "negbin") else (y > 0).astype(float)
    clusters = _clusters(frame["practice_id"])
    n_clusters = int(np.unique(clusters).size)
    n_clusters = n_clusters if n_clusters >= MIN_CLUSTERS else 0
    years = frame["time_days"].to_numpy(float) / 365.25
    days = frame["event_days"].to_numpy(float)
    total_n, total_events = len(frame), int(counted.sum())
    if total_events == 0 or total_n < 2 * (extra.shape[1] + 2):
        return _empty([unit, *groups.columns], total_n, total_events, model, n_clusters)
    plans = [([unit], pd.concat([per_unit.rename(unit).to_frame(), extra], axis=1), total_n, total_events)]
    if groups.shape[1]:
        names = list(groups.columns)
        in_group = {t: groups[t].to_numpy() > 0 for t in names}
        plans.append(
            (
                names,
                pd.concat([groups, extra], axis=1),
                {t: int(in_group[t].sum()) for t in names},
                {t: int(counted[in_group[t]].sum()) for t in names},
            )
        )
    rows: list[dict] = []
    covariate_rows: list[dict] = []
    for k, (terms, x, n, events) in enumerate(plans):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, ci, pvalues = _fit(model, y, x, years, days, clusters)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, OverflowError):
            rows += _empty(terms, total_n, total_events, model, n_clusters)
            continue
        rows += _rows(params, ci, pvalues, terms, n, events, model, n_clusters)
        if k == 0:
            covariate_rows = _rows(params, ci, pvalues, list(extra.columns), total_n, total_events, model, n_clusters)
    return rows + covariate_rows
