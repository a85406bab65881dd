"""Who needs whom: the doctor-patient relationship summarised from both sides.

A relationship is asymmetric. For the patient, their usual clinician is most
of their care; for the clinician, that patient is one of well over a thousand.
:func:`who_needs_whom` puts numbers on both sides, with bootstrap confidence
intervals, and writes one sentence a practice manager can quote.

Measures (all over one window, see :func:`who_needs_whom`):

``patient_share_from_usual_clinician``
    Median over patients with at least ``min_visits`` visits of the share of
    their visits made to their usual clinician (most visits; ties to the most
    recent visit, then the smallest id; DESIGN.md section 4) — the median UPC
    (Breslau & Reeb 1975) or patient dependence on the top dyad.
``patient_share_of_usual_clinicians_work``
    The mirror image, over the same patients and the same dyad: the patient's
    visits with their usual clinician / all of that clinician's visits — the
    clinician dependence of the patient's main relationship. Comparing the
    two medians compares the two sides of the same relationships.
``patient_share_of_clinicians_work_all_dyads``
    Median clinician dependence over every dyad (every patient-clinician pair
    with a visit), one-off encounters included.
``patients_per_clinician``
    Median over clinicians with a visit of the distinct patients they saw
    (relationships held by a clinician; DESIGN.md "relationship load").
``clinicians_per_patient``
    Median over patients with a visit of the distinct clinicians they saw.
``provider_side_continuity``, ``patient_side_continuity``
    The whole system's pooled two-list continuity (BJGP 2023): visits
    clinicians gave to their own panel / all visits, and visits of panel
    patients with their own clinician / all visits of attributed patients.
    Identical to ``panel_rollup(panels(...), by="system")``.
``breaks_<kind>``, ``breaks_total``
    Relationship breaks dated in the window, by kind (``partner``,
    ``other_practice``, ``emergency_only``, ``lost``), when
    :mod:`carethread.measures.breaks` is available. Breaks are detected on
    all the encounters (quarterly plurality attribution with the same
    ``lookback``), not only the window's, since a break needs the history
    before it and the months after it; only their dates must fall in the
    window. Counts from 1 to 10 are shown as they are: this table is an
    analyst output (DESIGN.md section 6); suppress before sharing it.

Uncertainty: a nonparametric bootstrap over patients (Efron & Tibshirani,
An Introduction to the Bootstrap, 1993). The heavy work runs in Ibis and ends
in one small row per dyad (patient, clinician, visits, usual, own-panel flags)
and one per patient and break kind. Each replicate draws patients with
replacement (a patient drawn k times counts k times, with all their dyads and
breaks), and every measure is recomputed from the drawn patients, with one
exception: a clinician's workload (their total visits, the denominator of the
clinician-side shares) stays at its observed value. Recomputing it would bias
those shares downwards, because a patient drawn twice makes their own
clinician's list one patient longer on average exactly when it is counted
twice. ``patients_per_clinician`` is recomputed (drawn patients seen, with
multiplicity). Intervals are 95 % percentile intervals of ``bootstrap``
replicates from ``numpy.random.default_rng(seed)``: the same data and seed
give the same intervals. Medians of an even count average the two middle
values (as ``numpy.median``). Clinicians are not resampled as units, so the
intervals do not cover variation between clinicians beyond what the patients
carry; medians of discrete values (UPC = 3/4, 2 clinicians) often have
zero-width intervals, which is the honest answer for a median on a lattice.

Pooled continuity caveat: with ``plurality`` (or ``recent``) attribution and
the default window, every patient with a visit is attributed, so both pooled
ratios divide the same visits and coincide at system level; they differ per
clinician and per practice (:func:`carethread.measures.panels.panels`), and
system-wide when ``start``/``end`` differ from the attribution window.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carethread.errors import OptionError
from carethread.measures.attribution import attribute
from carethread.measures.keys import usual_rank_key
from carethread.measures.dyads import dyad_counts
from carethread.measures.panels import counting_window
from carethread.options import as_timestamp, check_min_visits

BREAK_KINDS: tuple[str, ...] = ("partner", "other_practice", "emergency_only", "lost")

#: (name, description) of every measure, in table order.
MEASURES: tuple[tuple[str, str], ...] = (
    (
        "patient_share_from_usual_clinician",
        "Median share of a patient's visits made to their usual clinician (UPC), patients with enough visits.",
    ),
    (
        "patient_share_of_usual_clinicians_work",
        "Median share of the usual clinician's visits that one of their patients makes, same patients.",
    ),
    (
        "patient_share_of_clinicians_work_all_dyads",
        "Median share of a clinician's visits made by one patient, over every patient-clinician pair.",
    ),
    ("patients_per_clinician", "Median number of distinct patients a clinician saw."),
    ("clinicians_per_patient", "Median number of distinct clinicians a patient saw."),
    ("provider_side_continuity", "Visits clinicians gave to their own panel / all visits clinicians gave (pooled)."),
    (
        "patient_side_continuity",
        "Visits of attributed patients with their own clinician / all visits of attributed patients (pooled).",
    ),
)
_BREAK_DESCRIPTIONS = {
    "partner": "Relationship breaks to a clinician in the same practice.",
    "other_practice": "Relationship breaks to a clinician in another practice.",
    "emergency_only": "Relationship breaks with only emergency or urgent care since.",
    "lost": "Relationship breaks with no encounter in the next 12 months.",
    "total": "All relationship breaks.",
}


@dataclass(frozen=True)
class WhoNeedsWhom:
    """The result of :func:`who_needs_whom`.

    Attributes
    ----------
    table
        ``pyarrow.Table`` with ``name, value, ci_low, ci_high, description``,
        one row per measure (module docstring); values and bounds are float64,
        null when undefined.
    headline
        One or two plain sentences with the key numbers.
    window
        ``{"start", "end", "as_of"}`` as ISO dates (``end`` and ``as_of``
        exclusive).
    counts
        Sizes behind the medians: patients, clinicians, dyads, visits,
        patients with enough visits.
    bootstrap, seed
        Replicates and seed of the intervals.
    remarks
        Caveats that do not block the result.
    """

    table: pa.Table
    headline: str
    window: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    bootstrap: int = 0
    seed: int = 0
    remarks: tuple[str, ...] = ()

    def value(self, name: str) -> float | None:
        """The estimate of one measure by name."""
        return self.to_dict()["measures"][name]["value"]

    def to_dict(self) -> dict:
        """Plain Python: ``headline``, ``measures`` (name -> value, ci_low, ci_high, description), and the rest."""
        measures = {
            r["name"]: {k: r[k] for k in ("value", "ci_low", "ci_high", "description")} for r in self.table.to_pylist()
        }
        return {
            "headline": self.headline,
            "measures": measures,
            "window": dict(self.window),
            "counts": dict(self.counts),
            "bootstrap": {"replicates": self.bootstrap, "seed": self.seed, "interval": "95% percentile"},
            "remarks": list(self.remarks),
        }


# --- Ibis: reduce encounters to one row per dyad --------------------------------------------


def dyad_summary(encounters: ibis.Table, *, as_of, lookback=18, settings=None, start=None, end=None, rule="plurality"):
    """One row per dyad: ``patient_id, clinician_id, dyad_visits, usual, own, attributed``.

    ``usual``: the clinician is the patient's usual clinician in the window;
    ``own``: the clinician is the one the patient is attributed to as of
    ``as_of``; ``attributed``: the patient is attributed to someone.
    """
    d = dyad_counts(encounters, settings=settings, start=start, end=end)
    pairs = d.rename(n="dyad_visits")
    usual = pairs.group_by(u_patient="patient_id").aggregate(
        usual_id=pairs.clinician_id.argmin(usual_rank_key(pairs, "clinician_id"))
    )
    a = attribute(encounters, as_of=as_of, rule=rule, lookback_months=lookback, settings=settings)
    owner = a.select(o_patient="patient_id", owner_id="clinician_id")
    j = d.inner_join(usual, d.patient_id == usual.u_patient).left_join(owner, d.patient_id == owner.o_patient)
    return j.select(
        "patient_id",
        "clinician_id",
        dyad_visits=j.dyad_visits.cast("int64"),
        usual=j.clinician_id == j.usual_id,
        own=(j.clinician_id == j.owner_id).fill_null(False),
        attributed=j.owner_id.notnull(),
    )


def _break_counts(encounters, *, clinicians, lookback, settings, lo, hi, breaks=None):
    """``patient_id, kind, n`` of breaks dated in ``[lo, hi)``, or ``None`` when breaks are unavailable."""
    if breaks is None:
        try:
            from carethread.measures.breaks import relationship_breaks
        except ImportError:
            return None
        breaks = relationship_breaks(encounters, clinicians=clinicians, lookback_months=lookback, settings=settings)
    b = breaks
    b = b.filter(b.break_date >= lo.date(), b.break_date < hi.date())
    return b.group_by("patient_id", "kind").aggregate(n=b.count())


# --- numpy: statistics of small arrays, with patient weights ---------------------------------


class _WeightedMedian:
    """Median of fixed values under integer weights, with the values ranked once.

    ``values[i]`` is counted ``weights[i]`` times. Each replicate only sums
    weights per distinct value (one ``bincount``) and walks the cumulative
    counts, so it costs O(n) with sequential memory access and no sort. The
    median of an even total averages the two middle values, as
    ``numpy.median`` does on the repeated values.
    """

    def __init__(self, values: np.ndarray):
        self.distinct, self.code = np.unique(values, return_inverse=True)

    def __call__(self, weights: np.ndarray) -> float:
        if self.code.size == 0:
            return math.nan
        cum = np.cumsum(np.bincount(self.code, weights=weights, minlength=self.distinct.size))
        total = cum[-1]
        if total < 0.5:
            return math.nan
        total = round(total)
        lo = self.distinct[np.searchsorted(cum, (total - 1) // 2 + 0.5)]
        hi = self.distinct[np.searchsorted(cum, total // 2 + 0.5)]
        return float((lo + hi) / 2)


def _safe_ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


class _Arrays:
    """Integer-coded dyads and breaks (patients share one code space) and the fixed per-dyad values."""

    def __init__(self, dyads: pa.Table, breaks: pa.Table | None, min_visits: int):
        d_pat = dyads.column("patient_id").combine_chunks().cast(pa.string())
        b_pat = breaks.column("patient_id").combine_chunks().cast(pa.string()) if breaks is not None else None
        both = pa.concat_arrays([d_pat, b_pat]) if b_pat is not None else d_pat
        codes = pc.dictionary_encode(both)
        pat = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        self.n_patients = len(codes.dictionary)
        self.pat = pat[: len(d_pat)]
        clin = pc.dictionary_encode(dyads.column("clinician_id").combine_chunks())
        self.clin = clin.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        self.n_clinicians = len(clin.dictionary)
        self.dv = dyads.column("dyad_visits").to_numpy().astype(np.float64)
        usual = dyads.column("usual").to_numpy(zero_copy_only=False).astype(bool)
        own = dyads.column("own").to_numpy(zero_copy_only=False).astype(bool)
        attributed = dyads.column("attributed").to_numpy(zero_copy_only=False).astype(bool)
        # Rows: all visits, visits with the own (attributed) clinician, visits of attributed patients.
        self.visit_sums = np.vstack([self.dv, self.dv * own, self.dv * attributed])

        n = self.n_patients
        patient_visits = np.bincount(self.pat, weights=self.dv, minlength=n)
        self.patient_visits = patient_visits[patient_visits > 0]
        # Clinicians' workloads stay at their observed values in every replicate (module docstring).
        clinician_visits = np.bincount(self.clin, weights=self.dv, minlength=self.n_clinicians)
        self.usual = np.flatnonzero(usual)  # one usual dyad per patient with visits
        self.main = self.usual[patient_visits[self.pat[self.usual]] >= min_visits]
        self.upc = _WeightedMedian(self.dv[self.main] / patient_visits[self.pat[self.main]])
        self.main_dependence = _WeightedMedian(self.dv[self.main] / clinician_visits[self.clin[self.main]])
        self.dyad_dependence = _WeightedMedian(self.dv / clinician_visits[self.clin])
        clinicians_of = np.bincount(self.pat, minlength=n)
        self.clinicians_per_patient = _WeightedMedian(clinicians_of[self.pat[self.usual]].astype(np.float64))
        self.breaks = {}
        if breaks is not None:
            b_codes = pat[len(d_pat) :]
            kinds = breaks.column("kind").combine_chunks().cast(pa.string())
            n_b = breaks.column("n").to_numpy().astype(np.float64)
            for kind in BREAK_KINDS:
                m = pc.equal(kinds, kind).fill_null(False).to_numpy(zero_copy_only=False)
                self.breaks[kind] = (b_codes[m], n_b[m])


def _statistics(x: _Arrays, w: np.ndarray, with_breaks: bool) -> dict[str, float]:
    """Every measure for patient weights ``w`` (all ones = the estimate)."""
    w = w.astype(np.float64)
    wd = w[x.pat]  # each dyad carries its patient's weight
    seen = np.bincount(x.clin, weights=wd, minlength=x.n_clinicians)  # distinct patients, with multiplicity
    seen = seen[seen > 0]
    all_visits, own_visits, attributed_visits = (float(v) for v in x.visit_sums @ wd)
    out = {
        "patient_share_from_usual_clinician": x.upc(wd[x.main]),
        "patient_share_of_usual_clinicians_work": x.main_dependence(wd[x.main]),
        "patient_share_of_clinicians_work_all_dyads": x.dyad_dependence(wd),
        "patients_per_clinician": float(np.median(seen)) if seen.size else math.nan,
        "clinicians_per_patient": x.clinicians_per_patient(wd[x.usual]),
        "provider_side_continuity": _safe_ratio(own_visits, all_visits),
        "patient_side_continuity": _safe_ratio(own_visits, attributed_visits),
    }
    if with_breaks:
        for kind in BREAK_KINDS:
            codes, n = x.breaks[kind]
            out[f"breaks_{kind}"] = float(w[codes] @ n)
        out["breaks_total"] = float(sum(out[f"breaks_{kind}"] for kind in BREAK_KINDS))
    return out


def _bootstrap(x: _Arrays, replicates: int, seed: int, with_breaks: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(replicates):
        w = np.bincount(rng.integers(0, x.n_patients, x.n_patients), minlength=x.n_patients)
        for name, v in _statistics(x, w, with_breaks).items():
            draws.setdefault(name, []).append(v)
    return {k: np.asarray(v, dtype=np.float64) for k, v in draws.items()}


# --- words -----------------------------------------------------------------------------------


def _group(n: float) -> str:
    """Whole number with a space between thousands: ``1 400``."""
    return f"{round(n):,}".replace(",", " ")


def about(n: float) -> str:
    """A count rounded for speech: two significant digits, thousands spaced.

    >>> about(1437), about(2), about(1.5), about(87.4)
    ('1 400', '2', '1.5', '87')
    """
    if n >= 10:
        digits = math.floor(math.log10(n)) - 1
        return _group(round(n, -digits))
    return f"{round(n, 1):g}"


def percent(share: float) -> str:
    """A share as a percentage: whole percent from 10 %, two significant digits below.

    >>> percent(0.6667), percent(0.0452), percent(0.000714)
    ('67 %', '4.5 %', '0.071 %')
    """
    p = share * 100
    if p >= 10 or p == 0:
        return f"{round(p):.0f} %"
    digits = 1 - math.floor(math.log10(p))
    return f"{round(p, digits):.{max(digits, 0)}f} %"


def _headline(values: dict[str, float]) -> str:
    pt = values.get("patient_share_from_usual_clinician")
    cl = values.get("patient_share_of_usual_clinicians_work")
    per_c, per_p = values.get("patients_per_clinician"), values.get("clinicians_per_patient")
    if pt is None or cl is None:
        if per_c is None:
            return "No visits in the window, so there is no relationship to describe."
        return (
            f"Too few patients had repeat visits to compare the two sides. Each clinician holds about "
            f"{about(per_c)} relationships; each patient about {about(per_p)}."
        )
    if cl > 0 and pt >= 10 * cl:
        lead = "Patients need the relationship far more than clinicians do"
    elif pt > cl:
        lead = "Patients need the relationship more than clinicians do"
    elif pt == cl:
        lead = "Patients and clinicians need the relationship equally"
    else:
        lead = "Clinicians need the relationship more than patients do"
    return (
        f"{lead}: a typical patient gets {percent(pt)} of their care from one clinician, while a typical "
        f"patient is {percent(cl)} of that clinician's work. Each clinician holds about {about(per_c)} "
        f"relationships; each patient about {about(per_p)}."
    )


# --- the public function ---------------------------------------------------------------------


def _check_count(value, name: str, least: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < least:
        raise OptionError(f"{name} must be a whole number of at least {least}, not {value!r}.")
    return int(value)


def _default_as_of(encounters: ibis.Table, end) -> _dt.datetime | None:
    if end is not None:
        return as_timestamp(end, "end")
    last = encounters.start.max().to_pyarrow().as_py()
    if last is None:
        return None
    return _dt.datetime(last.year, last.month, last.day) + _dt.timedelta(days=1)


def who_needs_whom(
    encounters: ibis.Table,
    *,
    as_of=None,
    settings=None,
    start=None,
    end=None,
    lookback: int = 18,
    min_visits: int = 2,
    clinicians=None,
    breaks: ibis.Table | None = None,
    bootstrap: int = 200,
    seed: int = 0,
) -> WhoNeedsWhom:
    """How much patients depend on clinicians, and clinicians on patients.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    as_of
        Attribution date for the panel measures (default: ``end`` if given,
        else the day after the last encounter).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    start, end
        The window ``[start, end)`` every measure describes. By default the
        attribution window ``[as_of - lookback months, as_of)``, so that
        relationship counts, dependences and panels describe the same period.
    lookback
        Attribution look-back in months (default 18).
    min_visits
        Patients with fewer visits are left out of the two share measures
        (default 2: with one visit UPC is trivially 1). They still count in
        every other measure.
    clinicians
        Optional canonical clinicians table (for relationship breaks).
    breaks
        A :func:`~carethread.measures.breaks.relationship_breaks` table
        already computed (e.g. cached by the report), to count instead of
        computing breaks again with the defaults over all the encounters.
        Only breaks dated in the window count.
    bootstrap
        Bootstrap replicates over patients (default 200; 0 = no intervals).
    seed
        Seed of the bootstrap.

    Returns
    -------
    WhoNeedsWhom
        ``.table`` (``name, value, ci_low, ci_high, description``),
        ``.headline`` and ``.to_dict()``. Measures, definitions and the
        bootstrap method: see the module docstring.

    Notes
    -----
    The result is computed (not lazy): Ibis reduces encounters to one row per
    dyad (and per patient and break kind), which is then resampled with
    numpy. Memory is proportional to the number of dyads.

    Examples
    --------
    Three patients each see A on three days; p also sees B once:

    >>> import ibis, datetime as dt
    >>> rows = [(p, "A", d) for p in "pqr" for d in (1, 8, 15)] + [("p", "B", 20)]
    >>> enc = ibis.memtable({"patient_id": [r[0] for r in rows], "clinician_id": [r[1] for r in rows],
    ...     "practice_id": ["X"] * 10, "setting": ["primary_care"] * 10,
    ...     "start": [dt.datetime(2024, 1, r[2], 9) for r in rows]})
    >>> w = who_needs_whom(enc, bootstrap=50)
    >>> w.value("patient_share_from_usual_clinician"), w.value("patient_share_of_usual_clinicians_work")
    (1.0, 0.3333333333333333)
    >>> w.headline
    "Patients need the relationship more than clinicians do: a typical patient gets 100 % of their care from one clinician, while a typical patient is 33 % of that clinician's work. Each clinician holds about 2 relationships; each patient about 1."
    """
    bootstrap = _check_count(bootstrap, "bootstrap", 0)
    seed = _check_count(seed, "seed", 0)
    min_visits = check_min_visits(min_visits)
    as_of = as_timestamp(as_of, "as-of") if as_of is not None else _default_as_of(encounters, end)
    remarks: list[str] = []
    names = [n for n, _ in MEASURES]
    descriptions = dict(MEASURES)
    if as_of is None:
        return _result(
            {n: None for n in names},
            {},
            descriptions,
            "No visits in the window, so there is no relationship to describe.",
            {},
            {},
            bootstrap,
            seed,
            ["There are no encounters."],
        )
    lo, hi = counting_window(as_of, lookback, start, end)

    # Sorted (in Arrow, after the engine), so that patients get the same codes,
    # and hence the same bootstrap draws, whatever order an engine (or its
    # threads) returns rows in.
    dy = dyad_summary(encounters, as_of=as_of, lookback=lookback, settings=settings, start=lo, end=hi)
    dy = dy.to_pyarrow().sort_by([("patient_id", "ascending"), ("clinician_id", "ascending")])
    breaks_expr = _break_counts(
        encounters, clinicians=clinicians, lookback=lookback, settings=settings, lo=lo, hi=hi, breaks=breaks
    )
    br = None
    if breaks_expr is not None:
        br = breaks_expr.to_pyarrow().sort_by([("patient_id", "ascending"), ("kind", "ascending")])
    with_breaks = br is not None
    if with_breaks:
        names += [f"breaks_{k}" for k in (*BREAK_KINDS, "total")]
        descriptions.update({f"breaks_{k}": v for k, v in _BREAK_DESCRIPTIONS.items()})
    else:
        remarks.append("Relationship breaks are not included: carethread.measures.breaks is not available.")

    x = _Arrays(dy, br, min_visits)
    estimate = _statistics(x, np.ones(x.n_patients, dtype=np.int64), with_breaks)
    estimate = {k: (None if math.isnan(v) else v) for k, v in estimate.items()}
    intervals = {}
    if bootstrap and x.n_patients:
        for name, reps in _bootstrap(x, bootstrap, seed, with_breaks).items():
            finite = reps[np.isfinite(reps)]
            if estimate.get(name) is not None and finite.size:
                low, high = np.percentile(finite, [2.5, 97.5])
                intervals[name] = (float(low), float(high))
    n_short = int(np.sum(x.patient_visits < min_visits))
    if n_short:
        remarks.append(
            f"{_group(n_short)} patients with fewer than {min_visits} visits are left out of the two share "
            "measures (they count in the others)."
        )
    counts = {
        "patients": int(x.usual.size),
        "patients_with_enough_visits": int(x.main.size),
        "clinicians": int(x.n_clinicians),
        "dyads": int(x.pat.size),
        "visits": int(x.dv.sum()),
    }
    window = {"start": lo.date().isoformat(), "end": hi.date().isoformat(), "as_of": as_of.date().isoformat()}
    return _result(
        {n: estimate.get(n) for n in names},
        intervals,
        descriptions,
        _headline(estimate),
        window,
        counts,
        bootstrap,
        seed,
        remarks,
    )


def _result(values, intervals, descriptions, headline, window, counts, bootstrap, seed, remarks) -> WhoNeedsWhom:
    names = list(values)
    table = pa.table(
        {
            "name": pa.array(names, pa.string()),
            "value": pa.array([values[n] for n in names], pa.float64()),
            "ci_low": pa.array([intervals.get(n, (None, None))[0] for n in names], pa.float64()),
            "ci_high": pa.array([intervals.get(n, (None, None))[1] for n in names], pa.float64()),
            "description": pa.array([descriptions[n] for n in names], pa.string()),
        }
    )
    return WhoNeedsWhom(table, headline, window, counts, bootstrap, seed, tuple(remarks))
