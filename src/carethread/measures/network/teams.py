"""Care teams that really exist: communities of the sharing network, against the organisation chart.

Clinicians who share many patients work together whatever the organisation
chart says. :func:`care_teams` finds those groups with the Leiden algorithm
(Traag VA, Waltman L, van Eck NJ. Sci Rep 2019;9:5233) on the sharing
network weighted by shared patients, maximising modularity (Newman 2006; a
``resolution`` other than 1 is the Reichardt-Bornholdt generalisation), and
compares them with the recorded practices:

* the **adjusted Rand index** (Hubert L, Arabie P. J Classif 1985;2:193-218)
  of teams against practices over the clinicians in the network that have a
  practice: 1 when the teams are the practices, about 0 when they are
  unrelated;
* per practice, the **share of its patients' visits that stay inside one
  team**: a patient belongs to the practice whose clinicians gave most of
  their visits (ties to the smallest practice id), and the share is the
  largest part of those patients' visits that one team gave;
* per team, its clinicians and the **patients mostly seen inside it** (more
  than half of their visits with its clinicians);
* **bridging clinicians**: betweenness centrality (Freeman 1977; Brandes
  2001) on path lengths ``1 / shared_patients`` (a strong tie is a short
  hop), normalised by ``(n - 1)(n - 2) / 2``; the clinicians who share
  patients with another team, highest betweenness first, are where hand-offs
  between teams happen.

Reproducible: the vertices are the clinicians in id order and Leiden runs
with ``seed``, so the same input and seed give the same teams. Teams are
numbered 1, 2, ... by size (then smallest clinician id). Clinicians who share
no patient (at ``min_shared``) are in no team. Above
:data:`EXACT_BETWEENNESS_UP_TO` clinicians, betweenness is estimated from
that many source clinicians drawn with ``seed`` and scaled up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import ibis
import pyarrow as pa

from carethread.measures.display import as_result
from carethread.measures.keys import COUNT_WIDTH, most_frequent_key
from carethread.measures.network.edges import clinician_ties, sharing_network
from carethread.measures.network.export import to_igraph
from carethread.measures.numbers import exact_int64, ratio
from carethread.measures.practices import clinician_practice
from carethread.options import Clinicians, DateLike, Settings, normalize_settings

#: Betweenness is exact up to this many clinicians, estimated from this many sources above.
EXACT_BETWEENNESS_UP_TO = 2_000

#: A patient is "mostly seen inside" a team with more than this share of their visits there.
MOSTLY = 0.5


@dataclass(frozen=True)
class CareTeams:
    """The teams :func:`care_teams` found and how they match the recorded practices.

    Attributes
    ----------
    members : pyarrow.Table
        ``clinician_id, team, practice_id, betweenness, other_teams,
        bridging``: one row per clinician in the network; ``other_teams``
        counts the other teams they share patients with; ``bridging`` marks
        the ``bridges`` clinicians with the highest betweenness among those
        with ``other_teams > 0``.
    teams : pyarrow.Table
        ``team, clinicians, main_practice_id, main_practice_clinicians,
        patients_mostly_inside``.
    practices : pyarrow.Table
        ``practice_id, clinicians, teams, main_team, patients,
        visits_inside_one_team``: ``teams`` counts the teams its clinicians
        fall in; ``visits_inside_one_team`` is the share of its patients'
        visits the main team gave.
    patients : ibis.Table
        ``patient_id, team, visits, visits_in_team, share_in_team``: each
        patient's team (most visits; ties to the smaller team number), lazy.
    adjusted_rand : float or None
        Teams against practices (None with fewer than two clinicians that have a practice).
    modularity : float
        Of the partition found (weighted, at ``resolution``).
    """

    members: pa.Table
    teams: pa.Table
    practices: pa.Table
    patients: ibis.Table
    adjusted_rand: float | None
    modularity: float

    @property
    def bridges(self) -> list[dict]:
        """The bridging clinicians, highest betweenness first."""
        rows = [r for r in self.members.to_pylist() if r["bridging"]]
        return sorted(rows, key=lambda r: (-r["betweenness"], r["clinician_id"]))


def _partition(graph, *, resolution: float, seed: int) -> list[int]:
    """Leiden communities as team numbers 1, 2, ... (largest first, then smallest vertex)."""
    import leidenalg

    if graph.ecount() == 0:
        found = list(range(graph.vcount()))
    else:
        found = leidenalg.find_partition(
            graph,
            leidenalg.RBConfigurationVertexPartition,
            weights="weight",
            resolution_parameter=resolution,
            n_iterations=-1,
            seed=seed,
        ).membership
    groups: dict[int, list[int]] = {}
    for vertex, group in enumerate(found):
        groups.setdefault(group, []).append(vertex)
    order = sorted(groups.values(), key=lambda members: (-len(members), members[0]))
    team = [0] * graph.vcount()
    for number, members in enumerate(order, 1):
        for vertex in members:
            team[vertex] = number
    return team


def _betweenness(graph, seed: int) -> list[float]:
    """Normalised weighted betweenness, on lengths ``1 / shared_patients`` (exact or sampled, module docstring)."""
    n = graph.vcount()
    if n < 3:
        return [0.0] * n
    lengths = [1.0 / w for w in graph.es["weight"]]
    if n <= EXACT_BETWEENNESS_UP_TO:
        raw, scale = graph.betweenness(directed=False, weights=lengths), 1.0
    else:
        sources = sorted(random.Random(seed).sample(range(n), EXACT_BETWEENNESS_UP_TO))
        raw = graph.betweenness(directed=False, weights=lengths, sources=sources)
        scale = n / EXACT_BETWEENNESS_UP_TO
    pairs = (n - 1) * (n - 2) / 2
    return [b * scale / pairs for b in raw]


def _adjusted_rand(teams: list[int], practices: list[str | None]) -> float | None:
    import igraph

    known = [(t, p) for t, p in zip(teams, practices, strict=True) if p is not None]
    if len(known) < 2:
        return None
    codes = {p: i for i, p in enumerate(sorted({p for _, p in known}))}
    if len(codes) == 1 and len({t for t, _ in known}) == 1:
        return 1.0
    return float(
        igraph.compare_communities([t for t, _ in known], [codes[p] for _, p in known], method="adjusted_rand")
    )


def _members(graph, team: list[int], practices: dict, *, seed: int, bridges: int) -> pa.Table:
    between = _betweenness(graph, seed)
    others = [len({team[u] for u in graph.neighbors(v)} - {team[v]}) for v in range(graph.vcount())]
    ranked = sorted((v for v in range(graph.vcount()) if others[v] and between[v] > 0), key=lambda v: -between[v])
    chosen = set(ranked[:bridges])
    names = graph.vs["name"]
    return pa.table(
        {
            "clinician_id": pa.array(names, pa.string()),
            "team": pa.array(team, pa.int64()),
            "practice_id": pa.array([practices.get(name) for name in names], pa.string()),
            "betweenness": pa.array(between, pa.float64()),
            "other_teams": pa.array(others, pa.int64()),
            "bridging": pa.array([v in chosen for v in range(graph.vcount())], pa.bool_()),
        }
    )


def _best(per: ibis.Table, group: str, candidate: str) -> ibis.Table:
    """Per ``group``: the ``candidate`` with the largest ``n`` (ties to the smallest) and its ``n``.

    A team number is zero-padded in the key so that the smallest number wins a tie.
    """
    text = per[candidate].cast("string")
    if per[candidate].type().is_integer():
        text = text.lpad(12, "0")
    key = per.group_by(group).aggregate(key=most_frequent_key(per.n, text).min())
    best = key.select(group, **{candidate: key.key.substr(COUNT_WIDTH).cast(per[candidate].type())})
    return best.inner_join(per, [group, candidate])


def _patient_teams(ties: ibis.Table, membership: ibis.Table) -> ibis.Table:
    """Each patient's team: the team that gave most of their visits."""
    t = ties.inner_join(membership, "clinician_id")
    best = _best(t.group_by("patient_id", "team").aggregate(n=t.visits.sum()), "patient_id", "team")
    totals = ties.group_by("patient_id").aggregate(visits=ties.visits.sum())
    j = totals.left_join(best, "patient_id")
    in_team = j.n.fill_null(0)
    return as_result(
        j.select(
            "patient_id",
            team=j.team,
            visits=exact_int64(j.visits),
            visits_in_team=exact_int64(in_team),
            share_in_team=ratio(in_team, j.visits),
        )
    )


def home_practices(ties: ibis.Table, practices: ibis.Table) -> ibis.Table:
    """``patient_id, home``: the practice whose clinicians gave most of each patient's visits (ties to the smallest).

    ``ties`` are :func:`~carethread.measures.network.edges.clinician_ties`;
    ``practices`` is ``clinician_id, practice_id``
    (:func:`~carethread.measures.practices.clinician_practice`).

    >>> import ibis
    >>> ties = ibis.memtable({"patient_id": ["p", "p", "p"], "clinician_id": ["A", "B", "C"], "visits": [2, 2, 3]})
    >>> practices = ibis.memtable({"clinician_id": ["A", "B", "C"], "practice_id": ["X", "X", "Y"]})
    >>> home_practices(ties, practices).to_pyarrow().to_pylist()
    [{'patient_id': 'p', 'home': 'X'}]
    """
    t = ties.inner_join(practices.filter(practices.practice_id.notnull()), "clinician_id")
    by_practice = t.group_by("patient_id", "practice_id").aggregate(n=t.visits.sum())
    return _best(by_practice, "patient_id", "practice_id").select("patient_id", home="practice_id")


def _practice_rows(ties: ibis.Table, membership: ibis.Table, practices: ibis.Table) -> pa.Table:
    """Per practice: its patients (most visits) and the share of their visits inside its main team."""
    home = home_practices(ties, practices)
    v = ties.inner_join(home, "patient_id").left_join(membership, "clinician_id")
    per_team = v.group_by("home", "team").aggregate(n=v.visits.sum())
    totals = per_team.group_by("home").aggregate(visits=per_team.n.sum())
    patients = home.group_by("home").aggregate(patients=home.count())
    main = _best(per_team.filter(per_team.team.notnull()), "home", "team")
    j = totals.inner_join(patients, "home").left_join(main, "home")
    rows = j.select(
        practice_id=j.home,
        main_team=j.team,
        patients=exact_int64(j.patients),
        visits_inside_one_team=ratio(j.n.fill_null(0), j.visits),
    )
    return rows.to_pyarrow()


def care_teams(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    min_shared: int = 1,
    resolution: float = 1.0,
    seed: int = 0,
    bridges: int = 10,
) -> CareTeams:
    """Find the care teams in the sharing network and compare them with the recorded practices.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Optional canonical clinicians table: each clinician's practice
        (:func:`carethread.measures.practices.clinician_practice`).
    settings
        Settings of the network; default **primary care and virtual**, the
        visit settings: teams of primary care. Pass ``carethread.schema.SETTINGS``
        to let specialists and the hospital join (they share patients with
        every practice, so they blur the teams).
    start, end
        Window ``[start, end)``.
    min_shared
        Pairs sharing fewer patients are not edges (default 1: all).
    resolution
        Leiden resolution (1: modularity; larger finds smaller teams).
    seed
        Seed of Leiden and of the sampled betweenness.
    bridges
        How many bridging clinicians to mark.

    Returns
    -------
    CareTeams
        Computed tables (module docstring); ``patients`` stays lazy.

    Examples
    --------
    Two practices whose clinicians cover for each other, joined by one patient:

    >>> import ibis, datetime as dt
    >>> rows = [(f"{x}{i}", c) for x, pair in (("p", "AB"), ("q", "CD")) for i in range(5) for c in pair]
    >>> rows += [("r", "B"), ("r", "C")]
    >>> enc = ibis.memtable({"patient_id": [p for p, _ in rows], "clinician_id": [c for _, c in rows],
    ...     "practice_id": ["X" if c in "AB" else "Y" for _, c in rows], "setting": ["primary_care"] * len(rows),
    ...     "start": [dt.datetime(2024, 1, 2)] * len(rows)})
    >>> found = care_teams(enc)
    >>> found.members.select(["clinician_id", "team"]).to_pylist()[:2], found.adjusted_rand
    ([{'clinician_id': 'A', 'team': 1}, {'clinician_id': 'B', 'team': 1}], 1.0)
    >>> [r["clinician_id"] for r in found.bridges]
    ['B', 'C']
    """
    settings = normalize_settings(settings)
    window = dict(settings=settings, start=start, end=end)
    net = sharing_network(encounters, **window, min_shared=min_shared).to_pyarrow()
    practice_of = clinician_practice(encounters, clinicians=clinicians, **window).to_pyarrow().to_pylist()
    practices = {r["clinician_id"]: r["practice_id"] for r in practice_of}
    graph = to_igraph(net.to_pylist())
    team = _partition(graph, resolution=resolution, seed=seed)
    members = _members(graph, team, practices, seed=seed, bridges=bridges)
    modularity = graph.modularity(team, weights="weight", resolution=resolution) if graph.ecount() else 0.0
    membership = ibis.memtable(members.select(["clinician_id", "team"]))
    ties = clinician_ties(encounters, **window)
    patients = _patient_teams(ties, membership)
    return CareTeams(
        members=members,
        teams=_team_rows(members, patients),
        practices=_practice_table(members, ties, membership, practice_of),
        patients=patients,
        adjusted_rand=_adjusted_rand(team, [practices.get(n) for n in graph.vs["name"]]),
        modularity=float(modularity),
    )


def _team_rows(members: pa.Table, patients: ibis.Table) -> pa.Table:
    """Per team: clinicians, the practice most of them are in, and the patients mostly seen inside."""
    mostly = patients.filter(patients.share_in_team > MOSTLY).group_by("team").aggregate(n=ibis._.count())
    inside = {r["team"]: r["n"] for r in mostly.to_pyarrow().to_pylist()}
    by_team: dict[int, list[str | None]] = {}
    for r in members.to_pylist():
        by_team.setdefault(r["team"], []).append(r["practice_id"])
    rows = []
    for number in sorted(by_team):
        listed = by_team[number]
        known = sorted(p for p in listed if p is not None)
        main = max(sorted(set(known)), key=known.count) if known else None
        rows.append((number, len(listed), main, known.count(main) if main else 0, inside.get(number, 0)))
    names = ("team", "clinicians", "main_practice_id", "main_practice_clinicians", "patients_mostly_inside")
    types = (pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.int64())
    return pa.table({n: pa.array([r[i] for r in rows], t) for i, (n, t) in enumerate(zip(names, types, strict=True))})


def _practice_table(members: pa.Table, ties: ibis.Table, membership: ibis.Table, practice_of: list[dict]) -> pa.Table:
    """:func:`_practice_rows` with each practice's clinicians in the network and the teams they fall in."""
    ids = pa.schema([("clinician_id", pa.string()), ("practice_id", pa.string())])
    practices = ibis.memtable(pa.Table.from_pylist(practice_of, schema=ids))
    rows = {r["practice_id"]: r for r in _practice_rows(ties, membership, practices).to_pylist()}
    seen: dict[str, set] = {}
    count: dict[str, int] = {}
    for r in members.to_pylist():
        if r["practice_id"] is not None:
            seen.setdefault(r["practice_id"], set()).add(r["team"])
            count[r["practice_id"]] = count.get(r["practice_id"], 0) + 1
    out = []
    for practice in sorted(set(rows) | set(seen)):
        r = rows.get(practice, {})
        out.append(
            {
                "practice_id": practice,
                "clinicians": count.get(practice, 0),
                "teams": len(seen.get(practice, ())),
                "main_team": r.get("main_team"),
                "patients": r.get("patients", 0),
                "visits_inside_one_team": r.get("visits_inside_one_team"),
            }
        )
    schema = pa.schema(
        [
            ("practice_id", pa.string()),
            ("clinicians", pa.int64()),
            ("teams", pa.int64()),
            ("main_team", pa.int64()),
            ("patients", pa.int64()),
            ("visits_inside_one_team", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(out, schema=schema)
