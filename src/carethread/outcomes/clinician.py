"""The clinician's side: do clinicians who keep their relationships stay?

docs/definitions.md, *Clinician tenure*. Tenure runs from a clinician's first
encounter in the data to their departure: ``active_to`` in the clinicians
table when it falls before the end of the data, else the day after their
last encounter when the last ``departure_months`` of the data hold none of
theirs. Departure after a date ``as_of`` is then set against the clinician's
provider-side continuity and relationship load at ``as_of``
(:func:`carethread.measures.panels`) in Cox models by tertile. This is an
association: clinicians who are leaving may already see fewer of their own
patients, so low continuity can be a sign of departure as much as a cause.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from carethread.measures.display import as_result
from carethread.measures.panels import panels
from carethread.options import Clinicians, DateLike, Settings, as_timestamp, check_months, clinicians_table
from carethread.outcomes.evalue import e_values
from carethread.visits import default_as_of, encounters_in_window

#: Columns of :func:`clinician_tenure`, in order.
TENURE_COLUMNS: tuple[str, ...] = (
    "clinician_id",
    "first_encounter",
    "last_encounter",
    "departure_date",
    "departed",
    "tenure_years",
    "left_censored",
)

#: Exposures of :func:`tenure_hazards`: column of ``panels`` -> the tertile that is the reference.
TENURE_EXPOSURES: dict[str, int] = {"provider_side_continuity": 3, "panel_size": 1}

#: The sentence every clinician-side result carries.
ASSOCIATION = (
    "Clinician departures by continuity are an association, not an effect: clinicians who are about to "
    "leave may already keep fewer of their own patients."
)


def clinician_tenure(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    start: DateLike = None,
    end: DateLike = None,
    departure_months: int = 12,
) -> ibis.Table:
    """Each clinician's first and last encounter, departure and tenure.

    Parameters
    ----------
    encounters
        Canonical encounters, every setting (any encounter shows the
        clinician at work).
    clinicians
        Canonical clinicians table; its ``active_to`` (when before the end of
        the data) is the departure.
    start, end
        Window ``[start, end)``; the data end at ``end`` or the day after the
        last encounter.
    departure_months
        Without ``active_to``, a clinician with no encounter in the last
        ``departure_months`` (default 12) of the data has left, the day after
        their last encounter.

    Returns
    -------
    ibis.Table
        :data:`TENURE_COLUMNS`. ``tenure_years`` runs from the first
        encounter to the departure (or the end of the data, when still
        there). ``left_censored`` marks clinicians seen in the first 90 days
        of the data: they were probably there before it, so their tenure is
        longer than the data show.

    Examples
    --------
    ``A`` works through 2022 and 2023; ``B`` stops in March 2022:

    >>> import datetime as dt
    >>> days = [dt.datetime(2022, 1, 3), dt.datetime(2023, 12, 28), dt.datetime(2022, 1, 4), dt.datetime(2022, 3, 1)]
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": ["A", "A", "B", "B"],
    ...     "practice_id": ["X"] * 4, "setting": ["primary_care"] * 4, "start": days})
    >>> rows = clinician_tenure(enc).order_by("clinician_id").to_pyarrow().to_pylist()
    >>> [(r["clinician_id"], r["departed"], r["departure_date"]) for r in rows]
    [('A', False, None), ('B', True, datetime.date(2022, 3, 2))]
    """
    months = check_months(departure_months, "departure-months")
    e = encounters_in_window(encounters, start=start, end=end)
    e = e.filter(e.clinician_id.notnull())
    ends = default_as_of(e, end=end)
    first_day = e.start.min().to_pyarrow().as_py()
    silent_since = (ends - pd.DateOffset(months=months)).to_pydatetime().date() if ends else None
    seen = e.group_by("clinician_id").aggregate(
        first_encounter=e.start.min().cast("date"), last_encounter=e.start.max().cast("date")
    )
    table = clinicians_table(clinicians)
    if table is not None and "active_to" in table.columns:
        listed = table.group_by(clinician_id=table.clinician_id.cast("string")).aggregate(
            active_to=table.active_to.cast("date").max()
        )
        seen = seen.left_join(listed, "clinician_id").drop("clinician_id_right")
    else:
        seen = seen.mutate(active_to=ibis.null("date"))
    end_day = ibis.literal(ends.date()) if ends else ibis.null("date")
    listed_gone = seen.active_to.notnull() & (seen.active_to < end_day)
    silent = seen.last_encounter < ibis.literal(silent_since)
    after = lambda d: (d + ibis.interval(days=1)).cast("date")  # noqa: E731
    departure = ibis.cases((listed_gone, after(seen.active_to)), (silent, after(seen.last_encounter)))
    until = ibis.coalesce(departure, end_day)
    early = (ibis.literal(first_day) + ibis.interval(days=90)).cast("date") if first_day else ibis.null("date")
    return as_result(
        seen.select(
            "clinician_id",
            "first_encounter",
            "last_encounter",
            departure_date=departure,
            departed=departure.notnull(),
            tenure_years=until.delta(seen.first_encounter, unit="day").cast("float64") / 365.25,
            left_censored=seen.first_encounter < early,
        )
    )


def tertiles(x: pd.Series) -> pd.Series:
    """Tertile 1-3 of each value by its mean rank (ties share one), ``ceil(3 * rank / n)``.

    >>> tertiles(pd.Series([0.2, 0.5, 0.9, 0.4, 0.7, 0.1])).tolist()
    [1, 2, 3, 2, 3, 1]
    """
    return np.ceil(3 * x.rank(method="average") / len(x)).astype(int)


def tenure_cohort(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    end: DateLike = None,
    lookback_months: int = 12,
    departure_months: int = 12,
) -> pd.DataFrame:
    """One row per clinician with a panel at ``as_of``: exposures, follow-up days and departure.

    Columns ``clinician_id, provider_side_continuity, panel_size, days,
    departed``: the follow-up runs from ``as_of`` to the departure or the end
    of the data; clinicians who left before ``as_of`` are not in it.
    """
    clinicians = clinicians_table(clinicians)
    moment = as_timestamp(as_of, "as-of")
    panel = panels(encounters, clinicians=clinicians, settings=settings, as_of=moment, lookback_months=lookback_months)
    panel = panel.filter((panel.panel_size > 0) & panel.provider_side_continuity.notnull())
    tenure = clinician_tenure(encounters, clinicians=clinicians, end=end, departure_months=departure_months)
    ends = default_as_of(encounters, end=end)
    joined = panel.join(tenure, "clinician_id")
    start_day = ibis.literal(moment.date())
    stop = ibis.coalesce(joined.departure_date, ibis.literal(ends.date()))
    joined = joined.filter(joined.departure_date.isnull() | (joined.departure_date > start_day))
    return joined.select(
        "clinician_id",
        "provider_side_continuity",
        "panel_size",
        days=stop.delta(start_day, unit="day").cast("float64"),
        departed=joined.departed.cast("int64"),
    ).to_pandas()


def tenure_hazards(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    end: DateLike = None,
    lookback_months: int = 12,
    departure_months: int = 12,
) -> ibis.Table:
    """Hazard ratios of clinician departure by tertile of provider-side continuity and of load.

    Parameters
    ----------
    encounters, clinicians, settings
        As for :func:`carethread.measures.panels`.
    as_of
        When continuity and load are measured (panels as of that date over
        the ``lookback_months`` before it) and the follow-up starts.
        Required: the end of a baseline, e.g. the outcome study's.
    end, departure_months
        The end of the data, and the silence that counts as departure
        (:func:`clinician_tenure`).

    Returns
    -------
    ibis.Table
        The columns of :func:`carethread.outcomes.outcomes`, ``design`` =
        ``clinician_tenure``, ``outcome`` = ``clinician_departure``: rows
        ``tertile_1`` and ``tertile_2`` of ``provider_side_continuity``
        against its highest tertile, and ``tertile_2`` and ``tertile_3`` of
        ``panel_size`` (relationship load) against its lowest. Cox models
        (statsmodels ``PHReg``), one per exposure, model-based errors.

    Notes
    -----
    An association (:data:`ASSOCIATION`), with no adjustment: clinicians
    differ in ways no table records (age, contract, plans).
    """
    from statsmodels.duration.hazard_regression import PHReg

    frame = tenure_cohort(
        encounters,
        clinicians=clinicians,
        settings=settings,
        as_of=as_of,
        end=end,
        lookback_months=lookback_months,
        departure_months=departure_months,
    )
    rows = []
    for exposure, reference in TENURE_EXPOSURES.items():
        groups = tertiles(frame[exposure]) if len(frame) else pd.Series(dtype=int)
        terms = [t for t in (1, 2, 3) if t != reference and (groups == t).any()]
        x = pd.DataFrame({f"tertile_{t}": (groups == t).astype(float) for t in terms})
        events = int(frame["departed"].sum()) if len(frame) else 0
        fitted = None
        if events and terms and (groups == reference).any():
            try:
                fitted = PHReg(frame["days"].to_numpy(), x, status=frame["departed"].to_numpy(float)).fit()
            except np.linalg.LinAlgError:  # no departure in some tertile: no finite estimate
                fitted = None
        for k, t in enumerate(terms):
            inside = groups == t
            estimate = low = high = p = None
            if fitted is not None and np.isfinite(fitted.bse[k]) and abs(fitted.params[k]) < 15:
                estimate, (low, high) = float(np.exp(fitted.params[k])), np.exp(fitted.conf_int()[k])
                p = float(fitted.pvalues[k])
            ev = e_values(estimate, low, high, "HR", events / max(len(frame), 1))
            rows.append(
                dict(term=f"tertile_{t}", estimate=estimate, ci_low=low, ci_high=high, p_value=p,
                     n=int(inside.sum()), events=int(frame["departed"][inside].sum()), model="cox",
                     design="clinician_tenure", outcome="clinician_departure", exposure=exposure, clusters=0,
                     e_value=ev[0], e_value_ci=ev[1])
            )  # fmt: skip
    from carethread.outcomes.study import OUTCOME_COLUMNS, TYPES

    table = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
    return as_result(ibis.memtable(table, schema=ibis.schema(TYPES)))
