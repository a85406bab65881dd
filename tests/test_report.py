"""The HTML report: one self-contained file, every section, and nothing that identifies a patient.

The demo report (``carethread demo``, a smaller system) is built once per test
session and shared with ``tests/test_report_browser.py``.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import shutil
import stat
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from carethread import privacy as pv
from carethread.cli import app
from carethread.reporting import ReportOptions, build, report
from carethread.reporting.html import SECTIONS

DEMO = dict(n_patients=2500, years=3, seed=1)
FIXTURE_CSV = Path(__file__).parent / "fixtures" / "cli" / "encounters.csv"


def shared_demo() -> Path:
    """The demo folder (data, every table, ``report.html``, ``manifest.json``), built once per test process.

    What the demo printed is kept in ``console.txt`` beside them.
    """
    folder = Path(tempfile.gettempdir()) / f"carethread-report-tests-{os.getpid()}"
    if not (folder / "console.txt").exists():
        from carethread.demo import run_demo

        shutil.rmtree(folder, ignore_errors=True)
        atexit.register(shutil.rmtree, folder, True)
        printed = io.StringIO()
        run_demo(folder, console=Console(file=printed, width=10_000, soft_wrap=True), **DEMO)
        (folder / "console.txt").write_text(printed.getvalue(), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def demo_folder() -> Path:
    return shared_demo()


@pytest.fixture(scope="module")
def demo_html(demo_folder) -> str:
    return (demo_folder / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def small_system(tmp_path_factory) -> Path:
    """A small system: many cells of 1-10, so suppression has work to do."""
    from carethread.synth import generate

    folder = tmp_path_factory.mktemp("small")
    generate(400, years=2, seed=5).write(folder / "data")
    return folder / "data"


@pytest.fixture(scope="module")
def small_build(small_system):
    from carethread.reporting import render

    keep: dict = {}
    render.VALIDATE = True  # every chart spec is checked against the Vega-Lite schema once
    try:
        html = build(small_system, ReportOptions(bootstrap=20), keep=keep)
    finally:
        render.VALIDATE = False
    return html, keep


class Page(HTMLParser):
    """Visible text (HTML and SVG), ``.count`` texts and the ids of sections."""

    def __init__(self, html: str):
        super().__init__()
        self.text: list[str] = []
        self.counts: list[str] = []
        self.sections: dict[str, dict] = {}
        self._skip = 0
        self._count_depth: list[int] = []
        self._section: str | None = None
        self._takeaway = False
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._depth += 1
        classes = (a.get("class") or "").split()
        if tag in ("style", "title"):
            self._skip += 1
        if "count" in classes:
            self._count_depth.append(self._depth)
            self.counts.append("")
        if tag == "section":
            self._section = a.get("id")
            self.sections[self._section] = {"takeaway": "", "figures": 0}
        if tag == "p" and "takeaway" in classes and self._section and not self.sections[self._section]["takeaway"]:
            self._takeaway = True
        if tag == "figure" and self._section:
            self.sections[self._section]["figures"] += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip -= 1
        if self._count_depth and self._count_depth[-1] == self._depth:
            self._count_depth.pop()
        if tag == "p":
            self._takeaway = False
        self._depth -= 1

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._count_depth:
            self.counts[-1] += data
        if self._takeaway:
            self.sections[self._section]["takeaway"] += data


ALLOWED_COUNT_TEXT = {"<11", "hidden", "—", "all but <11", "0", ""}
NUMBER = r"\d{1,3}(?:[ \u00a0]\d{3})*(?!\d)"
COUNT_NOUN = re.compile(
    rf"(?<![\w.,])({NUMBER})(?: of ({NUMBER}))?\s+(?:[^\W\d]+\s+)?"
    r"(patients?|rows?|encounters?|visits?|relationships?|breaks?|clinicians?|practices?|people)\b"
)
LIMIT_WORD = re.compile(r"(than|least|most|under|over|every|per|about|first|last|the)\s*$")


def visible_small_counts(html: str) -> list[str]:
    """Counts from 1 to 10 anywhere in the visible text, and ``.count`` elements that show one."""
    page = Page(html)
    problems = []
    for text in page.counts:
        text = text.strip()
        if text in ALLOWED_COUNT_TEXT:
            continue
        number = int(text.replace(" ", "").replace("\u00a0", ""))
        if pv.is_small(number):
            problems.append(f"count element {text!r}")
    words = " ¦ ".join(page.text)  # text of different elements never runs together
    for match in COUNT_NOUN.finditer(words):
        numbers = [int(re.sub(r"\D", "", g)) for g in (match[1], match[2]) if g]
        if any(pv.is_small(n) for n in numbers) and not LIMIT_WORD.search(words[: match.start()]):
            problems.append(words[max(0, match.start() - 40) : match.end()])
    return problems


# --- the file -------------------------------------------------------------------------------


def test_demo_writes_one_self_contained_file(demo_folder, demo_html):
    assert demo_html.startswith("<!doctype html>\n") and demo_html.endswith("</html>\n")  # one whole page
    lowered = demo_html.lower()
    assert "<script" not in lowered and "<link" not in lowered and "<img" not in lowered and "<iframe" not in lowered
    assert "@import" not in lowered and "@font-face" not in lowered
    # The only URLs are XML namespace names, which are never fetched.
    urls = set(re.findall(r"(?:https?|ftp|wss?)://[^\s\"'<>)]+", demo_html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"url\((?!#)", demo_html), "every url() points inside the page"
    assert not re.search(r"\s(?:src|srcset|action|formaction|background)=", lowered)
    assert "Content-Security-Policy" in demo_html and "default-src 'none'" in demo_html


def test_every_section_has_a_plain_takeaway_and_content(demo_html):
    page = Page(demo_html)
    assert list(page.sections) == [ident for ident, _title in SECTIONS]
    for ident, section in page.sections.items():
        assert len(section["takeaway"].split()) >= 6, (ident, section)
    for ident in ("answer", "patients", "clinicians", "pairs", "breaks", "trends", "departure"):
        assert page.sections[ident]["figures"] >= 1, ident
    text = " ".join(page.text)
    assert "Patients need the relationship" in text
    for heading in (
        "Inputs",
        "Rejected rows by reason",
        "Settings and parameters",
        "Remarks and caveats",
        "Definitions and sources",
        "Software",
        "Breslau",
        "Bice",
        "Steinwachs",
    ):
        assert heading in text, heading


def test_svg_ids_are_unique_in_the_page(demo_html):
    ids = re.findall(r'\sid="([^"]+)"', demo_html)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r"url\(#([^)]+)\)", demo_html):
        assert ref in ids


# --- privacy ---------------------------------------------------------------------------------


def _identifiers(data: Path, table: str, column: str) -> set[str]:
    return set(pq.read_table(data / f"{table}.parquet", columns=[column]).column(column).drop_null().to_pylist())


def test_no_patient_identifier_anywhere_in_the_file(demo_folder, demo_html):
    data = demo_folder / "data"
    patients = _identifiers(data, "patients", "patient_id") | _identifiers(data, "encounters", "patient_id")
    assert len(patients) == DEMO["n_patients"]  # every patient the generator made
    pattern = re.compile("|".join(re.escape(p) for p in sorted(patients, key=len, reverse=True)))
    assert pattern.search(demo_html) is None
    encounters = _identifiers(data, "encounters", "encounter_id")
    assert not any(e in demo_html for e in list(encounters)[:5000])


def test_clinicians_and_practices_appear_only_under_pseudonyms(demo_folder, demo_html):
    data = demo_folder / "data"
    for table, column in (("clinicians", "clinician_id"), ("clinicians", "practice_id")):
        ids = _identifiers(data, table, column)
        found = [i for i in ids if re.search(rf"(?<![\w]){re.escape(i)}(?![\w])", demo_html)]
        assert found == [], found
    assert re.search(r"Clinician [0-9a-f]{6}", demo_html) and re.search(r"Practice [0-9a-f]{6}", demo_html)


def test_no_visible_count_from_one_to_ten(demo_html):
    assert visible_small_counts(demo_html) == []


def test_small_system_report_shows_no_small_count(small_build):
    html, _keep = small_build
    assert visible_small_counts(html) == []
    assert "&lt;11" in html  # there were small counts to hide


def _count_columns(shown):
    """Every (frame name, frame, count column) that charts and tables draw from."""
    frames = [
        ("histograms", shown.histograms, "patients"),
        ("age_bands", shown.age_bands, "patients"),
        ("clinicians", shown.clinicians, "panel_size"),
        ("clinicians", shown.clinicians, "patients_seen"),
        ("dependence_bins", shown.dependence_bins, "relationships"),
        ("breaks_by_quarter", shown.breaks_by_quarter, "breaks"),
        ("break_kinds", shown.break_kinds, "breaks"),
        ("breaks_by_cause", shown.breaks_by_cause, "breaks"),
        ("break_causes", shown.break_causes, "breaks"),
        ("departed", shown.departed, "patients"),
        ("departed", shown.departed, "total"),
        ("departed_destinations", shown.departed_destinations, "patients"),
        ("trends", shown.trends, "patients"),
        ("quarantine", shown.quarantine, "rows"),
    ]
    return [(name, frame, column) for name, frame, column in frames if frame is not None and column in frame]


def test_chart_and_table_data_carry_no_small_count(small_build):
    _html, keep = small_build
    shown = keep["shown"]
    hidden_somewhere = False
    for name, frame, column in _count_columns(shown):
        for value in frame[column]:
            if value is not None and not pd.isna(value):
                assert not pv.is_small(int(value)), (name, column, value)
        if "state" in frame:
            hidden_somewhere |= bool((frame.state != pv.SHOWN).any())
    assert hidden_somewhere


def test_suppressed_cells_cannot_be_recovered_from_shown_totals(small_build):
    _html, keep = small_build
    exact, shown = keep["computed"], keep["shown"]
    for index, group in shown.histograms.groupby("index"):
        values = exact.histograms[exact.histograms["index"] == index].patients.tolist()
        assert pv.total_is_safe(values, group.state.tolist())
        states = group.state.tolist()
        hidden = [v for v, s in zip(values, states, strict=True) if s != pv.SHOWN]
        assert not hidden or len(hidden) >= 2
    for by, totals in (("kind", shown.break_kinds), ("cause", shown.break_causes)):
        exact_quarters = exact.breaks_by_quarter if by == "kind" else exact.breaks_by_cause
        if len(totals):
            values = exact_quarters.groupby(by, sort=False).breaks.sum().reindex(totals[by]).tolist()
            assert pv.total_is_safe(values, totals.state.tolist())
    # A quarter's total is known wherever one breakdown shows the whole quarter: then no quarter of the
    # other breakdown may hide a single cell (it would be that total minus the cells shown).
    for ours, other in (
        (shown.breaks_by_quarter, shown.breaks_by_cause),
        (shown.breaks_by_cause, shown.breaks_by_quarter),
    ):
        whole = {q for q, g in other.groupby("quarter") if (g.state == pv.SHOWN).all()}
        hidden = ours[ours.state != pv.SHOWN].groupby("quarter").size()
        assert not any(n == 1 and q in whole for q, n in hidden.items())


def test_exact_values_are_never_written(small_build):
    _html, keep = small_build
    exact, shown = keep["computed"], keep["shown"]
    with pytest.raises(RuntimeError, match="protect them first"):
        exact.count(3)
    assert shown.count(3) == "<11" and shown.count(1234) == "1 234"
    # The protected copy holds what may be shown of who-needs-whom, not the exact result.
    assert exact.who is not None and shown.who is None and shown.who_headline == exact.who.headline


# --- inputs, options and progress ----------------------------------------------------------


def test_a_tiny_extract_without_clinicians_or_patients_still_reports(tmp_path, capfd):
    out = report(FIXTURE_CSV, out=tmp_path / "tiny.html", bootstrap=10, key="ab" * 16)
    html = out.read_text()
    assert visible_small_counts(html) == []
    assert "cannot be shown" in html  # continuity by age needs birth dates
    assert "No clinician left during the period" in html
    assert not (FIXTURE_CSV.parent / pv.KEY_FILE).exists()  # a supplied key is not stored
    assert capfd.readouterr().err == ""  # no progress bar when stderr is not a terminal


def test_the_old_lookback_keyword_still_works_with_a_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match="lookback_months"):
        out = report(FIXTURE_CSV, out=tmp_path / "old.html", bootstrap=0, key="ab" * 16, lookback=12)
    assert "plurality of visits over the 12 months before" in out.read_text()


def test_quarantine_counts_and_remarks_are_suppressed(tmp_path):
    # 5 rows, 3 rejected for 3 different reasons: every count is 1-10.
    html = report(
        FIXTURE_CSV.with_name("bad.csv"),
        out=tmp_path / "bad.html",
        bootstrap=0,
        key="ab" * 16,
    ).read_text()
    assert visible_small_counts(html) == []
    page = " ".join(Page(html).text)
    assert "patient_id is missing" in page and "setting is not a known care setting" in page
    assert "<11 of <11 rows quarantined" in page


def test_report_takes_canonical_data_and_a_window(small_system, tmp_path):
    import inspect

    import carethread
    import carethread.reporting
    from carethread.readers import read

    data = read(small_system)
    # carethread.report is the function, even once its package (carethread.reporting) is imported.
    assert inspect.isfunction(carethread.report) and carethread.report is carethread.reporting.report
    out = carethread.report(
        data,
        out=tmp_path / "sub" / "window.html",
        start="2022-07-01",
        end="2023-07-01",
        bootstrap=10,
        key="cd" * 16,
        title="Window test",
    )
    html = out.read_text()
    assert "<title>Window test</title>" in html
    assert "1 Jul 2022 to 30 Jun 2023" in html


def test_progress_bar_only_when_asked_or_on_a_terminal(capfd):
    from carethread.reporting.progress import STEPS, Progress

    with Progress(None) as bar:
        assert not bar.enabled
    with Progress(True) as bar:
        for name in STEPS:
            with bar.step(name):
                pass
    assert bar.enabled


# --- command line ---------------------------------------------------------------------------


def test_cli_report_writes_the_file_with_stable_pseudonyms(small_system, small_build, tmp_path):
    out = tmp_path / "cli.html"
    result = CliRunner().invoke(app, ["report", str(small_system), "--out", str(out), "--bootstrap", "10"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Privacy protections on" in html
    assert "━" not in result.output  # no progress bar when not on a terminal
    # The user's key (created by the first report, never beside the data) gives the same labels again.
    key_file = pv.stored_key().path
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (small_system / pv.KEY_FILE).exists()
    labels = lambda page: sorted(set(re.findall(r"Clinician [0-9a-f]{6,}", page)))  # noqa: E731
    assert labels(small_build[0]) and labels(html) == labels(small_build[0])


def test_cli_no_privacy_is_explicit_and_stamped(small_system, tmp_path):
    out = tmp_path / "open.html"
    result = CliRunner().invoke(
        app, ["report", str(small_system), "--out", str(out), "--no-privacy", "--bootstrap", "10"]
    )
    assert result.exit_code == 0, result.output
    assert "privacy protections OFF" in result.output
    html = out.read_text()
    assert 'class="privacy-off"' in html
    # The stamp heads every printed page (a repeated table header) and ends the page.
    assert html.count("NOT FOR SHARING") >= 2 and '<thead><tr><td><div class="stamp"' in html
    clinicians = _identifiers(small_system, "clinicians", "clinician_id")
    assert any(re.search(rf"(?<![\w]){re.escape(c)}(?![\w])", html) for c in clinicians)
    patients = _identifiers(small_system, "patients", "patient_id")
    assert not any(p in html for p in patients)  # never a patient identifier, even without privacy


def test_cli_report_usage_errors(small_system, tmp_path):
    bad = CliRunner().invoke(app, ["report", str(small_system), "--out", str(tmp_path / "r.csv")])
    assert bad.exit_code == 2 and ".html" in bad.output
    missing = CliRunner().invoke(
        app, ["report", str(small_system), "--out", str(tmp_path / "r.html"), "--key-file", str(tmp_path / "nope")]
    )
    assert missing.exit_code == 2 and "--key-file" in missing.output


def test_departure_section_hides_small_counts_and_names_the_clinician_by_pseudonym():
    """Of 40 orphans, 5 kept a known clinician under random placement (1-10: hidden, with its share) and
    35 under the optimum (its complement, 5, is small too: hidden); 3 patients over capacity are hidden."""
    import pandas as pd

    from carethread.privacy import Pseudonymizer
    from carethread.reporting.departure import Departure, protect_departure

    table = pd.DataFrame(
        {
            "strategy": ["optimal plan", "random within the practice"],
            "placed": [40, 40],
            "kept_known": [35, 5],
            "strength_kept": [50.0, 9.0],
            "orphan_continuity": [0.6, 0.1],
            "patient_side_continuity": [0.8, 0.7],
            "provider_side_continuity": [0.8, 0.7],
            "clinicians_over_capacity": [0, 1],
            "patients_over_capacity": [0, 3],
        }
    )
    table["kept_share"] = table.kept_known / 40
    exact = Departure(clinician="C-SECRET", orphans=40, table=table)
    label = Pseudonymizer(b"k" * 32, "Clinician", ["C-SECRET"])
    shown = protect_departure(exact, privacy=True, clinician_label=label)
    assert shown.clinician == label("C-SECRET") and shown.clinician.startswith("Clinician ")
    assert shown.table.kept_known.tolist() == [None, None]
    assert shown.table.kept_share.tolist() == [None, None]
    assert shown.table.placed.tolist() == [40, 40]
    assert [None if pd.isna(v) else v for v in shown.table.patients_over_capacity] == [0, None]
    assert shown.table.orphan_continuity.tolist() == [0.6, 0.1]
    open_ = protect_departure(exact, privacy=False, clinician_label=Pseudonymizer(b"", "Clinician", enabled=False))
    assert (open_.clinician, open_.table.kept_known.tolist()) == ("C-SECRET", [35, 5])


@pytest.mark.parametrize("with_clinicians", [False, True])
def test_pseudonym_ids_are_each_clinician_and_practice_once(with_clinicians):
    """Without a clinicians table the ids came from one table, whose "union" kept every encounter's id
    (10^8 strings at 10^8 encounters: the report's read step grew to 16 GB)."""
    import ibis

    from carethread.reporting.compute import provider_ids

    enc = ibis.memtable({"clinician_id": ["A", "A", "B", None, "B"], "practice_id": ["X", "X", "X", "Y", None]})
    clinicians = ibis.memtable({"clinician_id": ["C", "A"], "practice_id": ["Z", "X"]}) if with_clinicians else None
    ids = provider_ids(enc, clinicians)
    assert sorted(ids["clinician_id"]) == (["A", "B", "C"] if with_clinicians else ["A", "B"])
    assert sorted(ids["practice_id"]) == (["X", "Y", "Z"] if with_clinicians else ["X", "Y"])
