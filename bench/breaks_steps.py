"""Where ``relationship_breaks`` spends its time: each step materialised and timed on its own.

    python bench/breaks_steps.py bench/data/10m/encounters

Runs the steps of :func:`carethread.measures.breaks.relationship_breaks` one
after another on one connection, each cached (so a step's time excludes the
steps it reads), and prints wall time, CPU time and rows per step as Markdown.
The sum is close to one run of the measure; DuckDB's own optimiser may overlap
steps in the real query, so read it as shares, not an exact split.
"""

from __future__ import annotations

import sys
import time

import ibis

from carethread.measures.breaks import _clinician_table, _data_end
from carethread.measures.lapses import lapses
from carethread.measures.switches import confirmed_switches
from carethread.measures.timeline import clinician_codes, patient_days, timeline, window_days
from carethread.options import normalize_settings
from carethread.readers import read


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
    days = step("visits and other encounter days (one aggregate)", patient_days(enc, normalize_settings(None)))
    data_end = _data_end(days, None)
    info = step("each clinician's practice and last encounter", _clinician_table(enc, None))
    v, other = days.filter(days.clinician_id.notnull()), days.filter(days.clinician_id.isnull())
    codes = step("clinician codes", clinician_codes(v))
    t = step("timeline: two window passes over the visits", timeline(v, codes, usual_days=window_days(24)))
    kw = dict(usual_days=window_days(24))
    step(
        "confirmed switches",
        confirmed_switches(t, codes, info, data_end, confirm=1, confirm_days=window_days(18), **kw),
    )
    step("lapses", lapses(t, codes, other, info, data_end, lost_months=12, emergency_months=12, **kw))

    total_cpu = sum(r[2] for r in rows)
    print("| step | wall | CPU | share of CPU | rows |\n|---|---:|---:|---:|---:|")
    for label, wall, cpu, n in rows:
        print(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {100 * cpu / total_cpu:.0f} % | {n:,} |")


if __name__ == "__main__":
    main(sys.argv[1])
