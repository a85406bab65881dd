"""Who needs whom: the doctor-patient relationship summarised from both sides.

A relationship is asymmetric. For the patient, their usual clinician is most
of their care; for the clinician, that patient is one of well over a thousand.
:func:`who_needs_whom` puts numbers on both sides, with bootstrap confidence
intervals, and writes one sentence a practice manager can quote. Definitions:
docs/definitions.md, *Who needs whom*.

It summarises the results of other measures, all over one window
``[start, end)`` (see :func:`who_needs_whom`):
:func:`~carethread.measures.dyads.dyads`, the usual clinician of
:func:`~carethread.measures.continuity.patient_continuity`, the attribution
of :func:`~carethread.measures.attribution.attribute` as of ``as_of``, and
optionally :func:`~carethread.measures.breaks.relationship_breaks`.
:func:`~carethread.summary.encounters.who_needs_whom_from_encounters`
computes those tables once from the encounters and summarises them.

Measures:

``patient_share_from_usual_clinician``
    Median over patients with at least ``min_visits`` visits of the share of
    their visits made to their usual clinician (docs/definitions.md, *Usual
    clinician*) — the median UPC (Breslau & Reeb 1975) or patient dependence
    on the top dyad.
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
    (relationships held by a clinician; docs/definitions.md, *Panels*).
``clinicians_per_patient``
    Median over patients with a visit of the distinct clinicians they saw.
``provider_side_continuity``, ``patient_side_continuity``
    The whole system's pooled two-list continuity (BJGP 2023): visits
    clinicians gave to their own panel / all visits, and visits of panel
    patients with their own clinician / all visits of attributed patients.
    Identical to ``panel_rollup(panels(...), by="system")``.
``breaks_<kind>``, ``breaks_total``, ``breaks_<cause>``
    Relationship breaks dated in the window, by kind (``partner``,
    ``other_practice``, ``emergency_only``, ``lost``), in all, and by cause
    (``clinician_left``, ``patient_moved_on``; null for a breaks table
    without a ``cause`` column), when a breaks table is given.
    ``who_needs_whom_from_encounters`` detects breaks on all the
    encounters (confirmed changes of usual clinician and lapses, with the
    default options), not only the window's, since a break needs the
    history before it and the months after it; only their dates must fall
    in the window. Counts from 1 to 10 are shown as they are: this table is
    an analyst output
    (docs/definitions.md, *Privacy*); suppress before sharing it.

Uncertainty: a nonparametric bootstrap over patients
(:mod:`carethread.summary.bootstrap`). The heavy work runs in Ibis and ends
in one small row per dyad (patient, clinician, visits, usual, own-panel flags)
and one per patient and break kind. Every measure is recomputed from the drawn
patients (with all their dyads and breaks), with one exception: a clinician's
workload (their total visits, the denominator of the clinician-side shares)
stays at its observed value. Recomputing it would bias those shares
downwards, because a patient drawn twice makes their own clinician's list one
patient longer on average exactly when it is counted twice.
``patients_per_clinician`` is recomputed (drawn patients seen, with
multiplicity). Medians of an even count average the two middle values (as
``numpy.median``). Clinicians are not resampled as units, so the intervals do
not cover variation between clinicians beyond what the patients carry;
medians of discrete values (UPC = 3/4, 2 clinicians) often have zero-width
intervals, which is the honest answer for a median on a lattice.

Pooled continuity caveat: with ``plurality`` (or ``recent``) attribution and
the default window, every patient with a visit is attributed, so both pooled
ratios divide the same visits and coincide at system level; they differ per
clinician and per practice (:func:`carethread.measures.panels.panels`), and
system-wide when ``start``/``end`` differ from the attribution window.
"""

from __future__ import annotations

import datetime as _dt
import math

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carethread.errors import InputError, OptionError
from carethread.options import as_timestamp, check_min_visits
from carethread.summary.bootstrap import WeightedMedian, bootstrap_intervals
from carethread.summary.headline import headline
from carethread.summary.population import detect_population, no_verdict
from carethread.summary.result import BREAK_CAUSES, BREAK_KINDS, CLINICIAN_SIDE, WhoNeedsWhom, result_table
from carethread.wording import format_count

# --- Ibis: reduce the result tables to one row per dyad -------------------------------------


def dependence_rows(dyads: ibis.Table, *, continuity: ibis.Table, attribution: ibis.Table) -> ibis.Table:
    """One row per dyad: ``patient_id, clinician_id, dyad_visits, usual, own, attributed``.

    ``usual``: the clinician is the patient's usual clinician
    (``usual_clinician_id`` of ``continuity``); ``own``: the clinician is the
    one the patient is attributed to (``attribution``); ``attributed``: the
    patient is attributed to someone.
    """
    if "usual_clinician_id" not in continuity.columns:
        raise InputError(
            "who_needs_whom: the continuity table has no usual_clinician_id column; "
            'give patient_continuity(...) at level="clinician".'
        )
    usual = continuity.select(u_patient="patient_id", usual_id="usual_clinician_id")
    owner = attribution.select(o_patient="patient_id", owner_id="clinician_id")
    j = dyads.left_join(usual, dyads.patient_id == usual.u_patient)
    j = j.left_join(owner, j.patient_id == owner.o_patient)
    return j.select(
        "patient_id",
        "clinician_id",
        dyad_visits=j.dyad_visits.cast("int64"),
        usual=(j.clinician_id == j.usual_id).fill_null(False),
        own=(j.clinician_id == j.owner_id).fill_null(False),
        attributed=j.owner_id.notnull(),
    )


#: The columns breaks are counted by, per patient.
BREAK_GROUPS = ("patient_id", "kind", "cause")


def break_counts(breaks: ibis.Table, *, start=None, end=None) -> ibis.Table:
    """``patient_id, kind, cause, n``: breaks dated in ``[start, end)`` per patient, kind and cause (when the
    table has causes)."""
    b = breaks
    if start is not None:
        b = b.filter(b.break_date >= start.date())
    if end is not None:
        b = b.filter(b.break_date < end.date())
    return b.group_by(*BREAK_GROUPS[: 3 if "cause" in b.columns else 2]).aggregate(n=b.count())


# --- numpy: the measures of small arrays, with patient weights --------------------------------


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
        if self.usual.size != self.patient_visits.size or np.unique(self.pat[self.usual]).size != self.usual.size:
            raise InputError(
                "who_needs_whom: the continuity table does not give one usual clinician among the dyads for "
                "every patient; compute dyads and patient_continuity over the same window and settings."
            )
        self.main = self.usual[patient_visits[self.pat[self.usual]] >= min_visits]
        self.upc = WeightedMedian(self.dv[self.main] / patient_visits[self.pat[self.main]])
        self.main_dependence = WeightedMedian(self.dv[self.main] / clinician_visits[self.clin[self.main]])
        self.dyad_dependence = WeightedMedian(self.dv / clinician_visits[self.clin])
        clinicians_of = np.bincount(self.pat, minlength=n)
        self.clinicians_per_patient = WeightedMedian(clinicians_of[self.pat[self.usual]].astype(np.float64))
        self.breaks = {}  # measure name -> (patient codes, breaks)
        if breaks is not None:
            b_codes = pat[len(d_pat) :]
            n_b = breaks.column("n").to_numpy().astype(np.float64)
            groups = {"kind": BREAK_KINDS, "cause": BREAK_CAUSES}
            for column in (c for c in groups if c in breaks.column_names):
                values = breaks.column(column).combine_chunks().cast(pa.string())
                for group in groups[column]:
                    m = pc.equal(values, group).fill_null(False).to_numpy(zero_copy_only=False)
                    self.breaks[f"breaks_{group}"] = (b_codes[m], n_b[m])

    def statistics(self, w: np.ndarray) -> dict[str, float]:
        """Every measure for patient weights ``w`` (all ones = the estimate)."""
        w = w.astype(np.float64)
        wd = w[self.pat]  # each dyad carries its patient's weight
        seen = np.bincount(self.clin, weights=wd, minlength=self.n_clinicians)  # distinct patients, with multiplicity
        seen = seen[seen > 0]
        all_visits, own_visits, attributed_visits = (float(v) for v in self.visit_sums @ wd)
        out = {
            "patient_share_from_usual_clinician": self.upc(wd[self.main]),
            "patient_share_of_usual_clinicians_work": self.main_dependence(wd[self.main]),
            "patient_share_of_clinicians_work_all_dyads": self.dyad_dependence(wd),
            "patients_per_clinician": float(np.median(seen)) if seen.size else math.nan,
            "clinicians_per_patient": self.clinicians_per_patient(wd[self.usual]),
            "provider_side_continuity": _safe_ratio(own_visits, all_visits),
            "patient_side_continuity": _safe_ratio(own_visits, attributed_visits),
        }
        if self.breaks:
            out |= {name: float(w[codes] @ n) for name, (codes, n) in self.breaks.items()}
            out["breaks_total"] = float(sum(out[f"breaks_{kind}"] for kind in BREAK_KINDS))
        return out


# --- the public functions ----------------------------------------------------------------------


NEEDS_TABLES = (
    "who_needs_whom needs the continuity= and attribution= tables beside the dyads; "
    "to start from the encounters, call who_needs_whom_from_encounters."
)


def check_count(value, name: str, least: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < least:
        raise OptionError(f"{name} must be a whole number of at least {least}, not {value!r}.")
    return int(value)


def _iso(value: _dt.datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def who_needs_whom(
    dyads: ibis.Table,
    *,
    continuity: ibis.Table | None = None,
    attribution: ibis.Table | None = None,
    breaks: ibis.Table | None = None,
    panels: ibis.Table | None = None,
    population: str | None = None,
    start=None,
    end=None,
    as_of=None,
    min_visits: int = 2,
    bootstrap: int = 200,
    seed: int = 0,
    **encounter_options,
) -> WhoNeedsWhom:
    """How much patients depend on clinicians, and clinicians on patients, from the measures' results.

    Parameters
    ----------
    dyads
        :func:`~carethread.measures.dyads.dyads` over the window
        ``[start, end)``.
    continuity
        :func:`~carethread.measures.continuity.patient_continuity` over the
        same window and settings (its ``usual_clinician_id``).
    attribution
        :func:`~carethread.measures.attribution.attribute` as of ``as_of``:
        who each patient belongs to, for the own-panel measures.
    breaks
        Optional :func:`~carethread.measures.breaks.relationship_breaks`;
        the breaks dated in ``[start, end)`` are counted by kind. Without it
        the ``breaks_*`` measures are left out.
    panels
        Optional :func:`~carethread.measures.panels.panels` over the same
        window: the clinicians' workloads that tell a sample of patients
        from a complete extract (:mod:`carethread.summary.population`).
    population
        ``"sample"`` or ``"complete"`` says what the extract is; ``None``
        (default) guesses it from ``panels``, and without ``panels`` takes
        it as complete, with a remark. On a sample the clinician-side
        measures (:data:`~carethread.summary.result.CLINICIAN_SIDE`) are
        null with the note "not measurable from a patient sample" and the
        headline gives no verdict, only the reason and the patient side.
    start, end
        The window the tables describe (``None`` leaves a side open); it
        bounds the breaks counted and is recorded in ``.window``.
    as_of
        The attribution date of ``attribution`` (recorded in ``.window``).
    min_visits
        Patients with fewer visits are left out of the two share measures
        (default 2: with one visit UPC is trivially 1). They still count in
        every other measure.
    bootstrap
        Bootstrap replicates over patients (default 200; 0 = no intervals).
    seed
        Seed of the bootstrap.
    **encounter_options
        Only in the deprecated encounters form (see Notes): ``settings``,
        ``clinicians``, ``lookback``.

    Returns
    -------
    WhoNeedsWhom
        ``.table`` (``name, value, ci_low, ci_high, description``),
        ``.headline`` and ``.to_dict()``. Measures, definitions and the
        bootstrap method: see the module docstring.

    Raises
    ------
    InputError
        ``continuity`` or ``attribution`` missing (both are required); the
        continuity table has no ``usual_clinician_id``, or does not give
        one usual clinician among the dyads for every patient (tables of
        different windows or settings).
    OptionError
        ``bootstrap`` or ``seed`` not a whole number of at least 0, or
        ``min_visits`` below 1.

    Notes
    -----
    The result is computed (not lazy): Ibis reduces the tables to one row per
    dyad (and per patient and break kind), which is then resampled with
    numpy. Memory is proportional to the number of dyads. Calling it with
    the encounters (``who_needs_whom(encounters, ...)``, the form of
    version 0.1) still works for one release, with a ``DeprecationWarning``:
    use :func:`~carethread.summary.who_needs_whom_from_encounters`.

    Examples
    --------
    Three patients each see A on three days; p also sees B once:

    >>> import ibis, datetime as dt
    >>> from carethread.measures.attribution import attribute
    >>> from carethread.measures.continuity import patient_continuity
    >>> from carethread.measures.dyads import dyads
    >>> rows = [(p, "A", d) for p in "pqr" for d in (1, 8, 15)] + [("p", "B", 20)]
    >>> enc = ibis.memtable({"patient_id": [r[0] for r in rows], "clinician_id": [r[1] for r in rows],
    ...     "practice_id": ["X"] * 10, "setting": ["primary_care"] * 10,
    ...     "start": [dt.datetime(2024, 1, r[2], 9) for r in rows]})
    >>> w = who_needs_whom(dyads(enc), continuity=patient_continuity(enc),
    ...     attribution=attribute(enc, as_of="2024-02-01"), as_of="2024-02-01", bootstrap=50)
    >>> w.value("patient_share_from_usual_clinician"), w.value("patient_share_of_usual_clinicians_work")
    (1.0, 0.3333333333333333)
    >>> print(w.headline)  # doctest: +NORMALIZE_WHITESPACE
    Patients need the relationship more than clinicians do: a typical patient gets 100 % of their care from
    one clinician, while a typical patient is 33 % of that clinician's work. Each clinician holds about
    2 relationships; each patient about 1.
    """
    if continuity is None and attribution is None:
        from carethread.summary.encounters import deprecated_encounters_call

        return deprecated_encounters_call(
            dyads,
            breaks=breaks,
            start=start,
            end=end,
            as_of=as_of,
            min_visits=min_visits,
            bootstrap=bootstrap,
            seed=seed,
            population=population,
            **encounter_options,
        )
    if continuity is None or attribution is None:
        raise InputError(NEEDS_TABLES)
    if encounter_options:
        raise TypeError(f"who_needs_whom() got unexpected keyword arguments: {', '.join(encounter_options)}")
    bootstrap = check_count(bootstrap, "bootstrap", 0)
    seed = check_count(seed, "seed", 0)
    min_visits = check_min_visits(min_visits)
    lo, hi = as_timestamp(start, "start"), as_timestamp(end, "end")
    as_of = as_timestamp(as_of, "as-of")

    # Sorted (in Arrow, after the engine), so that patients get the same codes,
    # and hence the same bootstrap draws, whatever order an engine (or its
    # threads) returns rows in.
    rows = dependence_rows(dyads, continuity=continuity, attribution=attribution).to_pyarrow()
    rows = rows.sort_by([("patient_id", "ascending"), ("clinician_id", "ascending")])
    counted = None
    remarks: list[str] = []
    if breaks is not None:
        counted = break_counts(breaks, start=lo, end=hi).to_pyarrow()
        counted = counted.sort_by([(c, "ascending") for c in BREAK_GROUPS if c in counted.column_names])
    else:
        remarks.append("Relationship breaks are not included: no relationship breaks table was given.")

    found = detect_population(panels, population=population)
    if panels is None and population is None:
        remarks.append(
            "Whether the extract holds every patient of its clinicians was not checked (no panels table was given); "
            "the clinician-side measures assume it does."
        )
    x = _Arrays(rows, counted, min_visits)
    statistics = x.statistics if not found.is_sample else _patient_side(x.statistics)
    estimate = statistics(np.ones(x.n_patients, dtype=np.int64))
    estimate = {k: (None if math.isnan(v) else v) for k, v in estimate.items()}
    intervals = bootstrap_intervals(statistics, x.n_patients, replicates=bootstrap, seed=seed, estimate=estimate)
    if found.is_sample:
        remarks.append(found.reason())
    n_short = int(np.sum(x.patient_visits < min_visits))
    if n_short:
        remarks.append(
            f"{format_count(n_short)} patients with fewer than {min_visits} visits are left out of the two share "
            "measures (they count in the others)."
        )
    counts = {
        "patients": int(x.usual.size),
        "patients_with_enough_visits": int(x.main.size),
        "clinicians": int(x.n_clinicians),
        "dyads": int(x.pat.size),
        "visits": int(x.dv.sum()),
    }
    window = {"start": _iso(lo), "end": _iso(hi), "as_of": _iso(as_of)}
    sentence = (
        headline(estimate)
        if not found.is_sample
        else no_verdict(
            found, estimate.get("patient_share_from_usual_clinician"), estimate.get("clinicians_per_patient")
        )
    )
    return WhoNeedsWhom(
        result_table(estimate, intervals, with_breaks=counted is not None, sample=found.is_sample),
        sentence,
        window,
        counts,
        bootstrap,
        seed,
        tuple(remarks),
        population=found,
    )


def _patient_side(statistics):
    """``statistics`` without the clinician-side measures (NaN: not measurable from a patient sample)."""

    def patient_side(w: np.ndarray) -> dict[str, float]:
        return {k: (math.nan if k in CLINICIAN_SIDE else v) for k, v in statistics(w).items()}

    return patient_side
