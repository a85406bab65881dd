"""``carethread outcomes`` (the default Poisson design) beside ``carethread patients``, end to end.

    python bench/outcomes.py [--sizes 1m,10m] [--repeat 3]

Both run as subprocesses of the real CLI on the same cached input
(:mod:`data`, generated with the outcome processes' hooks off, as every
benchmark input): ``patients`` on the ``encounters/`` folder as the other
benchmarks run it, ``outcomes`` on the whole folder (it needs the patients
table for age, sex and deaths). Medians of ``--repeat`` runs, the ratio to
``patients`` measured in the same run, and the machine's load average go to
``bench/out/outcomes.json`` and the ``outcomes`` block of ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
from procs import run_measured  # noqa: E402

OUT = HERE / "out"
RESULTS_MD = HERE / "RESULTS.md"
BEGIN, END = "<!-- outcomes:begin (written by bench/outcomes.py) -->", "<!-- outcomes:end -->"
CARETHREAD = str(Path(sys.executable).with_name("carethread"))


def _time(cmd: list[str], repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        run = run_measured(cmd)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
        runs.append(run)
    return {
        "wall_s": statistics.median(r.wall for r in runs),
        "cpu_s": statistics.median(r.cpu for r in runs),
        "peak_rss_mb": max(r.peak_rss for r in runs) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1m,10m")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.sizes.split(","):
            encounters = data.ensure(name)
            folder = encounters.parent
            load_before = os.getloadavg()[0]
            patients = _time([CARETHREAD, "patients", str(encounters), "--out", f"{scratch}/p.parquet"], args.repeat)
            outcomes = _time([CARETHREAD, "outcomes", str(folder), "--out", f"{scratch}/o.csv"], args.repeat)
            results[name] = {
                "patients": patients,
                "outcomes": outcomes,
                "ratio_wall": outcomes["wall_s"] / patients["wall_s"],
                "ratio_cpu": outcomes["cpu_s"] / patients["cpu_s"],
                "load_1min": [load_before, os.getloadavg()[0]],
            }
            print(name, json.dumps(results[name]), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "outcomes.json").write_text(json.dumps(results, indent=2))
    _write_block(results, args.repeat)


def _write_block(results: dict, repeat: int) -> None:
    lines = [
        BEGIN,
        f"Measured {dt.date.today()}, median of {repeat} runs each, `patients` then `outcomes` on "
        "one input; load = the 1-minute load average before and after (2 cores, shared with other sessions).",
        "",
        "| encounters | patients wall s (CPU) | outcomes wall s (CPU) | ratio wall (CPU) | peak RSS MB p / o | load |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        p, o = r["patients"], r["outcomes"]
        lines.append(
            f"| {name} | {p['wall_s']:.1f} ({p['cpu_s']:.1f}) | {o['wall_s']:.1f} ({o['cpu_s']:.1f}) | "
            f"{r['ratio_wall']:.2f} ({r['ratio_cpu']:.2f}) | {p['peak_rss_mb']:.0f} / {o['peak_rss_mb']:.0f} | "
            f"{r['load_1min'][0]:.1f} → {r['load_1min'][1]:.1f} |"
        )
    lines.append(END)
    text = RESULTS_MD.read_text()
    block = "\n".join(lines)
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text += (
            "\n## What the relationship is worth (`carethread outcomes`, `bench/outcomes.py`)\n\n"
            "The default study (UPC over a baseline year, emergency visits over the two years after, Poisson) "
            "end to end beside `patients` on the same input. Target: within 2x `patients` at 10^7.\n\n" + block + "\n"
        )
    RESULTS_MD.write_text(text)


if __name__ == "__main__":
    main()
