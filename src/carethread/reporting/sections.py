"""The report's sections of the current picture: the answer, patients, clinicians and pairs.

Each ``*_section`` function takes the protected values
(:class:`~carethread.reporting.values.ReportValues`) and returns one
``<section>``, built from the blocks of :mod:`carethread.reporting.html`.
Every sentence is written from the same numbers as the chart or table
beside it, so the words cannot contradict the picture: the direction of
the answer, the share of relationships above the line of equal dependence,
which clinicians are shown and why others are not. On a sample of patients
(:mod:`carethread.summary.population`) the clinician side says it is not
measurable, and why. The sections over time are in
:mod:`carethread.reporting.over_time`.
"""

from __future__ import annotations

from carethread import privacy as pv
from carethread.reporting import charts
from carethread.reporting.compute import UNKNOWN_AGE
from carethread.reporting.departure import departure_section
from carethread.reporting.html import cell_count, count, esc, figure, section, table
from carethread.reporting.network import network_section
from carethread.reporting.over_time import HIGH, breaks_section, trends_section
from carethread.reporting.values import ReportValues
from carethread.summary.population import NOT_MEASURABLE
from carethread.wording import MISSING, about, day, is_missing, percent

__all__ = [
    "answer_section",
    "breaks_section",
    "clinicians_section",
    "departure_section",
    "network_section",
    "pairs_section",
    "patients_section",
    "trends_section",
]

#: Clinician bar charts show at most this many clinicians (largest panels first).
MAX_CLINICIAN_BARS = 40

PT, CL = "patient_share_from_usual_clinician", "patient_share_of_usual_clinicians_work"


def _is_sample(shown: ReportValues) -> bool:
    return shown.population is not None and shown.population.is_sample


def _sample_note(shown: ReportValues) -> str:
    return f'<p class="note">{esc(shown.population.reason())}</p>'


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


def interval_text(low: str, high: str) -> str:
    """The interval as written: ``12 % to 15 %``, ``exactly 88 %`` when both ends read the same.

    >>> interval_text("12 %", "15 %"), interval_text("88 %", "88 %"), interval_text("—", "4 %")
    ('12 % to 15 %', 'exactly 88 %', '—')
    """
    if MISSING in (low, high):
        return MISSING
    return f"exactly {low}" if low == high else f"{low} to {high}"


def answer_section(shown: ReportValues) -> str:
    w = shown.who_values
    pt, cl = w.get(PT), w.get(CL)
    takeaway = esc(shown.who_headline or "There are no visits in the window, so there is no relationship to describe.")
    body = [_sample_note(shown)] if _is_sample(shown) else []
    if pt is not None and cl is not None:
        body.append(
            figure(
                charts.render(charts.asymmetry_bars(pt, cl)),
                name="answer-asymmetry",
                takeaway=esc(f"The same relationships, seen from each side: {percent(pt)} against {percent(cl)}"),
                caption=(
                    "Top: how much of a typical patient's care comes from their usual clinician (median UPC over "
                    f"patients with at least {shown.min_visits} visits). Bottom: how much of that clinician's work "
                    f"the same patient is (median over the same relationships). Over "
                    f"{esc(shown.windows['current'].span())}."
                ),
            )
        )
    if shown.who_table is not None and len(shown.who_table):
        rows = []
        for r in shown.who_table.to_dict("records"):
            if not is_missing(r.get("note")):
                value, ci = f'<span class="wrap">{esc(r["note"])}</span>', MISSING
            else:
                value = _who_value(r, "value", shown)
                ci = interval_text(_who_value(r, "ci_low", shown), _who_value(r, "ci_high", shown))
            rows.append([esc(r.get("description") or r.get("name")), value, ci])
        body.append("<h3>The numbers behind it</h3>")
        body.append(table(["measure", "value", "95% interval"], rows, numeric=(1, 2)))
        body.append(
            '<p class="lede">Intervals: 2.5th and 97.5th percentiles of bootstrap resamples of patients; '
            "“exactly” where every resample gave the same value.</p>"
        )
    return section("answer", "The answer", takeaway, "".join(body))


# --- Patients -------------------------------------------------------------------------------


def patients_section(shown: ReportValues) -> str:
    hi = shown.high_upc
    included, high = hi["included"], hi["high"]
    at_least = f"at least {shown.min_visits} visits"
    if pv.share_is_safe(high, included, privacy=shown.privacy):
        takeaway = (
            f"{percent(high / included)} of patients with {at_least} saw one clinician for at least "
            f"three quarters of their visits ({HIGH})."
        )
        big = f'<div class="big">{percent(high / included)}</div>'
    elif included:
        takeaway = (
            f"Too few patients are on one side of the {HIGH} line to give a share without revealing a small count."
        )
        big = ""
    else:
        takeaway = "No patient has enough visits to measure continuity."
        big = ""
    body = [
        big,
        f'<p class="lede">Patients with a continuity score: {count(shown, included)}; with {HIGH}: '
        f"{count(shown, high)}. Each score runs from 0 % (every visit with someone different) to 100 % (always the "
        "same clinician).</p>",
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
            if top.mean_upc - low.mean_upc >= 0.02
            else f"Continuity is about the same at every age: mean UPC {percent(low.mean_upc)} to "
            f"{percent(top.mean_upc)}."
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
        + table(["age band", "patients", "mean UPC", HIGH], rows, numeric=(1, 2, 3))
        + "</div>"
    )


# --- Clinicians ------------------------------------------------------------------------------


def _clinicians_takeaway(shown: ReportValues, c, with_cap) -> str:
    holding = c[c.panel_size.notna() & ~c.left]
    sizes = holding.panel_size
    if not len(sizes):
        return f"{count(shown, len(c))} clinicians are shown; their panel sizes are hidden for privacy."
    over = int(((with_cap.panel_size.astype("Float64") > with_cap.capacity.astype("Float64")).fillna(False)).sum())
    text = (
        f"{count(shown, len(holding))} clinicians hold panels of {count(shown, int(sizes.min()))} to "
        f"{count(shown, int(sizes.max()))} patients"
    )
    if len(with_cap):
        text += f"; {'none' if over == 0 else count(shown, over)} of the {count(shown, len(with_cap))} with a "
        text += "stated capacity are above it"
    return text + "."


def clinicians_section(shown: ReportValues) -> str:
    if _is_sample(shown):
        return section(
            "clinicians",
            "Clinicians",
            "Panels, clinician-side continuity and workloads are "
            + NOT_MEASURABLE
            + ": they need each clinician's whole workload.",
            _sample_note(shown),
        )
    c = shown.clinicians
    n = len(c)
    hidden_note = ""
    if shown.clinicians_hidden:
        hidden_note = (
            f'<p class="note">{count(shown, shown.clinicians_hidden)} clinicians with fewer than 11 patients on '
            "their panel or seen are not shown.</p>"
        )
    if n == 0:
        takeaway = (
            f"All {count(shown, shown.clinicians_hidden)} clinicians have fewer than 11 patients on their panel or "
            "seen, so none is shown."
            if shown.clinicians_hidden
            else "No clinician has a panel of patients or a visit in this data."
        )
        return section("clinicians", "Clinicians", takeaway, hidden_note)
    with_cap = c[~c.left].dropna(subset=["capacity"]) if "capacity" in c else c.iloc[0:0]
    limit_note = f" The {MAX_CLINICIAN_BARS} largest panels are shown." if n > MAX_CLINICIAN_BARS else ""
    left = c[c.left]
    left_note = ""
    if len(left):
        left_note = (
            f" {count(shown, len(left))} clinicians had left by {day(shown.span.as_of)}: they hold no panel, and "
            + (
                f"the {count(shown, shown.left_panels)} patients whose last visits were with them are nobody's panel "
                "here."
                if shown.left_panels is not None
                else "the patients whose last visits were with them are nobody's panel here."
            )
        )
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
                + left_note
                + limit_note
            ),
            name="clinicians-panels",
        )
    )
    holding = c[~c.left]
    body.append(
        figure(
            charts.render(charts.two_sides(holding, labels=len(holding) <= 12)),
            takeaway=esc(_two_sides_takeaway(shown, holding)),
            caption=(
                "One point per clinician with a panel. Across: how much of the panel's care the clinician gives "
                "(patient side); up: how much of the clinician's work is with their own panel (clinician side). "
                "Dashed: equal."
            ),
            name="clinicians-two-sides",
        )
    )
    body.append("</div>")
    held = charts.clinician_bars(c, "patients_seen", "patients seen (relationships held)", MAX_CLINICIAN_BARS)
    per_day = charts.clinician_bars(c, "visits_per_day", "visits per working day", MAX_CLINICIAN_BARS, fmt="~f")
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
    return section("clinicians", "Clinicians", _clinicians_takeaway(shown, c, with_cap), "".join(body))


def _two_sides_takeaway(shown: ReportValues, c) -> str:
    """Which side of the dashed line the clinicians' points lie, counted from the points drawn."""
    d = c.dropna(subset=["provider_side_continuity", "patient_side_continuity"])
    if not len(d):
        return "Continuity seen from both sides"
    above = int((d.provider_side_continuity > d.patient_side_continuity).sum())
    below = int((d.provider_side_continuity < d.patient_side_continuity).sum())
    if above == below:
        return "As many clinicians lie above the dashed line as below it"
    side, n = ("above", above) if above > below else ("below", below)
    who = (
        f"{percent(n / len(d))} of the clinicians"
        if pv.share_is_safe(n, len(d), privacy=shown.privacy)
        else "Most clinicians"
    )
    meaning = (
        "more of their work goes to their own panel than of their panel's care comes from them"
        if side == "above"
        else "more of their panel's care comes from them than of their work goes to their panel"
    )
    return f"{who[0].upper()}{who[1:]} lie {side} the dashed line: {meaning}"


# --- Pairs ----------------------------------------------------------------------------------


def _lopsided(pt: float, cl: float) -> str:
    """Which side depends more, and how many times, from the two medians the answer shows."""
    if pt > cl:
        return (
            f"A typical patient depends on their usual clinician about {about(pt / cl)} times more than the "
            f"clinician depends on them ({percent(pt)} against {percent(cl)})."
        )
    if cl > pt:
        return (
            f"A typical usual clinician depends on their patient about {about(cl / pt)} times more than the "
            f"patient depends on them ({percent(cl)} against {percent(pt)})."
        )
    return f"A typical patient and their usual clinician depend on each other equally ({percent(pt)})."


def _share_of(part: int, whole: int) -> str:
    """``part / whole`` as a percentage that never rounds to all or nothing when it is not.

    >>> _share_of(9996, 10000), _share_of(4, 10000), _share_of(1, 2)
    ('more than 99 %', 'less than 1 %', '50 %')
    """
    share = part / whole
    if 0.99 < share < 1:
        return "more than 99 %"
    if 0 < share < 0.01:
        return "less than 1 %"
    return percent(share)


def pairs_section(shown: ReportValues) -> str:
    d, r = shown.dependence_bins, shown.relationships
    if not len(d):
        return section("pairs", "Pairs", "No patient–clinician relationship in this data.", "")
    if _is_sample(shown):
        return section(
            "pairs",
            "Pairs",
            "How much of a clinician's work one patient is is "
            + NOT_MEASURABLE
            + "; how much of each patient's care a clinician gives is in the answer above.",
            _sample_note(shown),
        )
    w = shown.who_values
    pt, cl = w.get(PT), w.get(CL)
    sides = shown.dependence_sides
    total = sum(sides.values())
    above = sides.get("above", 0)
    where = ""
    if pv.share_is_safe(above, total, privacy=shown.privacy):
        share = "Every relationship lies" if above == total else f"{_share_of(above, total)} of relationships lie"
        where = (
            f" {share} above the dashed line: there the patient depends more on the clinician than the clinician "
            "on the patient."
        )
    takeaway = (
        _lopsided(pt, cl) if pt and cl else where.strip() or "Relationships by how much each side depends on the other."
    )
    hidden = int((d.state != pv.SHOWN).sum())
    cap = (
        f"All {count(shown, r.get('relationships'))} patient–clinician relationships of "
        f"{esc(shown.windows['current'].span())}, by how much of the clinician's visits the patient is "
        "(across) and how much of the patient's visits the clinician is (up), both on logarithmic scales. Darker "
        f"cells hold more relationships.{where}"
    )
    if hidden:
        cap += " Cells with fewer than 11 relationships (or that would reveal one) are left blank."
    return section(
        "pairs", "Pairs", esc(takeaway), figure(charts.render(charts.dependence_map(d)), caption=cap, name="pairs-map")
    )
