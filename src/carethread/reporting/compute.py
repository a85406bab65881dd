"""Everything the report shows, computed as small aggregates in the engine.

Each function takes canonical Ibis tables and returns a few hundred rows at
most (pandas), with *exact* counts: no patient identifier ever leaves the
engine, and :mod:`carethread.reporting.protect` suppresses small counts before
anything is drawn or written. The report keeps them in one
:class:`~carethread.reporting.values.ReportValues`. Measures come from their own modules
(continuity, attribution and panels, dyads, breaks, the who-needs-whom
summary); this module only aggregates their results.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from carethread.batches import patient_batch, plan
from carethread.measures.break_causes import CAUSES as BREAK_CAUSES
from carethread.measures.breaks import KINDS as BREAK_KINDS
from carethread.options import normalize_settings
from carethread.reporting.values import Span, no_breaks
from carethread.visits import encounters_in_window, visits
from carethread.wording import quarter

#: Histogram bins of the continuity indices: [0, 0.1), ..., [0.9, 1.0].
BINS = 10

#: "High continuity": UPC at or above this value.
HIGH_UPC = 0.75

#: Age bands (lower bound in years, label), age at the end of the window.
AGE_BANDS: tuple[tuple[int, str], ...] = ((0, "0–17"), (18, "18–44"), (45, "45–64"), (65, "65–79"), (80, "80+"))
UNKNOWN_AGE = "unknown"

#: Width of the log-scale bins of the dependence heat map, in decades.
DECADE_STEP = 0.25


def _date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def provider_ids(encounters: ibis.Table, clinicians: ibis.Table | None) -> dict[str, list[str]]:
    """Every clinician and practice id in the encounters and the clinicians table (for pseudonyms)."""
    out = {}
    for column in ("clinician_id", "practice_id"):
        parts = [encounters.select(id=encounters[column])]
        if clinicians is not None and column in clinicians.columns:
            parts.append(clinicians.select(id=clinicians[column].cast("string")))
        # ibis.union of one table is that table, duplicates and all: DISTINCT explicitly (10^8 ids otherwise).
        union = ibis.union(*parts).distinct()
        out[column] = union.filter(union.id.notnull()).id.to_pyarrow().to_pylist()
    return out


def overview(encounters: ibis.Table, *, settings=None, start=None, end=None) -> dict:
    """Counts of encounters, patients, visits, clinicians and practices in the window."""
    e = encounters_in_window(encounters, start=start, end=end)
    counts = (
        e.aggregate(
            encounters=e.count(),
            patients=e.patient_id.nunique(),
            clinicians=e.clinician_id.nunique(),
            practices=e.practice_id.nunique(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    v = visits(encounters, settings=settings, start=start, end=end)
    counts["visits"] = int(v.count().execute())
    counts["settings"] = normalize_settings(settings)
    return {k: (int(x) if isinstance(x, (int,)) else x) for k, x in counts.items()}


def histograms(patients: ibis.Table, indices=("upc", "coc", "secon")) -> pd.DataFrame:
    """Patients per tenth of each index: ``index, bin, lo, hi, patients`` (every bin, zeros included).

    Bin ``k`` holds values in ``[k/10, (k+1)/10)``; the last bin also holds 1.
    """
    parts = []
    for name in indices:
        x = patients[name]
        b = ibis.least((x * BINS).floor().cast("int64"), BINS - 1)
        counted = patients.filter(x.notnull()).group_by(bin=b).aggregate(patients=ibis._.count())
        parts.append(counted.mutate(index=ibis.literal(name)))
    got = ibis.union(*parts).to_pandas()
    full = pd.DataFrame([(i, k) for i in indices for k in range(BINS)], columns=["index", "bin"])
    out = full.merge(got, on=["index", "bin"], how="left").fillna({"patients": 0})
    out["patients"] = out["patients"].astype("int64")
    out["lo"] = out["bin"] / BINS
    out["hi"] = (out["bin"] + 1) / BINS
    return out


def high_upc(patients: ibis.Table, threshold: float = HIGH_UPC) -> dict:
    """Patients with a UPC (``included``) and those at or above ``threshold`` (``high``)."""
    row = (
        patients.aggregate(
            included=patients.upc.notnull().sum().cast("int64"),
            high=(patients.upc >= threshold).fill_null(False).sum().cast("int64"),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return {"included": int(row["included"] or 0), "high": int(row["high"] or 0), "threshold": threshold}


def age_bands(patients: ibis.Table, people: ibis.Table | None, as_of: dt.datetime) -> pd.DataFrame | None:
    """Continuity by age band: ``band, patients, mean_upc, high`` (patients with a UPC).

    Age is in whole years (days / 365.25) at ``as_of``; patients without a
    birth date (or missing from the patients table) form the band ``unknown``.
    Returns ``None`` when there is no patients table with birth dates.
    """
    if people is None or "birth_date" not in people.columns:
        return None
    born = people.group_by("patient_id").aggregate(birth_date=people.birth_date.min())
    p = patients.filter(patients.upc.notnull()).left_join(born, "patient_id")
    days = ibis.date(as_of.date()).delta(p.birth_date, unit="day")
    age = (days.cast("float64") / 365.25).floor().cast("int64")
    cases = [(age >= lo, label) for lo, label in reversed(AGE_BANDS)]
    band = ibis.ifelse(p.birth_date.isnull(), UNKNOWN_AGE, ibis.cases(*cases, else_=AGE_BANDS[0][1]))
    got = (
        p.mutate(band=band)
        .group_by("band")
        .aggregate(
            patients=ibis._.count(),
            mean_upc=ibis._.upc.mean(),
            high=(ibis._.upc >= HIGH_UPC).sum().cast("int64"),
        )
        .to_pandas()
    )
    order = [label for _lo, label in AGE_BANDS] + [UNKNOWN_AGE]
    full = pd.DataFrame({"band": order})
    out = full.merge(got, on="band", how="left").fillna({"patients": 0, "high": 0})
    out[["patients", "high"]] = out[["patients", "high"]].astype("int64")
    if not out.loc[out.band != UNKNOWN_AGE, "patients"].any():
        return None
    if out.loc[out.band == UNKNOWN_AGE, "patients"].iloc[0] == 0:
        out = out[out.band != UNKNOWN_AGE]
    return out.reset_index(drop=True)


def clinician_table(panel: ibis.Table, clinicians: ibis.Table | None = None, as_of=None) -> pd.DataFrame:
    """The clinician rows of :func:`~carethread.measures.panels.panels` that have a panel or patients.

    ``left`` marks a clinician whose ``active_to`` (in ``clinicians``) is
    before ``as_of``: someone who had left by the attribution date, whose
    attributed patients the report does not show as their panel.
    """
    wanted = [
        "clinician_id",
        "practice_id",
        "panel_size",
        "visits",
        "provider_side_continuity",
        "patient_side_continuity",
        "patients_seen",
        "visits_per_day",
        "capacity",
        "panel_vs_capacity",
    ]
    cols = [c for c in wanted if c in panel.columns]
    t = panel.filter((panel.panel_size > 0) | (panel.patients_seen > 0)).select(*cols)
    if clinicians is not None and "active_to" in clinicians.columns and as_of is not None:
        gone = clinicians.filter(clinicians.active_to < ibis.date(_date(as_of)))
        gone = gone.select(gone_id=gone.clinician_id.cast("string")).distinct()
        t = t.left_join(gone, t.clinician_id == gone.gone_id)
        t = t.mutate(left=t.gone_id.notnull()).drop("gone_id")
    else:
        t = t.mutate(left=ibis.literal(False))
    out = t.to_pandas()
    if "capacity" not in out:
        out["capacity"] = pd.NA
    return out


def relationship_counts(pairs: ibis.Table) -> dict:
    """Relationships (dyads), patients and clinicians in a :func:`~carethread.measures.dyads.dyads` table."""
    row = (
        pairs.aggregate(
            relationships=pairs.count(),
            patients=pairs.patient_id.nunique(),
            clinicians=pairs.clinician_id.nunique(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return {k: int(v or 0) for k, v in row.items()}


def dependence_bins(pairs: ibis.Table, step: float = DECADE_STEP) -> pd.DataFrame:
    """Relationships per cell of log10(clinician dependence) x log10(patient dependence).

    Cells are ``step`` decades wide: ``x_lo, x_hi, y_lo, y_hi`` are the cell
    edges as dependences (fractions), ``relationships`` the dyads in the cell.
    """
    d = pairs
    inv = 1.0 / step
    gx = (d.clinician_dependence.log10() * inv).floor().cast("int64")
    gy = (d.patient_dependence.log10() * inv).floor().cast("int64")
    # A dependence of exactly 1 belongs to the cell just below 10^0.
    gx = ibis.least(gx, -1)
    gy = ibis.least(gy, -1)
    got = d.group_by(gx=gx, gy=gy).aggregate(relationships=d.count()).to_pandas()
    got["x_lo"] = [10 ** (g / inv) for g in got.gx]
    got["x_hi"] = [10 ** ((g + 1) / inv) for g in got.gx]
    got["y_lo"] = [10 ** (g / inv) for g in got.gy]
    got["y_hi"] = [10 ** ((g + 1) / inv) for g in got.gy]
    got["relationships"] = got["relationships"].astype("int64")
    return got.sort_values(["gx", "gy"]).reset_index(drop=True)


def dependence_sides(pairs: ibis.Table) -> dict:
    """Relationships where the patient depends more on the clinician than the reverse, equally, or less.

    ``above``: patient dependence > clinician dependence (above the diagonal of
    the Pairs map), ``equal`` and ``below``, over every dyad.
    """
    pd_, cd = pairs.patient_dependence, pairs.clinician_dependence
    row = (
        pairs.aggregate(
            above=(pd_ > cd).sum().cast("int64"),
            equal=(pd_ == cd).sum().cast("int64"),
            below=(pd_ < cd).sum().cast("int64"),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return {k: int(v or 0) for k, v in row.items()}


def _dated_in(breaks: ibis.Table, start, end) -> ibis.Table:
    """The breaks dated in ``[start, end)`` (open sides when ``None``)."""
    b = breaks
    if start is not None:
        b = b.filter(b.break_date >= ibis.date(start.date()))
    if end is not None:
        b = b.filter(b.break_date < ibis.date(end.date()))
    return b


def breaks_in_window(breaks: ibis.Table, *, start=None, end=None) -> dict[str, int]:
    """Breaks dated in ``[start, end)`` by kind, and ``total`` (what who-needs-whom counts)."""
    b = _dated_in(breaks, start, end)
    rows = b.group_by("kind").aggregate(n=b.count()).to_pyarrow().to_pylist()
    got = {r["kind"]: int(r["n"]) for r in rows}
    out = {kind: got.get(kind, 0) for kind in BREAK_KINDS}
    out["total"] = sum(got.values())
    return out


def breaks_by_quarter(breaks: ibis.Table, *, by: str = "kind", start=None, end=None) -> pd.DataFrame:
    """Breaks per calendar quarter of ``break_date`` and ``by`` (``kind`` or ``cause``):
    ``quarter, quarter_start, <by>, breaks``.

    Every quarter between the first and last break and every kind (or cause)
    appear, zeros included, so a missing bar means zero, not missing data.
    """
    b = _dated_in(breaks, start, end)
    got = (
        b.group_by(quarter_start=b.break_date.cast("date").truncate("Q"), **{by: b[by]})
        .aggregate(breaks=b.count())
        .to_pandas()
    )
    if got.empty:
        return no_breaks(by)
    got["quarter_start"] = got["quarter_start"].map(_date)
    first, last = min(got.quarter_start), max(got.quarter_start)
    quarters = []
    q = first
    while q <= last:
        quarters.append(q)
        month = q.month + 3
        q = dt.date(q.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    known = BREAK_KINDS if by == "kind" else BREAK_CAUSES
    groups = list(known) + sorted(set(got[by].dropna()) - set(known))
    full = pd.DataFrame([(q, g) for q in quarters for g in groups], columns=["quarter_start", by])
    out = full.merge(got, on=["quarter_start", by], how="left").fillna({"breaks": 0})
    out["breaks"] = out["breaks"].astype("int64")
    out["quarter"] = out["quarter_start"].map(quarter)
    return out[["quarter", "quarter_start", by, "breaks"]]


def departed_clinicians(
    breaks: ibis.Table, clinicians: ibis.Table | None, span: Span, *, before_days: int = 92
) -> tuple[pd.DataFrame, pd.DataFrame] | tuple[None, None]:
    """Where patients went when their clinician left.

    Departed clinicians are those whose ``active_to`` falls inside the data's
    span. Their breaks dated from ``before_days`` before the departure on are
    counted by kind (``departed``: ``clinician_id, practice_id, active_to,
    kind, patients``) and, for moves to another clinician, by destination
    (``destinations``: ``clinician_id, to_clinician_id, same_practice,
    patients``). Returns ``(None, None)`` without a clinicians table with
    departure dates or without departures.
    """
    if clinicians is None or "active_to" not in clinicians.columns or span.first is None:
        return None, None
    c = clinicians
    gone = (
        c.filter(
            c.active_to.notnull(),
            c.active_to >= ibis.date(span.first),
            c.active_to <= ibis.date(span.last),
        )
        .select("clinician_id", "practice_id", "active_to")
        .distinct(on="clinician_id", keep="first")
    )
    j = breaks.inner_join(gone, breaks.from_clinician_id == gone.clinician_id)
    j = j.filter(j.break_date.cast("date") >= j.active_to - ibis.interval(days=before_days))
    by_kind = (
        j.group_by(clinician_id=j.from_clinician_id, practice_id=j.practice_id, active_to=j.active_to, kind=j.kind)
        .aggregate(patients=j.patient_id.nunique())
        .to_pandas()
    )
    if by_kind.empty:
        return None, None
    moved = j.filter(j.to_clinician_id.notnull())
    dest = (
        moved.group_by(clinician_id=moved.from_clinician_id, to_clinician_id=moved.to_clinician_id)
        .aggregate(patients=moved.patient_id.nunique(), same_practice=(moved.kind == "partner").any())
        .to_pandas()
    )
    by_kind["active_to"] = by_kind["active_to"].map(_date)
    return by_kind, dest


def _add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


TREND_COLUMNS = ["quarter", "quarter_end", "patients", "mean_upc", "mean_coc", "high"]


def trends(
    encounters: ibis.Table, span: Span, *, settings=None, min_visits: int = 2, years: int | None = 5
) -> tuple[pd.DataFrame, int]:
    """Continuity per calendar quarter of the latest ``years`` of data: UPC and COC over the 12 months up to its end.

    A trailing 12-month window is used when the data cover at least 15
    months (so there are several full windows); otherwise each quarter alone.
    Every quarter end from ``years`` before the last encounter (``None``:
    from the first) whose whole window lies inside the data is a row, in
    time order; a quarter whose window holds no patient with enough visits
    keeps its row with no values, so a chart shows a gap in time there, not
    a jump. Returns ``(table, window_months)`` with columns ``quarter,
    quarter_end, patients, mean_upc, mean_coc, high`` (``high`` = patients
    with UPC >= 0.75), patients with at least ``min_visits`` visits in the
    window.

    Visits are counted per patient, clinician and calendar quarter first;
    windows start and end on quarter boundaries, so summing a window's
    quarters gives its exact counts. The patients are taken in batches when
    the input is large (:func:`carethread.batches.plan`): each batch gives
    its patients' sums per window, which add up to the whole input's.
    """
    if span.first is None:
        return pd.DataFrame(columns=TREND_COLUMNS), 12
    first, last = span.first, span.last
    months = (last.year - first.year) * 12 + last.month - first.month
    window = 12 if months >= 15 else 3
    shown_from = _add_months(dt.date(last.year, last.month, 1), -12 * years) if years else first
    # Quarter ends (exclusive) whose whole window lies inside the data, in the years shown.
    q = dt.date(first.year, (first.month - 1) // 3 * 3 + 1, 1)
    ends = []
    while q <= last + dt.timedelta(days=1):
        lo = _add_months(q, -window)
        if lo >= first and q > first and q > shown_from:
            ends.append((lo, q))
        q = _add_months(q, 3)
    if not ends:
        return pd.DataFrame(columns=TREND_COLUMNS), window
    windows = ibis.memtable(
        {"lo": [lo for lo, _hi in ends], "hi": [hi for _lo, hi in ends]},
        schema={"lo": "date", "hi": "date"},
    )
    v = visits(encounters, settings=settings, start=ends[0][0], end=ends[-1][1])
    # Separable by patient: each batch's sums per window add up to the whole input's.
    n_batches = plan(encounters._find_backend(), int(encounters.count().execute()), "trends")
    parts = [_trend_sums(patient_batch(v, b, n_batches), windows, min_visits) for b in range(n_batches)]
    sums = pd.concat(parts, ignore_index=True).groupby("hi", as_index=False).sum()
    got = sums.assign(mean_upc=sums.sum_upc / sums.patients, mean_coc=sums.sum_coc / sums.patients).drop(
        columns=["sum_upc", "sum_coc"]
    )
    got["hi"] = got["hi"].map(_date)
    full = pd.DataFrame({"hi": [hi for _lo, hi in ends]})
    out = full.merge(got, on="hi", how="left").fillna({"patients": 0, "high": 0})
    out[["patients", "high"]] = out[["patients", "high"]].astype("int64")
    out["quarter"] = [quarter(hi - dt.timedelta(days=1)) for hi in out.hi]
    out = out.rename(columns={"hi": "quarter_end"})
    return out[TREND_COLUMNS], window


def _trend_sums(v: ibis.Table, windows: ibis.Table, min_visits: int) -> pd.DataFrame:
    """Per trend window (``hi``): patients with enough visits, their UPC and COC sums, and how many have high UPC."""
    per_quarter = v.group_by("patient_id", "clinician_id", q=v.visit_date.truncate("Q")).aggregate(n=ibis._.count())
    j = per_quarter.join(windows, [per_quarter.q >= windows.lo, per_quarter.q < windows.hi])
    pairs = j.group_by("hi", "patient_id", "clinician_id").aggregate(n=j.n.sum())
    per = pairs.group_by("hi", "patient_id").aggregate(
        big_n=pairs.n.sum(), top=pairs.n.max(), ssq=(pairs.n * pairs.n).sum()
    )
    per = per.filter(per.big_n >= max(min_visits, 2))
    nf = per.big_n.cast("float64")
    per = per.mutate(upc=per.top.cast("float64") / nf, coc=(per.ssq.cast("float64") - nf) / (nf * (nf - 1)))
    return (
        per.group_by("hi")
        .aggregate(
            patients=per.count(),
            sum_upc=per.upc.sum(),
            sum_coc=per.coc.sum(),
            high=(per.upc >= HIGH_UPC).sum().cast("int64"),
        )
        .to_pandas()
    )


def quarantine_by_reason(quarantine: ibis.Table) -> pd.DataFrame:
    """Rejected rows per source file and reason: ``source, reason, rows``."""
    q = quarantine
    out = q.group_by("source", "reason").aggregate(rows=q.count()).order_by("source", "reason").to_pandas()
    out["rows"] = out["rows"].astype("int64")
    return out
