"""Where ``relationship_breaks`` spends its time: each step materialised and timed on its own.

    python bench/breaks_steps.py bench/data/10m/encounters

Runs the steps of :func:`carethread.measures.breaks.breaks_detail` one after
another on one connection, each cached (so a step's time excludes the steps
it reads), and prints wall time, CPU time and rows per step as Markdown. The
sum is close to one run of the measure; DuckDB's own optimiser may overlap
steps in the real query, so read it as shares, not an exact split.
"""

from __future__ import annotations

import sys
import time

import ibis

from carethread.measures import breaks as B
from carethread.measures.practices import clinician_practice
from carethread.options import normalize_settings
from carethread.readers import read
from carethread.schema import SETTINGS
from carethread.visits import encounters_in_window, visits


def main(path: str) -> None:
    rows = []

    def step(label: str, expr: ibis.Table) -> ibis.Table:
        c0, w0 = time.process_time(), time.perf_counter()
        cached = expr.cache()
        n = int(cached.count().execute())
        rows.append((label, time.perf_counter() - w0, time.process_time() - c0, n))
        return cached

    data = read(path)
    enc = step("read + validate the encounters (cached)", data.encounters)
    e = encounters_in_window(enc)
    last = int((B._month_index((e.start.max().cast("date") + ibis.interval(days=1)).cast("date")) // 3 * 3).execute())
    grid = B._Grid.of(3, 18, ibis.literal(last))
    chosen = normalize_settings(None)
    v = visits(enc, settings=chosen)
    v = step("visits (patient, clinician, day)", v.mutate(bucket=B._month_index(v.visit_date) // grid.size))
    per_bucket, _ = B._attribution_at_boundaries(v, grid)
    per_bucket = step("visits per patient, clinician and quarter", per_bucket)
    _, attributed = B._attribution_at_boundaries(v, grid)
    attributed = step("plurality attribution at every quarter (6 windows each)", attributed)
    practices = step("each clinician's practice", clinician_practice(e, settings=SETTINGS))
    step("switches (partner, other_practice)", B._switches(v, per_bucket, attributed, practices, grid))
    episodes = step("episodes: what follows each visit day", B._episodes(e, chosen, 12))
    step("lapses (emergency_only, lost)", B._lapses(episodes, attributed, grid, 12, 12))

    total_cpu = sum(r[2] for r in rows)
    print("| step | wall | CPU | share of CPU | rows |\n|---|---:|---:|---:|---:|")
    for label, wall, cpu, n in rows:
        print(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {100 * cpu / total_cpu:.0f} % | {n:,} |")


if __name__ == "__main__":
    main(sys.argv[1])
