"""``carethread all`` against the separate commands it replaces, end to end, in the same session.

    python bench/all.py [--sizes 10m,100m] [--reps 3] [--reps-100m 1] [--extra-sizes 10m]

For each input size (``bench/data/<size>/encounters``, as :mod:`data` made
it; an existing input is used as it is, not remade), interleaved ``--reps``
times with the order rotated each repetition:

* ``carethread all INPUT --out bench/out/all_<size>/`` as a subprocess: wall
  time, CPU time, the peak RSS of the process tree, and the seconds of each
  step from the ``manifest.json`` it writes (read, stage, each table, who
  needs whom, the report);
* the five measure commands ``patients``, ``attribute``, ``panels``,
  ``dyads`` and ``breaks`` with their defaults (``--out …parquet``), whose
  sum is what ``all``'s tables cost when each command reads the input
  itself; at ``--extra-sizes`` also ``summary`` and ``report``, which
  ``all`` writes too (each computes the measures it needs again).

The machine's load average is recorded before every run and at the start
and end. Results go to ``bench/out/all.json`` and to the ``all`` block of
``bench/RESULTS.md`` (between its markers; the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
import machine  # noqa: E402
from markers import RESULTS_MD, write_block  # noqa: E402
from procs import run_measured  # noqa: E402

OUT = HERE / "out"
CARETHREAD = str(Path(sys.executable).with_name("carethread"))
MEASURES = ("patients", "attribute", "panels", "dyads", "breaks")
EXTRA = ("summary", "report")
TARGET_SECONDS = 300  # all five measures at 10^8 (issue 13)
TARGET_RSS = 8 * 10**9  # bytes
#: The steps of `all` that make the five measures' tables (and read the input), which the time target is about.
FIVE_STEPS = (
    "read",
    "stage",
    "windows",
    "patients",
    "continuity_summary",
    "attribution",
    "attribution_ranking",
    "panels",
    "dyads",
    "breaks",
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def command(job: str, size: str, memory_limit: str | None = None) -> list[str]:
    """The command line of one job on one input."""
    enc = str(data.encounters_dir(size))
    top = [CARETHREAD, *(["--memory-limit", memory_limit] if memory_limit else [])]
    if job == "all":
        return [*top, "all", enc, "--out", str(OUT / f"all_{size}")]
    if job == "summary":
        return [*top, "summary", enc, "--out", str(OUT / f"summary_{size}.csv")]
    if job == "report":
        return [*top, "report", enc, "--out", str(OUT / f"report_{size}.html")]
    return [*top, job, enc, "--out", str(OUT / f"{job}_{size}.parquet")]


def run_job(job: str, size: str, memory_limit: str | None = None) -> dict:
    """One timed run; a failure (an error, or the system's out-of-memory killer) is recorded, not raised."""
    if job == "all":
        shutil.rmtree(OUT / f"all_{size}", ignore_errors=True)
    load = os.getloadavg()[0]
    r = run_measured(command(job, size, memory_limit))
    out = {"wall": r.wall, "cpu": r.cpu, "peak_rss": r.peak_rss, "load_before": load, "returncode": r.returncode}
    if r.returncode != 0:
        out["stderr_tail"] = r.stderr[-1500:]
        log(f"carethread {job} failed on {size} (exit {r.returncode}):\n{r.stderr[-1500:]}")
    elif job == "all":
        manifest = json.loads((OUT / f"all_{size}" / "manifest.json").read_text())
        out["steps"] = manifest["seconds"]
    return out


def input_of(size: str) -> Path:
    """The input of ``size``: the cached one when there is one (even from an older generator), else made."""
    if (data.DATA / size / "DONE.json").exists():
        return data.encounters_dir(size)
    return data.ensure(size, log=log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10m,100m")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--reps-100m", type=int, default=None, help="repetitions at 100m [default: --reps]")
    parser.add_argument("--extra-sizes", default="10m", help="sizes at which summary and report are timed too")
    parser.add_argument("--memory-limit", default=None, help="carethread --memory-limit for every run")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    OUT.mkdir(parents=True, exist_ok=True)
    results = {
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine.facts(),
        "args": vars(args),
        "sizes": {},
    }
    for size in sizes:
        input_of(size)
        extra = EXTRA if size in args.extra_sizes.split(",") else ()
        jobs = ["all", *MEASURES, *extra]
        reps = args.reps_100m if size == "100m" and args.reps_100m is not None else args.reps
        slot = results["sizes"][size] = {"input": data.facts(size), "runs": {job: [] for job in jobs}}
        for rep in range(reps):
            shift = rep % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                r = run_job(job, size, args.memory_limit)
                slot["runs"][job].append(r)
                log(f"rep {rep} {size} {job}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, {gib(r['peak_rss'])}")
                # Kept after every run, so a long session that fails late keeps what it measured.
                (OUT / "all.json").write_text(json.dumps(results, indent=1))
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    results["load_average_end"] = os.getloadavg()
    (OUT / "all.json").write_text(json.dumps(results, indent=1))
    write_markdown(results)
    log(f"wrote {RESULTS_MD.relative_to(HERE.parent)} and {(OUT / 'all.json').relative_to(HERE.parent)}")


# --- report -----------------------------------------------------------------------------------


def ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r.get("returncode", 0) == 0]


def med(runs: list[dict], key: str) -> float:
    done = ok(runs)
    return statistics.median(r[key] for r in done) if done else float("nan")


def _size_rows(size: str, slot: dict) -> list[str]:
    runs = slot["runs"]
    extra = [job for job in EXTRA if job in runs]
    n = len(runs["all"])
    label = f"{size} ({slot['input']['rows']:,} encounters), {n} run{'s' if n > 1 else ''}"
    rows = []
    for key, what in (("wall", "median wall"), ("cpu", "median CPU")):
        five = sum(med(runs[job], key) for job in MEASURES)
        everything = five + sum(med(runs[job], key) for job in extra)
        cells = [f"{med(runs[job], key):.1f} s" for job in MEASURES]
        ours = med(runs["all"], key)
        ratio = f"**{ours / five:.2f}×**"
        also = f"{everything:.1f} s ({ours / everything:.2f}×)" if extra else "not timed"
        rows.append(f"| {label} | {what} | {' | '.join(cells)} | {five:.1f} s | {also} | {ours:.1f} s | {ratio} |")
    peaks = [gib(max(r["peak_rss"] for r in runs[job])) for job in MEASURES]
    peak_all = gib(max(r["peak_rss"] for r in runs["all"]))
    rows.append(f"| {label} | peak RSS | {' | '.join(peaks)} | | | {peak_all} | |")
    return rows


def _steps(size: str, slot: dict) -> list[str]:
    """``all``'s own steps (from its manifest), the median over its runs."""
    runs = ok(slot["runs"]["all"])
    if not runs:
        return [f"* {size}: no run of `all` completed."]
    names = list(runs[0]["steps"])
    total = sum(statistics.median(r["steps"][name] for r in runs) for name in names)
    cells = [f"{name} {statistics.median(r['steps'][name] for r in runs):.1f} s" for name in names]
    return [f"* {size}: " + ", ".join(cells) + f" (steps total {total:.1f} s)."]


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"Run {r['started']} – {r['finished']}: `python bench/all.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in r["args"].items() if v is not None)
        + "`",
        "",
        f"Machine: {m['cpu_model']}, {m['logical_cores']} logical cores, {m['ram_gib']} GiB RAM, shared with "
        f"other sessions. Load average at the start {' / '.join(f'{x:.1f}' for x in m['load_average'])}, at the "
        f"end {' / '.join(f'{x:.1f}' for x in r['load_average_end'])}.",
        "",
        "Each command end to end as a subprocess with its defaults; `all` writes every table, "
        "who_needs_whom.csv, the report and manifest.json in one run. The ratio is `all` against the sum of "
        "the five measure commands of the same session; `+ summary + report` adds the two commands that "
        "write the rest of what `all` writes.",
        "",
        "| input | | patients | attribute | panels | dyads | breaks | sum of the five | + summary + report "
        "| `all` | `all` ÷ five |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, slot in r["sizes"].items():
        lines += _size_rows(size, slot)
    lines += ["", "Every run (wall seconds, and the 1-minute load average before it):", ""]
    for size, slot in r["sizes"].items():
        for job, runs in slot["runs"].items():
            walls = ", ".join(
                f"{x['wall']:.1f} (load {x['load_before']:.1f})"
                + ("" if x.get("returncode", 0) == 0 else f" **failed, exit {x['returncode']}**")
                for x in runs
            )
            lines.append(f"* {size} {job}: {walls}")
    lines += ["", "Where `all`'s time goes (seconds per step, from its manifest):", ""]
    for size, slot in r["sizes"].items():
        lines += _steps(size, slot)
    big = r["sizes"].get("100m")
    if big:
        runs = ok(big["runs"]["all"])
        tables = sum(statistics.median(x["steps"][n] for x in runs) for n in FIVE_STEPS) if runs else math.nan
        wall, peak = med(big["runs"]["all"], "wall"), max(x["peak_rss"] for x in big["runs"]["all"])
        five = sum(med(big["runs"][job], "wall") for job in MEASURES)
        fast = "met" if tables <= TARGET_SECONDS else "**missed**"  # NaN (no run) misses
        small = "met" if peak <= TARGET_RSS else "**missed**"
        lines += [
            "",
            f"Targets (issue 13) at 10⁸: the five measures' tables ({', '.join(FIVE_STEPS)} inside `all`) in "
            f"≤ {TARGET_SECONDS / 60:.0f} min: {fast} ({tables:.0f} s, {tables / five:.2f}× the five commands); "
            f"≤ {TARGET_RSS / 1e9:.0f} GB RSS for the whole run: {small} ({peak / 1e9:.2f} GB = {gib(peak)}). "
            f"The whole run, with the network, care density, who needs whom and the report: {wall:.0f} s.",
        ]
    return "\n".join(lines)


def write_markdown(r: dict) -> None:
    write_block("all", "all.py", render(r), "`carethread all` beside the separate commands (issue 13)")


if __name__ == "__main__":
    main()
