"""Attribution (panel assignment): the clinician each patient belongs to as of a date.

DESIGN.md section 4. Visits (DESIGN.md section 3) in the look-back window
``[as_of - lookback months, as_of)`` are counted per patient and clinician;
a rule then picks at most one clinician per patient:

``plurality``
    Most visits; ties go to the most recent visit (calendar day), then the
    smallest clinician id: the usual-clinician rule of
    :mod:`carethread.measures.continuity` (a test checks that both agree).
``majority``
    The plurality clinician only if they have more than half of the visits
    (``2 n > N``); otherwise the patient is not attributed. A majority cannot
    tie.
``recent``
    The clinician of the last visit in visit order (earliest start that day,
    then clinician id), so the last visit is the one with the latest start
    time and, on equal start times, the largest clinician id.
``tiered``
    The CMS idea (Medicare Shared Savings Program step-wise assignment):
    plurality within the first tier that has visits. Tier 1: primary-care
    physicians (role ``physician`` and a specialty in
    :data:`PRIMARY_CARE_SPECIALTIES`, compared case-insensitively); tier 2:
    nurse practitioners and physician assistants (role ``np`` or ``pa``, any
    specialty); tier 3: every other clinician of the clinicians table
    (specialist physicians, nurses, other roles, unknown role). Visits with a
    clinician missing from the clinicians table are not eligible; a patient
    with no eligible visit is not attributed.

Every rule reports ``visits_total`` = all the patient's visits in the window
(all tiers), so ``share`` is comparable across rules, and ``tie_broken`` =
the winner tied with another clinician on the rule's primary criterion
(visits for plurality and tiered, within the winning tier; the last visit
time for recent; never for majority).

Murray M, Davies M, Boushon B. Panel size: how many patients can one doctor
manage? Fam Pract Manag 2007;14(4):44-51 (18-month look-back, plurality then
recency). Centers for Medicare & Medicaid Services, Medicare Shared Savings
Program: Shared Savings and Losses, Assignment and Quality Performance
Standard Methodology (step-wise assignment: primary-care physicians and
NP/PA first, then specialists).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import ibis

from carethread.errors import InputError, OptionError
from carethread.options import as_timestamp, check_months, check_rule, months_before, normalize_settings
from carethread.visits import encounters_in_window, visits

RULES: tuple[str, ...] = ("plurality", "majority", "recent", "tiered")

#: Specialties whose physicians form tier 1 of the ``tiered`` rule (lower-cased).
PRIMARY_CARE_SPECIALTIES: tuple[str, ...] = (
    "family medicine",
    "family practice",
    "general practice",
    "general medicine",
    "internal medicine",
    "general internal medicine",
    "pediatrics",
    "paediatrics",
    "geriatrics",
    "geriatric medicine",
    "primary care",
)

#: Tier labels of the ``tiered`` rule as used in ranking reasons.
TIER_LABELS: dict[int, str] = {1: "primary-care physician", 2: "NP/PA", 3: "other clinician"}

#: Columns of :func:`attribute`, in order (DESIGN.md section 5).
ATTRIBUTION_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "clinician_id",
    "rule",
    "visits_with_clinician",
    "visits_total",
    "share",
    "last_visit",
    "tie_broken",
)

#: Columns of :func:`attribution_ranking`, in order.
RANKING_COLUMNS: tuple[str, ...] = ("patient_id", "clinician_id", "visits", "last_visit", "rank", "reason")

_INELIGIBLE = 9  # tier of a clinician missing from the clinicians table


def attribution_window(as_of, lookback: int = 18):
    """The look-back window ``[as_of - lookback months, as_of)`` as two datetimes.

    The day is clamped to the end of a shorter month.

    >>> attribution_window("2024-08-31", 18)
    (datetime.datetime(2023, 2, 28, 0, 0), datetime.datetime(2024, 8, 31, 0, 0))
    """
    end = as_timestamp(as_of, "as-of")
    if end is None:
        raise OptionError("--as-of is required; write it as YYYY-MM-DD.")
    return months_before(end, check_months(lookback, "lookback")), end


def visit_pairs(v: ibis.Table, by: list[str]) -> ibis.Table:
    """Visits per ``by`` group and clinician: ``n`` and ``last_start`` (latest visit start)."""
    return v.group_by([*by, "clinician_id"]).aggregate(n=v.count(), last_start=v.first_start.max())


def clinician_tiers(clinicians) -> ibis.Table:
    """``clinician_id, tier`` of the ``tiered`` rule (1, 2 or 3; see the module docstring).

    Raises :class:`~carethread.errors.InputError` when the table is missing
    or lacks ``role`` or ``specialty``. A clinician listed twice gets their
    best tier.
    """
    if clinicians is None:
        raise InputError(
            "The tiered rule needs the clinicians table (clinician_id, role, specialty) to tell "
            "primary-care physicians from NP/PA and specialists. Pass it as clinicians=..., "
            "or choose another rule such as plurality."
        )
    if not isinstance(clinicians, ibis.Table):
        clinicians = ibis.memtable(clinicians)
    missing = [c for c in ("clinician_id", "role", "specialty") if c not in clinicians.columns]
    if missing:
        raise InputError(
            f"The tiered rule needs columns clinician_id, role and specialty in the clinicians table; "
            f"missing: {', '.join(missing)}. Add them (role is one of physician, np, pa, nurse, other) "
            "or choose another rule such as plurality."
        )
    c = clinicians
    role = _trimmed(c.role).lower()
    specialty = _trimmed(c.specialty).lower()
    tier = ibis.cases(
        ((role == "physician") & specialty.isin(PRIMARY_CARE_SPECIALTIES), 1),
        (role.isin(("np", "pa")), 2),
        else_=3,
    )
    c = c.select(clinician_id=c.clinician_id.cast("string"), tier=tier)
    return c.group_by("clinician_id").aggregate(tier=c.tier.min())


def _trimmed(value: ibis.Value) -> ibis.StringValue:
    """The value as text without surrounding whitespace.

    A regular expression rather than ``strip()``: Ibis writes ``strip()``
    for Spark as ``TRIM(' \\t\\n\\r\\v\\f' FROM ...)`` and Spark reads ``\\v``
    and ``\\f`` as the letters v and f, so "family medicine" lost its f.
    """
    return value.cast("string").re_replace(r"^\s+|\s+$", "")


def _with_tiers(pairs: ibis.Table, rule: str, clinicians) -> ibis.Table:
    if rule != "tiered":
        return pairs.mutate(tier=ibis.literal(1))
    tiers = clinician_tiers(clinicians)
    joined = pairs.left_join(tiers, "clinician_id")
    return joined.select(*pairs.columns, tier=joined.tier.fill_null(_INELIGIBLE))


def _micros(ts: ibis.Value) -> ibis.Value:
    """Whole microseconds since 1900-01-01: one exact integer, on every backend
    (Spark cannot extract a timestamp's microsecond field)."""
    return ts.delta(_EPOCH_TS, unit="microsecond")


def _time_stamp(ts: ibis.Value) -> ibis.Value:
    """Fixed-width digits that sort like ``ts``: ``10**16`` plus microseconds since 1900
    (17 digits for any time before the year 2216)."""
    return (_STAMP_BASE + _micros(ts)).cast("string")


def _inverse_time_stamp(ts: ibis.Value) -> ibis.Value:
    """Like :func:`_time_stamp` but sorting latest first."""
    return (_STAMP_BASE + (_STAMP_BASE - 1) - _micros(ts)).cast("string")


def _keys(pairs: ibis.Table, rule: str) -> tuple[ibis.Value, ibis.Value, bool]:
    """``(best, runner, best_is_min)`` sort keys of a group's clinicians.

    The winner has the smallest ``best`` (the largest when ``best_is_min``
    is false). ``runner`` is built so that its opposite extreme picks, among
    the clinicians sharing the winner's primary criterion, the one the
    tie-break ranks last: it differs from the winner exactly when there was
    a tie. Both keys end in the clinician id, so each is unique within a
    group and one aggregate pass replaces a ranking window.

    For every rule but ``recent`` the keys are the tier digit and the
    usual-clinician key of :mod:`carethread.measures.continuity` (most
    visits, then most recent visit, then smallest id), so plurality here and
    the usual clinician there are one rule.
    """
    if rule == "recent":
        best = _time_stamp(pairs.last_start).concat(pairs.clinician_id)
        runner = _inverse_time_stamp(pairs.last_start).concat(pairs.clinician_id)
        return best, runner, False
    days = pairs.last_start.cast("date").delta(_EPOCH, unit="day")
    older = _LARGEST - days
    best = _KEY_BASE + pairs.tier * _TIER + (_LARGEST - pairs.n) * _PART + older
    runner = _KEY_BASE + (_INELIGIBLE - pairs.tier) * _TIER + pairs.n * _PART + older
    return best.cast("string").concat(pairs.clinician_id), runner.cast("string").concat(pairs.clinician_id), True


# Plurality keys: the digits of 10**17 + tier * 10**16 + (10**8 - 1 - visits) * 10**8
# + (10**8 - 1 - days since 1900-01-01 of the last visit), then the clinician id.
# Every key has the same 18-digit prefix width, so string order is: tier, most
# visits, most recent last visit, smallest id -- the usual-clinician rule of
# carethread.measures.continuity. One integer cast replaces zero-padding, and
# ``choose`` reads the winner back from the smallest key instead of running
# one ``argmin`` per output column.
_EPOCH = ibis.date(1900, 1, 1)
_EPOCH_TS = ibis.literal(datetime.datetime(1900, 1, 1))
_STAMP_BASE = 10**16
_PART = 10**8
_LARGEST = _PART - 1
_TIER = 10**16
_KEY_BASE = 10**17
_PREFIX = 18


def _decode(key: ibis.Value) -> dict[str, ibis.Value]:
    """Tier, visits, last visit date and clinician id from a plurality key."""
    return {
        "tier": key.substr(1, 1).cast("int64"),
        "n": _LARGEST - key.substr(2, 8).cast("int64"),
        "last_visit": (_EPOCH + (_LARGEST - key.substr(10, 8).cast("int64")).as_interval("D")).cast("date"),
        "clinician_id": key.substr(_PREFIX),
    }


def choose(pairs: ibis.Table, by: list[str], rule: str = "plurality") -> ibis.Table:
    """Apply ``rule`` to per-clinician visit counts, one row per attributed group.

    ``pairs`` holds ``by`` columns, ``clinician_id``, ``n`` (visits),
    ``last_start`` and ``tier`` (all 1 except for the tiered rule; 9 =
    not eligible). Returns ``by`` plus ``clinician_id,
    visits_with_clinician, visits_total, last_visit, tie_broken``. This is
    the one implementation of every rule; :func:`attribute` and
    :func:`carethread.measures.breaks.relationship_breaks` both call it.
    """
    best, runner, best_is_min = _keys(pairs, rule)
    if rule == "recent":
        g = pairs.group_by(by).aggregate(
            clinician_id=pairs.clinician_id.argmax(best),
            visits_with_clinician=pairs.n.argmax(best),
            visits_total=pairs.n.sum(),
            last_start=pairs.last_start.argmax(best),
            runner_up=pairs.clinician_id.argmin(runner),
        )
        return g.select(
            *by,
            "clinician_id",
            visits_with_clinician=g.visits_with_clinician.cast("int64"),
            visits_total=g.visits_total.cast("int64"),
            last_visit=g.last_start.cast("date"),
            tie_broken=g.clinician_id != g.runner_up,
        )
    g = pairs.group_by(by).aggregate(best=best.min(), runner=runner.max(), visits_total=pairs.n.sum())
    won = _decode(g.best)
    runner_up = g.runner.substr(_PREFIX)
    keep = []
    if rule == "majority":
        keep.append(won["n"] * 2 > g.visits_total)
    if rule == "tiered":
        keep.append(won["tier"] < _INELIGIBLE)
    g = g.filter(*keep) if keep else g
    return g.select(
        *by,
        clinician_id=won["clinician_id"],
        visits_with_clinician=won["n"].cast("int64"),
        visits_total=g.visits_total.cast("int64"),
        last_visit=won["last_visit"],
        tie_broken=ibis.literal(False) if rule == "majority" else won["clinician_id"] != runner_up,
    )


def _prepared_pairs(encounters, *, as_of, rule, lookback, settings, clinicians) -> ibis.Table:
    check_rule(rule, RULES)
    start, end = attribution_window(as_of, lookback)
    if rule == "tiered":
        clinician_tiers(clinicians)  # fail early, before any query runs
    v = visits(encounters, settings=settings, start=start, end=end)
    return _with_tiers(visit_pairs(v, ["patient_id"]), rule, clinicians)


def attribute(
    encounters: ibis.Table,
    *,
    as_of,
    rule: str = "plurality",
    lookback: int = 18,
    settings=None,
    clinicians=None,
) -> ibis.Table:
    """Attribute each patient to at most one clinician as of a date.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    as_of
        The attribution date (date, datetime or ``YYYY-MM-DD``). Visits on or
        after it do not count.
    rule
        ``plurality`` (default), ``majority``, ``recent`` or ``tiered`` (see
        the module docstring for the exact definitions and tie rules).
    lookback
        Look-back in whole months (default 18, after Murray): the window is
        ``[as_of - lookback months, as_of)``.
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    clinicians
        Canonical clinicians table; required by ``tiered`` (``role`` and
        ``specialty``), ignored by the other rules.

    Returns
    -------
    ibis.Table
        One row per attributed patient: ``patient_id, clinician_id, rule,
        visits_with_clinician, visits_total, share, last_visit,
        tie_broken``. ``share = visits_with_clinician / visits_total``;
        ``last_visit`` is the patient's last visit with that clinician.

    Raises
    ------
    OptionError
        Unknown rule, ``lookback`` not a whole number of months >= 1, or a
        missing or unreadable ``as_of``.
    InputError
        ``tiered`` without a clinicians table with ``role`` and ``specialty``.

    Notes
    -----
    Patients without a visit in the window, and patients a rule leaves
    unattributed (``majority`` with nobody above half; ``tiered`` with no
    eligible visit), are absent; :func:`attribution_summary` counts them and
    :func:`attribution_ranking` shows why. Encounters without a clinician
    are left out (DESIGN.md section 3).

    Examples
    --------
    Visits ``A A B B`` on four days: plurality ties 2-2 and goes to the most
    recent visit (``B``); majority is not reached.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": list("AABB"),
    ...     "practice_id": ["X"] * 4, "setting": ["primary_care"] * 4,
    ...     "start": [dt.datetime(2024, 1, d) for d in (2, 3, 4, 5)]})
    >>> row = attribute(enc, as_of="2024-06-01").to_pyarrow().to_pylist()[0]
    >>> row["clinician_id"], row["visits_with_clinician"], row["visits_total"], row["tie_broken"]
    ('B', 2, 4, True)
    >>> attribute(enc, as_of="2024-06-01", rule="majority").count().execute()
    0
    """
    pairs = _prepared_pairs(
        encounters, as_of=as_of, rule=rule, lookback=lookback, settings=settings, clinicians=clinicians
    )
    a = choose(pairs, ["patient_id"], rule)
    return a.select(
        "patient_id",
        "clinician_id",
        rule=ibis.literal(rule),
        visits_with_clinician=a.visits_with_clinician,
        visits_total=a.visits_total,
        share=a.visits_with_clinician.cast("float64") / a.visits_total.cast("float64"),
        last_visit=a.last_visit,
        tie_broken=a.tie_broken,
    )


def _of(n: ibis.Value, total: ibis.Value) -> ibis.Value:
    return ibis.literal("(").concat(n.cast("string"), " of ", total.cast("string"), ")")


def attribution_ranking(
    encounters: ibis.Table,
    *,
    as_of,
    rule: str = "plurality",
    lookback: int = 18,
    settings=None,
    clinicians=None,
) -> ibis.Table:
    """The full, auditable ranking behind :func:`attribute`.

    Parameters
    ----------
    encounters, as_of, rule, lookback, settings, clinicians
        As in :func:`attribute`.

    Returns
    -------
    ibis.Table
        One row per patient and clinician seen in the window:
        ``patient_id, clinician_id, visits, last_visit, rank, reason``.
        ``rank`` orders a patient's clinicians under the rule and 1 is the
        attributed clinician (``rank == 1`` gives exactly :func:`attribute`);
        it is null for every clinician of a patient the rule leaves
        unattributed and for clinicians not eligible under ``tiered``.
        ``reason`` says why in plain words, e.g. ``most visits (5 of 8)``,
        ``tie on visits (3 each) broken by most recent visit``, ``tie on
        visits and last visit broken by smallest id``, ``fewer visits (2 of
        8)``, ``majority not reached (4 of 9)``, ``tier 1: primary-care
        physician; most visits (3 of 8)``, ``most recent visit
        (2024-03-01)``.

    Notes
    -----
    Ranking every clinician needs a window (a sort per patient), so this is
    slower than :func:`attribute`, which uses one aggregate pass.

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
    pairs = _prepared_pairs(
        encounters, as_of=as_of, rule=rule, lookback=lookback, settings=settings, clinicians=clinicians
    )
    best, _, best_is_min = _keys(pairs, rule)
    w = ibis.window(group_by="patient_id")
    p = pairs.mutate(last_visit=pairs.last_start.cast("date"), key=best)
    p = p.mutate(total=p.n.sum().over(w), top_tier=p.tier.min().over(w), top_start=p.last_start.max().over(w))
    in_top = p.tier == p.top_tier
    p = p.mutate(in_top=in_top, top_n=ibis.ifelse(in_top, p.n, ibis.null("int64")).max().over(w))
    tied = (p.in_top & (p.n == p.top_n)) if rule != "recent" else (p.last_start == p.top_start)
    p = p.mutate(tied=tied)
    p = p.mutate(
        n_tied=p.tied.cast("int64").sum().over(w),
        best_last=ibis.ifelse(p.tied, p.last_visit, ibis.null("date")).max().over(w),
    )
    p = p.mutate(n_tied_last=(p.tied & (p.last_visit == p.best_last)).cast("int64").sum().over(w))
    order = p.key if best_is_min else p.key.desc()
    p = p.mutate(position=ibis.row_number().over(group_by="patient_id", order_by=order) + 1)

    if rule == "majority":
        attributed = p.top_n * 2 > p.total
    elif rule == "tiered":
        attributed = p.top_tier < _INELIGIBLE
    else:
        attributed = ibis.literal(True)
    eligible = p.tier < _INELIGIBLE
    first = p.position == 1
    counts = _of(p.n, p.total)
    each = ibis.literal("(").concat(p.n.cast("string"), " each)")

    if rule == "recent":
        day = p.last_visit.cast("string")
        reason = ibis.cases(
            (first & (p.n_tied == 1), ibis.literal("most recent visit (").concat(day, ")")),
            (first, ibis.literal("tie on last visit time broken by largest id (visit order)")),
            (p.last_start < p.top_start, ibis.literal("earlier last visit (").concat(day, ")")),
            else_=ibis.literal("tie on last visit time, smaller id"),
        )
    elif rule == "majority":
        reason = ibis.cases(
            (~attributed, ibis.literal("majority not reached ").concat(counts)),
            (first, ibis.literal("majority ").concat(counts)),
            else_=ibis.literal("fewer visits ").concat(counts),
        )
    else:
        plural = ibis.cases(
            (first & (p.n_tied == 1), ibis.literal("most visits ").concat(counts)),
            (first & (p.n_tied_last == 1), ibis.literal("tie on visits ").concat(each, " broken by most recent visit")),
            (first, ibis.literal("tie on visits and last visit broken by smallest id")),
            (~p.in_top, ibis.literal("a higher tier has visits")),
            (p.n < p.top_n, ibis.literal("fewer visits ").concat(counts)),
            (p.last_visit < p.best_last, ibis.literal("tie on visits ").concat(each, ", less recent visit")),
            else_=ibis.literal("tie on visits and last visit, larger id"),
        )
        if rule == "tiered":
            label = ibis.cases(*((p.tier == k, f"tier {k}: {v}; ") for k, v in TIER_LABELS.items()), else_="")
            reason = ibis.ifelse(
                eligible, label.concat(plural), ibis.literal("not eligible: clinician not in the clinicians table")
            )
        else:
            reason = plural
    rank = ibis.ifelse(attributed & eligible, p.position, ibis.null("int64"))
    return p.select(
        "patient_id",
        "clinician_id",
        visits=p.n.cast("int64"),
        last_visit=p.last_visit,
        rank=rank.cast("int64"),
        reason=reason,
    )


def attribution_summary(
    encounters: ibis.Table,
    *,
    as_of,
    rule: str = "plurality",
    lookback: int = 18,
    settings=None,
    clinicians=None,
) -> ibis.Table:
    """Counts that qualify an attribution, one row.

    Columns: ``patients_in_window`` (patients with any encounter in the
    window, any setting), ``patients_with_visits``, ``attributed``,
    ``unattributed`` (patients with visits the rule did not attribute),
    ``ties_broken`` and ``encounters_without_clinician`` (encounters in the
    window and settings left out for lack of a clinician). Turn a row into
    sentences with :func:`attribution_remarks`.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": list("AABB"),
    ...     "practice_id": ["X"] * 4, "setting": ["primary_care"] * 4,
    ...     "start": [dt.datetime(2024, 1, d) for d in (2, 3, 4, 5)]})
    >>> s = attribution_summary(enc, as_of="2024-06-01", rule="majority").to_pyarrow().to_pylist()[0]
    >>> s["patients_with_visits"], s["attributed"], s["unattributed"]
    (1, 0, 1)
    """
    a = attribute(encounters, as_of=as_of, rule=rule, lookback=lookback, settings=settings, clinicians=clinicians)
    start, end = attribution_window(as_of, lookback)
    v = visits(encounters, settings=settings, start=start, end=end)
    e = encounters_in_window(encounters, start=start, end=end)
    chosen = normalize_settings(settings)
    attributed = a.aggregate(attributed=a.count(), ties_broken=a.tie_broken.cast("int64").sum().fill_null(0))
    seen = v.aggregate(patients_with_visits=v.patient_id.nunique())
    window = e.aggregate(
        patients_in_window=e.patient_id.nunique(),
        encounters_without_clinician=(e.setting.isin(chosen) & e.clinician_id.isnull())
        .cast("int64")
        .sum()
        .fill_null(0),
    )
    s = window.cross_join(seen).cross_join(attributed)
    return s.select(
        patients_in_window=s.patients_in_window.cast("int64"),
        patients_with_visits=s.patients_with_visits.cast("int64"),
        attributed=s.attributed.cast("int64"),
        unattributed=(s.patients_with_visits - s.attributed).cast("int64"),
        ties_broken=s.ties_broken.cast("int64"),
        encounters_without_clinician=s.encounters_without_clinician.cast("int64"),
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,}".replace(",", " ") + " " + (one if n == 1 else many)


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


def attribution_remarks(summary: Mapping[str, int], *, rule: str = "plurality") -> list[str]:
    """Plain-language remarks from one :func:`attribution_summary` row.

    >>> attribution_remarks({"unattributed": 1204, "ties_broken": 1, "encounters_without_clinician": 0},
    ...     rule="majority")
    ['1 204 patients with visits were not attributed (no clinician had more than half of their visits).']
    """
    check_rule(rule, RULES)
    out = []
    n = int(summary.get("unattributed", 0) or 0)
    if n:
        verb = "was" if n == 1 else "were"
        why = _UNATTRIBUTED_WHY.get(rule, "no rule applied")
        out.append(f"{_count(n, 'patient', 'patients')} with visits {verb} not attributed ({why}).")
    n = int(summary.get("ties_broken", 0) or 0)
    if n and _TIE_RULE[rule]:
        verb = "was" if n == 1 else "were"
        out.append(f"{_count(n, 'attribution', 'attributions')} {verb} decided by a tie-break ({_TIE_RULE[rule]}).")
    n = int(summary.get("encounters_without_clinician", 0) or 0)
    if n:
        verb = "was" if n == 1 else "were"
        out.append(f"{_count(n, 'encounter', 'encounters')} without a clinician {verb} left out.")
    return out
