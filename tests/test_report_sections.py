"""Every sentence of the report comes from the numbers beside it: one test per section on a patient sample.

The input is the vendored 111-patient Synthea sample: each of its clinicians sees a handful of the
sampled patients (one visit per working day), so the clinician side of every relationship is
missing. Before, its report said that clinicians need the relationship more than patients, that no
clinician had a panel beside 87 % own-panel visits, and that every dependence cell lay far above a
line its cells sat on. Each test checks a section's sentence against the values drawn beside it,
on the sample as guessed and, where the wrong sentences came from, on the same data declared
complete (``population="complete"``).
"""

from __future__ import annotations

import re

import pytest

import carethread
from carethread import privacy as pv
from carethread.reporting import ReportOptions, build
from carethread.wording import about, format_count, percent
from tests.conftest import SAMPLES
from tests.test_report import Page

SAMPLE = SAMPLES / "synthea-csv-unmc-111"


def _built(population: str | None):
    data = carethread.read(SAMPLE, con=carethread.connect(), extraction_date="2024-06-30")
    keep: dict = {}
    html = build(data, ReportOptions(bootstrap=30, key="ab" * 16, population=population), keep=keep)
    return Page(html), keep["computed"], keep["shown"], html


@pytest.fixture(scope="module")
def sample():
    return _built(None)


@pytest.fixture(scope="module")
def declared_complete():
    return _built("complete")


def takeaway(page: Page, section: str) -> str:
    return page.sections[section]["takeaway"].strip()


def figures(html: str, section: str) -> list[str]:
    body = html.split(f'<section class="report-section" id="{section}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'data-chart="([^"]+)"', body)


def test_the_sample_is_recognised_from_its_clinicians_working_days(sample):
    _page, computed, _shown, _html = sample
    found = computed.population
    assert (found.kind, found.guessed) == ("sample", True)
    assert found.visits_per_day == 1.0  # every clinician sees one sampled patient on a day they see any


def test_answer_gives_no_verdict_and_no_clinician_side_on_a_sample(sample):
    page, computed, shown, html = sample
    text = takeaway(page, "answer")
    pt = computed.who.value("patient_share_from_usual_clinician")
    assert text.startswith("No verdict on who needs whom: this extract seems to hold a sample of patients")
    assert f"A typical patient gets {percent(pt)} of their care from one clinician" in text
    assert "need the relationship more" not in html
    assert figures(html, "answer") == []  # no two-sided chart with one side missing
    notes = shown.who_table.set_index("name").note
    assert notes["patient_share_of_usual_clinicians_work"] == "not measurable from a patient sample"
    assert notes.isna()["patient_share_from_usual_clinician"]
    assert " ¦ not measurable from a patient sample ¦ " in " ¦ ".join(page.text)


def test_patients_sentences_come_from_the_drawn_counts(sample):
    page, computed, shown, _html = sample
    high, included = computed.high_upc["high"], computed.high_upc["included"]
    assert takeaway(page, "patients").startswith(f"{percent(high / included)} of patients with at least 2 visits")
    upc = shown.continuity_summary.set_index("index").loc["upc"]
    assert (
        f"The typical (median) patient saw their usual clinician at {percent(upc['median'])} of visits; pooled over "
        f"all visits, {percent(upc['pooled'])}." in page.text
    )


def test_clinicians_say_the_clinician_side_is_not_measurable_on_a_sample(sample):
    page, _computed, _shown, html = sample
    text = takeaway(page, "clinicians")
    assert "not measurable from a patient sample" in text
    assert "No clinician has a panel" not in html
    assert figures(html, "clinicians") == []


def test_clinicians_all_hidden_are_said_to_be_hidden_not_absent(declared_complete):
    page, computed, shown, _html = declared_complete
    # Declared complete, the sample's clinicians each hold a handful of patients: all under 11.
    assert len(computed.clinicians) > 0 and len(shown.clinicians) == 0
    assert takeaway(page, "clinicians") == (
        f"All {shown.count(shown.clinicians_hidden)} clinicians have fewer than 11 patients on their panel or seen, "
        "so none is shown."
    )


def test_pairs_say_which_side_depends_more_from_the_two_medians(declared_complete, sample):
    page, computed, _shown, html = declared_complete
    pt = computed.who.value("patient_share_from_usual_clinician")
    cl = computed.who.value("patient_share_of_usual_clinicians_work")
    assert cl > pt  # on a sample, a patient looks like most of their clinician's (sampled) work
    assert takeaway(page, "pairs") == (
        f"A typical usual clinician depends on their patient about {about(cl / pt)} times more than the patient "
        f"depends on them ({percent(cl)} against {percent(pt)})."
    )
    # The caption counts the relationships above the dashed line from the dyads drawn.
    sides = computed.dependence_sides
    above, total = sides["above"], sum(sides.values())
    assert 0 < above < total and "far above" not in html and "Every relationship lies above" not in html
    assert f"{percent(above / total)} of relationships lie above the dashed line" in " ".join(page.text)
    # On the sample itself the map's clinician axis is not measurable, and the section says so.
    sample_page, _c, _s, sample_html = sample
    assert "not measurable from a patient sample" in takeaway(sample_page, "pairs")
    assert figures(sample_html, "pairs") == []


def test_breaks_count_all_the_data_and_the_current_window_as_the_answer_does(sample):
    page, computed, shown, _html = sample
    total = int(computed.breaks_by_quarter.breaks.sum())
    text = takeaway(page, "breaks")
    span = shown.windows["over_time"].span()
    assert text.startswith(f"{shown.count(total)} relationships broke over {span}")
    in_window = computed.breaks_current["total"]
    assert in_window == computed.who.value("breaks_total")
    assert f"{shown.count(in_window)} of them are dated in the current window" in text


def test_breaks_by_cause_say_the_share_the_causes_table_shows(declared_complete):
    """The breaks' causes (issue 12 item 5): a chart and a table per cause over time, and the takeaway's share
    of departures is the one the table shows."""
    page, computed, shown, html = declared_complete
    assert figures(html, "breaks")[:2] == ["breaks-quarters", "breaks-causes"]
    causes = shown.break_causes.set_index("cause")
    assert list(causes.index) == ["clinician_left", "patient_moved_on"]
    assert (
        causes.attrs["total"]
        == int(computed.breaks_by_cause.breaks.sum())
        == int(computed.breaks_by_quarter.breaks.sum())
    )
    share = causes.share["clinician_left"]
    text = takeaway(page, "breaks")
    if share is None or share != share:
        assert "the clinician had left" not in text
    else:
        assert f"in {percent(share)} of them the clinician had left." in text
    rows = " ¦ ".join(page.text)
    for cause, label in (("clinician_left", "the clinician had left"), ("patient_moved_on", "the patient moved on")):
        state = causes.state[cause]
        cell = shown.count(int(causes.breaks[cause])) if state == pv.SHOWN else pv.format_cell(0, state)
        assert f"{label} ¦ {cell} ¦ {percent(causes.share[cause])}" in rows


def test_trends_cover_the_latest_five_years_and_say_what_the_line_does(sample):
    page, _computed, shown, _html = sample
    t = shown.trends
    last_data = shown.span.last
    assert min(t.quarter_end).year >= last_data.year - 5 and len(t) <= 21
    usable = t.dropna(subset=["mean_upc"])
    first, last = usable.iloc[0], usable.iloc[-1]
    change = last.mean_upc - first.mean_upc
    word = "stayed about the same" if abs(change) < 0.01 else ("rose" if change > 0 else "fell")
    assert takeaway(page, "trends") == (
        f"Mean UPC {word}: {percent(first.mean_upc)} in {first.quarter} and {percent(last.mean_upc)} in {last.quarter}."
    )


def test_the_methods_say_why_the_clinician_side_is_missing(sample):
    page, computed, _shown, _html = sample
    text = " ".join(page.text)
    assert computed.population.reason() in text
    assert f"the median clinician has {computed.population.visits_per_day:.1f} visits per working day" in text
    assert format_count(computed.overview["patients"]) in text
