"""Patient continuity: every classic index, one row per patient.

The computation has three layers, each one Ibis expression:

1. Encounters become visits: the visits of :func:`carethread.visits.visits`,
   found with a window rather than an aggregation (:func:`_visit_rows`).
2. :func:`visit_counts` reduces visits to exact integer counts per patient
   (``N``, ``M``, ``max n_j``, ``sum n_j^2``, repeats of the previous
   clinician, visits to a recently seen clinician) plus the usual clinician.
3. :func:`patient_continuity` applies the index formulas of
   :mod:`carethread.measures.indices` to those counts.

Layers 1 and 2 cost two sorts and one aggregation in all (see ``bench/``
for the benchmark and the formulations that were measured against it).

Edge-case policy (docs/definitions.md, *Visits* and *Continuity indices*):

* Every patient with at least one encounter in the window appears, even with
  0 visits in the chosen settings (e.g. emergency-only patients).
* Indices are null (never NaN or 0) when ``n_visits < min_visits`` (default 2),
  and indices dividing by ``N - 1`` are null when ``N < 2`` whatever
  ``min_visits`` is.
* Same-day encounters with one clinician are one visit; on one day visits with
  different clinicians are ordered by earliest start, then clinician id.
* Encounters without a clinician are left out of every index.
* Usual clinician: most visits; ties go to the most recent visit (the latest
  start of the last visits), then the smallest clinician id
  (:mod:`carethread.measures.keys`; docs/definitions.md, *Usual clinician*).
* Indices never leave their documented ranges: floating-point noise past a
  bound (MMCI of one visit, ``0.1 / (1 - 0.9)``) is clamped in
  :mod:`carethread.measures.indices`.
"""

from __future__ import annotations

import ibis

from carethread.deprecation import renamed_function
from carethread.measures.display import as_result
from carethread.measures.indices import (
    bice_boxerman_coc,
    herfindahl_hirschman,
    k_index,
    known_provider_continuity,
    modified_modified_continuity,
    sequential_continuity,
    usual_provider_continuity,
)
from carethread.measures.keys import USUAL_PREFIX, usual_key, usual_rank_key
from carethread.options import DateLike, Settings, check_lookback_days, check_min_visits, normalize_settings
from carethread.visits import encounters_in_window, provider_column, visit_order

#: Index columns of :func:`patient_continuity`, in output order.
INDEX_COLUMNS: tuple[str, ...] = ("upc", "coc", "secon", "mmci", "hhi", "k_index", "known_provider")


def visit_counts(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    level: str = "clinician",
    known_lookback_days: int | None = 365,
) -> ibis.Table:
    """Exact per-patient visit counts from which every index is computed.

    Returns one row per patient with at least one visit: ``patient_id``,
    ``n_visits`` (N), ``n_clinicians`` (M), ``max_visits_one`` (max n_j),
    ``sum_sq_visits`` (sum n_j^2), ``same_as_previous`` (visits 2..N with the
    same clinician as the visit before), ``known_visits`` (visits 2..N with a
    clinician seen at most ``known_lookback_days`` earlier; ``None`` =
    unbounded) and ``usual_clinician_id`` (``usual_practice_id`` at practice
    level). Integer counts make pooled (visit-weighted) summaries exact.
    """
    lookback = check_lookback_days(known_lookback_days)
    provider = provider_column(level)
    eligible = _eligible_encounters(encounters, settings=settings, start=start, end=end, provider=provider)
    return _patient_counts(_visit_rows(eligible.filter(eligible[provider].notnull()), provider, lookback), provider)


def _eligible_encounters(encounters: ibis.Table, *, settings, start, end, provider: str) -> ibis.Table:
    """Encounters in the window as ``patient_id, start, <provider>``.

    ``<provider>`` is null unless the encounter counts as a visit (a chosen
    setting, with a provider): the rule of :func:`carethread.visits.visits`,
    applied without dropping the other encounters, so one scan serves both
    the visits and the list of every patient in the window.
    """
    e = encounters_in_window(encounters, start=start, end=end)
    counts = e.setting.isin(normalize_settings(settings)) & e[provider].notnull()
    return e.select("patient_id", "start", **{provider: ibis.ifelse(counts, e[provider], ibis.null("string"))})


def _visit_rows(e: ibis.Table, provider: str, lookback: int | None) -> ibis.Table:
    """One row per visit, carrying everything the patient counts need.

    ``e`` holds encounters that count as visits. The result has the same
    visits as :func:`carethread.visits.visits` but is built with two sorts
    and no aggregation:

    1. Each (patient, provider) pair's encounters by day, then start (one
       window). The first encounter of a day starts a visit (a visit is a
       distinct patient, provider and day: docs/definitions.md, *Visits*) and its
       ``start`` is the visit's earliest start. The encounter before it is
       on the pair's previous visit day, which is all known-provider
       continuity needs. ``dense_rank`` by day numbers the pair's visits
       (``visit_no``, 1-based) and ``last_value`` gives its last visit day;
       both share the sort of the ``lag``.
    2. The visits in the patient's order (earliest start, then provider id,
       :func:`carethread.visits.visit_order`): ``lag`` of the provider marks
       repeats for SECON.

    Per-pair totals then follow from per-visit values, so no
    (patient, provider) aggregation is needed: a pair with ``n`` visits has
    ``visit_no`` 1..n, so ``n_j^2 = sum(2 visit_no - 1)``, ``max n_j =
    max(visit_no)``, the number of pairs is the number of visits with
    ``visit_no = 1``, and the pair's last visit has ``visit_no = n``.
    """
    day = e.start.cast("date")
    by_pair = ibis.window(group_by=[e.patient_id, e[provider]], order_by=[day, e.start])
    by_pair_day = ibis.window(group_by=[e.patient_id, e[provider]], order_by=day)
    previous_day = e.start.lag().over(by_pair).cast("date")
    if lookback is None:
        known = previous_day.notnull()
    else:
        known = (day.delta(previous_day, unit="day") <= lookback).fill_null(False)
    marked = e.mutate(
        first_start=e.start,
        new_visit=previous_day.isnull() | (previous_day != day),
        known=known,
        visit_no=ibis.dense_rank().over(by_pair_day) + 1,
        last_of_pair=e.start.last().over(by_pair).cast("date") == day,
    )
    v = marked.filter(marked.new_visit).select(
        "patient_id", provider, "first_start", "known", "visit_no", "last_of_pair"
    )
    by_patient = ibis.window(group_by=v.patient_id, order_by=visit_order(v, provider))
    repeat = (v[provider].lag().over(by_patient) == v[provider]).fill_null(False)
    return v.mutate(repeat=repeat)


def _patient_counts(v: ibis.Table, provider: str) -> ibis.Table:
    """Per-patient counts from :func:`_visit_rows`.

    Rows with a null provider (patients without a visit, see
    :func:`patient_continuity`) add the patient and nothing else.
    """
    # The usual provider from each pair's last visit (visit_no = n there):
    # the smallest key wins. MIN of a fixed-width key followed by the id,
    # not argmin: Ibis compiles argmin for DuckDB to an ordered aggregate
    # (FIRST(... ORDER BY key)), which sorts every group.
    usual = ibis.ifelse(v.last_of_pair, usual_key(v.visit_no, v.first_start, v[provider]), ibis.null("string"))
    return v.group_by("patient_id").aggregate(
        n_visits=v[provider].count(),
        # A count, not a sum of booleans: DuckDB types that sum as HUGEINT.
        n_clinicians=v.visit_no.count(where=v.visit_no == 1),
        max_visits_one=v.visit_no.max(),
        sum_sq_visits=(2 * v.visit_no - 1).sum(),
        same_as_previous=v.repeat.sum(),
        known_visits=v.known.sum(),
        **{f"usual_{provider}": usual.min().substr(USUAL_PREFIX)},
    )


#: Deprecated: the usual-clinician key is :func:`carethread.measures.keys.usual_rank_key`.
_usual_rank_key = renamed_function(usual_rank_key, "carethread.measures.continuity._usual_rank_key")


def patient_continuity(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    min_visits: int = 2,
    level: str = "clinician",
    known_lookback_days: int | None = 365,
) -> ibis.Table:
    """Every classic continuity index for every patient.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings whose encounters count as visits (default ``primary_care`` and
        ``virtual``).
    start, end
        Window ``[start, end)``.
    min_visits
        Patients with fewer visits get null indices (default 2, at least 1).
    level
        ``"clinician"`` or ``"practice"`` (the same indices with practices in
        place of clinicians; the column is then ``usual_practice_id``).
    known_lookback_days
        Look-back of known-provider continuity (default 365; ``None`` =
        unbounded, which equals the K index).

    Returns
    -------
    ibis.Table
        ``patient_id, n_visits, n_clinicians, usual_clinician_id, upc, coc,
        secon, mmci, hhi, k_index, known_provider`` — formulas, citations and
        ranges in :mod:`carethread.measures.indices` and docs/definitions.md,
        *Continuity indices*. The usual clinician has the most visits; ties
        go to the most recent visit (the latest start of the tied
        clinicians' last visits), then to the smallest id.

    Notes
    -----
    Edge cases: see the module docstring. Few visits make indices coarse
    (with N = 2, COC, SECON and K can only be 0 or 1), and every index depends
    on utilisation: adjust for ``n_visits`` in models.

    Examples
    --------
    The reference sequence ``A A B A C`` on five days (docs/definitions.md):

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 5, "clinician_id": list("AABAC"),
    ...     "practice_id": ["X"] * 5, "setting": ["primary_care"] * 5,
    ...     "start": [dt.datetime(2024, 1, d) for d in range(1, 6)]})
    >>> row = patient_continuity(enc).to_pyarrow().to_pylist()[0]
    >>> row["upc"], row["coc"], row["secon"], row["hhi"], row["k_index"], row["usual_clinician_id"]
    (0.6, 0.3, 0.25, 0.44, 0.5, 'A')
    """
    min_visits = check_min_visits(min_visits)
    lookback = check_lookback_days(known_lookback_days)
    provider = provider_column(level)
    # One scan of the encounters feeds both the visits and the list of every
    # patient in the window: patients with no visit come in as one row with a
    # null provider, which every count ignores.
    eligible = _eligible_encounters(encounters, settings=settings, start=start, end=end, provider=provider)
    v = _visit_rows(eligible.filter(eligible[provider].notnull()), provider, lookback)
    no_visit = eligible.filter(eligible[provider].isnull()).select("patient_id").distinct()
    loose = {name: dtype.copy(nullable=True) for name, dtype in v.schema().items()}
    no_visit = no_visit.select(
        patient_id=no_visit.patient_id.cast(loose["patient_id"]),
        **{name: ibis.null(dtype) for name, dtype in loose.items() if name != "patient_id"},
    )
    counts = _patient_counts(v.cast(loose).union(no_visit), provider)
    c = counts.select(
        "patient_id",
        n_visits=counts.n_visits.fill_null(0),
        n_clinicians=counts.n_clinicians.fill_null(0),
        **{f"usual_{provider}": counts[f"usual_{provider}"]},
        max_visits_one=counts.max_visits_one,
        sum_sq_visits=counts.sum_sq_visits,
        same_as_previous=counts.same_as_previous,
        known_visits=counts.known_visits,
    )
    n, m = c.n_visits, c.n_clinicians
    enough = n >= min_visits

    def gated(index):
        return ibis.ifelse(enough, index, ibis.null("float64"))

    return as_result(
        c.select(
            "patient_id",
            "n_visits",
            "n_clinicians",
            f"usual_{provider}",
            upc=gated(usual_provider_continuity(n, c.max_visits_one)),
            coc=gated(bice_boxerman_coc(n, c.sum_sq_visits)),
            secon=gated(sequential_continuity(n, c.same_as_previous)),
            mmci=gated(modified_modified_continuity(n, m)),
            hhi=gated(herfindahl_hirschman(n, c.sum_sq_visits)),
            k_index=gated(k_index(n, m)),
            known_provider=gated(known_provider_continuity(n, c.known_visits)),
        )
    )


def patient_continuity_remarks(
    encounters: ibis.Table,
    result: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    min_visits: int = 2,
    level: str = "clinician",
    known_lookback_days: int | None = 365,
) -> list[str]:
    """Plain-language caveats that travel with a :func:`patient_continuity` result.

    Takes the encounters, the result and the options the result was computed
    with (``known_lookback_days`` is accepted so the same options serve both
    calls; it changes no remark). Counts only, never an identifier:
    encounters left out for want of a clinician, patients below
    ``min_visits``, patients with no visit in the chosen settings.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p", "p", "q"], "clinician_id": ["A", None, "A"],
    ...     "practice_id": ["X"] * 3, "setting": ["primary_care"] * 3,
    ...     "start": [dt.datetime(2024, 1, d) for d in (1, 2, 3)]})
    >>> patient_continuity_remarks(enc, patient_continuity(enc))[0]
    '1 encounter in the chosen settings had no clinician and was left out of every index.'
    """
    from carethread.data import format_count, plural

    provider = provider_column(level)
    e = encounters_in_window(encounters, start=start, end=end)
    e = e.filter(e.setting.isin(normalize_settings(settings)))
    missing = int(e.filter(e[provider].isnull()).count().execute())
    stats = (
        result.aggregate(
            patients=result.count(),
            below=(result.n_visits < min_visits).sum(),
            none=(result.n_visits == 0).sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    remarks = []
    if missing:
        who = "clinician" if level == "clinician" else "practice"
        verb = "was" if missing == 1 else "were"
        remarks.append(
            f"{plural(missing, 'encounter')} in the chosen settings had no {who} and {verb} left out of every index."
        )
    if stats["below"]:
        remarks.append(
            f"{format_count(stats['below'] or 0)} of {plural(stats['patients'], 'patient')} had fewer than "
            f"{min_visits} visits; their indices are null (their visit counts are kept)."
        )
    if stats["none"]:
        remarks.append(
            f"{plural(stats['none'], 'patient')} had encounters in the window but no visit in the chosen "
            "settings (for example emergency-only care)."
        )
    return remarks


#: How each index pools over patients: the weight that turns a patient's score
#: back into its numerator (``None`` = no pooled form).
_POOLING_WEIGHT = {
    "upc": lambda n: n,
    "coc": lambda n: n * (n - 1),
    "secon": lambda n: n - 1,
    "mmci": None,
    "hhi": lambda n: n,
    "k_index": lambda n: n - 1,
    "known_provider": lambda n: n - 1,
}


def continuity_summary(patients: ibis.Table) -> ibis.Table:
    """Population summary of a :func:`patient_continuity` table, one row per index.

    Columns: ``index, patients_included, patients_excluded, mean, q1, median,
    q3, pooled``. ``mean`` is the mean of patient scores; ``pooled`` is the
    visit-weighted ratio of summed numerators over summed denominators (for
    UPC ``sum max n_j / sum N``, for COC ``sum (sum n_j^2 - N) / sum N(N-1)``,
    for SECON, K and known-provider over ``sum (N - 1)``, for HHI weighted by
    ``N``); MMCI has no pooled form (null). The two differ whenever
    continuity varies with utilisation, so both are reported. Patients with a
    null index are excluded from that index's row and counted as excluded.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"patient_id": ["a", "b", "c"], "n_visits": [2, 4, 1],
    ...     "upc": [1.0, 0.5, None], "coc": [1.0, 1 / 3, None], "secon": [1.0, 0.0, None],
    ...     "mmci": [1.0, 0.5, None], "hhi": [1.0, 0.5, None], "k_index": [1.0, 2 / 3, None],
    ...     "known_provider": [1.0, 2 / 3, None]})
    >>> row = continuity_summary(t).filter(ibis._.index == "upc").to_pyarrow().to_pylist()[0]
    >>> row["patients_included"], row["patients_excluded"], row["mean"], row["pooled"]
    (2, 1, 0.75, 0.6666666666666666)
    """
    parts = []
    n = patients.n_visits
    for position, (name, weight) in enumerate(_POOLING_WEIGHT.items()):
        x = patients[name]
        included = x.notnull()
        if weight is None:
            pooled = ibis.null("float64")
        else:
            w = weight(n).cast("float64")
            pooled = (x * w).sum(where=included) / w.sum(where=included)
        parts.append(
            patients.aggregate(
                position=ibis.literal(position),
                index=ibis.literal(name),
                patients_included=included.sum().cast("int64"),
                patients_excluded=(~included).sum().cast("int64"),
                mean=x.mean(),
                q1=x.quantile(0.25),
                median=x.quantile(0.5),
                q3=x.quantile(0.75),
                pooled=pooled.cast("float64"),
            )
        )
    return as_result(ibis.union(*parts).order_by("position").drop("position"))
