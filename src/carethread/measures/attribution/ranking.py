"""The auditable ranking behind an attribution: every clinician of every patient, with the reason.

docs/definitions.md, *Attribution*. The rules and their tie-breaks are those
of :mod:`carethread.measures.attribution.rules`; here each of a patient's
clinicians gets a rank under the rule and a reason in plain words.
"""

from __future__ import annotations

import ibis

from carethread.deprecation import renamed_keywords
from carethread.measures.attribution.rules import INELIGIBLE, TIER_LABELS, prepared_pairs, rule_keys
from carethread.measures.display import as_result
from carethread.options import Clinicians, DateLike, Settings

#: Columns of :func:`attribution_ranking`, in order.
RANKING_COLUMNS: tuple[str, ...] = ("patient_id", "clinician_id", "visits", "last_visit", "rank", "reason")


def _of(n: ibis.Value, total: ibis.Value) -> ibis.Value:
    return ibis.literal("(").concat(n.cast("string"), " of ", total.cast("string"), ")")


def _ranked(pairs: ibis.Table, rule: str) -> ibis.Table:
    """Each pair with its position under the rule and what the reasons compare it with."""
    best, _, best_is_min = rule_keys(pairs, rule)
    w = ibis.window(group_by="patient_id")
    p = pairs.mutate(last_visit=pairs.last_start.cast("date"), key=best)
    p = p.mutate(total=p.n.sum().over(w), top_tier=p.tier.min().over(w), top_start=p.last_start.max().over(w))
    in_top = p.tier == p.top_tier
    p = p.mutate(in_top=in_top, top_n=ibis.ifelse(in_top, p.n, ibis.null("int64")).max().over(w))
    tied = (p.in_top & (p.n == p.top_n)) if rule != "recent" else (p.last_start == p.top_start)
    p = p.mutate(tied=tied)
    # The most recent visit is the latest start (visit order), not only the latest day.
    p = p.mutate(
        n_tied=p.tied.cast("int64").sum().over(w),
        best_start=ibis.ifelse(p.tied, p.last_start, ibis.null("timestamp")).max().over(w),
    )
    p = p.mutate(n_tied_last=(p.tied & (p.last_start == p.best_start)).cast("int64").sum().over(w))
    order = p.key if best_is_min else p.key.desc()
    return p.mutate(position=ibis.row_number().over(group_by="patient_id", order_by=order) + 1)


def _reason(p: ibis.Table, rule: str, attributed: ibis.Value) -> ibis.Value:
    first = p.position == 1
    counts = _of(p.n, p.total)
    each = ibis.literal("(").concat(p.n.cast("string"), " each)")
    if rule == "recent":
        day = p.last_visit.cast("string")
        return ibis.cases(
            (first & (p.n_tied == 1), ibis.literal("most recent visit (").concat(day, ")")),
            (first, ibis.literal("tie on last visit time broken by largest id (visit order)")),
            (p.last_start < p.top_start, ibis.literal("earlier last visit (").concat(day, ")")),
            else_=ibis.literal("tie on last visit time, smaller id"),
        )
    if rule == "majority":
        return ibis.cases(
            (~attributed, ibis.literal("majority not reached ").concat(counts)),
            (first, ibis.literal("majority ").concat(counts)),
            else_=ibis.literal("fewer visits ").concat(counts),
        )
    plural = ibis.cases(
        (first & (p.n_tied == 1), ibis.literal("most visits ").concat(counts)),
        (first & (p.n_tied_last == 1), ibis.literal("tie on visits ").concat(each, " broken by most recent visit")),
        (first, ibis.literal("tie on visits and last visit broken by smallest id")),
        (~p.in_top, ibis.literal("a higher tier has visits")),
        (p.n < p.top_n, ibis.literal("fewer visits ").concat(counts)),
        (p.last_start < p.best_start, ibis.literal("tie on visits ").concat(each, ", less recent visit")),
        else_=ibis.literal("tie on visits and last visit, larger id"),
    )
    if rule != "tiered":
        return plural
    label = ibis.cases(*((p.tier == k, f"tier {k}: {v}; ") for k, v in TIER_LABELS.items()), else_="")
    not_eligible = ibis.literal("not eligible: clinician not in the clinicians table")
    return ibis.ifelse(p.tier < INELIGIBLE, label.concat(plural), not_eligible)


@renamed_keywords(lookback="lookback_months")
def attribution_ranking(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    rule: str = "plurality",
    lookback_months: int = 18,
) -> ibis.Table:
    """The full, auditable ranking behind :func:`~carethread.measures.attribution.attribute`.

    Parameters
    ----------
    encounters, clinicians, settings, as_of, rule, lookback_months
        As in :func:`~carethread.measures.attribution.attribute`.

    Returns
    -------
    ibis.Table
        One row per patient and clinician seen in the window:
        ``patient_id, clinician_id, visits, last_visit, rank, reason``.
        ``rank`` orders a patient's clinicians under the rule and 1 is the
        attributed clinician (``rank == 1`` gives exactly ``attribute``);
        it is null for every clinician of a patient the rule leaves
        unattributed and for clinicians not eligible under ``tiered``.
        ``reason`` says why in plain words, e.g. ``most visits (5 of 8)``,
        ``tie on visits (3 each) broken by most recent visit``, ``tie on
        visits and last visit broken by smallest id`` (last visits that
        started at the same instant), ``fewer visits (2 of 8)``, ``majority
        not reached (4 of 9)``, ``tier 1: primary-care physician; most
        visits (3 of 8)``, ``most recent visit (2024-03-01)``.

    Notes
    -----
    Ranking every clinician needs a window (a sort per patient), so this is
    slower than ``attribute``, which uses one aggregate pass.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": list("AABB"),
    ...     "practice_id": ["X"] * 4, "setting": ["primary_care"] * 4,
    ...     "start": [dt.datetime(2024, 1, d) for d in (2, 3, 4, 5)]})
    >>> r = attribution_ranking(enc, as_of="2024-06-01").order_by("rank").to_pyarrow().to_pylist()
    >>> for x in r:
    ...     print(x["clinician_id"], x["rank"], x["reason"])
    B 1 tie on visits (2 each) broken by most recent visit
    A 2 tie on visits (2 each), less recent visit
    """
    pairs = prepared_pairs(
        encounters, clinicians=clinicians, settings=settings, as_of=as_of, rule=rule, lookback_months=lookback_months
    )
    p = _ranked(pairs, rule)
    if rule == "majority":
        attributed = p.top_n * 2 > p.total
    elif rule == "tiered":
        attributed = p.top_tier < INELIGIBLE
    else:
        attributed = ibis.literal(True)
    rank = ibis.ifelse(attributed & (p.tier < INELIGIBLE), p.position, ibis.null("int64"))
    return as_result(
        p.select(
            "patient_id",
            "clinician_id",
            visits=p.n.cast("int64"),
            last_visit=p.last_visit,
            rank=rank.cast("int64"),
            reason=_reason(p, rule, attributed),
        )
    )
