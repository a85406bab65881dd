"""Attribution (panel assignment): the clinician each patient belongs to as of a date.

docs/definitions.md, *Attribution*. Visits (docs/definitions.md, *Visits*) in
the look-back window ``[as_of - lookback_months, as_of)`` are counted per
patient and clinician; a rule then picks at most one clinician per patient:

``plurality``
    Most visits; ties go to the most recent visit, then the smallest
    clinician id: the usual-clinician rule of
    :mod:`carethread.measures.continuity`, one key for both
    (:func:`carethread.measures.keys.usual_key`; a test checks that they
    agree). The most recent visit is the last in visit order: of two
    clinicians last seen on the same day, the one whose visit started later;
    only last visits starting at the very same instant go to the smaller id.
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

import ibis

from carethread.deprecation import renamed_keywords
from carethread.errors import InputError, OptionError
from carethread.measures.display import as_result
from carethread.measures.keys import USUAL_PREFIX, decode_usual_key, earlier_first, fewer_first, later_first, usual_key
from carethread.measures.numbers import exact_int64
from carethread.options import (
    Clinicians,
    DateLike,
    Settings,
    as_timestamp,
    check_months,
    check_rule,
    clinicians_table,
    months_before,
)
from carethread.visits import default_as_of, visits

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

#: Columns of :func:`attribute`, in order.
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

#: Tier of a clinician missing from the clinicians table (one digit, after every real tier).
INELIGIBLE = 9

#: The attribution date of an input with no encounter: any date gives the same empty
#: result, and readers reject dates before 1900, so this one names no real visit.
_NOTHING_TO_ATTRIBUTE = datetime.datetime(1900, 1, 1)


@renamed_keywords(lookback="lookback_months")
def attribution_window(as_of: DateLike, lookback_months: int = 18) -> tuple[datetime.datetime, datetime.datetime]:
    """The look-back window ``[as_of - lookback_months, as_of)`` as two datetimes.

    The day is clamped to the end of a shorter month.

    >>> attribution_window("2024-08-31", 18)
    (datetime.datetime(2023, 2, 28, 0, 0), datetime.datetime(2024, 8, 31, 0, 0))
    """
    end = as_timestamp(as_of, "as-of")
    if end is None:
        raise OptionError("--as-of is required; write it as YYYY-MM-DD.")
    return months_before(end, check_months(lookback_months, "lookback")), end


def attribution_date(encounters: ibis.Table, as_of: DateLike, *, end: DateLike = None) -> DateLike:
    """``as_of``, or when it is ``None`` the default of every measure
    (:func:`carethread.visits.default_as_of`: ``end``, else the day after the
    last encounter)."""
    if as_of is not None:
        return as_of
    default = default_as_of(encounters, end=end)
    return default if default is not None else _NOTHING_TO_ATTRIBUTE


def visit_pairs(v: ibis.Table, by: list[str]) -> ibis.Table:
    """Visits per ``by`` group and clinician: ``n`` and ``last_start`` (latest visit start)."""
    return v.group_by([*by, "clinician_id"]).aggregate(n=v.count(), last_start=v.first_start.max())


def clinician_tiers(clinicians: Clinicians) -> ibis.Table:
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
    c = clinicians_table(clinicians)
    missing = [col for col in ("clinician_id", "role", "specialty") if col not in c.columns]
    if missing:
        raise InputError(
            f"The tiered rule needs columns clinician_id, role and specialty in the clinicians table; "
            f"missing: {', '.join(missing)}. Add them (role is one of physician, np, pa, nurse, other) "
            "or choose another rule such as plurality."
        )
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


def _with_tiers(pairs: ibis.Table, rule: str, clinicians: Clinicians) -> ibis.Table:
    if rule != "tiered":
        return pairs.mutate(tier=ibis.literal(1))
    tiers = clinician_tiers(clinicians)
    joined = pairs.left_join(tiers, "clinician_id")
    return joined.select(*pairs.columns, tier=joined.tier.fill_null(INELIGIBLE))


def rule_keys(pairs: ibis.Table, rule: str) -> tuple[ibis.Value, ibis.Value, bool]:
    """``(best, runner, best_is_min)`` sort keys of a group's clinicians.

    The winner has the smallest ``best`` (the largest when ``best_is_min``
    is false). ``runner`` is built so that its opposite extreme picks, among
    the clinicians sharing the winner's primary criterion, the one the
    tie-break ranks last: it differs from the winner exactly when there was
    a tie. Both keys end in the clinician id, so each is unique within a
    group and one aggregate pass replaces a ranking window.

    For every rule but ``recent``, ``best`` is the tier digit followed by the
    usual-clinician key (:func:`carethread.measures.keys.usual_key`: most
    visits, then the latest last-visit start, then the smallest id), so
    plurality here and the usual clinician of
    :mod:`carethread.measures.continuity` are one rule; ``runner``, read with
    ``MAX``, is ``9 - tier``, the visits, the oldest last visit and the
    largest id.
    """
    if rule == "recent":
        best = earlier_first(pairs.last_start).concat(pairs.clinician_id)
        runner = later_first(pairs.last_start).concat(pairs.clinician_id)
        return best, runner, False
    best = pairs.tier.cast("string").concat(usual_key(pairs.n, pairs.last_start, pairs.clinician_id))
    runner = (
        (INELIGIBLE - pairs.tier)
        .cast("string")
        .concat(fewer_first(pairs.n), later_first(pairs.last_start), pairs.clinician_id)
    )
    return best, runner, True


def choose(pairs: ibis.Table, by: list[str], rule: str = "plurality") -> ibis.Table:
    """Apply ``rule`` to per-clinician visit counts, one row per attributed group.

    ``pairs`` holds ``by`` columns, ``clinician_id``, ``n`` (visits),
    ``last_start`` (the start of the last visit) and ``tier`` (all 1 except
    for the tiered rule; 9 = not eligible). Returns ``by`` plus
    ``clinician_id, visits_with_clinician, visits_total, last_visit,
    tie_broken``. This is the one implementation of every rule;
    :func:`attribute` and
    :func:`carethread.measures.breaks.relationship_breaks` both call it.
    """
    best, runner, _ = rule_keys(pairs, rule)
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
            visits_total=exact_int64(g.visits_total),
            last_visit=g.last_start.cast("date"),
            tie_broken=g.clinician_id != g.runner_up,
        )
    # The winner is read back from the smallest key instead of one argmin per column.
    g = pairs.group_by(by).aggregate(best=best.min(), runner=runner.max(), visits_total=pairs.n.sum())
    won = decode_usual_key(g.best, offset=1)
    tier = g.best.substr(0, 1).cast("int64")
    runner_up = g.runner.substr(1 + USUAL_PREFIX)
    keep = []
    if rule == "majority":
        keep.append(won["n"] * 2 > g.visits_total)
    if rule == "tiered":
        keep.append(tier < INELIGIBLE)
    g = g.filter(*keep) if keep else g
    return g.select(
        *by,
        clinician_id=won["id"],
        visits_with_clinician=won["n"].cast("int64"),
        visits_total=exact_int64(g.visits_total),
        last_visit=won["last_visit"],
        tie_broken=ibis.literal(False) if rule == "majority" else won["id"] != runner_up,
    )


def prepared_pairs(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians,
    settings: Settings,
    as_of: DateLike,
    rule: str,
    lookback_months: int,
) -> ibis.Table:
    """Visits per patient and clinician in the look-back window, with the rule's tiers."""
    check_rule(rule, RULES)
    start, end = attribution_window(attribution_date(encounters, as_of), lookback_months)
    if rule == "tiered":
        clinician_tiers(clinicians)  # fail early, before any query runs
    v = visits(encounters, settings=settings, start=start, end=end)
    return _with_tiers(visit_pairs(v, ["patient_id"]), rule, clinicians)


@renamed_keywords(lookback="lookback_months")
def attribute(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    as_of: DateLike = None,
    rule: str = "plurality",
    lookback_months: int = 18,
) -> ibis.Table:
    """Attribute each patient to at most one clinician as of a date.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Canonical clinicians table; required by ``tiered`` (``role`` and
        ``specialty``), ignored by the other rules.
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    as_of
        The attribution date (date, datetime or ``YYYY-MM-DD``). Visits on or
        after it do not count. Default: the day after the last encounter
        (:func:`carethread.visits.default_as_of`).
    rule
        ``plurality`` (default), ``majority``, ``recent`` or ``tiered`` (see
        the module docstring for the exact definitions and tie rules).
    lookback_months
        Look-back in whole months (default 18, after Murray): the window is
        ``[as_of - lookback_months, as_of)``. Formerly ``lookback``.

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
        Unknown rule, ``lookback_months`` not a whole number of months >= 1,
        or an unreadable ``as_of``.
    InputError
        ``tiered`` without a clinicians table with ``role`` and ``specialty``.

    Notes
    -----
    Patients without a visit in the window, and patients a rule leaves
    unattributed (``majority`` with nobody above half; ``tiered`` with no
    eligible visit), are absent; :func:`attribution_remarks` counts them and
    :func:`attribution_ranking` shows why. Encounters without a clinician
    are left out (docs/definitions.md, *Visits*).

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
    pairs = prepared_pairs(
        encounters, clinicians=clinicians, settings=settings, as_of=as_of, rule=rule, lookback_months=lookback_months
    )
    a = choose(pairs, ["patient_id"], rule)
    return as_result(
        a.select(
            "patient_id",
            "clinician_id",
            rule=ibis.literal(rule),
            visits_with_clinician=a.visits_with_clinician,
            visits_total=a.visits_total,
            # Every attributed patient has a visit: no zero to guard, and the column stays non-null.
            share=a.visits_with_clinician.cast("float64") / a.visits_total.cast("float64"),
            last_visit=a.last_visit,
            tie_broken=a.tie_broken,
        )
    )
