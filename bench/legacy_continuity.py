"""The patient continuity measure as it was before the benchmark work (commit c866095).

Kept verbatim (``visit_counts``, ``_usual_rank_key``, ``patient_continuity``)
so ``bench/run.py --before-after`` can time the old and new formulations in
the same process and check they give identical tables. Not used by the
package.
"""

from __future__ import annotations

import ibis

from carethread.measures.indices import (
    bice_boxerman_coc,
    herfindahl_hirschman,
    k_index,
    known_provider_continuity,
    modified_modified_continuity,
    sequential_continuity,
    usual_provider_continuity,
)
from carethread.options import check_lookback_days, check_min_visits
from carethread.visits import encounters_in_window, provider_column, visit_order, visits


def visit_counts(
    encounters: ibis.Table,
    *,
    settings=None,
    start=None,
    end=None,
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
    v = visits(encounters, settings=settings, start=start, end=end, level=level)

    by_patient = ibis.window(group_by=v.patient_id, order_by=visit_order(v, provider))
    by_pair = ibis.window(group_by=[v.patient_id, v[provider]], order_by=v.visit_date)
    repeat = (v[provider].lag().over(by_patient) == v[provider]).fill_null(False)
    previous_same = v.visit_date.lag().over(by_pair)
    if lookback is None:
        known = previous_same.notnull()
    else:
        known = (v.visit_date.delta(previous_same, unit="day") <= lookback).fill_null(False)
    flagged = v.mutate(repeat=repeat.cast("int64"), known=known.cast("int64"))

    pairs = flagged.group_by("patient_id", provider).aggregate(
        n=flagged.count(),
        last_start=flagged.first_start.max(),
        repeats=flagged.repeat.sum(),
        known=flagged.known.sum(),
    )
    return pairs.group_by("patient_id").aggregate(
        n_visits=pairs.n.sum(),
        n_clinicians=pairs.count(),
        max_visits_one=pairs.n.max(),
        sum_sq_visits=(pairs.n * pairs.n).sum(),
        same_as_previous=pairs.repeats.sum(),
        known_visits=pairs.known.sum(),
        **{f"usual_{provider}": pairs[provider].argmin(_usual_rank_key(pairs, provider))},
    )


def _usual_rank_key(pairs: ibis.Table, provider: str) -> ibis.Value:
    """A string that sorts a patient's clinicians best-first for the usual-clinician rule.

    Most visits first, then the most recent visit, then the smallest id. The
    counts are written as fixed-width complements so that one ``argmin`` over
    this key replaces a ranking window (a sort of every patient-clinician
    pair), and the id comes last so ties end in plain id order.
    """
    fewer = (ibis.literal(10**12) - pairs.n).cast("string").lpad(13, "0")
    days_since = pairs.last_start.cast("date").delta(ibis.date(1900, 1, 1), unit="day")
    older = (ibis.literal(10**7) - days_since).cast("string").lpad(8, "0")
    return fewer.concat(older, pairs[provider])


def patient_continuity(
    encounters: ibis.Table,
    *,
    settings=None,
    start=None,
    end=None,
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
        ranges in :mod:`carethread.measures.indices` and INDICES.md.

    Notes
    -----
    Edge cases: see the module docstring. Few visits make indices coarse
    (with N = 2, COC, SECON and K can only be 0 or 1), and every index depends
    on utilisation: adjust for ``n_visits`` in models.

    Examples
    --------
    The INDICES.md sequence ``A A B A C`` on five days:

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 5, "clinician_id": list("AABAC"),
    ...     "practice_id": ["X"] * 5, "setting": ["primary_care"] * 5,
    ...     "start": [dt.datetime(2024, 1, d) for d in range(1, 6)]})
    >>> row = patient_continuity(enc).to_pyarrow().to_pylist()[0]
    >>> row["upc"], row["coc"], row["secon"], row["hhi"], row["k_index"], row["usual_clinician_id"]
    (0.6, 0.3, 0.25, 0.44, 0.5, 'A')
    """
    min_visits = check_min_visits(min_visits)
    provider = provider_column(level)
    counts = visit_counts(
        encounters, settings=settings, start=start, end=end, level=level, known_lookback_days=known_lookback_days
    )
    everyone = encounters_in_window(encounters, start=start, end=end).select("patient_id").distinct()
    c = everyone.left_join(counts, "patient_id").select(
        "patient_id",
        n_visits=ibis._.n_visits.fill_null(0),
        n_clinicians=ibis._.n_clinicians.fill_null(0),
        **{f"usual_{provider}": ibis._[f"usual_{provider}"]},
        max_visits_one=ibis._.max_visits_one,
        sum_sq_visits=ibis._.sum_sq_visits,
        same_as_previous=ibis._.same_as_previous,
        known_visits=ibis._.known_visits,
    )
    n, m = c.n_visits, c.n_clinicians
    enough = n >= min_visits

    def gated(index):
        return ibis.ifelse(enough, index, ibis.null("float64"))

    return c.select(
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
