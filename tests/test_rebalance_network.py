"""The network term of the rebalancing strength: a hand-made practice where it changes the optimal assignment.

A (practice X) leaves. Their patient p saw only A (2 visits). r1, r2 and r3
each saw A once and E (practice Y) twice, so they are E's patients. B, in
A's practice X, has seen nobody. Capacities: B 1 (1 free place), E 4 (3 own
patients, 1 free place).

In the look-back A's patients are p, r1, r2 and r3 (4); E shares r1, r2 and
r3 with A (3), B none. With a half-life of a million months every visit
weighs 1, so p's strengths are

* B: 0 visits + 0.5 (A's practice) + w × 0 / 4 = 0.5;
* E: 0 visits + 0 (another practice) + w × 3 / 4 = 0.75 w.

With ``w = 0`` (the default) p goes to B (0.5 > 0); with ``w = 1`` to E
(0.75 > 0.5); with ``w = 0.5`` to B again (0.375 < 0.5): E wins exactly
when w > 2/3.
"""

from __future__ import annotations

import math

import ibis
import pytest

from carethread import sharing_network
from carethread.errors import OptionError
from carethread.measures.rebalance import rebalance
from carethread.measures.rebalance.strength import network_share
from tests.test_rebalance import AS_OF, FLAT, encounters, rows, staff
from tests.test_rebalance_cli import invoke, write_practice

NETWORK_PRACTICE = {"A": "X", "B": "X", "E": "Y"}
NETWORK_VISITS = {
    "p": [("A", 2)],
    "r1": [("A", 1), ("E", 2)],
    "r2": [("A", 1), ("E", 2)],
    "r3": [("A", 1), ("E", 2)],
}
NETWORK_CAPACITY = {"A": 10, "B": 1, "E": 4}


@pytest.fixture(scope="module")
def shared_practice():
    return encounters(NETWORK_VISITS, NETWORK_PRACTICE), staff(NETWORK_CAPACITY, NETWORK_PRACTICE)


def plan(data, network_weight: float, **options):
    enc, clin = data
    return rebalance(enc, clinicians=clin, as_of=AS_OF, leave="A", network_weight=network_weight, **FLAT, **options)


def test_the_share_is_the_sharing_networks_edge_over_the_home_clinicians_patients(shared_practice):
    """E: 3 shared patients of A's 4 = 0.75; B shares none (no row). The numerator is sharing_network's
    shared_patients of the pair (A, E) over the strength's settings."""
    enc, _ = shared_practice
    share = network_share(enc, ibis.memtable({"home_id": ["A"]}), as_of=AS_OF)
    assert rows(share, "clinician_id", "shared_patients", "home_patients", "network_share") == [("E", 3, 4, 0.75)]
    edges = sharing_network(enc, settings="primary_care,virtual")
    pairs = edges.select("clinician_a", "clinician_b", "shared_patients").to_pyarrow().to_pylist()
    assert pairs == [{"clinician_a": "A", "clinician_b": "E", "shared_patients": 3}]


def test_the_network_term_changes_the_optimal_assignment(shared_practice):
    """p goes to B (0.5) without the network, to E (0.75 × 1 = 0.75) with weight 1, to B with weight 0.5
    (0.375 < 0.5)."""
    default = plan(shared_practice, 0.0)
    assert rows(default.moves, "patient_id", "to_clinician_id", "strength_kept") == [("p", "B", 0.5)]
    assert default.moves.to_pyarrow()["reason"].to_pylist() == [
        "clinician leaves; same practice, not seen in the look-back"
    ]
    networked = plan(shared_practice, 1.0)
    assert rows(networked.moves, "patient_id", "to_clinician_id") == [("p", "E")]
    assert networked.moves.to_pyarrow()["strength_kept"].to_pylist() == pytest.approx([0.75])
    assert networked.moves.to_pyarrow()["reason"].to_pylist() == [
        "clinician leaves; another practice with room, not seen in the look-back; saw 75% of their clinician's patients"
    ]
    why = networked.explanations.to_pyarrow().to_pylist()[0]
    assert (why["choice_rank"], why["stronger_alternatives"]) == (1, 0)
    assert why["alternatives"] == "B (strength 0.50, had room)"
    half = plan(shared_practice, 0.5)
    assert rows(half.moves, "patient_id", "to_clinician_id", "strength_kept") == [("p", "B", 0.5)]


def test_a_network_tie_alone_makes_a_candidate(shared_practice):
    """Without the clinicians with most room (fallback 0), E is no candidate of p at weight 0 (never seen,
    another practice): p's only candidate is B. At weight 1 the network adds E, and p goes there."""
    default = plan(shared_practice, 0.0, fallback_candidates=0)
    why = default.explanations.to_pyarrow().to_pylist()[0]
    assert (why["to_clinician_id"], why["candidates"]) == ("B", 1)
    networked = plan(shared_practice, 1.0, fallback_candidates=0)
    why = networked.explanations.to_pyarrow().to_pylist()[0]
    assert (why["to_clinician_id"], why["candidates"]) == ("E", 2)


@pytest.mark.parametrize("weight", [-0.1, math.nan, math.inf, "0.3"])
def test_a_network_weight_must_be_a_non_negative_number(shared_practice, weight):
    with pytest.raises(OptionError, match="--network-weight must be a number of at least 0"):
        plan(shared_practice, weight)


def test_the_cli_passes_the_network_weight(tmp_path):
    """The same practice through `carethread rebalance --network-weight 1`: p goes to E (0.75)."""
    data = write_practice(tmp_path / "data", NETWORK_VISITS, NETWORK_CAPACITY)
    out = tmp_path / "moves.csv"
    common = ("rebalance", data, "--as-of", AS_OF, "--leave", "A", "--half-life-months", 1_000_000, "--out", out)
    res = invoke(*common, "--network-weight", 1)
    assert res.exit_code == 0, res.output
    assert out.read_text().splitlines()[1].startswith("p,A,E,0.75,")
    res = invoke(*common, "--network-weight", -1)
    assert res.exit_code != 0
    assert "--network-weight must be a number of at least 0" in res.output
