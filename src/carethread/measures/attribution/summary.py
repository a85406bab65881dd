"""What an attribution amounts to: one summary row, and the caveats in plain words.

:func:`attribution_summary` summarises the tables :func:`attribute` and
:func:`attribution_ranking` return; :func:`attribution_remarks` says, in
sentences without identifiers, what the attribution left out and why.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis

from carethread.deprecation import renamed_keywords, warn_renamed
from carethread.measures.attribution.rules import RULES, attribute, attribution_date, attribution_window
from carethread.measures.display import as_result
from carethread.measures.numbers import exact_int64, ratio
from carethread.options import Clinicians, DateLike, Settings, check_rule, normalize_settings
from carethread.visits import encounters_in_window, visits
from carethread.wording import plural

#: Columns of :func:`attribution_summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "patients_with_visits",
    "attributed",
    "unattributed",
    "ties_broken",
    "clinicians",
    "mean_share",
    "pooled_share",
)


def attribution_summary(attribution: ibis.Table, *, ranking: ibis.Table | None = None, **deprecated) -> ibis.Table:
    """One row that qualifies an attribution, from its result tables.

    Parameters
    ----------
    attribution
        A result of :func:`~carethread.measures.attribution.attribute`.
    ranking
        Optionally the :func:`~carethread.measures.attribution.attribution_ranking`
        of the same rule and date: it knows the patients the rule left out.

    Returns
    -------
    ibis.Table
        ``patients_with_visits`` (patients in the ranking; null without it),
        ``attributed``, ``unattributed`` (patients with visits the rule did
        not attribute; null without the ranking), ``ties_broken``,
        ``clinicians`` (clinicians with at least one patient), ``mean_share``
        (mean over patients of their share of visits with their clinician) and
        ``pooled_share`` (all visits with the attributed clinician over all
        visits of attributed patients).

    Notes
    -----
    The form of the previous release, ``attribution_summary(encounters,
    as_of=..., rule=..., lookback=..., settings=..., clinicians=...)``, still
    returns its row of window counts (``patients_in_window,
    patients_with_visits, attributed, unattributed, ties_broken,
    encounters_without_clinician``) with a ``DeprecationWarning``.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> from carethread.measures.attribution import attribute, attribution_ranking
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4 + ["q"], "clinician_id": list("AABBA"),
    ...     "practice_id": ["X"] * 5, "setting": ["primary_care"] * 5,
    ...     "start": [dt.datetime(2024, 1, d) for d in (2, 3, 4, 5, 6)]})
    >>> a = attribute(enc, rule="majority")
    >>> s = attribution_summary(a, ranking=attribution_ranking(enc, rule="majority")).to_pyarrow().to_pylist()[0]
    >>> s["patients_with_visits"], s["attributed"], s["unattributed"], s["pooled_share"]
    (2, 1, 1, 1.0)
    """
    if "share" not in attribution.columns or deprecated:
        return _deprecated_summary(attribution, ranking=ranking, **deprecated)
    a = attribution
    s = a.aggregate(
        attributed=a.count(),
        ties_broken=a.tie_broken.cast("int64").sum().fill_null(0),
        clinicians=a.clinician_id.nunique(),
        mean_share=a.share.mean(),
        visits_with_clinician=a.visits_with_clinician.sum(),
        visits_total=a.visits_total.sum(),
    )
    if ranking is not None:
        s = s.cross_join(ranking.aggregate(patients_with_visits=ranking.patient_id.nunique()))
        seen = s.patients_with_visits.cast("int64")
    else:
        seen = ibis.null("int64")
    return as_result(
        s.select(
            patients_with_visits=seen,
            attributed=s.attributed.cast("int64"),
            unattributed=(seen - s.attributed).cast("int64"),
            ties_broken=exact_int64(s.ties_broken),
            clinicians=s.clinicians.cast("int64"),
            mean_share=s.mean_share.cast("float64"),
            pooled_share=ratio(s.visits_with_clinician, s.visits_total),
        )
    )


def _window_counts(
    encounters: ibis.Table, attribution: ibis.Table, *, settings: Settings, as_of: DateLike, lookback_months: int
) -> ibis.Table:
    """One row: patients and encounters of the look-back window beside the attribution's counts."""
    start, end = attribution_window(attribution_date(encounters, as_of), lookback_months)
    v = visits(encounters, settings=settings, start=start, end=end)
    e = encounters_in_window(encounters, start=start, end=end)
    no_clinician = e.setting.isin(normalize_settings(settings)) & e.clinician_id.isnull()
    a = attribution
    s = (
        e.aggregate(
            patients_in_window=e.patient_id.nunique(),
            encounters_without_clinician=no_clinician.cast("int64").sum().fill_null(0),
        )
        .cross_join(v.aggregate(patients_with_visits=v.patient_id.nunique()))
        .cross_join(a.aggregate(attributed=a.count(), ties_broken=a.tie_broken.cast("int64").sum().fill_null(0)))
    )
    return s.select(
        patients_in_window=s.patients_in_window.cast("int64"),
        patients_with_visits=s.patients_with_visits.cast("int64"),
        attributed=s.attributed.cast("int64"),
        unattributed=(s.patients_with_visits - s.attributed).cast("int64"),
        ties_broken=exact_int64(s.ties_broken),
        encounters_without_clinician=exact_int64(s.encounters_without_clinician),
    )


_UNATTRIBUTED_WHY = {
    "majority": "no clinician had more than half of their visits",
    "tiered": "none of their visits was with a clinician in the clinicians table",
}
_TIE_RULE = {
    "plurality": "most recent visit, then smallest clinician id",
    "majority": "",
    "recent": "largest clinician id among visits at the same time",
    "tiered": "most recent visit, then smallest clinician id",
}


def _sentences(counts: Mapping[str, int], rule: str) -> list[str]:
    out = []
    n = int(counts.get("unattributed", 0) or 0)
    if n:
        verb = "was" if n == 1 else "were"
        why = _UNATTRIBUTED_WHY.get(rule, "no rule applied")
        out.append(f"{plural(n, 'patient', 'patients')} with visits {verb} not attributed ({why}).")
    n = int(counts.get("ties_broken", 0) or 0)
    if n and _TIE_RULE[rule]:
        verb = "was" if n == 1 else "were"
        out.append(f"{plural(n, 'attribution', 'attributions')} {verb} decided by a tie-break ({_TIE_RULE[rule]}).")
    n = int(counts.get("encounters_without_clinician", 0) or 0)
    if n:
        verb = "was" if n == 1 else "were"
        out.append(f"{plural(n, 'encounter', 'encounters')} without a clinician {verb} left out.")
    return out


@renamed_keywords(lookback="lookback_months")
def attribution_remarks(
    encounters: ibis.Table,
    result: ibis.Table | None = None,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    rule: str = "plurality",
    lookback_months: int = 18,
) -> list[str]:
    """Plain-language caveats that travel with an :func:`attribute` result.

    Takes the encounters, the result and the options it was computed with
    (``clinicians`` is accepted so the same options serve both calls). Counts
    only, never an identifier: patients with visits the rule did not
    attribute, attributions decided by a tie-break, encounters in the window
    and settings left out for want of a clinician.

    The form ``attribution_remarks(summary_row, rule=...)`` of the previous
    release, a mapping of counts, still works with a ``DeprecationWarning``.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": list("AABB"),
    ...     "practice_id": ["X"] * 4, "setting": ["primary_care"] * 4,
    ...     "start": [dt.datetime(2024, 1, d) for d in (2, 3, 4, 5)]})
    >>> attribution_remarks(enc, attribute(enc, rule="majority"), rule="majority")
    ['1 patient with visits was not attributed (no clinician had more than half of their visits).']
    """
    check_rule(rule, RULES)
    if isinstance(encounters, Mapping):
        warn_renamed(
            "attribution_remarks(summary_row, rule=...)",
            "attribution_remarks(encounters, result, ...)",
            stacklevel=4,  # the caller, past the renamed_keywords wrapper
        )
        return _sentences(encounters, rule)
    counts = _window_counts(encounters, result, settings=settings, as_of=as_of, lookback_months=lookback_months)
    return _sentences(counts.to_pyarrow().to_pylist()[0], rule)


def _deprecated_summary(
    encounters: ibis.Table,
    *,
    ranking: ibis.Table | None,
    as_of: DateLike = None,
    rule: str = "plurality",
    lookback: int = 18,
    settings: Settings = None,
    clinicians: Clinicians = None,
) -> ibis.Table:
    if ranking is not None or "share" in encounters.columns:
        raise TypeError("attribution_summary() takes an attribute() result and ranking=; give no other option.")
    warn_renamed(
        "attribution_summary(encounters, as_of=..., ...)",
        "attribution_summary(attribute(encounters, ...)) and attribution_remarks(encounters, result, ...)",
        stacklevel=4,
    )
    options = dict(settings=settings, as_of=as_of, lookback_months=lookback)
    a = attribute(encounters, clinicians=clinicians, rule=rule, **options)
    return _window_counts(encounters, a, **options)
