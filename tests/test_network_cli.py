"""``carethread network`` and ``patients --care-density``: files written, the shareable rule, GraphML."""

from __future__ import annotations

import csv

import igraph
import pyarrow.parquet as pq
import pytest

import carethread
from carethread.privacy import Pseudonymizer, load_or_create_key
from carethread.synth import generate
from tests.test_cli import invoke


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("network") / "data"
    generate(600, years=1, seed=5).write(folder)
    return folder


@pytest.fixture(scope="module")
def loaded(data):
    return carethread.read(data, con=carethread.connect())


def test_network_writes_the_library_edge_list(data, loaded, tmp_path):
    out = tmp_path / "net.parquet"
    res = invoke("network", data, "--within", 90, "--out", out)
    assert res.exit_code == 0, res.stderr
    expected = carethread.sharing_network(loaded.encounters, within_days=90).to_pyarrow()
    got = pq.read_table(out)
    assert got.schema.names == expected.schema.names
    got = got.cast(expected.schema)  # the same types; the file also says "not null"
    key = ["clinician_a", "clinician_b"]
    assert got.sort_by([(k, "ascending") for k in key]).equals(expected.sort_by([(k, "ascending") for k in key]))


def test_shareable_leaves_out_small_pairs_and_pseudonymises(data, loaded, tmp_path):
    out = tmp_path / "net.csv"
    res = invoke("network", data, "--shareable", "--out", out)
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(out.open()))
    full = carethread.sharing_network(loaded.encounters).to_pyarrow().to_pylist()
    big = [r for r in full if r["shared_patients"] >= 11]
    assert len(rows) == len(big) < len(full)
    assert all(int(r["shared_patients"]) >= 11 for r in rows)
    key = load_or_create_key(data)
    ids = {r[c] for r in full for c in ("clinician_a", "clinician_b")}
    label = Pseudonymizer(
        key, "Clinician", carethread.read(data, con=carethread.connect()).encounters.clinician_id.to_list()
    )
    expected = sorted(
        (
            min(label(r["clinician_a"]), label(r["clinician_b"])),
            max(label(r["clinician_a"]), label(r["clinician_b"])),
            r["shared_patients"],
        )
        for r in big
    )
    assert sorted((r["clinician_a"], r["clinician_b"], int(r["shared_patients"])) for r in rows) == expected
    assert not ids & {r["clinician_a"] for r in rows}
    assert invoke("network", data, "--shareable", "--min-shared", 5).exit_code == 2


def test_graphml_and_teams(data, loaded, tmp_path):
    res = invoke("network", data, "--out", tmp_path / "net.graphml", "--teams", tmp_path / "teams.csv")
    assert res.exit_code == 0, res.stderr
    graph = igraph.Graph.Read_GraphML(str(tmp_path / "net.graphml"))
    full = carethread.sharing_network(loaded.encounters).to_pyarrow().to_pylist()
    assert graph.ecount() == len(full)
    weights = {
        tuple(sorted((graph.vs[e.source]["name"], graph.vs[e.target]["name"]))): e["shared_patients"] for e in graph.es
    }
    assert weights == {(r["clinician_a"], r["clinician_b"]): r["shared_patients"] for r in full}
    practices = set(graph.vs["practice"])
    assert practices <= set(loaded.clinicians.practice_id.to_list())
    found = carethread.care_teams(loaded.encounters, clinicians=loaded.clinicians)
    teams = {r["clinician_id"]: int(r["team"]) for r in csv.DictReader((tmp_path / "teams.csv").open())}
    assert teams == {r["clinician_id"]: r["team"] for r in found.members.to_pylist()}
    assert res.stderr.splitlines()[-3].startswith(f"Wrote {tmp_path / 'teams.csv'}: {found.teams.num_rows} care teams")


def test_patients_care_density_column(data, loaded, tmp_path):
    out = tmp_path / "p.parquet"
    res = invoke("patients", data, "--care-density", "--out", out)
    assert res.exit_code == 0, res.stderr
    got = pq.read_table(out)
    assert got.schema.names[-1] == "care_density"
    density = {
        r["patient_id"]: r["care_density"] for r in carethread.care_density(loaded.encounters).to_pyarrow().to_pylist()
    }
    assert {r["patient_id"]: r["care_density"] for r in got.select(["patient_id", "care_density"]).to_pylist()} == {
        p: density.get(p) for p in got["patient_id"].to_pylist()
    }
    assert sum(v is not None for v in got["care_density"].to_pylist()) > 0.8 * got.num_rows


@pytest.mark.parametrize(
    "args",
    [("--within", 0), ("--min-shared", 0), ("--out", "net.txt"), ("--teams", "teams.graphml")],
)
def test_bad_options_are_usage_errors(data, args):
    assert invoke("network", data, *args).exit_code == 2
