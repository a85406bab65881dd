"""How the benchmark scales from 1 M to 100 M encounters: tables, targets and a log-log chart.

:func:`render` turns ``results.json`` (written by ``run.py``) into the "Scale"
section of ``RESULTS.md``; :func:`write_chart` draws wall time against
encounters on log-log axes (``bench/scaling.svg``, Altair + vl-convert, the
report's own chart stack), where a slope of 1 is linear scaling.
"""

from __future__ import annotations

import statistics
from pathlib import Path

MEASURES = ("patients", "attribute", "panels", "dyads", "breaks")
TARGET_TOTAL = 600.0  # seconds: all five measures on 10^8 encounters
TARGET_LINEAR = 1.5  # time per encounter at 10^8 within this factor of 10^6
TARGET_FLOOR = 5.0  # patients within this factor of the floor, at every size
TARGET_MEASURE_RSS = 8 * 2**30  # bytes, every measure at 10^8
TARGET_SYNTH_RSS = 4 * 2**30  # bytes, generating 10^8
BIG = "100m"
SMALL = "1m"


def _med(runs: list[dict], key: str = "wall") -> float:
    return statistics.median(r[key] for r in runs) if runs else float("nan")


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def series(results: dict) -> dict[str, dict[str, dict]]:
    """``{job: {size: {"wall", "encounters", "peak_rss"}}}`` for the floor and every measure."""
    out: dict[str, dict[str, dict]] = {}
    for size, r in results["sizes"].items():
        jobs = {"floor": r["floor"], "patients": r["cli"], **r.get("measures", {})}
        for job, runs in jobs.items():
            if runs:
                out.setdefault(job, {})[size] = {
                    "wall": _med(runs),
                    "encounters": r["encounters"],
                    "peak_rss": max(x["peak_rss"] for x in runs),
                }
    return out


def _per_encounter(point: dict) -> float:
    return point["wall"] / point["encounters"]


def _verdict(ok: bool, detail: str = "") -> str:
    return "yes" if ok else f"**no**{f' ({detail})' if detail else ''}"


def render(results: dict, chart: str | None) -> list[str]:
    """The Scale section (markdown lines); empty without at least two sizes."""
    s = series(results)
    sizes = sorted(results["sizes"], key=lambda k: results["sizes"][k]["encounters"])
    if len(sizes) < 2:
        return []
    lines = ["### Scale", ""]
    gen = {k: results["sizes"][k].get("generation") for k in sizes}
    if any(gen.values()):
        lines += [
            "Inputs, as `carethread.synth.write_chunked` generated them (200 000 patients per chunk, "
            "one Parquet file per chunk; in a child process, so the peak is the generator's alone):",
            "",
            "| input | encounters | Parquet files | on disk | generation time | generation peak RSS |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for k in sizes:
            g = gen[k]
            if g:
                lines.append(
                    f"| {k} | {g['rows']:,} | {g.get('files', '–')} | "
                    f"{g.get('bytes', 0) / 2**20:,.0f} MiB | {g['seconds']:.0f} s | "
                    f"{_gib(g['peak_rss']) if 'peak_rss' in g else '–'} |"
                )
        lines.append("")
    jobs = [j for j in ("floor", *MEASURES) if j in s]
    lines += [
        "Median wall time end to end (fresh process each run), and in brackets the time per encounter "
        "in microseconds. The last two columns divide the time per encounter at the largest size by that "
        "at the smaller ones: 1.0 is linear, below 1 the fixed costs (start-up, ~2–3 s) are being "
        "amortised, above 1 the work grows faster than the input.",
        "",
        "| job | " + " | ".join(sizes) + f" | per encounter {sizes[-1]} / {sizes[0]} | "
        f"{sizes[-1]} / {sizes[-2]} | peak RSS at {sizes[-1]} |",
        "|---|" + "---:|" * (len(sizes) + 3),
    ]
    for job in jobs:
        pts = s[job]
        cells = [f"{pts[k]['wall']:.1f} s ({1e6 * _per_encounter(pts[k]):.2f} µs)" if k in pts else "–" for k in sizes]
        ratios = [
            f"{_per_encounter(pts[sizes[-1]]) / _per_encounter(pts[a]):.2f}" if sizes[-1] in pts and a in pts else "–"
            for a in (sizes[0], sizes[-2])
        ]
        rss = _gib(pts[sizes[-1]]["peak_rss"]) if sizes[-1] in pts else "–"
        name = "floor (plain DuckDB)" if job == "floor" else f"`{job}`"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratios[0]} | {ratios[1]} | {rss} |")
    measured = [j for j in MEASURES if j in s]
    totals = [sum(s[j][k]["wall"] for j in measured if k in s[j]) for k in sizes]
    lines.append(f"| all {len(measured)} measures | " + " | ".join(f"{t:.1f} s" for t in totals) + " | | | |")
    lines.append("")
    if chart:
        lines += [
            f"![Wall time against encounters, log-log]({chart})",
            "",
            "Log-log axes: a line parallel to the dotted one (slope 1) scales linearly; flatter lines "
            "carry a fixed cost that larger inputs amortise.",
            "",
        ]
    return lines


def targets(results: dict) -> list[str]:
    """Rows of the Targets table for the scale targets (issue 6)."""
    s = series(results)
    rows: list[str] = []
    for size, r in sorted(results["sizes"].items(), key=lambda kv: kv[1]["encounters"]):
        if r["cli"] and r["floor"]:
            ratio = _med(r["cli"]) / _med(r["floor"])
            rows.append(
                f"| `patients` within {TARGET_FLOOR:.0f}× of the floor at {size} | {ratio:.2f}× | "
                f"{_verdict(ratio <= TARGET_FLOOR, f'missed by {ratio / TARGET_FLOOR:.2f}×')} |"
            )
    if BIG not in results["sizes"]:
        return rows
    measured = [j for j in MEASURES if BIG in s.get(j, {})]
    total = sum(s[j][BIG]["wall"] for j in measured)
    rows.append(
        f"| all five measures at {BIG} in ≤ {TARGET_TOTAL / 60:.0f} min | {total:.0f} s "
        f"({total / 60:.1f} min, {len(measured)} measures) | "
        f"{_verdict(total <= TARGET_TOTAL and len(measured) == 5, f'{total / TARGET_TOTAL:.2f}× the budget')} |"
    )
    for j in measured:
        if SMALL in s[j]:
            ratio = _per_encounter(s[j][BIG]) / _per_encounter(s[j][SMALL])
            rows.append(
                f"| `{j}`: time per encounter at {BIG} within {TARGET_LINEAR}× of {SMALL} | {ratio:.2f}× | "
                f"{_verdict(ratio <= TARGET_LINEAR)} |"
            )
    worst = max(measured, key=lambda j: s[j][BIG]["peak_rss"])
    peak = s[worst][BIG]["peak_rss"]
    rows.append(
        f"| every measure at {BIG} within 8 GB RSS | largest {_gib(peak)} (`{worst}`) | "
        f"{_verdict(peak <= TARGET_MEASURE_RSS)} |"
    )
    g = results["sizes"][BIG].get("generation")
    if g and "peak_rss" in g:
        rows.append(
            f"| generating {BIG} within 4 GB RSS | {_gib(g['peak_rss'])} in {g['seconds'] / 60:.1f} min | "
            f"{_verdict(g['peak_rss'] <= TARGET_SYNTH_RSS)} |"
        )
    return rows


def write_chart(results: dict, path: Path) -> bool:
    """Draw the log-log chart to ``path`` (SVG); False when there is too little to draw."""
    import altair as alt
    import vl_convert as vlc

    s = series(results)
    rows = [
        {"job": "floor (plain DuckDB)" if job == "floor" else job, "encounters": p["encounters"], "seconds": p["wall"]}
        for job, pts in s.items()
        for p in pts.values()
    ]
    if len({r["encounters"] for r in rows}) < 2:
        return False
    lo = min(r["encounters"] for r in rows)
    hi = max(r["encounters"] for r in rows)
    start = min(r["seconds"] for r in rows if r["encounters"] == lo)
    slope = [{"encounters": lo, "seconds": start}, {"encounters": hi, "seconds": start * hi / lo}]
    x = alt.X("encounters:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s"), title="encounters")
    y = alt.Y("seconds:Q", scale=alt.Scale(type="log"), axis=alt.Axis(format="~g"), title="wall time, end to end (s)")
    lines = (
        alt.Chart(alt.Data(values=rows)).mark_line(point=True).encode(x=x, y=y, color=alt.Color("job:N", title=None))
    )
    linear = alt.Chart(alt.Data(values=slope)).mark_line(strokeDash=[2, 3], color="gray").encode(x=x, y=y)
    chart = (linear + lines).properties(width=420, height=300, title="carethread: time against input size (log-log)")
    path.write_text(vlc.vegalite_to_svg(chart.to_json()))
    return True
