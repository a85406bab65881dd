"""Charts to inline SVG: vl-convert renders Vega-Lite specs in Python, on a worker thread.

Why SVG rendered here rather than the Vega runtime in the page: the report
must open offline, be e-mailed and printed, and leak nothing. A static SVG
needs no script at all (mail clients and document viewers that block scripts
still show it), prints as crisp vectors on any paper size, cannot raise
console errors or make requests, and carries only the marks that are drawn
— the chart data never sits in the file as a JSON blob. ``vl-convert-python``
ships the Vega and Vega-Lite JavaScript inside its wheel and runs them in an
embedded engine, so rendering needs no browser and no network (and is told
to fetch nothing: ``allowed_base_urls=[]``).

This module does not import Altair itself, so :meth:`Renderer.warm_up` can
import it, and start vl-convert's engine, on a worker thread while the
measures run in the database.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import re

_counter = itertools.count(1)

#: Check every spec against the Vega-Lite JSON schema before rendering. Off by default: it only
#: catches mistakes in this package's chart code, which the tests (where it is on) are for.
VALIDATE = False

#: System fonts only: the browser draws the SVG text with its own sans-serif.
FONT = "sans-serif"

#: Numbers on axes and legends group thousands with a (no-break) space, like the text.
FORMAT_LOCALE = {"decimal": ".", "thousands": "\u00a0", "grouping": [3], "currency": ["", ""]}


def _config(chart):
    """The report's look: fonts, axes, legends (applied to every chart)."""
    return (
        chart.configure(font=FONT, background="white")
        .configure_axis(
            labelFontSize=11,
            titleFontSize=12,
            titleFontWeight="normal",
            gridColor="#e6e9ee",
            domainColor="#8a94a0",
            tickColor="#8a94a0",
            labelColor="#333",
            titleColor="#333",
        )
        .configure_legend(
            labelFontSize=11,
            titleFontSize=12,
            titleFontWeight="normal",
            orient="bottom",
            direction="horizontal",
            columns=2,
            labelLimit=320,
        )
        .configure_view(stroke=None)
        .configure_title(
            fontSize=13, fontWeight="bold", anchor="start", color="#222", subtitleFontSize=11, subtitleColor="#555"
        )
    )


#: Extra keyword arguments of every conversion. vl-convert 1.x takes the URL allowlist
#: per call (empty: fetch nothing); 2.x dropped that argument and never fetches inline data.
_NO_FETCH: dict = {"allowed_base_urls": []}


def _next_prefix() -> str:
    """The prefix of the next chart's SVG ids, numbered in the order charts are handed in."""
    return f"ct{next(_counter)}-"


def _svg(spec: dict, prefix: str) -> str:
    """Render one Vega-Lite spec; the data is inline and no URL may be fetched."""
    import vl_convert

    try:
        svg = vl_convert.vegalite_to_svg(spec, format_locale=FORMAT_LOCALE, **_NO_FETCH)
    except TypeError:
        if not _NO_FETCH:
            raise
        _NO_FETCH.clear()
        svg = vl_convert.vegalite_to_svg(spec, format_locale=FORMAT_LOCALE)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for name in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{name}"', f'id="{prefix}{name}"')
        svg = svg.replace(f"url(#{name})", f"url(#{prefix}{name})")
        svg = svg.replace(f'href="#{name}"', f'href="#{prefix}{name}"')
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    return svg.replace("<svg ", '<svg class="chart" role="img" focusable="false" ', 1)


def _warm(prefix: str) -> str:
    import altair  # noqa: F401  (slow to import: done off the main thread)

    spec = {"data": {"values": [{"x": 1}]}, "mark": "point", "encoding": {"x": {"field": "x", "type": "quantitative"}}}
    return _svg(spec, prefix)


class Renderer:
    """Renders charts on worker threads while the page is assembled.

    vl-convert runs Vega in an embedded JavaScript engine that is slow to
    start: :meth:`warm_up` imports Altair and starts the engine while the
    data are read (DuckDB releases the GIL while it reads). Each render then
    holds the GIL until its SVG is ready (vl-convert 1.x), so Python work on
    other threads waits meanwhile (bench/RESULTS.md, *The HTML report*).
    :meth:`submit` returns a placeholder that :meth:`fill` replaces with the
    finished SVG; the ids of the charts' SVGs are numbered in the order they
    are submitted, so the same page gets the same ids.
    """

    def __init__(self, workers: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carethread-chart")
        self._jobs: dict[str, object] = {}

    def warm_up(self) -> None:
        """Import Altair and start the JavaScript engine in the background."""
        self._jobs["__warm__"] = self._pool.submit(_warm, _next_prefix())

    def submit(self, chart) -> str:
        token = f"<!--carethread-chart-{len(self._jobs)}-->"
        self._jobs[token] = self._pool.submit(_svg, _config(chart).to_dict(validate=VALIDATE), _next_prefix())
        return token

    def fill(self, page: str) -> str:
        for token, job in self._jobs.items():
            svg = job.result()
            if token.startswith("<!--"):
                page = page.replace(token, svg, 1)
        return page

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_renderer: contextvars.ContextVar[Renderer | None] = contextvars.ContextVar("carethread_renderer", default=None)


@contextlib.contextmanager
def rendering(renderer: Renderer):
    """Within this block :func:`render` hands charts to ``renderer``."""
    token = _renderer.set(renderer)
    try:
        yield renderer
    finally:
        _renderer.reset(token)


def render(chart) -> str:
    """The chart as one ``<svg>`` element with ids unique in the page.

    vl-convert names clip paths ``clip1``, ``clip2``, ... in every chart; in
    one HTML page the first definition would win, so each chart's ids and
    their ``url(#...)`` references get a chart-specific prefix (``ct1-``,
    ``ct2-``, ... in the order charts are handed in). Inside
    :func:`rendering`, returns a placeholder filled in by the renderer.
    """
    renderer = _renderer.get()
    if renderer is not None:
        return renderer.submit(chart)
    return _svg(_config(chart).to_dict(validate=VALIDATE), _next_prefix())
