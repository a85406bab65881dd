"""The report's section "What the relationship is worth": outcomes by continuity, and how long relationships last.

Three steps, like every section: :func:`compute_worth` fits the headline
studies (:func:`carethread.outcomes.outcomes`: emergency visits by UPC,
admissions by COC, deaths by UPC) and the Kaplan-Meier curves of
relationships and of clinician tenure, exactly; :func:`protect_worth` applies
the privacy rules (an estimate resting on 1-10 patients or events is not
shown, and no Kaplan-Meier step is drawn with fewer than 11 at risk);
:func:`worth_section` draws the forest plot, the two curves and one plain
sentence per headline with its interval and the caveat.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import altair as alt
import pandas as pd

from carethread import privacy as pv
from carethread.reporting.charts import ACCENT, MUTED
from carethread.reporting.html import esc, figure, section
from carethread.reporting.render import render
from carethread.wording import decimals

#: The headline studies: (label, outcome, exposure, model).
HEADLINES: tuple[tuple[str, str, str, str], ...] = (
    ("Emergency visits", "ed_visits", "upc", "poisson"),
    ("Admissions", "admissions", "coc", "cox"),
    ("Deaths", "death", "upc", "cox"),
)

#: Fewest at risk for a Kaplan-Meier step to be drawn.
MIN_AT_RISK = 11

_RATIO_NAMES = {"poisson": "rate", "negbin": "rate", "logistic": "odds", "cox": "hazard"}
_INDEX_NAMES = {"upc": "UPC", "coc": "COC"}


@dataclass
class WorthValues:
    """Exact (then protected) values of the section."""

    forest: pd.DataFrame  # label, outcome, exposure, model, term, estimate, ci_low, ci_high, n, events
    relationships: pd.DataFrame  # Kaplan-Meier of relationships (carethread.outcomes.survival)
    tenure: pd.DataFrame  # Kaplan-Meier of clinician tenure
    windows: str = ""
    notes: list[str] = field(default_factory=list)


def compute_worth(
    encounters, *, clinicians=None, patients=None, settings=None, start=None, end=None, breaks=None
) -> WorthValues:
    """Fit the headline studies and the two survival curves on the data (exact values).

    ``start``, ``end``: the window of the relationships' curve, the breaks'
    (all the data by default); ``breaks``: the report's relationship breaks
    over that window, so the curve does not compute them a second time.
    """
    from carethread.outcomes import clinician_tenure, outcomes, relationship_survival, study_windows
    from carethread.outcomes.survival import kaplan_meier

    windows = study_windows(encounters)
    parts, notes = [], []
    for label, outcome, exposure, model in HEADLINES:
        table = outcomes(
            encounters, clinicians=clinicians, patients=patients, settings=settings, exposure=exposure,
            outcome=outcome, model=model,
        ).to_pandas()  # fmt: skip
        rows = table[table.term.str.startswith(("per_", "quintile_"))]
        if rows.estimate.isna().all():
            notes.append(f"{label}: cannot be estimated on this data (no {label.lower()} in the follow-up).")
            continue
        parts.append(rows.assign(label=label))
    forest = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    relationships = relationship_survival(
        encounters, clinicians=clinicians, settings=settings, start=start, end=end, breaks=breaks
    )
    tenure_rows = clinician_tenure(encounters, clinicians=clinicians).to_pandas()
    tenure = kaplan_meier(tenure_rows.tenure_years.to_numpy(), tenure_rows.departed.to_numpy())
    return WorthValues(forest, relationships, tenure, windows=windows.text(), notes=notes)


def protect_worth(values: WorthValues, *, privacy: bool = True) -> WorthValues:
    """No estimate resting on 1-10 patients or events; no curve step with fewer than 11 at risk."""
    forest = values.forest.copy()
    if privacy and len(forest):
        small = forest.n.map(pv.is_small) | forest.events.map(pv.is_small)
        forest.loc[small, ["estimate", "ci_low", "ci_high", "n", "events"]] = None
    relationships, tenure = values.relationships, values.tenure
    if privacy:
        relationships = relationships[relationships.at_risk >= MIN_AT_RISK]
        tenure = tenure[tenure.at_risk >= MIN_AT_RISK]
    return replace(values, forest=forest, relationships=relationships, tenure=tenure)


def _term_label(term: str) -> str:
    return "per +0.1" if term == "per_0.1" else term.replace("quintile_", "quintile ") + " vs 1"


def forest_chart(forest: pd.DataFrame) -> alt.LayerChart:
    """Ratios with their 95 % intervals on a log scale, one row per study and term, a rule at 1."""
    df = forest.dropna(subset=["estimate"]).assign(
        row=lambda d: d.label + " · " + d.term.map(_term_label),
        kind=lambda d: d.model.map(_RATIO_NAMES) + " ratio",
    )
    order = df.row.tolist()
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=140))
    x = alt.X("estimate:Q", scale=alt.Scale(type="log"), title="ratio (log scale; below 1 = fewer events)")
    bars = alt.Chart(df).mark_rule(color=MUTED).encode(y=y, x="ci_low:Q", x2="ci_high:Q")
    points = (
        alt.Chart(df)
        .mark_point(filled=True, color=ACCENT, size=60)
        .encode(y=y, x=x, tooltip=["row", "kind", "estimate", "ci_low", "ci_high"])
    )
    one = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 3], color="#555").encode(x="x:Q")
    # At most 360 px wide with its labels, like every chart of the report (issue 13).
    return (bars + points + one).properties(width=180, height=max(120, 22 * len(order)))


def survival_chart(curve: pd.DataFrame, title: str) -> alt.LayerChart:
    """A Kaplan-Meier curve as steps, its interval shaded, from 1 at time 0."""
    start = pd.DataFrame({"time_years": [0.0], "survival": [1.0], "ci_low": [1.0], "ci_high": [1.0]})
    df = pd.concat([start, curve[["time_years", "survival", "ci_low", "ci_high"]]], ignore_index=True)
    x = alt.X("time_years:Q", title="years since the start")
    band = (
        alt.Chart(df)
        .mark_area(interpolate="step-after", opacity=0.2, color=ACCENT)
        .encode(x=x, y="ci_low:Q", y2="ci_high:Q")
    )
    line = (
        alt.Chart(df)
        .mark_line(interpolate="step-after", color=ACCENT)
        .encode(x=x, y=alt.Y("survival:Q", scale=alt.Scale(domain=[0, 1]), title=title))
    )
    return (band + line).properties(width=280, height=200)  # with its axes, within the report's 360 px


def headline_sentence(row) -> str:
    """One plain sentence for a ``per_0.1`` row, with its interval and the caveat.

    >>> r = pd.Series({"label": "Emergency visits", "model": "poisson", "exposure": "upc",
    ...                "estimate": 0.89, "ci_low": 0.86, "ci_high": 0.92})
    >>> headline_sentence(r)  # doctest: +ELLIPSIS
    'Emergency visits: each +0.1 of UPC went with a rate 11 % lower (95 % interval 8 % to 14 % lower), an ...'
    """
    kind = _RATIO_NAMES[row["model"]]
    change = 1 - row["estimate"]
    direction = "lower" if change > 0 else "higher"
    near, far = sorted((abs(1 - row["ci_low"]), abs(1 - row["ci_high"])))
    across = (row["ci_low"] - 1) * (row["ci_high"] - 1) <= 0
    interval = (
        f"95 % interval {decimals(row['ci_low'])} to {decimals(row['ci_high'])} times, which includes no difference"
        if across
        else f"95 % interval {near * 100:.0f} % to {far * 100:.0f} % {direction}"
    )
    index = _INDEX_NAMES.get(row["exposure"], row["exposure"])
    size = f"{abs(change) * 100:.0f} %"
    return (
        f"{row['label']}: each +0.1 of {index} went with a {kind} {size} {direction} ({interval}), "
        "an association, not proof of effect."
    )


def worth_section(shown: WorthValues) -> str:
    """The section's HTML: sentences, the forest plot, the two survival curves."""
    forest = shown.forest
    heads = forest[(forest.term == "per_0.1") & forest.estimate.notna()] if len(forest) else forest
    sentences = "".join(f"<li>{esc(headline_sentence(r))}</li>" for _, r in heads.iterrows())
    sentences += "".join(f"<li>{esc(note)}</li>" for note in shown.notes)
    takeaway = (
        esc(headline_sentence(heads.iloc[0]))
        if len(heads)
        else "Outcomes could not be estimated on this data: it has no emergency visits, admissions or deaths."
    )
    body = f"<p>Continuity over the {esc(shown.windows)}; adjusted for age, sex and baseline use.</p>"
    body += f"<ul>{sentences}</ul>" if sentences else ""
    if len(heads):
        body += figure(
            render(forest_chart(forest)),
            caption="Ratios per +0.1 of the index and by quintile (against the lowest), with 95 % intervals; "
            "estimates resting on fewer than 11 patients or events are not shown.",
            name="worth-forest",
            takeaway="Outcome ratios by continuity",
        )
    curves = [
        (shown.relationships, "relationships unbroken", "worth-relationships", "How long relationships last"),
        (shown.tenure, "clinicians still in practice", "worth-tenure", "How long clinicians stay"),
    ]
    drawn = [
        figure(
            render(survival_chart(curve, title)),
            caption="Kaplan-Meier estimate with 95 % band; steps with fewer than 11 at risk are not drawn. Durations "
            "start at the first visit or encounter in the data, so they understate long ones.",
            name=name,
            takeaway=takeaway_text,
        )
        for curve, title, name, takeaway_text in curves
        if len(curve)
    ]
    if drawn:
        body += '<div class="grid2">' + "".join(drawn) + "</div>"
    return section("worth", "What the relationship is worth", takeaway, body)
