"""What ``carethread all`` and ``carethread demo`` print: the report's own numbers, in its words.

Every line comes from the report's protected values (the headline word for
word, the median UPC and its patients, the breaks), so the console, the
files and the report cannot disagree; the first line is the window.
"""

from __future__ import annotations

from carethread.run.pipeline import RunResult
from carethread.run.windows import over_time_line
from carethread.wording import format_count, percent


def _upc_line(shown) -> str | None:
    summary = shown.continuity_summary
    upc = summary[summary["index"] == "upc"] if len(summary) else summary
    if not len(upc):
        return None
    row = upc.iloc[0]
    return (
        f"Median UPC {percent(row['median'])} over {shown.count(int(row['patients_included']))} patients with at "
        f"least {shown.min_visits} visits (pooled over their visits: {percent(row['pooled'])})."
    )


def _breaks_line(shown) -> str:
    kinds = shown.break_kinds
    total = kinds.attrs.get("total", 0) if kinds is not None else 0
    over_time = shown.windows["over_time"]
    current = shown.breaks_current.get("total", 0)
    return (
        f"Relationship breaks: {shown.count(total)} over {over_time.span()}, "
        f"{shown.count(current)} of them in the current window."
    )


def console_lines(result: RunResult) -> list[str]:
    """The lines the command prints, the window first."""
    shown = result.shown
    current = result.windows["current"]
    lines = [current.line(), over_time_line(result.windows["over_time"], shown.trend_years), result.headline]
    upc = _upc_line(shown)
    if upc:
        lines.append(upc)
    lines.append(_breaks_line(shown))
    written = [
        f"{path.name} ({format_count(record['rows'])} rows)" if record.get("rows") is not None else path.name
        for name, record in result.manifest["outputs"].items()
        for path in [result.paths[name]]
    ]
    folder = result.paths["manifest"].parent
    lines.append(f"Wrote to {folder}/: {', '.join(written)}, manifest.json.")
    lines.append(f"Done in {result.manifest['total_seconds']:.1f} s.")
    return lines
