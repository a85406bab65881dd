"""Plain-language caveats that travel with an outcome study's table (no identifier, ever)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from carethread.options import DateLike
from carethread.outcomes.models import BASE_COVARIATES, MIN_CLUSTERS, RATIOS
from carethread.outcomes.study import resolve_design
from carethread.outcomes.windows import study_windows
from carethread.wording import plural

#: Why an outcome may have no event, by outcome.
_NO_EVENT = {
    "death": "the patients table has no death date in the follow-up",
    "ed_visits": "the data have no emergency encounter in the follow-up",
    "admissions": "the data have no inpatient encounter in the follow-up",
    "events": "the events file has no event in the follow-up",
}

#: The caveat every outcome study carries.
ASSOCIATION = (
    "These are observational associations adjusted for age, sex, baseline visits, emergency visits and "
    "admissions (and any covariates given), not proven effects; the E-value is how strongly an unmeasured "
    "confounder would have to be tied to both continuity and the outcome to explain a headline estimate away."
)


def outcomes_remarks(
    encounters: ibis.Table,
    result: ibis.Table,
    *,
    design: str | None = None,
    exposure: str | None = None,
    outcome: str | Sequence[str] | None = None,
    model: str | None = None,
    baseline: DateLike | tuple | None = None,
    followup: DateLike | tuple | None = None,
    **_options,
) -> list[str]:
    """Caveats for a :func:`carethread.outcomes.outcomes` table, from the table and the options.

    The windows and the design (with its citation), what could not be
    estimated and why, covariates left out for want of data, empty groups,
    standard errors that could not be clustered, and the association
    caveat. Other options of :func:`~carethread.outcomes.outcomes` are
    accepted, so the same options serve both calls.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> enc = ibis.memtable({"start": [dt.datetime(2021, 1, 4), dt.datetime(2024, 12, 30)]})
    >>> t = ibis.memtable(pd.DataFrame({"term": ["per_0.1"], "estimate": [None], "ci_low": [None],
    ...     "ci_high": [None], "n": [40], "events": [0], "model": ["cox"], "outcome": ["death"],
    ...     "exposure": ["upc"], "clusters": [0]}))
    >>> outcomes_remarks(enc, t, outcome="death", model="cox")[1]
    'death could not be estimated: the patients table has no death date in the follow-up.'
    """
    chosen = resolve_design(design, exposure=exposure, outcome=outcome, model=model)
    windows = study_windows(
        encounters,
        baseline=baseline,
        followup=followup,
        baseline_months=chosen.baseline_months,
        followup_months=chosen.followup_months,
    )
    head = f"Exposure {chosen.exposure} over the {windows.text()} (end dates exclusive)."
    if chosen.citation:
        head += f" Design {chosen.name}: {chosen.citation}"
    remarks = [head]
    rows = result.to_pandas()
    for name, part in rows.groupby("outcome", sort=False):
        exposure_rows = part[part.term.str.startswith(("per_", "quintile_", "years_"))]
        if exposure_rows.estimate.isna().all():
            events = int(part.events.iloc[0]) if len(part) else 0
            why = _NO_EVENT.get(name, "no event") if events == 0 else f"too few patients or events ({events})"
            remarks.append(f"{name} could not be estimated: {why}.")
            continue
        missing = [c for c in BASE_COVARIATES if c not in set(part.term)]
        if missing:
            remarks.append(
                f"{name}: {', '.join(missing)} left out of the adjustment (no data, or the same for everyone)."
            )
        groups = exposure_rows[~exposure_rows.term.str.startswith("per_")]
        if chosen.exposure != "duration" and 0 < len(groups) < 4:
            remarks.append(
                f"{name}: {plural(4 - len(groups), 'quintile')} empty: patients with equal scores share a "
                "quintile, so a large group of equal scores (UPC = 1) fills one and leaves another empty."
            )
        if int(part.clusters.iloc[0]) == 0:
            remarks.append(
                f"{name}: fewer than {MIN_CLUSTERS} practices, too few to cluster standard errors by; the "
                f"{RATIOS[part.model.iloc[0]]} intervals use "
                + ("the model's errors instead." if part.model.iloc[0] == "cox" else "each patient's robust errors.")
            )
    remarks.append(ASSOCIATION)
    return remarks
