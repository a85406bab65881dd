"""Charts of the report: Altair (Vega-Lite) specs, rendered to inline SVG by :mod:`carethread.reporting.render`.

Every function takes frames of protected :class:`carethread.reporting.values.ReportValues`
(suppressed counts are ``None`` and never drawn) and returns an Altair chart;
:func:`carethread.reporting.render.render` turns a chart into an ``<svg>``
string safe to inline several times in one page (why SVG: see
:mod:`carethread.reporting.render`).

Every chart is drawn at most :data:`MAX_WIDTH` pixels wide, axes, labels and
legends included, so it fits a phone's column (390 px less the page's
margins) at full size, and its text is never below 11 px
(``tests/test_report_browser.py`` measures both). Shares are per cent
everywhere.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from carethread.reporting.render import render  # noqa: F401  (charts.render(chart) in sections)
from carethread.wording import is_missing, percent

#: Plain-language names of the kinds of relationship break.
KIND_LABELS: dict[str, str] = {
    "partner": "to a colleague in the same practice",
    "other_practice": "to another practice",
    "emergency_only": "only emergency or urgent care since",
    "lost": "no care for 12 months",
}
KIND_COLORS: dict[str, str] = {
    "partner": "#4e79a7",
    "other_practice": "#f28e2b",
    "emergency_only": "#e15759",
    "lost": "#79706e",
}
CAUSE_LABELS: dict[str, str] = {
    "clinician_left": "the clinician had left",
    "patient_moved_on": "the patient moved on",
}
CAUSE_COLORS: dict[str, str] = {"clinician_left": "#b07aa1", "patient_moved_on": "#59a14f"}
#: What the breaks can be counted by: the column, with its labels, colours and legend title.
BREAKDOWNS: dict[str, tuple[dict[str, str], dict[str, str], str]] = {
    "kind": (KIND_LABELS, KIND_COLORS, "where the patient went"),
    "cause": (CAUSE_LABELS, CAUSE_COLORS, "why it broke"),
}
INDEX_LABELS: dict[str, str] = {
    "upc": "share of visits with the usual clinician",
    "coc": "chance two visits share a clinician",
    "secon": "next visit with the same clinician",
}
#: The widest a chart may be drawn, in CSS pixels, everything included.
MAX_WIDTH = 360
ACCENT = "#2f6690"
MUTED = "#9aa5b1"
#: Room for clinician labels (``Clinician 7f3a9c``) beside a bar.
LABEL_LIMIT = 110
HIDDEN_COLOR = "#c8ced6"


def records(df: pd.DataFrame) -> list[dict]:
    """Plain JSON-able rows (``None`` for missing, ISO strings for dates)."""
    out = []
    for row in df.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
                clean[k] = None
            elif hasattr(v, "isoformat"):
                clean[k] = v.isoformat()
            elif hasattr(v, "item"):
                clean[k] = v.item()
            else:
                clean[k] = v
        out.append(clean)
    return out


def _data(df: pd.DataFrame) -> alt.Data:
    return alt.Data(values=records(df))


def percent_axis(title: str, **axis) -> dict:
    return dict(title=title, axis=alt.Axis(format="~%", **axis), scale=alt.Scale(domain=[0, 1]))


# --- The answer -------------------------------------------------------------------------


def asymmetry_bars(patient_side: float, clinician_side: float) -> alt.VConcatChart:
    """Two bars on one per-cent scale: how much of the patient's care the main clinician is, and the reverse."""

    def bar(value: float, title: str, last: bool) -> alt.Chart:
        axis = alt.Axis(format="~%") if last else None
        return (
            alt.Chart(_data(pd.DataFrame({"value": [value]})))
            .mark_bar(color=ACCENT, height=22)
            .encode(
                x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), axis=axis, title="share of visits" if last else None)
            )
            .properties(width=300, height=24, title=alt.TitleParams(title, fontSize=12, fontWeight="normal"))
        )

    return alt.vconcat(
        bar(patient_side, f"A patient's care from their usual clinician: {percent(patient_side)}", False),
        bar(clinician_side, f"That clinician's work with the patient: {percent(clinician_side)}", True),
        spacing=8,
    )


# --- Patients ----------------------------------------------------------------------------


def _hidden_marks(df: pd.DataFrame, x: str, x2: str | None = None, y_value: float = 0) -> alt.Chart | None:
    hidden = df[df.state != "shown"]
    if hidden.empty:
        return None
    h = hidden.assign(mid=(hidden[x] + hidden[x2]) / 2 if x2 else hidden[x], y=y_value, what="fewer than 11 (hidden)")
    return (
        alt.Chart(_data(h))
        .mark_point(shape="triangle-up", size=50, filled=True, color="#6b7785")
        .encode(x="mid:Q", y="y:Q")
    )


def histogram(df: pd.DataFrame, index: str, total_label: str) -> alt.LayerChart:
    """Patients per tenth of one index; hidden bins marked by a grey triangle on the axis."""
    d = df[df["index"] == index].copy()
    shown = d[d.state == "shown"]
    bars = (
        alt.Chart(_data(shown))
        .mark_bar(color=ACCENT, stroke="white", strokeWidth=1)
        .encode(
            x=alt.X(
                "lo:Q",
                bin="binned",
                title=INDEX_LABELS.get(index, index),
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="~%", values=[i / 5 for i in range(6)], titleLimit=260),
            ),
            x2="hi:Q",
            y=alt.Y("patients:Q", title="patients"),
        )
    )
    layers = [bars]
    marks = _hidden_marks(d, "lo", "hi")
    if marks is not None:
        layers.append(marks)
    return alt.layer(*layers).properties(
        width=250, height=170, title=alt.TitleParams(index.upper(), subtitle=total_label)
    )


def age_chart(df: pd.DataFrame) -> alt.LayerChart:
    """Mean UPC per age band; bands under 11 patients show no bar and say so."""
    d = df.copy()
    d["text"] = ["fewer than 11 patients" if is_missing(m) else percent(m) for m in d.mean_upc]
    d["bar"] = d.mean_upc
    base = alt.Chart(_data(d)).encode(
        y=alt.Y("band:N", sort=list(d.band), title="age (years)"),
    )
    bars = base.mark_bar(color=ACCENT, height=18).encode(
        x=alt.X("bar:Q", **percent_axis("mean UPC", values=[0, 0.25, 0.5, 0.75, 1]))
    )
    text = base.mark_text(align="left", dx=4, fontSize=11).encode(x=alt.X("bar:Q"), text="text:N")
    text = text.transform_calculate(bar="datum.bar == null ? 0 : datum.bar")
    return alt.layer(bars, text).properties(width=200, height=24 * len(d) + 10)


# --- Clinicians --------------------------------------------------------------------------


def _clinician_order(df: pd.DataFrame) -> list[str]:
    key = df.panel_size.astype("Float64").fillna(-1)
    return list(df.assign(key=key).sort_values(["key", "label"], ascending=[False, True]).label)


def panel_vs_capacity(df: pd.DataFrame, limit: int) -> alt.LayerChart:
    """Panel size per clinician (bar) against their capacity (black tick)."""
    d = df.head(limit) if len(df) > limit else df
    order = _clinician_order(d)
    base = alt.Chart(_data(d)).encode(y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)))
    bars = base.mark_bar(height=12).encode(
        x=alt.X("panel_size:Q", title="patients on the panel"),
        color=alt.Color("practice:N", title="practice", legend=alt.Legend(columns=2, labelLimit=120)),
    )
    layers = [bars]
    if d.capacity.notna().any():
        tick = base.mark_tick(color="#111", thickness=2.5, size=16).encode(x="capacity:Q")
        layers.append(tick)
    notes = d[(d.state != "shown") | d.left].assign(zero=0)
    if not notes.empty:
        notes["text"] = ["left: no panel" if gone else "panel size hidden" for gone in notes.left]
        layers.append(
            alt.Chart(_data(notes))
            .mark_text(align="left", dx=4, fontSize=11, color="#555")
            .encode(y=alt.Y("label:N", sort=order), x="zero:Q", text="text:N")
        )
    return alt.layer(*layers).properties(width=200, height=max(80, 17 * len(d)))


def two_sides(df: pd.DataFrame, labels: bool) -> alt.LayerChart:
    """Provider-side against patient-side continuity, one point per clinician."""
    d = df.dropna(subset=["provider_side_continuity", "patient_side_continuity"])
    base = alt.Chart(_data(d)).encode(
        x=alt.X("patient_side_continuity:Q", **percent_axis("patient side: panel's care from them")),
        y=alt.Y("provider_side_continuity:Q", **percent_axis("clinician side: work with own panel")),
    )
    points = base.mark_circle(size=70, opacity=0.85, stroke="white", strokeWidth=0.5).encode(
        color=alt.Color("practice:N", title="practice", legend=alt.Legend(columns=2, labelLimit=120))
    )
    diagonal = (
        alt.Chart(_data(pd.DataFrame({"x": [0, 1], "y": [0, 1]})))
        .mark_line(color=MUTED, strokeDash=[4, 4])
        .encode(x="x:Q", y="y:Q")
    )
    layers = [diagonal, points]
    if labels:
        # Labels point inwards, so none runs past the plot's right edge.
        right = d.patient_side_continuity > 0.5
        for part, align, dx in ((d[~right], "left", 6), (d[right], "right", -6)):
            if len(part):
                layers.append(
                    alt.Chart(_data(part))
                    .mark_text(align=align, dx=dx, dy=-4, fontSize=11, color="#444")
                    .encode(x="patient_side_continuity:Q", y="provider_side_continuity:Q", text="label:N")
                )
    return alt.layer(*layers).properties(width=270, height=240)


def clinician_bars(df: pd.DataFrame, column: str, title: str, limit: int, fmt: str = ",d") -> alt.Chart:
    """One horizontal bar per clinician (same order as the panel chart)."""
    d = df.head(limit) if len(df) > limit else df
    order = _clinician_order(d)
    return (
        alt.Chart(_data(d))
        .mark_bar(height=12, color=ACCENT)
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
            x=alt.X(f"{column}:Q", title=title, axis=alt.Axis(format=fmt)),
        )
        .properties(width=200, height=max(80, 17 * len(d)))
    )


# --- Pairs -------------------------------------------------------------------------------


def _log_shares(lowest: float, ticks: int, title: str) -> dict:
    """A log-scale axis of shares from ``lowest`` to 1, labelled as percentages."""
    return dict(
        scale=alt.Scale(type="log", domain=[lowest, 1]), axis=alt.Axis(format="~%", tickCount=ticks), title=title
    )


def dependence_map(df: pd.DataFrame) -> alt.LayerChart:
    """Relationships by clinician dependence (x) and patient dependence (y), both on log scales."""
    shown = df[df.state == "shown"]
    lo = min([0.0001, *list(df.x_lo)]) if len(df) else 1e-4
    ylo = min([0.01, *list(df.y_lo)]) if len(df) else 1e-2
    cells = (
        alt.Chart(_data(shown))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "x_lo:Q",
                **_log_shares(lo, 5, "clinician dependence: their visits with the patient"),
            ),
            x2="x_hi:Q",
            y=alt.Y("y_lo:Q", **_log_shares(ylo, 4, "patient dependence")),
            y2="y_hi:Q",
            color=alt.Color(
                "relationships:Q",
                scale=alt.Scale(type="log", scheme="blues"),
                title="relationships",
                legend=alt.Legend(direction="horizontal", orient="bottom", gradientLength=200, format=",d"),
            ),
        )
    )
    diagonal = (
        alt.Chart(_data(pd.DataFrame({"x": [max(lo, ylo), 1], "y": [max(lo, ylo), 1]})))
        .mark_line(color="#d62728", strokeDash=[5, 4], clip=True)
        .encode(x="x:Q", y="y:Q")
    )
    label = (
        alt.Chart(
            _data(pd.DataFrame({"x": [max(lo, ylo) * 1.6], "y": [max(lo, ylo) * 1.25], "t": ["equal dependence"]}))
        )
        .mark_text(color="#d62728", align="left", fontSize=11, angle=0)
        .encode(x="x:Q", y="y:Q", text="t:N")
    )
    return alt.layer(cells, diagonal, label).properties(width=280, height=220)


# --- Breaks ------------------------------------------------------------------------------


def group_label(by: str, group: str) -> str:
    """A kind or cause of break (``by``) in words."""
    return BREAKDOWNS[by][0].get(group, group)


def _group_color(groups: list[str], by: str = "kind", legend: bool = True) -> alt.Color:
    names, colors, title = BREAKDOWNS[by]
    labels = [names.get(g, g) for g in groups]
    return alt.Color(
        "group_label:N",
        title=title,
        scale=alt.Scale(domain=labels, range=[colors.get(g, "#bab0ac") for g in groups]),
        sort=labels,
        legend=alt.Legend(columns=1, labelLimit=MAX_WIDTH - 40) if legend else None,
    )


def _grouped(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """The shown rows of ``df``, with the label and stacking order of their ``by`` group."""
    groups = list(dict.fromkeys(df[by]))
    d = df[df.state == "shown"].copy()
    d["group_label"] = [group_label(by, g) for g in d[by]]
    d["order"] = [groups.index(g) for g in d[by]]
    return d


#: Beyond this many quarters the breaks are drawn per year.
MAX_QUARTERS = 24


def breaks_by_year(df: pd.DataFrame) -> bool:
    """Whether the breaks chart counts per year (more than :data:`MAX_QUARTERS` quarters)."""
    return df.quarter.nunique() > MAX_QUARTERS


def breaks_over_time(df: pd.DataFrame, by: str = "kind") -> alt.Chart:
    """Stacked bars of breaks per quarter (per year over many quarters) by kind or cause (``by``); hidden
    segments are not drawn.

    A year's bar adds the shown quarters only: a hidden quarter never adds
    to a drawn total.
    """
    d = _grouped(df, by)
    periods = list(dict.fromkeys(df.quarter))
    if breaks_by_year(df):
        d["quarter"] = [q.split()[0] for q in d.quarter]
        d = d.groupby(["quarter", by, "group_label", "order"], as_index=False).breaks.sum()
        periods = list(dict.fromkeys(q.split()[0] for q in periods))
    return (
        alt.Chart(_data(d))
        .mark_bar()
        .encode(
            x=alt.X("quarter:O", sort=periods, title=None, axis=alt.Axis(labelAngle=-60, labelOverlap=True)),
            y=alt.Y("breaks:Q", title="relationship breaks", stack="zero"),
            color=_group_color(list(dict.fromkeys(df[by])), by),
            order=alt.Order("order:Q"),
        )
        .properties(width=280, height=200)
    )


def departed_chart(df: pd.DataFrame) -> alt.Chart:
    """Per departed clinician, their patients by where they went next."""
    d = _grouped(df, "kind")
    d["who"] = [f"{label} (left {left})" for label, left in zip(d.label, d.left, strict=True)]
    order = list(dict.fromkeys(f"{label} (left {left})" for label, left in zip(df.label, df.left, strict=True)))
    return (
        alt.Chart(_data(d))
        .mark_bar(height=16)
        .encode(
            y=alt.Y("who:N", sort=order, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT + 60)),
            x=alt.X("patients:Q", title="patients whose relationship broke", stack="zero"),
            color=_group_color(
                list(dict.fromkeys(df.kind)), legend=False
            ),  # the colours of the breaks chart, whose legend says them
            order=alt.Order("order:Q"),
        )
        .properties(width=150, height=max(60, 26 * len(order)))
    )


# --- Trends ------------------------------------------------------------------------------


def trend_chart(df: pd.DataFrame, window_months: int = 12) -> alt.Chart:
    """Mean UPC, mean COC and the share with UPC >= 75 % at each quarter's end, on a time axis.

    Quarters without a value (no data, or too few patients) keep their row
    with a null value, so each line breaks there instead of joining its
    neighbours across the gap.
    """
    series = {
        "mean_upc": "mean UPC",
        "mean_coc": "mean COC",
        "share_high": "patients with UPC ≥ 75 %",
    }
    rows = []
    for _i, r in df.iterrows():
        for col, name in series.items():
            v = r[col]
            value = None if v is None or pd.isna(v) else float(v)
            rows.append({"quarter_end": r["quarter_end"], "measure": name, "value": value})
    d = pd.DataFrame(rows, columns=["quarter_end", "measure", "value"])
    return (
        alt.Chart(_data(d))
        .mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=2.2)
        .encode(
            x=alt.X(
                "quarter_end:T",
                title=f"quarter's end (each point: the {window_months} months before it)",
                axis=alt.Axis(format="%Y", tickCount="year", labelAngle=0),
            ),
            y=alt.Y("value:Q", **percent_axis("")),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=list(series.values()),
                scale=alt.Scale(range=[ACCENT, "#f28e2b", "#59a14f"]),
                legend=alt.Legend(columns=1),
            ),
        )
        .properties(width=280, height=200)
    )
