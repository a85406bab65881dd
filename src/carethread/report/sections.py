"""The report's sections: plain-language takeaways, charts and tables as HTML.

Each ``*_section`` function takes the protected results
(:class:`~carethread.report.protect.Shown`) and returns one ``<section>``.
Every count goes through :meth:`Shown.count` (``<11`` for 1-10 with privacy
on) and is wrapped in ``<span class="count">`` so tests can find them; every
text comes through :func:`html.escape`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd

from carethread import privacy as pv
from carethread.report import charts
from carethread.report.compute import HIGH_UPC, UNKNOWN_AGE
from carethread.report.protect import Shown

#: Clinician bar charts show at most this many clinicians (largest panels first).
MAX_CLINICIAN_BARS = 40

#: Section ids and titles, in order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("answer", "The answer"),
    ("patients", "Patients"),
    ("clinicians", "Clinicians"),
    ("pairs", "Pairs"),
    ("breaks", "Breaks"),
    ("trends", "Trends"),
    ("methods", "Data and methods"),
)


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def count(shown: Shown, n) -> str:
    """A count as HTML: ``<span class="count">1 234</span>`` (``&lt;11`` when small)."""
    return f'<span class="count">{esc(shown.count(n))}</span>'


def cell_count(shown: Shown, n, state: str | None = None) -> str:
    if state is not None and state != pv.SHOWN:
        return f'<span class="count">{esc(pv.format_cell(0, state, privacy=shown.privacy))}</span>'
    if n is None or (not isinstance(n, str) and pd.isna(n)):
        return '<span class="count">—</span>'
    return count(shown, int(n))


def pct(value) -> str:
    """A share as a percentage, written like the who-needs-whom headline (``67 %``, ``4.5 %``)."""
    from carethread.wording import percent

    if value is None or pd.isna(value):
        return "—"
    return percent(float(value))


def figure(svg: str, caption: str = "", takeaway: str = "", name: str = "") -> str:
    head = f'<p class="takeaway">{takeaway}</p>' if takeaway else ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure class="chart-figure" data-chart="{esc(name)}">{head}<div class="chart-scroll">{svg}</div>{cap}</figure>'


def section(ident: str, title: str, takeaway: str, body: str) -> str:
    return (
        f'<section class="report-section" id="{esc(ident)}" aria-labelledby="h-{esc(ident)}">'
        f'<h2 id="h-{esc(ident)}">{esc(title)}</h2>'
        f'<p class="takeaway">{takeaway}</p>{body}</section>'
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    """An HTML table; cells are already HTML. ``numeric`` = right-aligned column positions."""
    numeric = set(numeric)
    head = "".join(
        f'<th{" class=num" if i in numeric else ""} scope="col">{esc(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _fmt_date(d) -> str:
    return d.strftime("%-d %b %Y") if d is not None else "—"


# --- header -----------------------------------------------------------------------------


def window_text(lo, hi) -> str:
    """``1 Jul 2023 to 31 Dec 2024`` for ``[lo, hi)``."""
    import datetime as dt

    last = hi - dt.timedelta(days=1) if hi is not None else None
    return f"{_fmt_date(lo)} to {_fmt_date(last)}"


def header(shown: Shown, *, title: str, source: str, made: str, version: str) -> str:
    o, s, r = shown.overview, shown.span, shown.relationships
    cards = [
        (count(shown, o["patients"]), "patients with an encounter"),
        (count(shown, o["encounters"]), "encounters"),
        (count(shown, o["visits"]), "visits counted for continuity"),
        (count(shown, r.get("relationships")), "patient–clinician relationships"),
        (count(shown, r.get("clinicians")), "clinicians seeing them"),
    ]
    figures = "".join(
        f'<div class="figure-card"><div class="value">{value}</div><div class="label">{esc(label)}</div></div>'
        for value, label in cards
    )
    toc = "".join(f'<li><a href="#{i}">{esc(t)}</a></li>' for i, t in SECTIONS)
    return (
        f'<header class="top"><h1>{esc(title)}</h1>'
        f"<p>Data: {esc(source)}, encounters from {_fmt_date(s.first)} to {_fmt_date(s.last)}. "
        f"Report made {esc(made)} with carethread {esc(version)}.</p>"
        f'<nav class="toc" aria-label="Sections"><ol>{toc}</ol></nav></header>'
        f'<p class="lede">The current picture — the answer, patients, clinicians and pairs — covers '
        f"{esc(window_text(s.lo, s.hi))}, the window that decides which clinician each patient belongs to. "
        f"Breaks and trends cover all the data, {_fmt_date(s.first)} to {_fmt_date(s.last)}.</p>"
        f'<div class="figures">{figures}</div>'
    )


def stamp(privacy: bool) -> str:
    if privacy:
        return (
            "Privacy protections on: no patient identifiers; clinicians and practices under keyed pseudonyms; "
            "counts from 1 to 10 shown as &lt;11."
        )
    return (
        "NOT FOR SHARING — privacy protections were turned off (--no-privacy): real clinician and practice "
        "identifiers and exact small counts are shown."
    )


# --- The answer ---------------------------------------------------------------------------


def _who_value(row, column: str, shown: Shown) -> str:
    """One value of the who-needs-whom table: shares as percentages, counts suppressed."""
    v = row.get(column)
    if row.get("suppressed"):
        return '<span class="count">&lt;11</span>' if column == "value" else "—"
    if v is None or pd.isna(v):
        return "—"
    if row.get("kind") == "share":
        return esc(pct(v))
    if row.get("kind") == "count":
        return count(shown, round(v))
    from carethread.wording import about

    return esc(about(float(v)))


def answer_section(shown: Shown) -> str:
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
            ci = f"{lo} to {hi}" if "—" not in (lo, hi) else "—"
            rows.append([esc(r.get("description") or r.get("name")), _who_value(r, "value", shown), ci])
        body.append("<h3>The numbers behind it</h3>")
        body.append(table(["measure", "value", "95% interval"], rows, numeric=(1, 2)))
        body.append('<p class="lede">Intervals: 2.5th and 97.5th percentiles of bootstrap resamples of patients.</p>')
    return section("answer", "The answer", takeaway, "".join(body))


def _times(ratio) -> str:
    if ratio is None or pd.isna(ratio):
        return "—"
    from carethread.wording import about

    return about(float(ratio))


# --- Patients -------------------------------------------------------------------------------


def patients_section(shown: Shown) -> str:
    hi = shown.high_upc
    included, high = hi["included"], hi["high"]
    if pv.share_is_safe(high, included, privacy=shown.privacy):
        takeaway = (
            f"{pct(high / included)} of patients with at least two visits saw one clinician for at least "
            f"three quarters of their visits (UPC ≥ {HIGH_UPC:g})."
        )
        big = f'<div class="big">{pct(high / included)}</div>'
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
        dict(zip(shown.continuity_summary["index"], shown.continuity_summary["patients_included"]))
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
        cap += " A grey triangle marks a bar hidden for privacy (fewer than 11 patients, or hidden so one cannot be worked out)."
    med = shown.continuity_summary
    take_hist = ""
    if len(med):
        upc = med[med["index"] == "upc"]
        if len(upc) and pv.group_is_safe(int(upc.patients_included.iloc[0]), privacy=shown.privacy):
            take_hist = (
                f"The typical (median) patient saw their usual clinician at {pct(upc['median'].iloc[0])} of visits; "
                f"pooled over all visits, {pct(upc['pooled'].iloc[0])}."
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


def _age_block(shown: Shown) -> str:
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
            f"Continuity is highest at ages {top.band} (mean UPC {pct(top.mean_upc)}) and lowest at ages "
            f"{low.band} ({pct(low.mean_upc)})."
        )
    rows = [
        [esc(r.band), cell_count(shown, r.patients, r.state), pct(r.mean_upc), pct(r.share_high)]
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


def clinicians_section(shown: Shown) -> str:
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
                f"Bars: patients attributed to each clinician (most visits over the {shown.span.lookback} months "
                f"before {_fmt_date(shown.span.as_of)}"
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


def pairs_section(shown: Shown) -> str:
    d, r = shown.dependence_bins, shown.relationships
    if not len(d):
        return section("pairs", "Pairs", "No patient–clinician relationship in this data.", "")
    w = shown.who_values
    pt, cl = w.get("patient_share_from_usual_clinician"), w.get("patient_share_of_usual_clinicians_work")
    if pt and cl:
        takeaway = (
            f"Every relationship is lopsided: a typical patient depends on their usual clinician about "
            f"{_times(pt / cl)} times more than the clinician depends on them ({pct(pt)} against {pct(cl)})."
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


def breaks_section(shown: Shown) -> str:
    b, kinds = shown.breaks_by_quarter, shown.break_kinds
    if not len(b):
        return section("breaks", "Breaks", "No relationship broke in this data.", _departed_block(shown))
    total = kinds.attrs.get("total", 0)
    parts = []
    for r in kinds.itertuples():
        if r.share is not None and not pd.isna(r.share):
            parts.append(f"{pct(r.share)} {charts.KIND_LABELS.get(r.kind, r.kind)}")
    takeaway = f"{shown.count(total)} relationships broke over the period"
    takeaway += (": " + ", ".join(parts) + ".") if parts else "."
    rows = [
        [esc(charts.KIND_LABELS.get(r.kind, r.kind)), cell_count(shown, r.breaks, r.state), pct(r.share)]
        for r in kinds.itertuples()
    ]
    hidden = int((b.state != pv.SHOWN).sum())
    cap = (
        f"A break: the clinician a patient is attributed to (most visits over the trailing {shown.span.lookback} "
        "months) changes "
        "between quarters; dated by the first visit that made it."
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


def _departed_block(shown: Shown) -> str:
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
            f"When clinicians left, {pct(stayed / total)} of their patients whose relationship broke moved to a "
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


def trends_section(shown: Shown) -> str:
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
        f"Mean UPC {direction}: {pct(first.mean_upc)} in {first.quarter} and {pct(last.mean_upc)} in {last.quarter}."
    )
    months = shown.trend_window_months
    cap = (
        f"Each point summarises patients with at least two visits in the {months} months up to the end of the "
        "quarter. Points for fewer than 11 patients are left out."
    )
    rows = [
        [esc(r.quarter), cell_count(shown, r.patients), pct(r.mean_upc), pct(r.mean_coc), pct(r.share_high)]
        for r in t.itertuples()
    ]
    body = (
        '<div class="grid2">'
        + figure(charts.render(charts.trend_chart(t, months)), caption=cap, name="trends-quarters")
        + table(["quarter", "patients", "mean UPC", "mean COC", f"UPC ≥ {HIGH_UPC:g}"], rows, numeric=(1, 2, 3, 4))
        + "</div>"
    )
    return section("trends", "Trends", esc(takeaway), body)


# --- Data and methods -------------------------------------------------------------------------

FORMULAS: tuple[tuple[str, str], ...] = (
    (
        "Visit",
        "a distinct (patient, clinician, calendar day) in the chosen settings and window; encounters "
        "without a clinician are left out.",
    ),
    ("UPC (usual provider of care)", "<code>max_j n_j / N</code> — Breslau N, Reeb KG. J Med Educ 1975;50:965-9."),
    ("COC (Bice–Boxerman)", "<code>(Σ n_j² − N) / (N (N − 1))</code> — Bice TW, Boxerman SB. Med Care 1977;15:347-9."),
    (
        "SECON (sequential continuity)",
        "<code>Σ 1[v_t = v_t+1] / (N − 1)</code> — Steinwachs DM. Med Care 1979;17:551-65.",
    ),
    (
        "Attribution",
        "plurality of visits over the look-back (18 months by default) before the attribution date, "
        "ties to the most recent visit — Murray M et al. Fam Pract Manag 2007;14(4):44-51.",
    ),
    (
        "Provider-side and patient-side continuity",
        "visits a clinician gave to their own panel / all their visits; "
        "visits of the panel with the clinician / all the panel's visits — "
        "Br J Gen Pract 2023;73:279.",
    ),
    (
        "Patient and clinician dependence",
        "visits of the pair / the patient's visits; visits of the pair / the clinician's visits.",
    ),
    (
        "Relationship break",
        "the attributed clinician (plurality over the trailing look-back) changes between "
        "quarters — to a partner in the same practice or to another practice — or the patient stops "
        "coming: emergency or urgent care only since, or no care for 12 months (lost).",
    ),
    (
        "Small counts",
        "every count from 1 to 10 is shown as &lt;11 and a second cell is hidden where a total would "
        "reveal it (CMS / ResDAC cell-size suppression policy).",
    ),
)


def methods_section(shown: Shown, *, params: dict, versions: dict) -> str:
    reads = table(
        ["source", "rows read", "accepted", "quarantined"],
        [
            [
                esc(r["source"]),
                f'<span class="count">{esc(r["read"])}</span>',
                f'<span class="count">{esc(r["accepted"])}</span>',
                f'<span class="count">{esc(r["quarantined"])}</span>',
            ]
            for r in shown.reads
        ],
        numeric=(1, 2, 3),
    )
    q = shown.quarantine
    if len(q):
        from carethread.validate import REASONS

        qt = table(
            ["source", "reason", "rows"],
            [
                [esc(r.source), esc(REASONS.get(r.reason, r.reason)), cell_count(shown, r.rows, r.state)]
                for r in q.itertuples()
            ],
            numeric=(2,),
        )
    else:
        qt = '<p class="empty">No row was rejected.</p>'
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in params.items())
    remarks = "".join(f"<li>{esc(r)}</li>" for r in shown.remarks) or "<li>None.</li>"
    formulas = "".join(f"<li><strong>{esc(name)}:</strong> {text}</li>" for name, text in FORMULAS)
    soft = ", ".join(f"{k} {v}" for k, v in versions.items())
    summary = shown.continuity_summary
    srows = []
    for r in summary.to_dict("records") if len(summary) else []:
        ok = pv.group_is_safe(r["patients_included"], privacy=shown.privacy)  # no statistic of fewer than 11
        srows.append(
            [f"<code>{esc(r['index'])}</code>", cell_count(shown, r["patients_included"])]
            + [_num(r[c]) if ok else "—" for c in ("mean", "median", "pooled")]
        )
    body = (
        "<h3>Inputs</h3>"
        + reads
        + "<h3>Rejected rows by reason</h3>"
        + qt
        + "<h3>Settings and parameters</h3>"
        + f'<dl class="params">{dl}</dl>'
        + "<h3>Continuity indices, all patients</h3>"
        + table(["index", "patients", "mean", "median", "pooled"], srows, numeric=(1, 2, 3, 4))
        + '<h3>Remarks and caveats</h3><ol class="remarks">'
        + remarks
        + "</ol>"
        + '<h3>Definitions and sources</h3><ul class="formulas">'
        + formulas
        + "</ul>"
        + f"<h3>Software</h3><p>{esc(soft)}</p>"
    )
    takeaway = "Where the numbers come from, what was left out and why, and how each measure is defined."
    return section("methods", "Data and methods", esc(takeaway), body)


def _num(v) -> str:
    if v is None or pd.isna(v):
        return "—"
    return f"{float(v):.3f}"
