"""From exact aggregates to what a shared report may show (docs/definitions.md, *Privacy*).

:func:`protect` turns exact :class:`~carethread.reporting.values.ReportValues`
into a protected copy: every count that may not be shown is replaced by ``None`` and
flagged with its suppression state (``small`` = 1-10, ``complementary`` =
hidden so a small count cannot be worked out from a total); statistics of
groups under 11 are dropped; clinicians and practices get keyed pseudonyms.
Charts and tables are built from the protected copy only, so an exact small
count never reaches the HTML file — not even in chart data. The few single
numbers it keeps exact (patients, visits, relationships, totals) are written
only through :meth:`~carethread.reporting.values.ReportValues.count`.

Which totals are treated as shown (and so trigger complementary suppression):

* histogram bins → patients with that index (shown in the caption);
* age bands → patients with a UPC;
* clinicians' panel sizes → attributed patients;
* dependence cells → relationships;
* breaks: each kind's column over quarters → that kind's total, and the kind
  totals → all breaks (quarter totals are not shown: a stack is only the sum
  of its drawn segments);
* departed clinicians: each clinician's row of kinds → their total, and the
  destinations of the patients who moved → that clinician's moved patients;
* quarantine reasons per file → the file's quarantined rows.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from carethread import privacy as pv
from carethread.reporting.compute import BREAK_KINDS
from carethread.reporting.values import ReportValues
from carethread.wording import quarter


def _states(values, *, total_shown: bool, privacy: bool, hidden=()) -> list[str]:
    """States of one line; if even then its shown total would give a cell away, withhold every cell."""
    if not privacy:
        return [pv.SHOWN] * len(values)
    values = [int(v) for v in values]
    states = pv.suppress_group(values, total_shown=total_shown, hidden=hidden)
    if total_shown and not pv.total_is_safe(values, states):
        states = [pv.WITHHELD] * len(values)
    return states


def _apply(df: pd.DataFrame, column: str, states: list[str]) -> pd.DataFrame:
    df = df.copy()
    df["state"] = states
    df[column] = [int(v) if s == pv.SHOWN else None for v, s in zip(df[column], states, strict=True)]
    df[column] = df[column].astype("Int64")
    return df


def _histograms(h: pd.DataFrame, privacy: bool) -> pd.DataFrame:
    parts = []
    for _name, group in h.groupby("index", sort=False):
        parts.append(_apply(group, "patients", _states(group.patients, total_shown=True, privacy=privacy)))
    return pd.concat(parts, ignore_index=True) if parts else h.assign(state=[])


def _age_bands(a: pd.DataFrame | None, privacy: bool) -> pd.DataFrame | None:
    if a is None:
        return None
    exact = a.copy()
    out = _apply(a, "patients", _states(a.patients, total_shown=True, privacy=privacy))
    out["mean_upc"] = [
        m if pv.group_is_safe(n, privacy=privacy) else None for m, n in zip(exact.mean_upc, exact.patients, strict=True)
    ]
    out["share_high"] = [
        h / n if pv.group_is_safe(n, privacy=privacy) and pv.share_is_safe(h, n, privacy=privacy) else None
        for h, n in zip(exact.high, exact.patients, strict=True)
    ]
    return out.drop(columns=["high"])


def _clinicians(
    c: pd.DataFrame, privacy: bool, clinician_label, practice_label
) -> tuple[pd.DataFrame, int, int | None, int | None]:
    """Clinicians as shown, the number left out as too small, the attributed total and left clinicians' patients.

    A clinician who had left by the attribution date (``left``) holds no
    panel in the report: their attributed patients are counted apart, in
    ``left_panels`` (``None`` when small), not as a panel size.
    """
    c = c.copy()
    left = c["left"].fillna(False).astype(bool) if "left" in c else pd.Series(False, index=c.index)
    holding = [int(v) for v in c.panel_size[~left]]
    left_panels = int(c.panel_size[left].sum())
    if privacy and pv.is_small(left_panels):
        left_panels = None
    attributed = sum(holding)
    states = pv.suppress_group(holding) if privacy else [pv.SHOWN] * len(holding)
    if privacy and not pv.total_is_safe(holding, states):
        attributed = None  # the total would give a hidden panel size away: do not show it
    panel_states = iter(states)
    all_states = [pv.SHOWN if gone else next(panel_states) for gone in left]
    small = [privacy and (pv.is_small(p) or pv.is_small(s)) for p, s in zip(c.panel_size, c.patients_seen, strict=True)]
    c = _apply(c, "panel_size", all_states)
    c.loc[left.values, "panel_size"] = pd.NA
    c["left"] = left.values
    c["patients_seen"] = [None if privacy and pv.is_small(s) else int(s) for s in c.patients_seen]
    c["patients_seen"] = c["patients_seen"].astype("Int64")
    c["visits"] = [None if privacy and pv.is_small(v) else int(v) for v in c.visits]
    c["visits"] = c["visits"].astype("Int64")
    c["label"] = [clinician_label(x) for x in c.clinician_id]
    c["practice"] = [
        practice_label(x) if x is not None and not pd.isna(x) else "unknown practice" for x in c.practice_id
    ]
    c = c.loc[[not s for s in small]]  # .loc: an empty list keeps the columns (c[[]] would drop them)
    hidden = sum(small)
    keep = [
        "label",
        "practice",
        "panel_size",
        "state",
        "left",
        "capacity",
        "provider_side_continuity",
        "patient_side_continuity",
        "patients_seen",
        "visits_per_day",
    ]
    c = c[keep].sort_values(["practice", "label"]).reset_index(drop=True)
    return c, hidden, attributed, left_panels


def _dependence(bins: pd.DataFrame, privacy: bool) -> pd.DataFrame:
    if bins.empty:
        return bins.assign(state=[])
    return _apply(bins, "relationships", _states(bins.relationships, total_shown=True, privacy=privacy))


def _breaks(b: pd.DataFrame, privacy: bool, by: str = "kind") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Breaks per quarter by ``by`` (kind or cause) and over the whole period, small counts suppressed.

    A quarter's total follows from the other breakdown wherever that one
    shows the whole quarter, so each breakdown is protected as if its
    quarter totals were shown too: no hidden cell can be recovered from the
    two charts together.
    """
    if b.empty:
        return b.assign(state=[]), pd.DataFrame(columns=[by, "breaks", "state", "share"])
    groups = list(dict.fromkeys(b[by]))
    quarters = list(dict.fromkeys(b.quarter))
    wide = b.pivot(index="quarter", columns=by, values="breaks").loc[quarters, groups]
    matrix = [[int(v) for v in row] for row in wide.values.tolist()]
    bad_groups = []
    if privacy:
        states = pv.suppress_table(matrix, row_totals=True, column_totals=True)
        _rows, bad_columns = pv.unsafe_totals(matrix, states, row_totals=False)
        bad_groups = [j for j, bad in enumerate(bad_columns) if bad]
    else:
        states = [[pv.SHOWN] * len(groups) for _ in quarters]
    lookup = {(q, g): states[i][j] for i, q in enumerate(quarters) for j, g in enumerate(groups)}
    out = b.copy()
    out["state"] = [lookup[(q, g)] for q, g in zip(out.quarter, out[by], strict=True)]
    out["breaks"] = [int(v) if s == pv.SHOWN else None for v, s in zip(out.breaks, out.state, strict=True)]
    out["breaks"] = out["breaks"].astype("Int64")
    totals = b.groupby(by, sort=False).breaks.sum().reindex(groups).fillna(0).astype("int64")
    grand = int(totals.sum())
    gt = pd.DataFrame({by: groups, "breaks": totals.values})
    gt = _apply(gt, "breaks", _states(gt.breaks, total_shown=True, privacy=privacy, hidden=bad_groups))
    gt["share"] = [
        (v / grand) if s == pv.SHOWN and pv.share_is_safe(int(v), grand, privacy=privacy) else None
        for v, s in zip(totals.values, gt.state, strict=True)
    ]
    gt.attrs["total"] = grand
    return out, gt


def _departed(by_kind, dest, privacy: bool, clinician_label, practice_label):
    if by_kind is None:
        return None, None
    kinds = [k for k in BREAK_KINDS if k in set(by_kind.kind)] + sorted(set(by_kind.kind) - set(BREAK_KINDS))
    who = by_kind.drop_duplicates("clinician_id").sort_values("active_to")
    wide = by_kind.pivot_table(index="clinician_id", columns="kind", values="patients", aggfunc="sum", fill_value=0)
    wide = wide.reindex(index=list(who.clinician_id), columns=kinds, fill_value=0)
    matrix = [[int(v) for v in row] for row in wide.values.tolist()]
    bad_rows = [False] * len(matrix)
    if privacy:
        states = pv.suppress_table(matrix, row_totals=True, column_totals=False)
        bad_rows, _columns = pv.unsafe_totals(matrix, states, column_totals=False)
    else:
        states = [[pv.SHOWN] * len(kinds) for _ in matrix]
    rows = []
    for i, (_idx, person) in enumerate(who.iterrows()):
        total = int(sum(matrix[i]))
        if bad_rows[i] or (privacy and pv.is_small(total)):
            total = None
        left = person.active_to
        label = clinician_label(person.clinician_id)
        for j, kind in enumerate(kinds):
            n, s = int(matrix[i][j]), states[i][j]
            rows.append(
                {
                    "label": label,
                    "practice": practice_label(person.practice_id)
                    if person.practice_id is not None
                    else "unknown practice",
                    "left": quarter(left),
                    "total": total,
                    "kind": kind,
                    "patients": n if s == pv.SHOWN else None,
                    "state": s,
                }
            )
    shown = pd.DataFrame(rows)
    shown["patients"] = shown["patients"].astype("Int64")
    shown["total"] = shown["total"].astype("Int64")

    dest_rows = []
    if dest is not None and not dest.empty:
        for clinician, group in dest.groupby("clinician_id", sort=False):
            group = group.sort_values(["patients", "to_clinician_id"], ascending=[False, True])
            top, rest = group.head(5), group.iloc[5:]
            values = list(top.patients) + ([int(rest.patients.sum())] if len(rest) else [])
            names = [clinician_label(x) for x in top.to_clinician_id] + (["other clinicians"] if len(rest) else [])
            same = list(top.same_practice) + ([None] if len(rest) else [])
            sts = _states(values, total_shown=True, privacy=privacy)
            for name, n, s, sp in zip(names, values, sts, same, strict=True):
                dest_rows.append(
                    {
                        "label": clinician_label(clinician),
                        "to": name,
                        "same_practice": sp,
                        "patients": int(n) if s == pv.SHOWN else None,
                        "state": s,
                    }
                )
    destinations = pd.DataFrame(dest_rows, columns=["label", "to", "same_practice", "patients", "state"])
    destinations["patients"] = destinations["patients"].astype("Int64")
    return shown, destinations


def _trends(t: pd.DataFrame, privacy: bool) -> pd.DataFrame:
    out = t.copy()
    safe = [pv.group_is_safe(n, privacy=privacy) for n in t.patients]
    out["mean_upc"] = [m if ok else None for m, ok in zip(t.mean_upc, safe, strict=True)]
    out["mean_coc"] = [m if ok else None for m, ok in zip(t.mean_coc, safe, strict=True)]
    out["share_high"] = [
        h / n if ok and pv.share_is_safe(h, n, privacy=privacy) else None
        for h, n, ok in zip(t.high, t.patients, safe, strict=True)
    ]
    out["patients"] = [None if privacy and pv.is_small(n) else int(n) for n in t.patients]
    out["patients"] = out["patients"].astype("Int64")
    return out.drop(columns=["high"])


def _reads(counts, privacy: bool) -> list[dict]:
    """Reconciliation per source without revealing a small accepted or quarantined count."""
    rows = []
    for c in counts:
        read, accepted, quarantined = c.read, c.accepted, c.quarantined
        if privacy and pv.is_small(quarantined):
            shown = {"read": pv.suppress(read), "accepted": "all but <11", "quarantined": pv.SMALL}
        elif privacy and pv.is_small(accepted):
            shown = {"read": pv.suppress(read), "accepted": pv.SMALL, "quarantined": "all but <11"}
        else:
            shown = {
                k: pv.suppress(v, privacy=privacy)
                for k, v in (("read", read), ("accepted", accepted), ("quarantined", quarantined))
            }
        rows.append({"source": c.source, **shown})
    return rows


def _quarantine(q: pd.DataFrame, privacy: bool) -> pd.DataFrame:
    parts = []
    for _source, group in q.groupby("source", sort=False):
        parts.append(_apply(group, "rows", _states(group.rows, total_shown=True, privacy=privacy)))
    if not parts:
        return q.assign(state=[])
    return pd.concat(parts, ignore_index=True)


#: Who-needs-whom measures shown in the Breaks section instead (over the whole span).
_WHO_ELSEWHERE = ("breaks_",)


def measure_kind(name: str) -> str:
    """How a who-needs-whom measure is written: ``share`` (a percentage), ``count`` or ``number``.

    A typical number of patients (``patients_per_clinician``) is the size of
    a real group of patients, so it is treated as a count.

    >>> measure_kind("patient_share_from_usual_clinician"), measure_kind("breaks_lost")
    ('share', 'count')
    >>> measure_kind("patients_per_clinician"), measure_kind("clinicians_per_patient")
    ('count', 'number')
    """
    lowered = str(name).lower()
    if "share" in lowered or "continuity" in lowered or "dependence" in lowered:
        return "share"
    if lowered.startswith(("n_", "breaks_", "patients")) or lowered.endswith(("_count", "_total")):
        return "count"
    return "number"


def _who(who, privacy: bool) -> tuple[str | None, pd.DataFrame | None, dict]:
    """Headline, table and plain values of the who-needs-whom summary, counts suppressed.

    A count (``measure_kind`` = ``count``) from 1 to 10 is hidden, and so are
    its interval bounds when they are 1 to 10. Shares and medians are
    statistics over many patients and stay — unless fewer than 11 patients
    have enough visits for them, when they are hidden too, with the headline.
    """
    if who is None:
        return None, None, {}
    few = privacy and not pv.group_is_safe(getattr(who, "counts", {}).get("patients_with_enough_visits", pv.THRESHOLD))
    table = who.table
    table = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
    table = table[~table["name"].str.startswith(_WHO_ELSEWHERE)].copy().reset_index(drop=True)
    table["kind"] = [measure_kind(n) for n in table.name]
    raw = [None if v is None or pd.isna(v) else float(v) for v in table["value"]]
    table["suppressed"] = [
        privacy and k == "count" and v is not None and pv.is_small(round(v))
        for k, v in zip(table.kind, raw, strict=True)
    ]
    for col in ("value", "ci_low", "ci_high"):
        cleaned = []
        for v, kind in zip(table[col], table.kind, strict=True):
            v = None if v is None or pd.isna(v) else float(v)
            if privacy and kind == "count" and v is not None and pv.is_small(round(v)):
                v = None
            cleaned.append(v)
        table[col] = pd.Series(cleaned, dtype="object")
    if few:
        for col in ("value", "ci_low", "ci_high"):
            table[col] = [None if k != "count" else v for v, k in zip(table[col], table.kind, strict=True)]
        headline = (
            "Fewer than 11 patients had enough visits to compare the two sides of the relationship "
            "without revealing a small group."
        )
        population = getattr(who, "population", None)
        if population is not None and population.is_sample:
            from carethread.summary.population import no_verdict

            headline = (
                no_verdict(population, None, None)
                + " Fewer than 11 patients had enough visits to show the patient side without revealing a small group."
            )
    else:
        headline = pv.redact_text(str(who.headline), privacy=privacy) if getattr(who, "headline", None) else None
    values = {n: v for n, v, k in zip(table.name, table.value, table.kind, strict=True) if k != "count"}
    return headline, table, values


def protect(values: ReportValues, *, privacy: bool, clinician_label, practice_label) -> ReportValues:
    """A copy of exact ``values`` with suppression and pseudonyms applied (see the module docstring)."""
    c = values
    clinicians, hidden, attributed, left_panels = _clinicians(c.clinicians, privacy, clinician_label, practice_label)
    breaks, kinds = _breaks(c.breaks_by_quarter, privacy)
    by_cause, causes = _breaks(c.breaks_by_cause, privacy, by="cause")
    departed, destinations = _departed(c.departed, c.departed_destinations, privacy, clinician_label, practice_label)
    headline, who_table, who_values = _who(c.who, privacy)
    return dataclasses.replace(
        c,
        privacy=privacy,
        histograms=_histograms(c.histograms, privacy),
        age_bands=_age_bands(c.age_bands, privacy),
        clinicians=clinicians,
        clinicians_hidden=hidden,
        attributed=attributed,
        left_panels=left_panels,
        dependence_bins=_dependence(c.dependence_bins, privacy),
        breaks_by_quarter=breaks,
        break_kinds=kinds,
        breaks_by_cause=by_cause,
        break_causes=causes,
        departed=departed,
        departed_destinations=destinations,
        trends=_trends(c.trends, privacy),
        reads=_reads(c.reads, privacy),
        quarantine=_quarantine(c.quarantine, privacy),
        who=None,
        who_headline=headline,
        who_table=who_table,
        who_values=who_values,
        remarks=[pv.redact_text(r, privacy=privacy) for r in c.remarks],
    )
