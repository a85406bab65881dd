"""``manifest.json``: what one :func:`carethread.run_all` read, with which options, and what it wrote.

The manifest holds no identifier and no data value: the input files with
their reconciliation counts, every option as given, the two windows and the
window each table used, the population check, software versions, timings
per step and each file written with its row count.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from dataclasses import asdict
from pathlib import Path

from carethread.run.registry import MEASURES, RunContext
from carethread.run.windows import CURRENT, OVER_TIME, Window

#: Outputs that are not tables of the registry, and the scope of the window they describe.
SUMMARIES: dict[str, str] = {"who_needs_whom": CURRENT, "report": CURRENT}

#: Packages whose versions the manifest records.
PACKAGES: tuple[str, ...] = (
    "carethread",
    "ibis-framework",
    "duckdb",
    "pyarrow",
    "pandas",
    "altair",
    "vl-convert-python",
)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages in :data:`PACKAGES` (``not installed`` when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _plain(value):
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def window_record(window: Window) -> dict:
    """A window as the manifest writes it: the words and the dates (``end`` exclusive)."""
    return {
        "text": window.text(),
        "start": _plain(window.start),
        "end_exclusive": _plain(window.end),
        "first_encounter_day": _plain(window.first),
        "last_encounter_day": _plain(window.last),
        "settings": list(window.settings),
    } | ({"as_of": _plain(window.as_of), "lookback_months": window.lookback_months} if window.scope == CURRENT else {})


def _rows(path: Path) -> int | None:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".csv":
        with path.open("rb") as handle:
            return max(0, sum(1 for _line in handle) - 1)
    return None


def manifest(ctx: RunContext, paths: dict[str, Path], seconds: dict[str, float], *, answer, source) -> dict:
    """The manifest's contents (see the module docstring)."""
    scopes = {m.name: m.scope for m in MEASURES} | SUMMARIES
    measure_options = {m.name: m.options(ctx.options) for m in MEASURES}
    windows = {CURRENT: ctx.current, OVER_TIME: ctx.over_time}
    outputs = {}
    for name, path in paths.items():
        scope = scopes.get(name)
        outputs[name] = {
            "file": path.name,
            "rows": _rows(path),
            "window": windows[scope].text() if scope else None,
        } | ({"options": measure_options[name]} if measure_options.get(name) else {})
    return {
        "carethread": versions()["carethread"],
        "made": _dt.datetime.now().isoformat(timespec="seconds"),
        "input": {
            "path": str(source) if source is not None else None,
            "format": ctx.data.format,
            "files": [asdict(count) for count in ctx.data.counts],
            "encounters_accepted": ctx.n_encounters,
        },
        "options": {k: _plain(v) for k, v in asdict(ctx.options).items()},
        "windows": {"current": window_record(ctx.current), "over_time": window_record(ctx.over_time)},
        "population": answer.population.to_dict() if answer.population is not None else None,
        "outputs": outputs,
        "versions": versions(),
        "seconds": dict(seconds),
        "total_seconds": round(sum(seconds.values()), 3),
    }


def write_manifest(record: dict, path: Path) -> Path:
    """Write the manifest as indented JSON, whole or not at all; return its path."""
    from carethread.output import write_text

    return write_text(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
