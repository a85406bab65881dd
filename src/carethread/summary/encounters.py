"""Who needs whom of the encounters: the tables it summarises, computed once over one window.

:func:`who_needs_whom_from_encounters` is the entry point for users who start
from the encounters (the CLI ``summary`` command and the demo use it); a
caller that already has the measure tables (the report) calls
:func:`~carethread.summary.dependence.who_needs_whom` with them.
"""

from __future__ import annotations

import ibis

from carethread.deprecation import warn_renamed
from carethread.errors import InputError
from carethread.options import as_timestamp, check_min_visits
from carethread.summary.dependence import NEEDS_TABLES, check_count, who_needs_whom
from carethread.summary.headline import NO_VISITS
from carethread.summary.population import check_population, detect_population
from carethread.summary.result import WhoNeedsWhom, result_table


def measure_tables(encounters: ibis.Table, clinicians, settings, start, end, as_of, lookback_months) -> dict | None:
    """The tables :func:`who_needs_whom` summarises, over one window, as its keyword arguments.

    ``dyads``, ``continuity`` (``patient_continuity``), ``attribution``
    (``attribute`` as of ``as_of``) and ``panels`` over the window, ``breaks``
    (``relationship_breaks``) over all the encounters, and the window itself
    (``start``, ``end``, ``as_of``), as lazy Ibis tables. ``None`` when there
    is no encounter to date the window from. Parameters as for
    :func:`who_needs_whom_from_encounters`, all required.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"], "clinician_id": ["A"], "practice_id": ["X"],
    ...     "setting": ["primary_care"], "start": [dt.datetime(2024, 1, 1, 9)]})
    >>> tables = measure_tables(enc, None, None, None, None, None, 18)
    >>> sorted(tables)
    ['as_of', 'attribution', 'breaks', 'continuity', 'dyads', 'end', 'panels', 'start']
    >>> tables["start"], tables["end"]
    (datetime.datetime(2022, 7, 2, 0, 0), datetime.datetime(2024, 1, 2, 0, 0))
    """
    from carethread.measures.attribution import attribute
    from carethread.measures.breaks import relationship_breaks
    from carethread.measures.continuity import patient_continuity
    from carethread.measures.dyads import dyads
    from carethread.measures.panels import counting_window, panels
    from carethread.visits import default_as_of

    as_of = as_timestamp(as_of, "as-of") if as_of is not None else default_as_of(encounters, end=end)
    if as_of is None:
        return None
    lo, hi = counting_window(as_of, lookback_months, start, end)
    window = {"settings": settings, "start": lo, "end": hi}
    return {
        "dyads": dyads(encounters, **window),
        "continuity": patient_continuity(encounters, **window),
        "attribution": attribute(encounters, as_of=as_of, lookback_months=lookback_months, settings=settings),
        "panels": panels(encounters, clinicians=clinicians, as_of=as_of, lookback_months=lookback_months, **window),
        "breaks": relationship_breaks(encounters, clinicians=clinicians, settings=settings),
        "start": lo,
        "end": hi,
        "as_of": as_of,
    }


def who_needs_whom_from_encounters(
    encounters: ibis.Table,
    *,
    clinicians: ibis.Table | None = None,
    settings=None,
    start=None,
    end=None,
    as_of=None,
    lookback_months: int = 18,
    min_visits: int = 2,
    bootstrap: int = 200,
    seed: int = 0,
    population: str | None = None,
) -> WhoNeedsWhom:
    """:func:`who_needs_whom` of the encounters: computes the tables it summarises once, then summarises them.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Optional canonical clinicians table (for relationship breaks).
    settings
        Settings whose encounters count as visits (default ``primary_care``
        and ``virtual``).
    start, end
        The window ``[start, end)`` every measure describes. By default the
        attribution window ``[as_of - lookback_months, as_of)``, so that
        relationship counts, dependences and panels describe the same period.
    as_of
        Attribution date for the panel measures (default: ``end`` if given,
        else the day after the last encounter).
    lookback_months
        Attribution look-back in months (default 18).
    min_visits, bootstrap, seed
        As for :func:`who_needs_whom`.
    population
        ``"sample"``, ``"complete"`` or ``None`` (default: guessed from the
        clinicians' workloads in the panels over the window; see
        :mod:`carethread.summary.population`).

    Returns
    -------
    WhoNeedsWhom
        As :func:`who_needs_whom`; with no encounter at all, every value is
        null and the headline says there is nothing to describe.

    Notes
    -----
    The tables are those of :func:`measure_tables`: ``dyads``,
    ``patient_continuity`` and ``attribute`` over the window, and
    ``relationship_breaks`` over all the encounters (only breaks dated in
    the window count; see the module docstring).

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> rows = [(p, "A", d) for p in "pqr" for d in (1, 8, 15)] + [("p", "B", 20)]
    >>> enc = ibis.memtable({"patient_id": [r[0] for r in rows], "clinician_id": [r[1] for r in rows],
    ...     "practice_id": ["X"] * 10, "setting": ["primary_care"] * 10,
    ...     "start": [dt.datetime(2024, 1, r[2], 9) for r in rows]})
    >>> w = who_needs_whom_from_encounters(enc, bootstrap=50, population="complete")
    >>> w.value("patients_per_clinician"), w.value("breaks_total"), w.window["as_of"]
    (2.0, 0.0, '2024-01-21')

    Two clinicians with two visits per working day look like a sample of patients:

    >>> guessed = who_needs_whom_from_encounters(enc, bootstrap=0)
    >>> guessed.population.kind, guessed.value("patients_per_clinician")
    ('sample', None)
    """
    options = {
        "population": check_population(population),
        "min_visits": check_min_visits(min_visits),
        "bootstrap": check_count(bootstrap, "bootstrap", 0),
        "seed": check_count(seed, "seed", 0),
    }
    tables = measure_tables(encounters, clinicians, settings, start, end, as_of, lookback_months)
    if tables is None:
        return WhoNeedsWhom(
            result_table({}, {}, with_breaks=False),
            NO_VISITS,
            bootstrap=options["bootstrap"],
            seed=options["seed"],
            remarks=("There are no encounters.",),
            population=detect_population(None, population=options["population"]),
        )
    return who_needs_whom(**tables, **options)


def deprecated_encounters_call(encounters: ibis.Table, *, lookback=None, breaks=None, **options) -> WhoNeedsWhom:
    """The form ``who_needs_whom(encounters, ...)`` of version 0.1, deprecated."""
    if "start" not in encounters.columns or "dyad_visits" in encounters.columns:
        raise InputError(NEEDS_TABLES)
    warn_renamed(
        "who_needs_whom(encounters, ...)",
        "who_needs_whom_from_encounters(encounters, ...), or give who_needs_whom the dyads, continuity and "
        "attribution tables",
        stacklevel=4,
    )
    if lookback is not None:
        options["lookback_months"] = lookback
    if breaks is None:
        return who_needs_whom_from_encounters(encounters, **options)
    # 0.1 counted a given breaks table instead of computing the breaks: so does this.
    summary = {k: options.pop(k) for k in ("min_visits", "bootstrap", "seed", "population") if k in options}
    window = {"clinicians": None, "settings": None, "start": None, "end": None, "as_of": None, "lookback_months": 18}
    tables = measure_tables(encounters, **{**window, **options})
    if tables is None:
        return who_needs_whom_from_encounters(encounters, **options, **summary)
    return who_needs_whom(**{**tables, "breaks": breaks}, **summary)
