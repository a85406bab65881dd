"""The sharing network leaves carethread: a shareable edge list, an igraph graph, GraphML.

Analyst outputs keep every pair and the real clinician ids. A network meant
to be shared follows docs/definitions.md, *Privacy*, as the CMS shared-patient
patterns do: :func:`shareable_network` leaves out every pair that shares
fewer than 11 patients, hides a direction count from 1 to 10 (and, so that it
cannot be bounded from the other, both direction counts of that pair), and
writes clinicians under their keyed pseudonyms. Edges under 11 shared
patients are never drawn or written there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import ibis

from carethread.measures.network.edges import DIRECTION_COLUMNS, sharing_network_filter
from carethread.privacy import THRESHOLD

#: What a shared network must share at least, per pair (the CMS / ResDAC cell-size rule).
SHAREABLE_MIN_SHARED = THRESHOLD

#: The file extension :func:`write_graphml` writes.
GRAPHML = ".graphml"


def shareable_network(
    network: ibis.Table,
    *,
    min_shared: int = SHAREABLE_MIN_SHARED,
    clinician_label: Callable[[str], str] | None = None,
) -> ibis.Table:
    """The network as it may leave the analyst's hands.

    Parameters
    ----------
    network
        A :func:`~carethread.measures.network.edges.sharing_network` result.
    min_shared
        Pairs sharing fewer patients are left out (default 11; lower is
        refused, higher is allowed).
    clinician_label
        The pseudonym of a clinician id (a :class:`carethread.privacy.Pseudonymizer`);
        ``None`` keeps the ids (only for data that stays inside).

    Returns
    -------
    ibis.Table
        The same columns; with labels, each pair is ordered by its labels
        (``clinician_a`` < ``clinician_b``), its visit counts and directions
        swapped with it. Directions are null for a pair where either is 1-10.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> day = dt.date(2024, 1, 1)
    >>> net = ibis.memtable({"clinician_a": ["A", "A"], "clinician_b": ["B", "C"], "shared_patients": [30, 4],
    ...     "shared_visits_a": [40, 4], "shared_visits_b": [35, 5], "first_shared": [day] * 2,
    ...     "last_shared": [day] * 2, "a_then_b": [25, 2], "b_then_a": [7, 2]})
    >>> r = shareable_network(net, clinician_label=lambda c: {"A": "Clinician z", "B": "Clinician y"}[c])
    >>> [(x["clinician_a"], x["clinician_b"], x["shared_visits_a"], x["a_then_b"]) for x in r.to_pyarrow().to_pylist()]
    [('Clinician y', 'Clinician z', 35, None)]
    """
    from carethread.errors import OptionError

    if min_shared < SHAREABLE_MIN_SHARED:
        raise OptionError(
            f"A shared network lists pairs of at least {SHAREABLE_MIN_SHARED} patients, not {min_shared}."
        )
    net = sharing_network_filter(network, min_shared)
    directions = [c for c in DIRECTION_COLUMNS if c in net.columns]
    if directions:
        small = ibis.or_(*((net[c] >= 1) & (net[c] < THRESHOLD) for c in directions))
        net = net.mutate(**{c: ibis.ifelse(small, ibis.null("int64"), net[c]) for c in directions})
    if clinician_label is None:
        return net
    ids = sorted({*net.clinician_a.to_list(), *net.clinician_b.to_list()})
    labels = ibis.memtable({"clinician_id": ids, "label": [clinician_label(i) for i in ids]})
    for side in ("a", "b"):
        named = labels.rename(**{f"clinician_{side}": "clinician_id", f"label_{side}": "label"})
        net = net.inner_join(named, f"clinician_{side}")
    keep = net.label_a < net.label_b

    def ordered(first: str, second: str) -> tuple[ibis.Value, ibis.Value]:
        return ibis.ifelse(keep, net[first], net[second]), ibis.ifelse(keep, net[second], net[first])

    swapped = [("label_a", "label_b"), ("shared_visits_a", "shared_visits_b")]
    if directions:
        swapped.append(DIRECTION_COLUMNS)
    columns = {}
    for a_side, b_side in swapped:
        columns[a_side], columns[b_side] = ordered(a_side, b_side)
    out = net.mutate(**columns)
    out = out.mutate(clinician_a=out.label_a, clinician_b=out.label_b)
    return out.select(*network.columns)


def to_igraph(network, *, practices: Mapping[str, str | None] | None = None):
    """The network as an undirected, weighted :class:`igraph.Graph`.

    Vertices are the clinicians of the edge list, in sorted order, with
    attributes ``name`` and, when ``practices`` maps ids to practices,
    ``practice``; edges carry every column of the edge list (dates as ISO
    strings) and ``weight`` = ``shared_patients``.

    >>> import ibis
    >>> g = to_igraph(ibis.memtable({"clinician_a": ["A"], "clinician_b": ["B"], "shared_patients": [3]}))
    >>> g.vs["name"], g.es["weight"]
    (['A', 'B'], [3])
    """
    import igraph

    rows = network.to_pyarrow().to_pylist() if isinstance(network, ibis.Table) else list(network)
    names = sorted({r["clinician_a"] for r in rows} | {r["clinician_b"] for r in rows})
    index = {name: i for i, name in enumerate(names)}
    graph = igraph.Graph(n=len(names), edges=[(index[r["clinician_a"]], index[r["clinician_b"]]) for r in rows])
    graph.vs["name"] = names
    if practices is not None:
        graph.vs["practice"] = [practices.get(name) or "" for name in names]
    for column in rows[0] if rows else ():
        if column not in ("clinician_a", "clinician_b"):
            graph.es[column] = [_graphml_value(r[column]) for r in rows]
    graph.es["weight"] = [r["shared_patients"] for r in rows] if rows else []
    return graph


def _graphml_value(value):
    """GraphML knows numbers and strings: dates become ISO strings, a hidden count -1."""
    if value is None:
        return -1
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_graphml(network, path: str | os.PathLike, *, practices: Mapping[str, str | None] | None = None) -> Path:
    """Write the network to a GraphML file (for Gephi, Cytoscape, NetworkX, igraph) and return its path.

    A hidden direction count (:func:`shareable_network`) is written as -1,
    since GraphML has no null number. The file appears whole or not at all
    (:func:`carethread.output.replacing`).

    >>> import ibis, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "net.graphml"
    >>> _ = write_graphml(ibis.memtable({"clinician_a": ["A"], "clinician_b": ["B"], "shared_patients": [12]}), out)
    >>> "<graphml" in out.read_text()
    True
    """
    from carethread.output import replacing

    graph = to_igraph(network, practices=practices)
    with replacing(path) as tmp:  # whole or not at all, like every output
        graph.write_graphml(str(tmp))
    return Path(path)
