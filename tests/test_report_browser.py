"""The demo report in a real browser: headless Chromium driven over the DevTools protocol.

The report must open offline with no request of any kind, raise no console
error, and draw every section and chart. Chromium is Debian's ``chromium``
(``.ci/run`` installs it); outside CI the tests are skipped when it is absent,
in CI (``CI=true``) they fail instead.

Set ``CARETHREAD_SCREENSHOT=docs/report.png`` to also save the full-page
screenshot used as the README's picture.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import websocket

import carethread
from carethread.reporting.html import SECTIONS
from tests.test_report import shared_demo

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)
LOCAL_SCHEMES = ("file:", "data:", "about:", "chrome:", "devtools:")


def find_chromium() -> str | None:
    explicit = os.environ.get("CARETHREAD_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium_path():
    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (apt-get install chromium); .ci/run installs it.")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


class Browser:
    """A headless Chromium and one page, spoken to over the Chrome DevTools Protocol."""

    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="carethread-chromium-")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{port_file.read_text().splitlines()[1]}", timeout=60, suppress_origin=True
        )
        self._id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method: str, **params) -> dict:
        return self.call(method, session=self.session, **params)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.time() + timeout
        seen = len(self.events)
        while time.time() < deadline:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)
            self.ws.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def open(self, url: str, width: int = 1280, height: int = 900, mobile: bool = False) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.page(f"{domain}.enable")
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        self.events.clear()
        self.page("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        # Let late console messages or requests (there should be none) arrive.
        self.evaluate("new Promise(r => setTimeout(r, 300))")

    def console_errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(json.dumps(p.get("args"))[:300])
            elif m == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails"))[:300])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(p["entry"].get("text", "")[:300])
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        metrics = self.page("Page.getLayoutMetrics")
        height = int(metrics["cssContentSize"]["height"]) + 1
        shot = self.page(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def pdf(self, paper: tuple[float, float]) -> bytes:
        result = self.page(
            "Page.printToPDF", paperWidth=paper[0], paperHeight=paper[1], printBackground=True, preferCSSPageSize=False
        )
        return base64.b64decode(result["data"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def demo_report() -> Path:
    return shared_demo() / "report.html"


@pytest.fixture(scope="module")
def browser(chromium_path):
    b = Browser(chromium_path)
    yield b
    b.close()


@pytest.fixture(scope="module")
def opened(browser, demo_report):
    browser.open(demo_report.as_uri())
    return browser


def test_no_network_request_and_no_console_error(opened):
    assert [u for u in opened.requests() if not u.startswith(LOCAL_SCHEMES)] == []
    assert opened.console_errors() == []


def test_every_section_and_chart_is_drawn(opened):
    sections = opened.evaluate(
        "[...document.querySelectorAll('section.report-section')].map(s => "
        "({id: s.id, h: s.getBoundingClientRect().height}))"
    )
    assert [s["id"] for s in sections] == [ident for ident, _title in SECTIONS]
    assert all(s["h"] > 100 for s in sections), sections
    charts = opened.evaluate(
        "[...document.querySelectorAll('figure.chart-figure')].map(f => { const svgs = [...f.querySelectorAll('svg')];"
        " return {name: f.dataset.chart, svgs: svgs.length,"
        " drawn: svgs.every(s => { const r = s.getBoundingClientRect();"
        "   return r.width > 50 && r.height > 40"
        "     && s.querySelectorAll('path, rect, line, circle, text').length > 5; }),"
        " marks: svgs.map(s => s.querySelectorAll('.role-mark > *').length)}; })"
    )
    names = {c["name"] for c in charts}
    expected = {
        "answer-asymmetry",
        "patients-histograms",
        "patients-age",
        "clinicians-panels",
        "clinicians-two-sides",
        "clinicians-relationships",
        "clinicians-load",
        "pairs-map",
        "network-graph",
        "network-density",
        "breaks-quarters",
        "breaks-departed",
        "trends-quarters",
        "worth-forest",
        "worth-relationships",
        "worth-tenure",
        "departure-strategies",
    }
    assert expected <= names, expected - names
    for chart in charts:
        assert chart["svgs"] >= 1 and chart["drawn"], chart
        assert all(m > 0 for m in chart["marks"]), chart  # every chart has data marks, not only axes


def test_full_page_screenshot(opened, tmp_path):
    path = opened.screenshot(tmp_path / "report.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # The IHDR chunk's width and height: the viewport's width, the whole page's height (the
    # capture rounds a fractional content height up, so it may be one pixel taller).
    assert int.from_bytes(data[16:20], "big") == 1280
    assert int.from_bytes(data[20:24], "big") - opened.evaluate("document.documentElement.scrollHeight") in (0, 1)
    target = os.environ.get("CARETHREAD_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def test_reads_on_a_phone(browser, demo_report):
    browser.open(demo_report.as_uri(), width=390, height=844, mobile=True)
    # The page never scrolls sideways (a wide chart scrolls inside its own box) ...
    assert browser.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    # ... text stays readable and every chart is still drawn.
    assert browser.evaluate("parseFloat(getComputedStyle(document.querySelector('.takeaway')).fontSize)") >= 15
    assert browser.evaluate(
        "[...document.querySelectorAll('svg.chart')].every(s => s.getBoundingClientRect().width > 200)"
    )
    assert browser.console_errors() == []
    assert [u for u in browser.requests() if not u.startswith(LOCAL_SCHEMES)] == []


#: Every chart against its box: its drawn width, its natural width (the SVG's own) and its smallest text as drawn.
MEASURE_CHARTS = """
[...document.querySelectorAll('figure.chart-figure')].flatMap(f => {
  const box = f.querySelector('.chart-scroll').clientWidth;
  return [...f.querySelectorAll('svg.chart')].map(s => {
    const drawn = s.getBoundingClientRect().width, natural = parseFloat(s.getAttribute('width'));
    const texts = [...s.querySelectorAll('text')].filter(t => t.textContent.trim());
    const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * drawn / natural);
    return {name: f.dataset.chart, box: box, drawn: drawn, natural: natural, smallest_text: Math.min(...sizes)};
  });
})
"""
#: Every table against its scrolling box, and its column headers.
MEASURE_TABLES = """
[...document.querySelectorAll('.scroll')].map(d => ({box: d.clientWidth, width: d.querySelector('table').scrollWidth,
  headers: [...d.querySelectorAll('th')].map(h => h.textContent.trim())}))
"""


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory) -> Path:
    """The report of the vendored 111-patient Synthea sample (a sample of patients)."""
    from carethread.reporting import report
    from tests.conftest import SAMPLES

    out = tmp_path_factory.mktemp("sample") / "report.html"
    data = carethread.read(SAMPLES / "synthea-csv-unmc-111", con=carethread.connect(), extraction_date="2024-06-30")
    return report(data, out=out, bootstrap=20, key="ab" * 16)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("which", ["demo", "sample"])
def test_every_chart_and_table_fits_its_box_with_text_of_11_px(browser, demo_report, sample_report, which, width):
    path = demo_report if which == "demo" else sample_report
    browser.open(path.as_uri(), width=width, height=900, mobile=width < 500)
    assert browser.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    charts = browser.evaluate(MEASURE_CHARTS)
    assert len(charts) >= (13 if which == "demo" else 5), charts
    for chart in charts:
        # Drawn at its own size (no shrinking, so its text stays as designed) and inside its box.
        assert chart["natural"] <= chart["box"] and chart["drawn"] == pytest.approx(chart["natural"], abs=0.5), chart
        assert chart["smallest_text"] >= 11, chart
    tables = browser.evaluate(MEASURE_TABLES)
    assert tables
    for table in tables:
        assert table["width"] <= table["box"], table
        assert all(table["headers"]), table  # every column has a header
    report_widths = os.environ.get("CARETHREAD_WIDTHS")
    if report_widths:  # CARETHREAD_WIDTHS=file.jsonl records the measurements
        with open(report_widths, "a") as handle:
            handle.write(json.dumps({"report": which, "viewport": width, "charts": charts, "tables": tables}) + "\n")


@pytest.mark.parametrize("paper", [(8.27, 11.69), (8.5, 11.0)], ids=["A4", "Letter"])
def test_prints_to_paper(browser, demo_report, paper):
    browser.open(demo_report.as_uri())
    pdf = browser.pdf(paper)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")  # a whole file
    # Every section starts a page, so there are at least as many pages as sections.
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= len(SECTIONS)
