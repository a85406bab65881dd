"""The report's section "Who shares patients": hand-computed values, privacy, the drawing."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from carethread import privacy as pv
from carethread.reporting.network import compute_network, network_chart, network_section, protect_network
from carethread.reporting.render import render
from carethread.reporting.values import Span
from tests.conftest import encounters_table

PRACTICE = {"A": "X", "B": "X", "C": "Y", "D": "Y"}


def enc(p, c, day):
    return {
        "patient_id": p,
        "clinician_id": c,
        "practice_id": PRACTICE[c],
        "setting": "primary_care",
        "start": dt.datetime(2024, 1, 1, 9) + dt.timedelta(days=day),
    }


def rows() -> list[dict]:
    # 12 patients see A and B (practice X), 15 see B (X) and C (Y), 5 see A and C, 11 see C and D (Y).
    out = []
    for group, (a, b), n in (("ab", "AB", 12), ("bc", "BC", 15), ("ac", "AC", 5), ("cd", "CD", 11)):
        for i in range(n):
            out += [enc(f"{group}{i}", a, i), enc(f"{group}{i}", b, i + 1)]
    return out


@pytest.fixture
def values(con):
    return compute_network(encounters_table(con, rows()))


def test_exact_values(values):
    # A-C shares 5 patients: never drawn. Every clinician is in a drawn pair, so all four are placed.
    assert [tuple(r) for r in values.edges[["clinician_a", "clinician_b", "shared_patients", "across"]].values] == [
        ("A", "B", 12, False),
        ("B", "C", 15, True),
        ("C", "D", 11, False),
    ]
    assert (values.pairs, values.clinicians) == (3, 4)
    assert list(values.nodes.clinician) == ["A", "B", "C", "D"]
    assert list(values.nodes.shared) == [12, 12 + 15, 15 + 11, 11]
    assert values.nodes[["x", "y"]].min().min() >= 0 and values.nodes[["x", "y"]].max().max() <= 1
    # Care density: each patient has one pair, so their density is that pair's weight. Patients whose two
    # clinicians are in two practices (B-C, A-C: one visit each) belong to the smaller practice id, X:
    # X has 12 x 12 + 15 x 15 + 5 x 5 over 32 patients; Y has the 11 C-D patients at 11.
    density = {r.practice: (r.patients, r.mean, r.median) for r in values.density.itertuples()}
    assert density == {"X": (32, pytest.approx((144 + 225 + 25) / 32), 12.0), "Y": (11, 11.0, 11.0)}


def test_tables_already_computed_give_the_same_values(con, values):
    """carethread all hands in its network (every pair) and care density: the section is the same."""
    from carethread.measures.network import care_density, sharing_network

    e = encounters_table(con, rows())
    given = compute_network(e, network=sharing_network(e), density=care_density(e))
    for frame in ("nodes", "edges", "density"):
        pd.testing.assert_frame_equal(getattr(given, frame), getattr(values, frame))
    assert (given.pairs, given.clinicians) == (values.pairs, values.clinicians) == (3, 4)


def test_the_same_network_is_drawn_the_same_way(con, values):
    again = compute_network(encounters_table(con, list(reversed(rows())), name="again"))
    assert again.nodes.equals(values.nodes) and again.edges.equals(values.edges)


def _shown(values, privacy=True):
    label = pv.Pseudonymizer(b"k" * 32, "Clinician", "ABCD", enabled=privacy)
    practice = pv.Pseudonymizer(b"k" * 32, "Practice", "XY", enabled=privacy)
    shown = protect_network(values, privacy=privacy, clinician_label=label, practice_label=practice)
    return shown, label, practice


class _Report:
    """The few report values the section reads."""

    def __init__(self, network, privacy=True):
        self.network = network
        self.privacy = privacy
        self.span = Span(
            None, None, None, None, dt.datetime(2025, 1, 1), dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1)
        )

    def count(self, n):
        return pv.suppress(n, privacy=self.privacy)


def test_section_names_the_pair_to_act_on_under_pseudonyms(values):
    shown, label, practice = _shown(values)
    html = network_section(_Report(shown))
    takeaway = re.search(r'<p class="takeaway">(.*?)</p>', html)[1]
    assert takeaway == (
        f"{label('B')} ({practice('X')}) and {label('C')} ({practice('Y')}) share "
        '<span class="count">15</span> patients across practices, more than any other pair in different practices: '
        "agreeing how these two hand patients over would reach the most patients."
    )
    for real in ("Clinician A", ">A<", ">B (", "Practice X"):
        assert real not in html
    assert "<svg" in html and 'data-chart="network-graph"' in html and 'data-chart="network-density"' in html
    # The pair under 11 patients is in neither the chart nor the table.
    assert '<span class="count">5</span>' not in html and '<span class="count">15</span>' in html


def test_small_practices_keep_no_statistic(values):
    small = values.density.assign(patients=[32, 7])
    shown, _, practice = _shown(type(values)(**{**values.__dict__, "density": small}))
    row = shown.density[shown.density.practice == practice("Y")].iloc[0]
    assert row.patients == 7 and pd.isna(row["mean"]) and pd.isna(row["median"])
    html = network_section(_Report(shown))
    assert "fewer than 11 patients" in html and '<span class="count">&lt;11</span>' in html


def test_no_pair_of_eleven(con):
    few = compute_network(encounters_table(con, [r for r in rows() if r["patient_id"].startswith("ac")]))
    shown, _, _ = _shown(few)
    assert few.edges.empty and few.pairs == 0
    assert "No two clinicians share 11 or more patients" in network_section(_Report(shown))


def test_chart_draws_every_clinician_and_pair(values):
    shown, _, _ = _shown(values)
    svg = render(network_chart(shown.nodes, shown.edges, labels=True))
    assert svg.count('role="graphics-symbol"') >= 4 + 3  # four dots, three lines
    assert all(label in svg for label in shown.nodes.clinician)


def test_care_density_shows_the_largest_practices_and_says_of_how_many(con, monkeypatch):
    """A practice per clinician pair here; with the cap at 1 only the practice with most patients is drawn."""
    from carethread.reporting import network

    monkeypatch.setattr(network, "MAX_PRACTICES", 1)
    values = compute_network(encounters_table(con, rows()))
    assert values.practices == 2 and list(values.density.practice) == ["X"]  # X: 32 patients, Y: 11
    shown, _, practice = _shown(values)
    html = network_section(_Report(shown))
    assert "The 1 practices with the most such patients are shown, of 2;" in html
    assert practice("X") in html.split('data-chart="network-density"', 1)[1]


def test_care_density_of_many_practices_is_drawn_for_the_largest(con):
    """1 680 practices (the 10^8 benchmark's) made a chart Vega could not lay out; now the largest 25 are drawn."""
    from carethread.reporting.network import MAX_PRACTICES

    many = []
    for k in range(MAX_PRACTICES + 5):  # practice k: 11 + k patients who each see its two clinicians
        for i in range(11 + k):
            for j, c in enumerate((f"A{k}", f"B{k}")):
                many.append({**enc(f"p{k}-{i}", "A", i + j), "clinician_id": c, "practice_id": f"X{k:02d}"})
    values = compute_network(encounters_table(con, many))
    assert values.practices == MAX_PRACTICES + 5 and len(values.density) == MAX_PRACTICES
    assert list(values.density.patients) == [11 + k for k in range(MAX_PRACTICES + 4, 4, -1)]
    shown, _, _ = _shown(values)
    html = network_section(_Report(shown))
    density = html.split('data-chart="network-density"', 1)[1]
    assert "<svg" in density and f"of {MAX_PRACTICES + 5};" in html
