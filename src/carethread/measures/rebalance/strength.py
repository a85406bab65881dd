"""Relationship strength: how much a patient would keep by moving to a clinician.

docs/rebalance.md, *Strength*. The strength of patient p with clinician c is

.. math::

    s(p, c) = \\sum_{v \\in V(p, c)} 2^{-a_v / h}
              \\; + \\; w_{practice} \\, [\\,practice(c) = practice(home(p))\\,]
              \\; + \\; w_{network} \\, \\frac{|P(c) \\cap P(home(p))|}{|P(home(p))|}

where ``V(p, c)`` are p's visits with c in the attribution look-back window
``[as_of - lookback_months, as_of)`` (visits as in docs/definitions.md,
*Visits*: one per patient, clinician and day), ``a_v`` is the visit's age in
days on the day before ``as_of``, ``h`` the half-life in days
(``half_life_months`` × 365.25 / 12), ``home(p)`` the clinician p is
attributed to (who leaves, or whose panel is over capacity), and ``P(x)``
the patients with a visit with ``x`` in the same window and settings. A
visit yesterday counts 1, a visit one half-life ago 0.5; the practice term
(default 0.5, half a recent visit) is smaller than one recent visit, so a
clinician the patient has seen always outranks a stranger in the same
practice.

The network term (:func:`network_share`, default weight 0) is the share of
the home clinician's patients who also saw ``c``: the edge weight of the
patient-sharing network (``shared_patients`` of
:func:`carethread.sharing_network`; Landon BE et al. JAMA
2012;308:265-73) divided by the home clinician's patients. It lies in
[0, 1] whatever the panel sizes, so one weight means the same in a small
practice and a large one, and it reads as a probability: how likely a
patient of the home clinician is to have met ``c``.

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
from carethread.measures.network.edges import clinician_ties
from carethread.measures.numbers import exact_int64
from carethread.options import DateLike, Settings, normalize_settings
from carethread.visits import visits

#: Days in a month on average (365.25 / 12), to turn a half-life in months into days.
DAYS_PER_MONTH = 365.25 / 12

#: Columns of :func:`relationship_strength`, in order.
STRENGTH_COLUMNS: tuple[str, ...] = ("patient_id", "clinician_id", "visits", "weighted_visits", "last_visit")

#: Columns of :func:`network_share`, in order.
NETWORK_COLUMNS: tuple[str, ...] = ("home_id", "clinician_id", "shared_patients", "home_patients", "network_share")


def check_weight(value: float, name: str) -> float:
    """A non-negative finite weight (a strength term, a half-life).

    >>> check_weight(0.5, "practice-weight")
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise OptionError(f"--{name} must be a number of at least 0, not {value!r}.")
    return float(value)


def check_network_weight(network_weight: float) -> float:
    """``network_weight``: a non-negative finite number (0, the default, leaves the network out).

    >>> check_network_weight(0)
    0.0
    """
    return check_weight(network_weight, "network-weight")


def strength_window(encounters: ibis.Table, as_of: DateLike, lookback_months: int) -> tuple[_dt.datetime, _dt.datetime]:
    """The look-back window ``[as_of - lookback_months, as_of)`` of the strength (``as_of`` defaulted)."""
    return attribution_window(attribution_date(encounters, as_of), lookback_months)


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
    start, end = strength_window(encounters, as_of, lookback_months)
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


def network_share(
    encounters: ibis.Table,
    homes: ibis.Table,
    *,
    settings: Settings = None,
    as_of: DateLike = None,
    lookback_months: int = 18,
) -> ibis.Table:
    """The share of each home clinician's patients who also saw each other clinician.

    .. math::

        n(c, h) = \\frac{|P(c) \\cap P(h)|}{|P(h)|}

    with ``P(x)`` the patients with a visit with ``x`` in the strength's
    window ``[as_of - lookback_months, as_of)`` and settings (the numerator
    is the ``shared_patients`` of :func:`carethread.sharing_network` for the
    pair, computed from the same patient-clinician ties,
    :func:`carethread.measures.network.edges.clinician_ties`).

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    homes
        A table with a ``home_id`` column: the clinicians whose patients are
        planned (who leave, or whose panel is over capacity). Only their
        edges are computed, so the cost is the planned clinicians' patients'
        other ties, not the whole network.
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``, as for the strength, not the network's every
        setting).
    as_of, lookback_months
        As for :func:`relationship_strength`.

    Returns
    -------
    ibis.Table
        ``home_id, clinician_id, shared_patients, home_patients,
        network_share``: one row per home clinician ``h`` and other
        clinician ``c`` sharing at least one patient with ``h`` in the
        window; pairs without one are absent (their share is 0).

    Notes
    -----
    Why this normalisation: the share of *h*'s patients (not the raw count)
    is in [0, 1] whatever the panel sizes, so one ``network_weight`` means
    the same in every practice; not the Jaccard index or a share of *c*'s
    patients, which would rank down the colleague with a large panel who
    covers for *h*, the very clinician *h*'s patients are most likely to
    have met. The patient being planned is counted like every other patient
    of *h* (as care density counts the patient itself; Pollack CE et al. J
    Gen Intern Med 2013;28:459-65), so the term is a property of the two
    clinicians, the same for every patient of *h*. A home clinician with no
    visit in the window has no rows.

    Examples
    --------
    A's patients p, q and r; p and q also saw B, r saw C: B shares 2/3 of
    A's patients and C 1/3.

    >>> import ibis, datetime as dt
    >>> seen = [("p", "A"), ("q", "A"), ("r", "A"), ("p", "B"), ("q", "B"), ("r", "C")]
    >>> enc = ibis.memtable({"patient_id": [p for p, _ in seen], "clinician_id": [c for _, c in seen],
    ...     "practice_id": ["X"] * 6, "setting": ["primary_care"] * 6,
    ...     "start": [dt.datetime(2024, 5, d + 1, 9) for d in range(6)]})
    >>> t = network_share(enc, ibis.memtable({"home_id": ["A"]}), as_of="2024-06-01")
    >>> [(r["clinician_id"], r["shared_patients"], round(r["network_share"], 3))
    ...  for r in t.order_by("clinician_id").to_pyarrow().to_pylist()]
    [('B', 2, 0.667), ('C', 1, 0.333)]
    """
    start, end = strength_window(encounters, as_of, lookback_months)
    ties = clinician_ties(encounters, settings=normalize_settings(settings), start=start, end=end)
    ties = ties.select("patient_id", "clinician_id")
    wanted = homes.select(w_home=homes.home_id.cast("string")).distinct()
    mine = ties.join(wanted, ties.clinician_id == wanted.w_home).select(h_patient="patient_id", home_id="clinician_id")
    sizes = mine.group_by(s_home="home_id").aggregate(home_patients=ibis._.count())
    other = ties.view()
    shared = mine.join(other, [mine.h_patient == other.patient_id, mine.home_id != other.clinician_id])
    shared = shared.group_by("home_id", "clinician_id").aggregate(shared_patients=ibis._.count())
    j = shared.join(sizes, shared.home_id == sizes.s_home)
    return as_result(
        j.select(
            "home_id",
            "clinician_id",
            shared_patients=exact_int64(j.shared_patients),
            home_patients=exact_int64(j.home_patients),
            network_share=j.shared_patients.cast("float64") / j.home_patients,
        )
    )
