"""Care teams: Leiden communities of the sharing network against the recorded practices.

The generator's practices are the truth: on the demo system the teams must be the practices
(adjusted Rand index ≥ 0.8), and a practice the generator splits into two informal halves must come
out as two teams, one per half.
"""

from __future__ import annotations

import datetime as dt

import pytest

from carethread.engine import connect
from carethread.measures.network.teams import care_teams
from carethread.synth import generate
from tests.conftest import encounters_table

DAY0 = dt.datetime(2024, 1, 1, 9)


def enc(p, c, day, practice):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": practice,
        "setting": "primary_care",
        "start": DAY0 + dt.timedelta(days=day),
    }


def two_practices() -> list[dict]:
    # Practice X: A, B, C cover for each other (12 patients see two of them); practice Y: D, E (12 patients
    # see both). Two patients see C and D: C and D bridge the practices.
    rows = []
    for i in range(12):
        first, second = ("A", "B", "C")[i % 3], ("B", "C", "A")[i % 3]
        rows += [enc(f"x{i}", first, i, "X"), enc(f"x{i}", second, i + 20, "X")]
        rows += [enc(f"y{i}", "D", i, "Y"), enc(f"y{i}", "E", i + 20, "Y")]
    rows += [enc("b1", "C", 1, "X"), enc("b1", "D", 9, "Y"), enc("b2", "C", 2, "X"), enc("b2", "D", 30, "Y")]
    return rows


def test_hand_made_teams_practices_and_bridges(con):
    found = care_teams(encounters_table(con, two_practices()))
    members = {r["clinician_id"]: r for r in found.members.to_pylist()}
    assert {c: r["team"] for c, r in members.items()} == {"A": 1, "B": 1, "C": 1, "D": 2, "E": 2}
    assert {c: r["practice_id"] for c, r in members.items()} == {"A": "X", "B": "X", "C": "X", "D": "Y", "E": "Y"}
    assert found.adjusted_rand == pytest.approx(1.0)
    # Only C and D share patients across teams; every shortest path between the teams runs through both.
    assert [r["clinician_id"] for r in found.bridges] == ["C", "D"]
    assert {c: r["other_teams"] for c, r in members.items()} == {"A": 0, "B": 0, "C": 1, "D": 1, "E": 0}
    # Betweenness on lengths 1/shared: C lies on the paths from A and B to D and E (4 of the 6 pairs not
    # involving C), normalised by (5-1)(5-2)/2 = 6; D on A, B, C to E (3 pairs).
    assert members["C"]["betweenness"] == pytest.approx(4 / 6)
    assert members["D"]["betweenness"] == pytest.approx(3 / 6)
    teams = found.teams.to_pylist()
    assert [(t["team"], t["clinicians"], t["main_practice_id"], t["patients_mostly_inside"]) for t in teams] == [
        (1, 3, "X", 12),  # b1 and b2 split their visits half and half: mostly inside neither
        (2, 2, "Y", 12),
    ]
    practices = {r["practice_id"]: r for r in found.practices.to_pylist()}
    # X's patients: x0..x11 (24 visits, all with team 1) and b1, b2 (tied 1-1 between X and Y: the
    # smaller practice id, X, wins), whose 4 visits are 2 in team 1 and 2 in team 2: 26 / 28.
    assert practices["X"]["patients"] == 14 and practices["X"]["visits_inside_one_team"] == pytest.approx(26 / 28)
    assert practices["Y"]["patients"] == 12 and practices["Y"]["visits_inside_one_team"] == 1.0
    assert practices["X"]["teams"] == practices["Y"]["teams"] == 1
    patients = {r["patient_id"]: r for r in found.patients.to_pyarrow().to_pylist()}
    assert (patients["b1"]["team"], patients["b1"]["share_in_team"]) == (1, 0.5)
    assert (patients["y3"]["team"], patients["y3"]["share_in_team"]) == (2, 1.0)


def test_teams_are_reproducible_and_clinician_ids_do_not_matter(con):
    rows = two_practices()
    first = care_teams(encounters_table(con, rows), seed=7).members
    assert care_teams(encounters_table(con, rows), seed=7).members.equals(first)
    renamed = {"A": "Z1", "B": "Z0", "C": "Y9", "D": "B1", "E": "A5"}
    moved = care_teams(encounters_table(con, [{**r, "clinician_id": renamed[r["clinician_id"]]} for r in rows]))
    groups = {frozenset(r["clinician_id"] for r in first.to_pylist() if r["team"] == t) for t in (1, 2)}
    moved_groups = {frozenset(r["clinician_id"] for r in moved.members.to_pylist() if r["team"] == t) for t in (1, 2)}
    assert moved_groups == {frozenset(renamed[c] for c in g) for g in groups}


def test_no_shared_patient_means_no_team(con):
    rows = [enc("p", "A", 0, "X"), enc("p", "A", 5, "X"), enc("q", "B", 1, "Y")]
    found = care_teams(encounters_table(con, rows))
    assert found.members.num_rows == 0 and found.adjusted_rand is None and found.modularity == 0.0


def _system(seed: int, **kw):
    system = generate(20_000, seed=seed, **kw)
    con = connect()
    enc = con.create_table("encounters", system.encounters)
    clinicians = con.create_table("clinicians", system.clinicians)
    return system, care_teams(enc, clinicians=clinicians, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_teams_recover_the_generators_practices(seed):
    _, found = _system(seed)
    assert found.adjusted_rand >= 0.8
    for practice in found.practices.to_pylist():
        assert practice["teams"] == 1 and practice["visits_inside_one_team"] > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2])
def test_a_practice_split_in_two_halves_comes_out_as_two_teams(seed):
    system, found = _system(seed, split_practices=1)
    team = {r["clinician_id"]: r["team"] for r in found.members.to_pylist()}
    halves: dict[int, set] = {}
    for row in system.true_halves.to_pylist():
        if row["clinician_id"] in team:
            halves.setdefault(row["half"], set()).add(team[row["clinician_id"]])
    assert len(halves[1]) == len(halves[2]) == 1 and halves[1] != halves[2]
    split = system.true_halves["practice_id"][0].as_py()
    practice = next(r for r in found.practices.to_pylist() if r["practice_id"] == split)
    assert practice["teams"] == 2 and practice["visits_inside_one_team"] < 0.7
