"""Benchmark: read a FHIR R4 Bulk NDJSON export (~250 MB and ~1 GB) into canonical encounters.

    python bench/fhir_read.py [--sizes 250mb,1gb] [--reps 3] [--profile]

Inputs are written once into ``bench/data/fhir-<size>/`` (gitignored) by the
synthetic system's FHIR writer (``carethread synth --format fhir``: chunked
generation, then NDJSON streamed from Parquet) and reused while their
``DONE.json`` matches the parameters.

For each size, interleaved ``--reps`` times, each in a fresh subprocess whose
wall time, CPU time and peak RSS (process tree, :mod:`procs`) are measured:

* **read**: ``read(INPUT, format="fhir")`` then ``encounters.count()`` —
  discovery, parsing every line of every file, resolving references,
  validation, the quarantine and the reconciliation counts; the child also
  reports its own import / read / count split, so start-up can be told apart.
* **CLI**: ``carethread patients INPUT --format fhir --out ...`` end to end
  (read + validate + the measure + writing).

Encounters per second = encounters / wall time of the read step (in-process
read + count, and whole subprocess). ``--profile`` adds one run with the
reader's phases timed. Results: ``bench/out/fhir_read.json`` and a Markdown
section printed to stdout for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import machine  # noqa: E402
from procs import run_measured  # noqa: E402

DATA = HERE / "data"
OUT = HERE / "out"
PY = sys.executable
CARETHREAD = str(Path(PY).with_name("carethread"))
SEED = 2024
#: name -> patients (3 years); ~9.9 encounters per patient, ~630 bytes per Encounter line.
SIZES = {"250mb": 41_500, "1gb": 166_000}
TARGET = 200_000  # encounters per second


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure(name: str) -> Path:
    """Write the export for ``name`` unless a complete copy is cached."""
    folder = DATA / f"fhir-{name}"
    stamp = folder / "DONE.json"
    meta = {"patients": SIZES[name], "years": 3, "seed": SEED, "writer": 2}
    if stamp.exists() and json.loads(stamp.read_text()).get("meta") == meta:
        return folder
    log(f"writing {name}: {SIZES[name]:,} patients as FHIR NDJSON into {folder} ...")
    t0 = time.perf_counter()
    # In a child: Linux carries ru_maxrss across fork and exec, so a parent grown by the
    # writer would make every measured child's peak RSS read as the writer's.
    subprocess.run(
        [
            PY,
            "-c",
            "import sys; from carethread.synth.fhir import write_fhir_chunked as w; "
            "w(sys.argv[1], int(sys.argv[2]), years=3, seed=int(sys.argv[3]))",
            str(folder),
            str(SIZES[name]),
            str(SEED),
        ],
        env=_env(),
        check=True,
    )
    files = sorted(folder.glob("*.ndjson"))
    encounters = sum(1 for p in files if p.name.startswith("Encounter") for _ in p.open("rb"))
    info = {
        "meta": meta,
        "seconds": time.perf_counter() - t0,
        "encounters": encounters,
        "bytes": sum(p.stat().st_size for p in files),
        "encounter_bytes": sum(p.stat().st_size for p in files if p.name.startswith("Encounter")),
        "files": [p.name for p in files],
    }
    stamp.write_text(json.dumps(info))
    log(f"  {encounters:,} encounters, {info['bytes'] / 2**20:,.0f} MiB in {info['seconds']:.0f} s")
    return folder


CHILD = """
import json, sys, time
t0 = time.perf_counter()
from carethread.readers import read
from carethread import engine
t1 = time.perf_counter()
data = read(sys.argv[1], format="fhir", con=engine.connect())
t2 = time.perf_counter()
n = data.encounters.count().execute()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "count": t3 - t2, "encounters": n,
                  "quarantined": data.n_quarantined}))
"""

PROFILE = """
import functools, json, sys, time
from carethread import engine, validate
from carethread.readers.fhir import read as F, resolve as R
spent = {}
def wrap(mod, name, label):
    fn = getattr(mod, name)
    @functools.wraps(fn)
    def inner(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
    setattr(mod, name, inner)
# Each phase where the reader calls it: read.py imported these names, resolve.py calls its own lookup.
for mod, name, label in (
    (F, "stage_files", "_stage"), (F, "lookup", "_lookup"), (R, "lookup", "_lookup"),
    (F, "_roles", "_roles"), (F, "_practitioners", "_practitioners"), (F, "_patients", "_patients"),
    (F, "_organizations", "_organizations"), (F, "clinician_lookup", "_clinician_lookup"),
):
    wrap(mod, name, label)
wrap(F, "_check_encounters", "_check_encounters (build)")
wrap(engine, "store_in_file_order", "engine.store_in_file_order (parse)")
wrap(engine, "materialize", "engine.materialize")
wrap(validate, "finish", "validate.finish")
t = time.perf_counter()
data = F.read_fhir(sys.argv[1], con=engine.connect())
total = time.perf_counter() - t
print(json.dumps({"total": total, "phases": spent}))
"""


def _env() -> dict:
    """Children import this checkout's carethread, whatever is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent / "src"), env.get("PYTHONPATH")) if p)
    return env


def measure(kind: str, folder: Path, name: str) -> dict:
    env = _env()
    load = os.getloadavg()
    if kind == "read":
        run = run_measured([PY, "-c", CHILD, str(folder)], env=env)
    else:
        OUT.mkdir(exist_ok=True)
        run = run_measured(
            [
                CARETHREAD,
                "patients",
                str(folder),
                "--format",
                "fhir",
                "--out",
                str(OUT / f"fhir_patients_{name}.parquet"),
            ],
            env=env,
        )
    if run.returncode != 0:
        raise SystemExit(f"{kind} {name} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    row = {
        "wall": run.wall,
        "cpu": run.cpu,
        "peak_rss": run.peak_rss,
        "load_before": load,
        "load_after": os.getloadavg(),
    }
    if kind == "read":
        row.update(json.loads(run.stdout.strip().splitlines()[-1]))
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="250mb,1gb")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    sizes = [s for s in args.sizes.split(",") if s]
    folders = {s: ensure(s) for s in sizes}
    info = {s: json.loads((folders[s] / "DONE.json").read_text()) for s in sizes}
    facts = machine.facts()
    results: dict = {s: {"read": [], "cli": []} for s in sizes}
    for rep in range(args.reps):
        for s in sizes:
            for kind in ("read", "cli"):
                row = measure(kind, folders[s], s)
                results[s][kind].append(row)
                log(
                    f"rep {rep + 1} {s} {kind}: {row['wall']:.2f} s wall, {row['cpu']:.2f} s CPU, "
                    f"{row['peak_rss'] / 2**30:.2f} GiB, load {row['load_before'][0]:.1f}"
                )
    profiles = {}
    if args.profile:
        for s in sizes:
            run = run_measured([PY, "-c", PROFILE, str(folders[s])], env=_env())
            profiles[s] = json.loads(run.stdout.strip().splitlines()[-1])
    OUT.mkdir(exist_ok=True)
    (OUT / "fhir_read.json").write_text(
        json.dumps({"machine": facts, "inputs": info, "results": results, "profiles": profiles}, indent=1, default=str)
    )
    print(render(facts, info, results, profiles, args.reps))


def render(facts, info, results, profiles, reps) -> str:
    med = statistics.median
    lines = [
        "| input | files (Encounter) | encounters | read: in-process read + count | read: whole subprocess | "
        "encounters/s (in-process / subprocess) | encounters per CPU-second (subprocess) | read peak RSS | "
        "`carethread patients` end to end | CLI peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, r in results.items():
        n = r["read"][0]["encounters"]
        inner = med([x["read"] + x["count"] for x in r["read"]])
        outer = med([x["wall"] for x in r["read"]])
        enc_files = [f for f in info[s]["files"] if f.startswith("Encounter")]
        lines.append(
            f"| {s} ({info[s]['bytes'] / 2**20:,.0f} MiB) "
            f"| {len(enc_files)} ({info[s]['encounter_bytes'] / 2**20:,.0f} MiB) "
            f"| {n:,} | {inner:.2f} s | {outer:.2f} s | **{n / inner:,.0f}** / {n / outer:,.0f} "
            f"| {n / med([x['cpu'] for x in r['read']]):,.0f} "
            f"| {max(x['peak_rss'] for x in r['read']) / 2**30:.2f} GiB | {med([x['wall'] for x in r['cli']]):.2f} s "
            f"| {max(x['peak_rss'] for x in r['cli']) / 2**30:.2f} GiB |"
        )
    lines.append("")
    for s, r in results.items():
        lines.append(
            f"* {s} runs — read (in process): "
            + ", ".join(f"{x['read'] + x['count']:.2f}" for x in r["read"])
            + " s (import "
            + ", ".join(f"{x['import']:.2f}" for x in r["read"])
            + " s); subprocess: "
            + ", ".join(f"{x['wall']:.2f}" for x in r["read"])
            + " s, CPU "
            + ", ".join(f"{x['cpu']:.2f}" for x in r["read"])
            + " s; CLI: "
            + ", ".join(f"{x['wall']:.2f}" for x in r["cli"])
            + " s; 1-min load average before each run: "
            + ", ".join(f"{x['load_before'][0]:.1f}" for k in ("read", "cli") for x in r[k])
            + "."
        )
    lines.append("")
    lines.append(
        f"Median of {reps}; {facts['cpu_model']}, {facts['logical_cores']} logical cores, "
        f"DuckDB {facts['duckdb']}, Ibis {facts['ibis']}."
    )
    for s, p in profiles.items():
        lines.append("")
        lines.append(f"Reader phases, {s} (one run, {p['total']:.2f} s; nested phases overlap):")
        lines.append("")
        for k, v in sorted(p["phases"].items(), key=lambda kv: -kv[1]):
            lines.append(f"* {k}: {v:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
