"""Benchmark of the sharing network and care density beside ``carethread patients``, in one run.

For each size (1m, 10m, 100m encounters, ``bench/data.py``'s inputs) the input
gets a heavy tail: ``--heavy`` extra patients per million encounters, each
seeing 30 to 60 distinct clinicians of the system (drawn uniformly, any
setting) on 90 to 150 days over the three years, written as one more Parquet
part beside the generator's. The pair count grows with the square of a
patient's clinicians, so these patients are the worst case the bound has to
hold for. Jobs, each a fresh ``carethread`` process writing Parquet, median of
``--reps`` runs, interleaved:

* ``patients`` (the baseline every ratio divides by);
* ``network`` (every setting, the default);
* ``network --within 30``;
* ``patients --care-density``.

Results go to ``bench/RESULTS.md`` between the ``network`` markers and to
``bench/out/network.json``::

    python bench/network.py --sizes 1m,10m --reps 3
    python bench/network.py --sizes 100m --reps 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import DATA, encounters_dir, ensure
from machine import facts
from procs import run_measured

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- network:begin (written by bench/network.py) -->", "<!-- network:end -->"
SETTINGS = ("primary_care", "specialty", "urgent_care", "emergency", "inpatient", "virtual")

JOBS = {
    "patients": ["patients"],
    "network": ["network"],
    "network --within 30": ["network", "--within", "30"],
    "patients --care-density": ["patients", "--care-density"],
}


def heavy_input(size: str, per_million: int, seed: int = 7) -> tuple[Path, int, int]:
    """The size's encounters plus heavy patients: (folder, heavy patients, their encounters)."""
    base = encounters_dir(size) if (DATA / size / "DONE.json").exists() else ensure(size)
    folder = DATA / f"{size}-heavy" / "encounters"
    folder.mkdir(parents=True, exist_ok=True)
    for part in base.glob("part-*.parquet"):
        link = folder / part.name
        if not link.exists():
            link.symlink_to(part.resolve())
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in base.glob("part-*.parquet"))
    n = max(1, round(per_million * rows / 1e6))
    clinicians = pq.read_table(DATA / size / "clinicians.parquet", columns=["clinician_id", "practice_id"])
    rng = np.random.default_rng(seed)
    m = rng.integers(30, 61, size=n)  # distinct clinicians per heavy patient
    days = rng.integers(90, 151, size=n)  # visit days per heavy patient
    who = np.repeat(np.arange(n), days)
    start = np.datetime64("2020-07-01") + rng.integers(0, 4 * 365, size=who.size).astype("timedelta64[D]")
    slot = (rng.random(who.size) * m[who]).astype(np.int64)  # which of the patient's clinicians
    pool = np.stack([rng.choice(len(clinicians), size=60, replace=False) for _ in range(n)])
    pick = pool[who, slot]
    table = pa.table(
        {
            "encounter_id": pa.array([f"H{i:09d}" for i in range(who.size)]),
            "patient_id": pa.array([f"H{p:07d}" for p in who]),
            "clinician_id": clinicians["clinician_id"].take(pa.array(pick)),
            "practice_id": clinicians["practice_id"].take(pa.array(pick)),
            "start": pa.array(start.astype("datetime64[us]") + np.timedelta64(9, "h")),
            "setting": pa.array(np.array(SETTINGS)[rng.integers(0, len(SETTINGS), size=who.size)]),
        }
    )
    pq.write_table(table, folder / "part-heavy.parquet")
    return folder, n, who.size


def run_job(job: str, folder: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "carethread", *JOBS[job][:1], str(folder), *JOBS[job][1:], "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    r = run_measured(cmd, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{job} failed on {folder}:\n{r.stderr[-2000:]}")
    out.unlink(missing_ok=True)
    return {"wall": r.wall, "cpu": r.cpu, "peak_rss": r.peak_rss}


def pair_rows(folder: Path) -> dict:
    """Patients, the largest number of clinicians of one patient, those with 30 or more, and the pair rows."""
    import duckdb

    q = f"""
        WITH t AS (SELECT patient_id, count(DISTINCT clinician_id) AS m
                   FROM '{folder}/*.parquet' WHERE clinician_id IS NOT NULL GROUP BY 1)
        SELECT count(*), max(m), count(*) FILTER (WHERE m >= 30), sum(m * (m - 1) // 2) FROM t"""
    n, most, heavy, pairs = duckdb.sql(q).fetchall()[0]
    return {"patients": n, "max_clinicians": most, "patients_30_plus": heavy, "pair_rows": int(pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m,100m")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--heavy", type=int, default=100, help="heavy patients per million encounters")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    saved = OUT / "network.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}
    results["machine"] = facts()
    for size in args.sizes.split(","):
        folder, n_heavy, heavy_rows = heavy_input(size, args.heavy)
        entry = {"heavy_patients": n_heavy, "heavy_encounters": heavy_rows, **pair_rows(folder), "runs": {}}
        entry["encounters"] = sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*.parquet"))
        entry.update(began=time.strftime("%Y-%m-%dT%H:%M:%S"), load_start=os.getloadavg(), reps=args.reps)
        for rep in range(args.reps):
            for job in JOBS:
                print(f"{size} rep {rep + 1}: {job}", file=sys.stderr, flush=True)
                entry["runs"].setdefault(job, []).append(run_job(job, folder, OUT / f"network-{size}.parquet"))
        entry.update(ended=time.strftime("%Y-%m-%dT%H:%M:%S"), load_end=os.getloadavg())
        results[size] = entry
        saved.write_text(json.dumps(results, indent=1))
    text = render(results)
    write_markdown(text)
    print(text)


def render(results: dict) -> str:
    sizes = [k for k in ("1m", "10m", "100m") if k in results]
    m = results["machine"]
    lines = [
        f"`python bench/network.py` on {m['cpu_model']}, {m['logical_cores']} logical cores, {m['ram_gib']} GiB, "
        f"DuckDB {m['duckdb']}. The machine is shared with other sessions' work (load averages below): timings "
        "are medians of the runs listed, the four jobs interleaved, each a fresh `carethread` process writing "
        "Parquet.",
        "",
        "| input | run | load (1/5/15 min) at start / end | encounters | patients | max clinicians of one patient "
        "| patients with 30+ | pair rows |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        e = results[s]
        load = " ".join(f"{x:.1f}" for x in e["load_start"]) + " / " + " ".join(f"{x:.1f}" for x in e["load_end"])
        lines.append(
            f"| {s} + heavy | {e['began']} – {e['ended']}, {e['reps']} reps | {load} | {e['encounters']:,} | "
            f"{e['patients']:,} | {e['max_clinicians']} | {e['patients_30_plus']:,} | {e['pair_rows']:,} |"
        )
    header = "| input | " + " | ".join(f"`{j}`" for j in JOBS) + " | largest peak RSS |"
    lines += ["", header, "|---|" + "---:|" * (len(JOBS) + 1)]
    for s in sizes:
        runs = results[s]["runs"]
        base = statistics.median(r["wall"] for r in runs["patients"])
        cells = []
        for job in JOBS:
            wall = statistics.median(r["wall"] for r in runs[job])
            peak = max(r["peak_rss"] for r in runs[job]) / 2**30
            ratio = "" if job == "patients" else f", **{wall / base:.2f}×**"
            cells.append(f"{wall:.1f} s ({peak:.2f} GiB{ratio})")
        peak = max(r["peak_rss"] for job in JOBS for r in runs[job]) / 2**30
        lines.append(f"| {s} + heavy | " + " | ".join(cells) + f" | {peak:.2f} GiB |")
    lines.append("")
    for s in sizes:
        runs = results[s]["runs"]
        text = "; ".join(f"{j}: " + ", ".join(f"{r['wall']:.1f}" for r in runs[j]) + " s" for j in JOBS)
        lines.append(f"* {s} runs — {text}.")
    return "\n".join(lines)


def write_markdown(text: str) -> None:
    page = RESULTS.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in page:
        head, rest = page.split(BEGIN, 1)
        page = head + block + rest.split(END, 1)[1]
    else:
        page = page.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(page)


if __name__ == "__main__":
    main()
