"""The report's sections: plain-language takeaways, charts and tables as HTML.

Each ``*_section`` function takes the protected values
(:class:`~carethread.reporting.values.ReportValues`) and returns one
``<section>``, built from the blocks of :mod:`carethread.reporting.html`.
"""

from __future__ import annotations

from carethread import privacy as pv
from carethread.reporting import charts
from carethread.reporting.compute import HIGH_UPC, UNKNOWN_AGE
from carethread.reporting.departure import departure_section  # noqa: F401  (drawn by name, like the others)
from carethread.reporting.html import cell_count, count, esc, figure, section, table, window_text
from carethread.reporting.network import network_section  # noqa: F401  (drawn as sections.network_section)
from carethread.reporting.values import ReportValues
from carethread.wording import MISSING, about, day, is_missing, percent

#: Clinician bar charts show at most this many clinicians (largest panels first).
MAX_CLINICIAN_BARS = 40


# --- The answer ---------------------------------------------------------------------------


def _who_value(row, column: str, shown: ReportValues) -> str:
    """One value of the who-needs-whom table: shares as percentages, counts suppressed."""
    v = row.get(column)
    if row.get("suppressed"):
        return '<span class="count">&lt;11</span>' if column == "value" else MISSING
    if is_missing(v):
        return MISSING
    if row.get("kind") == "share":
        return esc(percent(v))
    if row.get("kind") == "count":
        return count(shown, round(v))
    return esc(about(v))


def answer_section(shown: ReportValues) -> str:
    w = shown.who_values
    pt, cl = w.get("patient_share_from_usual_clinician"), w.get("patient_share_of_usual_clinicians_work")
    takeaway = esc(shown.who_headline or "There are no visits in the window, so there is no relationship to describe.")
    body = []
    if pt is not None and cl is not None:
        body.append(
            figure(
                charts.render(charts.asymmetry_bars(pt, cl)),
                name="answer-asymmetry",
                takeaway="The same relationship, seen from each side",
                caption=(
                    "Top: how much of a typical patient's care comes from their usual clinician (median UPC over "
                    "patients with at least two visits). Bottom: how much of that clinician's work the same patient is "
                    f"(median over the same relationships). Over {esc(window_text(shown.span.lo, shown.span.hi))}."
                ),
            )
        )
    if shown.who_table is not None and len(shown.who_table):
        rows = []
        for r in shown.who_table.to_dict("records"):
            lo, hi = _who_value(r, "ci_low", shown), _who_value(r, "ci_high", shown)
            ci = f"{lo} to {hi}" if MISSING not in (lo, hi) else MISSING
            rows.append([esc(r.get("description") or r.get("name")), _who_value(r, "value", shown), ci])
        body.append("<h3>The numbers behind it</h3>")
        body.append(table(["measure", "value", "95% interval"], rows, numeric=(1, 2)))
        body.append('<p class="lede">Intervals: 2.5th and 97.5th percentiles of bootstrap resamples of patients.</p>')
    return section("answer", "The answer", takeaway, "".join(body))


# --- Patients -------------------------------------------------------------------------------


def patients_section(shown: ReportValues) -> str:
    hi = shown.high_upc
    included, high = hi["included"], hi["high"]
    if pv.share_is_safe(high, included, privacy=shown.privacy):
        takeaway = (
            f"{percent(high / included)} of patients with at least two visits saw one clinician for at least "
            f"three quarters of their visits (UPC ≥ {HIGH_UPC:g})."
        )
        big = f'<div class="big">{percent(high / included)}</div>'
    elif included:
        takeaway = (
            "Too few patients are on one side of the UPC ≥ 0.75 line to give a share without revealing a small count."
        )
        big = ""
    else:
        takeaway = "No patient has enough visits to measure continuity."
        big = ""
    body = [
        big,
        f'<p class="lede">Patients with a continuity score: {count(shown, included)}; with UPC ≥ {HIGH_UPC:g}: '
        f"{count(shown, high)}. Each score runs from 0 (every visit with someone different) to 1 (always the same "
        "clinician).</p>",
    ]
    h = shown.histograms
    svgs = []
    totals = (
        dict(zip(shown.continuity_summary["index"], shown.continuity_summary["patients_included"], strict=True))
        if len(shown.continuity_summary)
        else {}
    )
    for index in ("upc", "coc", "secon"):
        if index in set(h["index"]):
            sub = f"{shown.count(totals.get(index, 0))} patients"
            svgs.append(charts.render(charts.histogram(h, index, sub)))
    hidden_bins = int((h.state != pv.SHOWN).sum()) if len(h) else 0
    cap = (
        "Number of patients per tenth of each score. UPC: share of visits with the usual clinician "
        "(Breslau &amp; Reeb 1975); COC: chance that two visits are with the same clinician (Bice &amp; Boxerman "
        "1977); SECON: share of consecutive visits with the same clinician (Steinwachs 1979)."
    )
    if hidden_bins:
        cap += (
            " A grey triangle marks a bar hidden for privacy (fewer than 11 patients, or hidden so one cannot be "
            "worked out)."
        )
    med = shown.continuity_summary
    take_hist = ""
    if len(med):
        upc = med[med["index"] == "upc"]
        if len(upc) and pv.group_is_safe(int(upc.patients_included.iloc[0]), privacy=shown.privacy):
            take_hist = (
                f"The typical (median) patient saw their usual clinician at {percent(upc['median'].iloc[0])} of "
                f"visits; pooled over all visits, {percent(upc['pooled'].iloc[0])}."
            )
    body.append(
        figure(
            '<div class="grid3">' + "".join(svgs) + "</div>" if len(svgs) > 1 else "".join(svgs),
            caption=cap,
            takeaway=esc(take_hist),
            name="patients-histograms",
        )
    )
    body.append(_age_block(shown))
    return section("patients", "Patients", esc(takeaway), "".join(body))


def _age_block(shown: ReportValues) -> str:
    a = shown.age_bands
    if a is None:
        return (
            '<h3>Continuity by age</h3><p class="empty">The data have no patients table with birth dates, '
            "so continuity by age cannot be shown.</p>"
        )
    known = a[(a.band != UNKNOWN_AGE) & a.mean_upc.notna()]
    take = ""
    if len(known) >= 2:
        top = known.loc[known.mean_upc.idxmax()]
        low = known.loc[known.mean_upc.idxmin()]
        take = (
            f"Continuity is highest at ages {top.band} (mean UPC {percent(top.mean_upc)}) and lowest at ages "
            f"{low.band} ({percent(low.mean_upc)})."
        )
    rows = [
        [esc(r.band), cell_count(shown, r.patients, r.state), percent(r.mean_upc), percent(r.share_high)]
        for r in a.itertuples()
    ]
    svg = charts.render(charts.age_chart(a))
    return (
        "<h3>Continuity by age</h3>"
        + '<div class="grid2">'
        + figure(
            svg,
            takeaway=esc(take),
            name="patients-age",
            caption="Mean UPC by age at the end of the data; bands with fewer than 11 patients show no bar.",
        )
        + table(["age band", "patients", "mean UPC", f"UPC ≥ {HIGH_UPC:g}"], rows, numeric=(1, 2, 3))
        + "</div>"
    )


# --- Clinicians ------------------------------------------------------------------------------


def clinicians_section(shown: ReportValues) -> str:
    c = shown.clinicians
    n = len(c)
    hidden_note = ""
    if shown.clinicians_hidden:
        hidden_note = (
            f'<p class="note">{count(shown, shown.clinicians_hidden)} clinicians with fewer than 11 patients on '
            "their panel or seen are not shown.</p>"
        )
    if n == 0:
        return section("clinicians", "Clinicians", "No clinician has a panel of patients in this data.", hidden_note)
    with_cap = c.dropna(subset=["capacity"]) if "capacity" in c else c.iloc[0:0]
    over = int(((with_cap.panel_size.astype("Float64") > with_cap.capacity.astype("Float64")).fillna(False)).sum())
    sizes = c.panel_size.dropna()
    if len(sizes):
        takeaway = (
            f"{count(shown, n)} clinicians hold panels of {count(shown, int(sizes.min()))} to "
            f"{count(shown, int(sizes.max()))} patients"
            + (
                f"; {'none' if over == 0 else count(shown, over)} of the {count(shown, len(with_cap))} with a "
                "stated capacity are above it."
                if len(with_cap)
                else "."
            )
        )
    else:
        takeaway = f"{count(shown, n)} clinicians have panels; their sizes are hidden for privacy."
    limit_note = ""
    if n > MAX_CLINICIAN_BARS:
        limit_note = f" The {MAX_CLINICIAN_BARS} largest panels are shown."
    body = [hidden_note, '<div class="grid2">']
    body.append(
        figure(
            charts.render(charts.panel_vs_capacity(c, MAX_CLINICIAN_BARS)),
            takeaway="Panel size against capacity",
            caption=(
                "Bars: patients attributed to each clinician (most visits over the "
                f"{shown.span.lookback_months} months before {day(shown.span.as_of)}"
                + (f"; {count(shown, shown.attributed)} patients in all). " if shown.attributed is not None else "). ")
                + ("Black ticks: the clinician's stated capacity." if len(with_cap) else "No capacity in the data.")
                + limit_note
            ),
            name="clinicians-panels",
        )
    )
    body.append(
        figure(
            charts.render(charts.two_sides(c, labels=n <= 12)),
            takeaway="Continuity seen from both sides",
            caption=(
                "One point per clinician. Across: how much of the panel's care the clinician gives (patient side); "
                "up: how much of the clinician's work is with their own panel (clinician side). Dashed: equal."
            ),
            name="clinicians-two-sides",
        )
    )
    body.append("</div>")
    held = charts.clinician_bars(c, "patients_seen", "patients seen (relationships held)", MAX_CLINICIAN_BARS)
    per_day = charts.clinician_bars(c, "visits_per_day", "visits per working day", MAX_CLINICIAN_BARS, fmt=".1f")
    body.append(
        '<div class="grid2">'
        + figure(
            charts.render(held),
            takeaway="Relationships held",
            name="clinicians-relationships",
            caption="Distinct patients each clinician saw in the current window.",
        )
        + figure(
            charts.render(per_day),
            takeaway="Visits per day",
            name="clinicians-load",
            caption="Visits divided by the days on which the clinician had at least one visit.",
        )
        + "</div>"
    )
    return section("clinicians", "Clinicians", takeaway, "".join(body))


# --- Pairs ----------------------------------------------------------------------------------


def pairs_section(shown: ReportValues) -> str:
    d, r = shown.dependence_bins, shown.relationships
    if not len(d):
        return section("pairs", "Pairs", "No patient–clinician relationship in this data.", "")
    w = shown.who_values
    pt, cl = w.get("patient_share_from_usual_clinician"), w.get("patient_share_of_usual_clinicians_work")
    if pt and cl:
        takeaway = (
            f"Every relationship is lopsided: a typical patient depends on their usual clinician about "
            f"{about(pt / cl)} times more than the clinician depends on them ({percent(pt)} against {percent(cl)})."
        )
    else:
        takeaway = "Relationships are lopsided: patients depend on clinicians far more than the reverse."
    hidden = int((d.state != pv.SHOWN).sum())
    cap = (
        f"All {count(shown, r.get('relationships'))} patient–clinician relationships of "
        f"{esc(window_text(shown.span.lo, shown.span.hi))}, by how much of the clinician's visits the patient is "
        "(across) and how much of the patient's visits the clinician is (up), both on logarithmic scales. Darker "
        "cells hold more relationships. Every cell lies far above the dashed line of equal dependence."
    )
    if hidden:
        cap += " Cells with fewer than 11 relationships (or that would reveal one) are left blank."
    return section(
        "pairs", "Pairs", esc(takeaway), figure(charts.render(charts.dependence_map(d)), caption=cap, name="pairs-map")
    )


# --- Breaks ---------------------------------------------------------------------------------


def breaks_section(shown: ReportValues) -> str:
    b, kinds = shown.breaks_by_quarter, shown.break_kinds
    if not len(b):
        return section("breaks", "Breaks", "No relationship broke in this data.", _departed_block(shown))
    total = kinds.attrs.get("total", 0)
    parts = []
    for r in kinds.itertuples():
        if not is_missing(r.share):
            parts.append(f"{percent(r.share)} {charts.KIND_LABELS.get(r.kind, r.kind)}")
    takeaway = f"{shown.count(total)} relationships broke over the period"
    takeaway += (": " + ", ".join(parts) + ".") if parts else "."
    rows = [
        [esc(charts.KIND_LABELS.get(r.kind, r.kind)), cell_count(shown, r.breaks, r.state), percent(r.share)]
        for r in kinds.itertuples()
    ]
    hidden = int((b.state != pv.SHOWN).sum())
    cap = (
        "A break: the clinician a patient is attributed to (most visits over the trailing "
        f"{shown.span.lookback_months} months) changes between quarters; dated by the first visit that made it."
    )
    cap += (
        " Emergency-only and lost relationships are recognised only after months without a visit, so the "
        "latest quarters undercount them."
    )
    if hidden:
        cap += " Segments with fewer than 11 breaks (or that would reveal one) are not drawn."
    body = (
        '<div class="grid2">'
        + figure(
            charts.render(charts.breaks_per_quarter(b)),
            caption=cap,
            name="breaks-quarters",
            takeaway="Breaks per quarter, by where the patient went",
        )
        + "<div><h3>Over the whole period</h3>"
        + table(["where the patient went", "breaks", "share"], rows, numeric=(1, 2))
        + "</div></div>"
        + _departed_block(shown)
    )
    return section("breaks", "Breaks", esc(takeaway), body)


def _departed_block(shown: ReportValues) -> str:
    d = shown.departed
    if d is None or not len(d):
        return (
            '<h3>When a clinician left</h3><p class="empty">No clinician left during the period '
            "(or the data have no clinician departure dates).</p>"
        )
    stayed = d[d.kind == "partner"].patients.dropna().sum()
    totals = d.drop_duplicates("label").total.dropna()
    total = int(totals.sum()) if len(totals) else 0
    take = "When clinicians left, their patients' relationships broke as shown."
    if (
        total
        and pv.share_is_safe(int(stayed), total, privacy=shown.privacy)
        and d[d.kind == "partner"].state.eq(pv.SHOWN).all()
        and d.drop_duplicates("label").total.notna().all()
    ):
        take = (
            f"When clinicians left, {percent(stayed / total)} of their patients whose relationship broke moved to a "
            "colleague in the same practice."
        )
    dest = shown.departed_destinations
    rows = []
    if dest is not None and len(dest):
        for r in dest.itertuples():
            where = (
                "same practice" if r.same_practice is True else ("another practice" if r.same_practice is False else "")
            )
            rows.append([esc(r.label), esc(r.to), esc(where), cell_count(shown, r.patients, r.state)])
    cap = (
        "Patients of each clinician who left, by where their care went from three months before the departure "
        "on; hidden segments (fewer than 11) are not drawn."
    )
    return (
        "<h3>When a clinician left</h3>"
        + '<div class="grid2">'
        + figure(charts.render(charts.departed_chart(d)), takeaway=esc(take), caption=cap, name="breaks-departed")
        + (
            "<div><h4>Who took over</h4>"
            + table(["clinician who left", "patients moved to", "", "patients"], rows, numeric=(3,))
            + "</div>"
            if rows
            else ""
        )
        + "</div>"
    )


# --- Trends ---------------------------------------------------------------------------------


def trends_section(shown: ReportValues) -> str:
    t = shown.trends
    usable = t.dropna(subset=["mean_upc"]) if len(t) else t
    if len(usable) < 2:
        return section(
            "trends",
            "Trends",
            "The data cover too short a period to show a trend.",
            '<p class="empty">Trends need at least two quarters with enough patients.</p>',
        )
    first, last = usable.iloc[0], usable.iloc[-1]
    change = last.mean_upc - first.mean_upc
    direction = "stayed about the same" if abs(change) < 0.01 else ("rose" if change > 0 else "fell")
    takeaway = (
        f"Mean UPC {direction}: {percent(first.mean_upc)} in {first.quarter} and {percent(last.mean_upc)} in "
        f"{last.quarter}."
    )
    months = shown.trend_window_months
    cap = (
        f"Each point summarises patients with at least two visits in the {months} months up to the end of the "
        "quarter. Points for fewer than 11 patients are left out."
    )
    rows = [
        [esc(r.quarter), cell_count(shown, r.patients), percent(r.mean_upc), percent(r.mean_coc), percent(r.share_high)]
        for r in t.itertuples()
    ]
    body = (
        '<div class="grid2">'
        + figure(charts.render(charts.trend_chart(t, months)), caption=cap, name="trends-quarters")
        + table(["quarter", "patients", "mean UPC", "mean COC", f"UPC ≥ {HIGH_UPC:g}"], rows, numeric=(1, 2, 3, 4))
        + "</div>"
    )
    return section("trends", "Trends", esc(takeaway), body)
