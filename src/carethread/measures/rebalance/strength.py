"""Relationship strength: how much a patient would keep by moving to a clinician.

docs/rebalance.md, *Strength*. The strength of patient p with clinician c is

.. math::

    s(p, c) = \\sum_{v \\in V(p, c)} 2^{-a_v / h}
              \\; + \\; w_{practice} \\, [\\,practice(c) = practice(home(p))\\,]

where ``V(p, c)`` are p's visits with c in the attribution look-back window
``[as_of - lookback_months, as_of)`` (visits as in docs/definitions.md,
*Visits*: one per patient, clinician and day), ``a_v`` is the visit's age in
days on the day before ``as_of``, ``h`` the half-life in days
(``half_life_months`` × 365.25 / 12), and ``home(p)`` the clinician p is
attributed to. A visit yesterday counts 1, a visit one half-life ago 0.5; the
practice term (default 0.5, half a recent visit) is smaller than one recent
visit, so a clinician the patient has seen always outranks a stranger in the
same practice.

A third term, ``network_weight`` × the share of patients p's clinician
shares with c, is described in docs/rebalance.md; it needs the
sharing-network measure (``carethread.sharing_network``), and until that
measure exists the weight must stay 0.

The exponential recency weight is a modelling choice with one parameter a
practice can reason about, the half-life. Continuity matters because it is
repeated contact with the same clinician over time (Pereira Gray DJ,
Sidaway-Lee K, White E, Thorne A, Evans PH. Continuity of care with doctors:
a matter of life and death? BMJ Open 2018;8:e021161).
"""

from __future__ import annotations

import datetime as _dt
import math

import ibis

from carethread.errors import OptionError
from carethread.measures.attribution import attribution_window
from carethread.measures.attribution.rules import attribution_date
from carethread.measures.display import as_result
from carethread.measures.numbers import exact_int64
from carethread.options import DateLike, Settings
from carethread.visits import visits

#: Days in a month on average (365.25 / 12), to turn a half-life in months into days.
DAYS_PER_MONTH = 365.25 / 12

#: Columns of :func:`relationship_strength`, in order.
STRENGTH_COLUMNS: tuple[str, ...] = ("patient_id", "clinician_id", "visits", "weighted_visits", "last_visit")


def check_weight(value: float, name: str) -> float:
    """A non-negative finite weight (a strength term, a half-life).

    >>> check_weight(0.5, "practice-weight")
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise OptionError(f"--{name} must be a number of at least 0, not {value!r}.")
    return float(value)


def check_network_weight(network_weight: float) -> float:
    """``network_weight`` must be 0 until the sharing-network measure exists.

    >>> check_network_weight(0)
    0.0
    """
    weight = check_weight(network_weight, "network-weight")
    if weight > 0:
        import carethread

        if "sharing_network" not in dir(carethread):
            raise OptionError(
                "--network-weight needs the sharing-network measure (carethread.sharing_network), which this "
                "version does not have yet; leave it at 0."
            )
        raise OptionError(  # pragma: no cover  (until the network measure lands)
            "--network-weight is not wired to carethread.sharing_network yet; leave it at 0."
        )
    return weight


def relationship_strength(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    as_of: DateLike = None,
    lookback_months: int = 18,
    half_life_months: float = 12.0,
) -> ibis.Table:
    """Recency-weighted visits of every patient with every clinician they saw in the look-back.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    as_of
        The planning date; visits on or after it do not count. Default: the
        day after the last encounter (:func:`carethread.visits.default_as_of`).
    lookback_months
        Look-back in whole months (default 18, the attribution look-back).
    half_life_months
        Months after which a visit counts half (default 12).

    Returns
    -------
    ibis.Table
        One row per (patient, clinician) with a visit in the window:
        ``patient_id, clinician_id, visits, weighted_visits, last_visit``.
        ``weighted_visits = Σ 2^(-age / half-life)`` with ``age`` = days from
        the visit to the day before ``as_of`` (so a visit that day counts 1).

    Notes
    -----
    The practice term of the strength is added where candidates are built
    (:mod:`carethread.measures.rebalance.candidates`), because it depends on
    the patient's current clinician; the formula is in the module docstring.

    Examples
    --------
    Visits with A yesterday and one year earlier: 1 + 0.5 with a 12-month half-life.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "p"], "clinician_id": ["A", "A"],
    ...     "practice_id": ["X", "X"], "setting": ["primary_care"] * 2,
    ...     "start": [dt.datetime(2023, 5, 31, 9, 0), dt.datetime(2024, 5, 31, 9, 0)]})
    >>> row = relationship_strength(enc, as_of="2024-06-01").to_pyarrow().to_pylist()[0]
    >>> row["visits"], round(row["weighted_visits"], 3), str(row["last_visit"])
    (2, 1.499, '2024-05-31')
    """
    half_life = check_weight(half_life_months, "half-life-months")
    if half_life == 0:
        raise OptionError("--half-life-months must be more than 0 months.")
    start, end = attribution_window(attribution_date(encounters, as_of), lookback_months)
    v = visits(encounters, settings=settings, start=start, end=end)
    reference = ibis.literal((end - _dt.timedelta(days=1)).date())
    age_days = reference.delta(v.visit_date, unit="day").cast("float64")
    weight = (age_days * (-math.log(2) / (half_life * DAYS_PER_MONTH))).exp()
    pairs = v.mutate(weight=weight).group_by("patient_id", "clinician_id")
    g = pairs.aggregate(visits=ibis._.count(), weighted_visits=ibis._.weight.sum(), last_visit=ibis._.visit_date.max())
    return as_result(
        g.select(
            "patient_id",
            "clinician_id",
            visits=exact_int64(g.visits),
            weighted_visits=g.weighted_visits,
            last_visit=g.last_visit,
        )
    )
