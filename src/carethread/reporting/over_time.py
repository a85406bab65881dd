"""The report's sections over time: relationship breaks (all the data) and trends (the latest years).

As in :mod:`carethread.reporting.sections`, every sentence comes from the
numbers drawn beside it; the windows are said in the words of
:mod:`carethread.run.windows`.
"""

from __future__ import annotations

from carethread import privacy as pv
from carethread.reporting import charts
from carethread.reporting.compute import HIGH_UPC
from carethread.reporting.html import cell_count, count, esc, figure, section, table
from carethread.reporting.values import ReportValues
from carethread.wording import is_missing, percent

#: The line of high continuity, as the report writes it.
HIGH = f"UPC ≥ {percent(HIGH_UPC)}"

# --- Breaks ---------------------------------------------------------------------------------


def _in_current_window(shown: ReportValues) -> str:
    """How many of the breaks fall in the current window: the count the answer's table gives."""
    current = shown.breaks_current
    if not current:
        return ""
    span = esc(shown.windows["current"].span())
    return f" {count(shown, current.get('total', 0))} of them are dated in the current window ({span})."


def _shares(totals, by: str) -> list[str]:
    """``40 % to a colleague in the same practice``, ... for each kind or cause whose share may be shown."""
    return [
        f"{percent(r.share)} {charts.group_label(by, getattr(r, by))}"
        for r in totals.itertuples()
        if not is_missing(r.share)
    ]


def _breakdown(shown: ReportValues, b, totals, by: str, caption: str) -> str:
    """One breakdown of the breaks: the chart per period and the table over the whole period."""
    period = "year" if charts.breaks_by_year(b) else "quarter"
    title = charts.BREAKDOWNS[by][2]
    if int((b.state != pv.SHOWN).sum()):
        caption += " Segments with fewer than 11 breaks (or that would reveal one) are not drawn."
    rows = [
        [esc(charts.group_label(by, getattr(r, by))), cell_count(shown, r.breaks, r.state), percent(r.share)]
        for r in totals.itertuples()
    ]
    return (
        '<div class="grid2">'
        + figure(
            charts.render(charts.breaks_over_time(b, by)),
            caption=caption + f" Bars: breaks per {period}.",
            name="breaks-quarters" if by == "kind" else "breaks-causes",
            takeaway=f"Breaks per {period}, by {title}",
        )
        + f"<div><h3>Over the whole period, by {esc(title)}</h3>"
        + table([title, "breaks", "share"], rows, numeric=(1, 2))
        + "</div></div>"
    )


def breaks_section(shown: ReportValues) -> str:
    b, kinds = shown.breaks_by_quarter, shown.break_kinds
    over_time = shown.windows["over_time"]
    if not len(b):
        return section(
            "breaks", "Breaks", f"No relationship broke over {esc(over_time.span())}.", _departed_block(shown)
        )
    total = kinds.attrs.get("total", 0)
    takeaway = f"{count(shown, total)} relationships broke over {esc(over_time.span())}"
    by_kind = _shares(kinds, "kind")
    takeaway += (": " + esc(", ".join(by_kind))) if by_kind else ""
    causes = shown.break_causes
    left = causes.share[causes.cause == "clinician_left"] if causes is not None and len(causes) else ()
    shared = len(left) and not is_missing(left.iloc[0])
    takeaway += f"; in {percent(left.iloc[0])} of them the clinician had left." if shared else "."
    takeaway += _in_current_window(shown)
    if shown.confirmed_breaks:
        rule = (
            "A break: the patient's usual clinician changed to another, confirmed by later visits with the new one "
            "(docs/breaks.md), or care lapsed; dated by the first visit with the new clinician."
        )
    else:
        rule = (
            "A break (attribution churn): the clinician a patient is attributed to (most visits over the trailing "
            f"{shown.span.lookback_months} months) changes between periods; dated by the first visit that made it."
        )
    lapses = (
        " Emergency-only and lost relationships are recognised only after months without a visit, so the "
        "latest quarters undercount them."
    )
    cause = (
        "The clinician had left when they had no encounter at all from the break on; otherwise the patient moved on."
    )
    body = (
        _breakdown(shown, b, kinds, "kind", rule + lapses)
        + _breakdown(shown, shown.breaks_by_cause, shown.break_causes, "cause", cause)
        + _departed_block(shown)
    )
    return section("breaks", "Breaks", takeaway, body)


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
            where = "yes" if r.same_practice is True else ("no" if r.same_practice is False else "")
            rows.append([esc(r.label), esc(r.to), esc(where), cell_count(shown, r.patients, r.state)])
    cap = (
        "Patients of each clinician who left, by where their care went from three months before the departure "
        "on, in the colours of the chart above; hidden segments (fewer than 11) are not drawn."
    )
    return (
        "<h3>When a clinician left</h3>"
        + '<div class="grid2">'
        + figure(charts.render(charts.departed_chart(d)), takeaway=esc(take), caption=cap, name="breaks-departed")
        + (
            "<div><h4>Who took over</h4>"
            + table(["clinician who left", "patients moved to", "same practice", "patients"], rows, numeric=(3,))
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
    years = f"the latest {shown.trend_years} years of the data" if shown.trend_years else "all the data"
    if len(usable) < 2:
        return section(
            "trends",
            "Trends",
            "The data cover too short a period to show a trend.",
            f'<p class="empty">Trends need at least two quarters with enough patients in {esc(years)}.</p>',
        )
    first, last = usable.iloc[0], usable.iloc[-1]
    change = last.mean_upc - first.mean_upc
    direction = "stayed about the same" if abs(change) < 0.01 else ("rose" if change > 0 else "fell")
    takeaway = (
        f"Mean UPC {direction}: {percent(first.mean_upc)} in {first.quarter} and {percent(last.mean_upc)} in "
        f"{last.quarter}."
    )
    months = shown.trend_window_months
    gaps = int(t.mean_upc.isna().sum())
    cap = (
        f"Over {years}. Each point summarises patients with at least {shown.min_visits} visits in the {months} "
        "months up to the end of the quarter. Points for fewer than 11 patients are left out"
        + (f"; the line breaks at the {gaps} quarters without one." if gaps else ".")
    )
    rows = [
        [esc(r.quarter), cell_count(shown, r.patients), percent(r.mean_upc), percent(r.mean_coc), percent(r.share_high)]
        for r in t.itertuples()
    ]
    body = (
        '<div class="grid2">'
        + figure(charts.render(charts.trend_chart(t, months)), caption=cap, name="trends-quarters")
        + table(["quarter", "patients", "mean UPC", "mean COC", HIGH], rows, numeric=(1, 2, 3, 4))
        + "</div>"
    )
    return section("trends", "Trends", esc(takeaway), body)
