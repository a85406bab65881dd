"""The report's "If a clinician leaves" section: the optimal plan against the strategies practices use.

docs/rebalance.md, *What if a clinician leaves*. Three steps, like every
section: :func:`compute_departure` runs :func:`carethread.measures.rebalance.what_if`
for one departure and keeps exact counts; :func:`protect_departure` hides
counts from 1 to 10 (and shares that would reveal one) and puts the
clinician under their pseudonym; :func:`departure_section` draws the chart
and the table. No patient identifier leaves the measure.

Which departure: a clinician the clinicians table says will leave
(``active_to`` on or after the attribution date) with the largest panel;
when none will, the clinician with the largest panel (the departure that
would orphan most patients). The section needs capacities (the clinicians
table's ``capacity``) and says so when there are none.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import altair as alt
import pandas as pd

from carethread import privacy as pv
from carethread.reporting import charts
from carethread.reporting.html import cell_count, count, esc, figure, section, table
from carethread.wording import MISSING, day, percent

#: The section's id and its title in the table of contents.
SECTION = ("departure", "If a clinician leaves")

#: Counts of the strategy table, each hidden when 1 to 10.
COUNTS: tuple[str, ...] = ("placed", "kept_known", "patients_over_capacity", "clinicians_over_capacity")


@dataclass
class Departure:
    """One departure's comparison: exact (computed) or protected (shown).

    ``table`` has one row per strategy: ``strategy, placed, kept_known,
    kept_share, orphan_continuity, patient_side_continuity,
    provider_side_continuity, patients_over_capacity,
    clinicians_over_capacity`` (protected: hidden counts and unsafe shares
    are null, with ``state`` saying why). ``note`` says why there is no
    comparison.
    """

    clinician: str | None = None
    planned: bool = False
    orphans: int = 0
    table: pd.DataFrame | None = None
    note: str | None = None


def _who_leaves(inputs, options) -> tuple[str | None, bool]:
    """The departure to show (module docstring) and whether it is planned."""
    from carethread.measures.attribution import attribute

    c = inputs.clinicians
    a = attribute(
        inputs.encounters,
        settings=options.settings,
        as_of=inputs.span.as_of,
        lookback_months=options.lookback_months,
    )
    import ibis

    sizes = a.group_by("clinician_id").aggregate(panel=a.count())
    listed = c.select(clinician_id=c.clinician_id.cast("string"), capacity=c.capacity, active_to=c.active_to)
    t = sizes.join(listed, "clinician_id")
    t = t.filter(t.capacity.notnull())
    planned = (t.active_to.notnull() & (t.active_to >= inputs.span.as_of.date())).fill_null(False)
    order = [ibis.desc(planned), ibis.desc(t.panel), t.clinician_id]
    best = t.order_by(order).limit(1).to_pyarrow().to_pylist()
    if not best:
        return None, False
    row = best[0]
    return row["clinician_id"], bool(row["active_to"] is not None and row["active_to"] >= inputs.span.as_of.date())


def compute_departure(inputs, options) -> Departure:
    """The exact comparison for one departure (see the module docstring)."""
    from carethread.errors import CarethreadError
    from carethread.measures.rebalance import what_if

    c = inputs.clinicians
    if c is None or "capacity" not in c.columns or "active_to" not in c.columns:
        return Departure(note="The data have no clinicians table with capacities, so no departure can be planned.")
    clinician, planned = _who_leaves(inputs, options)
    if clinician is None:
        return Departure(note="No clinician with a stated capacity holds a panel, so no departure can be planned.")
    try:
        result = what_if(
            inputs.encounters,
            clinicians=c,
            settings=options.settings,
            as_of=inputs.span.as_of,
            leave=[clinician],
            lookback_months=options.lookback_months,
        )
    except CarethreadError as error:  # a data problem the plan cannot get past: say it, do not fail the report
        return Departure(clinician=clinician, planned=planned, note=pv.redact_text(str(error)))
    t = result.table.to_pandas()
    t["kept_share"] = t.kept_known / t.orphans.where(t.orphans > 0)
    return Departure(clinician=clinician, planned=planned, orphans=int(result.orphans), table=t.drop(columns="orphans"))


def protect_departure(d: Departure | None, *, privacy: bool, clinician_label) -> Departure | None:
    """``d`` with the clinician pseudonymised, counts 1-10 hidden and unsafe shares dropped."""
    if d is None:
        return None
    label = clinician_label(d.clinician) if d.clinician is not None else None
    if d.table is None:
        return dataclasses.replace(d, clinician=label)
    t = d.table.copy()
    safe = pv.group_is_safe(d.orphans, privacy=privacy)
    for column in COUNTS:
        t[column] = pd.array([None if privacy and pv.is_small(int(v)) else int(v) for v in t[column]], dtype="Int64")
    kept_safe = [safe and pv.share_is_safe(int(k), d.orphans, privacy=privacy) for k in d.table.kept_known]
    placed_safe = [pv.share_is_safe(int(p), d.orphans, privacy=privacy) or p == d.orphans for p in d.table.placed]
    t["kept_share"] = [s if ok else None for s, ok in zip(t.kept_share, kept_safe, strict=True)]
    t["kept_known"] = [k if ok else None for k, ok in zip(t.kept_known, kept_safe, strict=True)]
    t["placed"] = [p if ok else None for p, ok in zip(t.placed, placed_safe, strict=True)]
    for column in ("orphan_continuity", "patient_side_continuity", "provider_side_continuity"):
        t[column] = t[column] if safe else None
    return dataclasses.replace(d, clinician=label, table=t)


def strategy_chart(t: pd.DataFrame) -> alt.LayerChart:
    """One bar per strategy: the share of the departing clinician's patients placed with a clinician they know."""
    d = t.dropna(subset=["kept_share"]).copy()
    d["text"] = [percent(v) for v in d.kept_share]
    d["over"] = ["within capacity" if not n else "over capacity" for n in d.patients_over_capacity.fillna(1)]
    base = alt.Chart(alt.Data(values=charts.records(d))).encode(
        y=alt.Y("strategy:N", sort=list(t.strategy), title=None, axis=alt.Axis(labelLimit=130)),
        x=alt.X("kept_share:Q", **charts.percent_axis("placed with a clinician they know")),
    )
    color = alt.Color(
        "over:N",
        title=None,
        scale=alt.Scale(domain=["within capacity", "over capacity"], range=[charts.ACCENT, charts.KIND_COLORS["lost"]]),
        legend=alt.Legend(orient="bottom"),
    )
    bars = base.mark_bar(height=18).encode(color=color)
    text = base.mark_text(align="left", dx=6, fontSize=12).encode(text="text:N")
    return alt.layer(bars, text).properties(width=170, height=34 * max(len(t), 1))  # with labels, within 360 px


def _takeaway(d: Departure, shown) -> str:
    t = d.table
    best = t.iloc[0]
    if best.kept_share is None or pd.isna(best.kept_share):
        return (
            f"If {esc(d.clinician)} left, too few of their patients would need a new clinician to compare the "
            "strategies without revealing a small count."
        )
    others = [
        f"{esc(r.strategy)} {percent(r.kept_share)}"
        + (" (over capacity)" if not pd.isna(r.patients_over_capacity) and r.patients_over_capacity else "")
        for r in t.iloc[1:].itertuples()
        if not pd.isna(r.kept_share)
    ]
    return (
        f"If {esc(d.clinician)} left on {day(shown.span.as_of)}, {count(shown, d.orphans)} patients would need a new "
        f"clinician. The optimal plan keeps a clinician they already know for {percent(best.kept_share)} of them "
        f"without exceeding any capacity; " + ", ".join(others) + "."
    )


def departure_section(shown) -> str:
    """The section's HTML from the protected values."""
    d = shown.departure
    ident, title = SECTION
    if d is None or d.table is None:
        note = d.note if d is not None and d.note else "No departure could be planned from these data."
        return section(ident, title, esc(note), "")
    t = d.table
    rows = [
        [
            esc(r.strategy),
            cell_count(shown, r.placed),
            cell_count(shown, r.kept_known),
            percent(r.kept_share) if not pd.isna(r.kept_share) else MISSING,
            percent(r.orphan_continuity) if not pd.isna(r.orphan_continuity) else MISSING,
            percent(r.provider_side_continuity) if not pd.isna(r.provider_side_continuity) else MISSING,
            cell_count(shown, r.patients_over_capacity),
        ]
        for r in t.itertuples()
    ]
    why = (
        "who is due to leave" if d.planned else "with the largest panel (the departure that would orphan most patients)"
    )
    caption = (
        f"{esc(d.clinician)} is the clinician {why}. Each bar places their patients one way: the optimal plan "
        "(the most relationship strength kept within every capacity: docs/rebalance.md), greedy by strength "
        "(strongest ties first, each to their strongest clinician with a place), the list builder (as greedy, "
        "but a patient who knows their strongest clinician goes there even when full), the clinician of the "
        "practice with the most spare capacity, and a random clinician of the practice. Grey bars exceed a capacity."
    )
    # The chart, then the tables below it at full width (issue 13: no table wider than its box).
    body = (
        figure(
            charts.render(strategy_chart(t)),
            takeaway="Patients who keep a clinician they know",
            caption=caption,
            name="departure-strategies",
        )
        + "<div><h3>Projected continuity</h3>"
        # Two tables of four columns: seven do not fit a phone's column (issue 13).
        + table(["strategy", "placed", "know the new clinician", "share"], [r[:4] for r in rows], numeric=(1, 2, 3))
        + table(
            ["strategy", "their visits with them", "receiving side", "over capacity"],
            [r[:1] + r[4:] for r in rows],
            numeric=(1, 2, 3),
        )
        + '<p class="note">From the visits of the last '
        + f"{shown.span.lookback_months} months without the departing clinician's: the share of the patients' "
        "visits that were with their new clinician, and of the receiving clinicians' visits that were with their "
        "own panel after the move. Over capacity: patients beyond the receiving clinicians' capacities.</p></div>"
    )
    return section(ident, f"If {d.clinician} leaves", _takeaway(d, shown), body)
