"""HTML building blocks of the report: escaping, counts, figures, tables, the header and the stamp.

Every count goes through :meth:`~carethread.reporting.values.ReportValues.count`
(``<11`` for 1-10 with privacy on) and is wrapped in ``<span class="count">``
so tests can find them; every text comes through :func:`html.escape`.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable

from carethread import privacy as pv
from carethread.reporting.values import ReportValues
from carethread.wording import MISSING, day, is_missing

#: Section ids and titles, in order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("answer", "The answer"),
    ("patients", "Patients"),
    ("clinicians", "Clinicians"),
    ("pairs", "Pairs"),
    ("network", "Who shares patients"),
    ("breaks", "Breaks"),
    ("trends", "Trends"),
    ("worth", "What the relationship is worth"),
    ("departure", "If a clinician leaves"),
    ("methods", "Data and methods"),
)


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def count(shown: ReportValues, n) -> str:
    """A count as HTML: ``<span class="count">1 234</span>`` (``&lt;11`` when small)."""
    return f'<span class="count">{esc(shown.count(n))}</span>'


def cell_count(shown: ReportValues, n, state: str | None = None) -> str:
    if state is not None and state != pv.SHOWN:
        return f'<span class="count">{esc(pv.format_cell(0, state, privacy=shown.privacy))}</span>'
    if is_missing(n):
        return f'<span class="count">{MISSING}</span>'
    return count(shown, int(n))


def figure(svg: str, caption: str = "", takeaway: str = "", name: str = "") -> str:
    head = f'<p class="takeaway">{takeaway}</p>' if takeaway else ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (
        f'<figure class="chart-figure" data-chart="{esc(name)}">{head}'
        f'<div class="chart-scroll">{svg}</div>{cap}</figure>'
    )


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


# --- header -----------------------------------------------------------------------------


def window_text(lo, hi) -> str:
    """``1 Jul 2023 to 31 Dec 2024`` for ``[lo, hi)``: a window's days as
    :meth:`carethread.run.windows.Window.span` says them.

    >>> import datetime as dt
    >>> window_text(dt.datetime(2023, 7, 1), dt.datetime(2025, 1, 1))
    '1 Jul 2023 to 31 Dec 2024'
    """
    last = hi - _dt.timedelta(days=1) if hi is not None else None
    return f"{day(lo)} to {day(last)}"


def header(shown: ReportValues, *, title: str, source: str, made: str, version: str) -> str:
    o, s, r = shown.overview, shown.span, shown.relationships
    current, over_time = shown.windows["current"], shown.windows["over_time"]
    trends = f"the latest {shown.trend_years} years of the data" if shown.trend_years else "all the data"
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
        f"<p>Data: {esc(source)}, encounters from {day(s.first)} to {day(s.last)}. "
        f"Report made {esc(made)} with carethread {esc(version)}.</p>"
        f'<nav class="toc" aria-label="Sections"><ol>{toc}</ol></nav></header>'
        f'<p class="lede">The current picture — the answer, patients, clinicians and pairs — covers '
        f"{esc(current.text())}, the window that decides which clinician each patient belongs to. "
        f"Breaks cover {esc(over_time.text())}; trends {esc(trends)}.</p>"
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
