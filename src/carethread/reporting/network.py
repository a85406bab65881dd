"""The report's section "Who shares patients": the sharing network drawn, care density by practice.

:func:`compute_network` runs the measures (the sharing network over every
setting, care density) in the engine and keeps exact aggregates only: pairs
of clinicians sharing at least 11 patients (a pair under 11 is never drawn
nor written, with privacy on or off), each clinician's practice, and care
density by practice. The layout is computed here by igraph
(Fruchterman-Reingold from a circle with a seeded generator, so the same
network is drawn the same way every time).
:func:`protect_network` pseudonymises clinicians and practices and hides the
statistics of practices under 11 patients; :func:`network_section` draws the
network as inline SVG (practices as colours) and writes one sentence a
practice manager can act on: the pair of clinicians in different practices
who share the most patients.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import altair as alt
import ibis
import pandas as pd

from carethread import privacy as pv
from carethread.reporting import charts
from carethread.reporting.html import count, esc, figure, section, table, window_text
from carethread.wording import decimals, format_count, is_missing

#: The network draws at most this many clinicians: those with the most shared patients in drawn pairs.
MAX_DRAWN = 150

#: Rows of the table of pairs across practices.
TOP_PAIRS = 5

#: Care density is drawn for at most this many practices, those with the most patients: a health
#: system of 1 680 practices made a chart 37 000 px tall that Vega could not even lay out.
MAX_PRACTICES = 25


@dataclass
class NetworkValues:
    """What the section shows, exact (``privacy`` None) or protected.

    ``nodes``: ``clinician, practice, x, y, shared`` (shared patients over the
    clinician's drawn pairs); ``edges``: ``clinician_a, clinician_b,
    shared_patients, x, y, x2, y2, across`` (pairs of at least 11 patients);
    ``density``: ``practice, patients, mean, median`` (care density of the
    patients whose visits were mostly with the practice), the
    :data:`MAX_PRACTICES` practices with the most such patients, most first;
    ``practices``: how many practices have any; ``clinicians``: in the
    network before the cap; ``pairs``: pairs of at least 11 patients.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    density: pd.DataFrame
    clinicians: int
    pairs: int
    practices: int = 0
    privacy: bool | None = None


def _data(df: pd.DataFrame) -> alt.Data:
    return alt.Data(values=charts.records(df))


def _layout(edges: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Fruchterman-Reingold positions in [0, 1]²: clinicians who share more patients pull closer.

    Started from a circle with igraph's random numbers drawn from a generator
    seeded here (and the module's own generator put back after), so the same
    network is drawn the same way every time.
    """
    import random

    import igraph

    from carethread.measures.network.export import to_igraph

    if edges.empty:
        return {}
    graph = to_igraph(edges[["clinician_a", "clinician_b", "shared_patients"]].to_dict("records"))
    igraph.set_random_number_generator(random.Random(0))
    try:
        layout = graph.layout_fruchterman_reingold(seed=graph.layout_circle().coords, weights="weight", niter=1000)
    finally:
        igraph.set_random_number_generator(random)
    xs, ys = [c[0] for c in layout.coords], [c[1] for c in layout.coords]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    return {
        name: ((x - min(xs)) / span, (y - min(ys)) / span) for name, x, y in zip(graph.vs["name"], xs, ys, strict=True)
    }


def compute_network(
    encounters: ibis.Table,
    *,
    clinicians=None,
    settings=None,
    start=None,
    end=None,
    network: ibis.Table | None = None,
    density: ibis.Table | None = None,
) -> NetworkValues:
    """The exact values of the section (module docstring); ``settings`` None is every setting.

    ``network`` (every pair) and ``density`` are those measures over the same window when already
    computed (``carethread all`` has written them), so they are not computed again.
    """
    from carethread.measures.network.density import care_density
    from carethread.measures.network.edges import (
        clinician_ties,
        network_settings,
        sharing_network,
        sharing_network_filter,
    )
    from carethread.measures.network.export import SHAREABLE_MIN_SHARED
    from carethread.measures.network.teams import home_practices
    from carethread.measures.practices import clinician_practice

    window = dict(settings=network_settings(settings), start=start, end=end)
    if network is None:
        net = sharing_network(encounters, **window, min_shared=SHAREABLE_MIN_SHARED)
    else:
        net = sharing_network_filter(network, SHAREABLE_MIN_SHARED)
    edges = (
        net.select("clinician_a", "clinician_b", "shared_patients").order_by("clinician_a", "clinician_b").to_pandas()
    )
    practices = clinician_practice(encounters, clinicians=clinicians, **window)
    practice_of = {r["clinician_id"]: r["practice_id"] for r in practices.to_pyarrow().to_pylist()}
    shared = (
        pd.concat(
            [edges.rename(columns={"clinician_a": "clinician"}), edges.rename(columns={"clinician_b": "clinician"})]
        )
        .groupby("clinician")
        .shared_patients.sum()
    )
    kept = set(shared.sort_values(ascending=False, kind="stable").index[:MAX_DRAWN])
    drawn = edges[edges.clinician_a.isin(kept) & edges.clinician_b.isin(kept)].reset_index(drop=True)
    where = _layout(drawn)
    nodes = pd.DataFrame(
        [(c, practice_of.get(c), *where[c], int(shared.get(c, 0))) for c in sorted(where)],
        columns=["clinician", "practice", "x", "y", "shared"],
    )
    drawn = drawn.assign(
        x=[where[a][0] for a in drawn.clinician_a],
        y=[where[a][1] for a in drawn.clinician_a],
        x2=[where[b][0] for b in drawn.clinician_b],
        y2=[where[b][1] for b in drawn.clinician_b],
        across=[
            practice_of.get(a) != practice_of.get(b) for a, b in zip(drawn.clinician_a, drawn.clinician_b, strict=True)
        ],
    )
    ties = clinician_ties(encounters, **window)
    home = home_practices(ties, practices)
    per_patient = care_density(encounters, **window) if density is None else density
    d = per_patient.inner_join(home, "patient_id")
    d = d.filter(d.care_density.notnull())
    per_practice = (
        d.group_by(practice=d.home)
        .aggregate(patients=d.count(), mean=d.care_density.mean(), median=d.care_density.median())
        .to_pandas()
        .sort_values(["patients", "practice"], ascending=[False, True], kind="stable")
    )
    return NetworkValues(
        nodes=nodes,
        edges=drawn,
        density=per_practice.head(MAX_PRACTICES).reset_index(drop=True),
        clinicians=int(shared.size),
        pairs=len(edges),
        practices=len(per_practice),
    )


def protect_network(values: NetworkValues, *, privacy: bool, clinician_label, practice_label) -> NetworkValues:
    """Pseudonyms for clinicians and practices; care density of a practice under 11 patients hidden."""
    practice = lambda p: practice_label(p) if p is not None and not pd.isna(p) else "unknown practice"  # noqa: E731
    nodes = values.nodes.assign(
        clinician=[clinician_label(c) for c in values.nodes.clinician],
        practice=[practice(p) for p in values.nodes.practice],
    )
    edges = values.edges.assign(
        clinician_a=[clinician_label(c) for c in values.edges.clinician_a],
        clinician_b=[clinician_label(c) for c in values.edges.clinician_b],
    )
    density = values.density.assign(practice=[practice(p) for p in values.density.practice])
    small = [not pv.group_is_safe(int(n), privacy=privacy) for n in density.patients]
    for column in ("mean", "median"):
        density[column] = [None if hide else v for v, hide in zip(density[column], small, strict=True)]
    return replace(values, nodes=nodes, edges=edges, density=density, privacy=privacy)


def network_chart(nodes: pd.DataFrame, edges: pd.DataFrame, labels: bool) -> alt.LayerChart:
    """Clinicians placed by the layout, coloured by practice; lines are pairs sharing 11 or more patients."""
    hidden_axis = alt.Axis(labels=False, ticks=False, domain=False, grid=False, title=None)
    scale = alt.Scale(domain=[-0.05, 1.05], nice=False)
    lines = (
        alt.Chart(_data(edges))
        .mark_rule(color=charts.MUTED, opacity=0.3)
        .encode(
            x=alt.X("x:Q", axis=hidden_axis, scale=scale),
            y=alt.Y("y:Q", axis=hidden_axis, scale=scale),
            x2="x2:Q",
            y2="y2:Q",
            strokeWidth=alt.StrokeWidth(
                "shared_patients:Q",
                scale=alt.Scale(range=[0.4, 5]),
                title="shared patients",
                legend=alt.Legend(orient="bottom"),
            ),
        )
    )
    points = (
        alt.Chart(_data(nodes))
        .mark_circle(opacity=0.95, stroke="white", strokeWidth=0.8)
        .encode(
            x=alt.X("x:Q", axis=hidden_axis, scale=scale),
            y=alt.Y("y:Q", axis=hidden_axis, scale=scale),
            size=alt.Size("shared:Q", scale=alt.Scale(range=[40, 420]), legend=None),
            color=alt.Color(
                "practice:N", title="practice", legend=alt.Legend(columns=2, orient="bottom", labelLimit=120)
            ),
        )
    )
    layers = [lines, points]
    if labels:
        layers.append(
            alt.Chart(_data(nodes))
            .mark_text(align="left", dx=7, dy=-5, fontSize=11, color="#444")
            .encode(x="x:Q", y="y:Q", text="clinician:N")
        )
    return alt.layer(*layers).properties(width=320, height=300)  # legends below: within the report's 360 px (issue 13)


def density_chart(density: pd.DataFrame) -> alt.LayerChart:
    """Mean care density per practice; practices under 11 patients show no bar and say so."""
    d = density.assign(bar=density["mean"], text=[_number(m) for m in density["mean"]])
    base = alt.Chart(_data(d)).encode(
        y=alt.Y("practice:N", sort=list(d.practice), title=None, axis=alt.Axis(labelLimit=110))
    )
    bars = base.mark_bar(color=charts.ACCENT, height=16).encode(
        x=alt.X("bar:Q", title=["mean care density", "(patients shared per pair of the patient's clinicians)"])
    )
    text = base.mark_text(align="left", dx=4, fontSize=11).encode(x=alt.X("bar:Q"), text="text:N")
    text = text.transform_calculate(bar="datum.bar == null ? 0 : datum.bar")
    return alt.layer(bars, text).properties(width=180, height=22 * max(len(d), 1) + 10)


def _number(value) -> str:
    return "fewer than 11 patients" if is_missing(value) else decimals(value, 1)


def _pair_sentence(shown, v: NetworkValues) -> str:
    across = v.edges[v.edges.across].sort_values(["shared_patients", "clinician_a"], ascending=[False, True])
    if across.empty:
        return (
            "No two clinicians in different practices share 11 or more patients: hand-offs between practices are "
            "spread thin, with no one pair to start from."
        )
    top = across.iloc[0]
    practices = dict(zip(v.nodes.clinician, v.nodes.practice, strict=True))
    return (
        f"{esc(top.clinician_a)} ({esc(practices[top.clinician_a])}) and {esc(top.clinician_b)} "
        f"({esc(practices[top.clinician_b])}) share {count(shown, int(top.shared_patients))} patients across "
        "practices, more than any other pair in different practices: agreeing how these two hand patients over "
        "would reach the most patients."
    )


def network_section(shown) -> str:
    """The section "Who shares patients" from the protected report values (``shown.network``)."""
    v: NetworkValues | None = getattr(shown, "network", None)
    title = "Who shares patients"
    if v is None or v.edges.empty:
        return section("network", title, "No two clinicians share 11 or more patients in this window.", "")
    takeaway = _pair_sentence(shown, v)
    period = esc(window_text(shown.span.lo, shown.span.hi))
    cap = (
        f"Each dot is a clinician, coloured by practice and sized by the patients they share; each line joins two "
        f"clinicians who both saw at least 11 of the same patients in {period} (any setting: primary care, "
        f"specialists, urgent care, the emergency department, the ward). Pairs sharing fewer than 11 patients are "
        f"never drawn. {count(shown, v.pairs)} such pairs among {count(shown, v.clinicians)} clinicians"
        + (f"; the {MAX_DRAWN} clinicians sharing the most patients are drawn." if v.clinicians > MAX_DRAWN else ".")
    )
    graph = figure(
        charts.render(network_chart(v.nodes, v.edges, labels=len(v.nodes) <= 20)),
        caption=cap,
        takeaway="Clinicians linked by the patients they share",
        name="network-graph",
    )
    across = v.edges[v.edges.across].sort_values(["shared_patients", "clinician_a"], ascending=[False, True])
    practices = dict(zip(v.nodes.clinician, v.nodes.practice, strict=True))
    rows = [
        [
            esc(f"{r.clinician_a} ({practices[r.clinician_a]})"),
            esc(f"{r.clinician_b} ({practices[r.clinician_b]})"),
            count(shown, int(r.shared_patients)),
        ]
        for r in across.head(TOP_PAIRS).itertuples()
    ]
    pairs = (
        (
            "<h3>Pairs across practices sharing the most patients</h3>"
            + table(["clinician", "clinician", "shared patients"], rows, numeric=(2,))
        )
        if rows
        else ""
    )
    density_rows = [
        [esc(r.practice), count(shown, int(r.patients)), esc(_number(r.mean)), esc(_number(r.median))]
        for r in v.density.itertuples()
    ]
    density = (
        '<div class="grid2">'
        + figure(
            charts.render(density_chart(v.density)),
            takeaway="Care density by practice",
            caption=(
                "Care density (Pollack et al. 2013) of a patient with two or more clinicians: the mean number of "
                "patients each pair of their clinicians shares. Higher means the patient's clinicians work together "
                "more. Patients are counted with the practice that gave most of their visits."
                + (
                    f" The {MAX_PRACTICES} practices with the most such patients are shown, of "
                    f"{format_count(v.practices)}; every patient's care density is in care_density.parquet of "
                    "carethread all."
                    if v.practices > len(v.density)
                    else ""
                )
            ),
            name="network-density",
        )
        + table(["practice", "patients", "mean", "median"], density_rows, numeric=(1, 2, 3))
        + "</div>"
        if len(v.density)
        else ""
    )
    return section("network", title, takeaway, graph + pairs + density)
