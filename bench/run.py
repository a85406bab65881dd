"""The carethread benchmark (``make bench``): every measure, and ``patients`` against two baselines.

    python bench/run.py [--sizes 1m,10m] [--reps 3] [--measures patients,attribute,...]
                        [--pandas-reps 1] [--no-pandas] [--no-legacy]

For each input size (synthetic encounters from Parquet, generated once into
``bench/data/``), interleaved ``--reps`` times:

* **CLI**: ``carethread patients INPUT --out bench/out/patients_<size>.parquet``
  as a subprocess, end to end (Python and Ibis start-up, reading and
  validation, the measure, writing, remarks); wall time, CPU time and the
  peak RSS of the process tree.
* **Floor (b)**: the visit step alone as one plain DuckDB query
  (:mod:`floor`) in a fresh Python process, end to end.
* **The other measures** (``--measures``; default all of them): ``carethread
  attribute``, ``panels``, ``dyads`` and ``breaks`` on the same input, with
  their defaults, each compared with ``patients`` in the same repetition.

Then, in one subprocess per size (:mod:`inprocess`): the floor query and
``patient_continuity`` on the same connection, interleaved (the in-process,
measure-only ratio), the pre-benchmark formulation (:mod:`legacy_continuity`)
for before/after, an exact comparison of the two, and DuckDB's operator
profile. Finally the pandas ``groupby().apply()`` baseline (a) on the 1 M
input, checked against the CLI's output to 1e-9 before it is timed.

Results go to ``bench/RESULTS.md`` (between the ``results`` markers; text
outside them is kept) and ``bench/out/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
import machine  # noqa: E402
import scale  # noqa: E402
from procs import run_measured  # noqa: E402

OUT = HERE / "out"
RESULTS_MD = HERE / "RESULTS.md"
CHART = HERE / "scaling.svg"
BEGIN, END = "<!-- results:begin (written by bench/run.py) -->", "<!-- results:end -->"
PY = sys.executable
CARETHREAD = str(Path(PY).with_name("carethread"))

TARGET_PANDAS = 100.0  # CLI at least this many times faster than pandas at 1 M
TARGET_FLOOR = 5.0  # CLI within this factor of the floor at 10 M
TARGET_RSS = 2 * 2**30  # bytes, at 10 M
TARGET_MEASURE = 3.0  # attribute, panels and dyads each within this factor of patients at 10 M
MEASURES = ("patients", "attribute", "panels", "dyads", "breaks")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def run_cli(size: str, measure: str = "patients") -> dict:
    out = OUT / f"{measure}_{size}.parquet"
    r = run_measured([CARETHREAD, measure, str(data.encounters_dir(size)), "--out", str(out)])
    if r.returncode != 0:
        raise SystemExit(f"carethread {measure} failed on {size}:\n{r.stderr}")
    return {"wall": r.wall, "cpu": r.cpu, "peak_rss": r.peak_rss}


def run_floor(size: str) -> dict:
    glob = str(data.encounters_dir(size) / "*.parquet")
    r = run_measured([PY, str(HERE / "floor.py"), glob])
    if r.returncode != 0:
        raise SystemExit(f"floor query failed on {size}:\n{r.stderr}")
    inner = json.loads(r.stdout)
    return {
        "wall": r.wall,
        "cpu": r.cpu,
        "peak_rss": r.peak_rss,
        "query": inner["query_seconds"],
        "groups": inner["groups"],
    }


def run_startup() -> dict:
    code = "import ibis, duckdb, carethread.cli, carethread.readers, carethread.measures.continuity"
    r = run_measured([PY, "-c", code])
    return {"wall": r.wall, "cpu": r.cpu, "peak_rss": r.peak_rss}


def run_inprocess(size: str, reps: int, legacy: bool) -> dict:
    cmd = [
        PY,
        str(HERE / "inprocess.py"),
        str(data.encounters_dir(size)),
        "--reps",
        str(reps),
        "--profile",
        str(OUT / f"profile_{size}.json"),
        "--check",
    ]
    if legacy:
        cmd.append("--legacy")
    r = run_measured(cmd)
    if r.returncode != 0:
        raise SystemExit(f"in-process run failed on {size}:\n{r.stderr}")
    result = json.loads(r.stdout)
    result["process_peak_rss"] = r.peak_rss
    return result


def run_phases(size: str) -> dict:
    r = run_measured(
        [PY, str(HERE / "cli_phases.py"), str(data.encounters_dir(size)), str(OUT / f"phases_{size}.parquet")]
    )
    if r.returncode != 0:
        raise SystemExit(f"cli_phases failed on {size}:\n{r.stderr}")
    marks = json.loads(r.stdout.strip().splitlines()[-1])
    return {"wall": r.wall, "marks": marks}


def run_pandas(size: str) -> dict:
    out = OUT / f"pandas_{size}.parquet"
    r = run_measured([PY, str(HERE / "pandas_baseline.py"), str(data.encounters_dir(size)), "--out", str(out)])
    if r.returncode != 0:
        raise SystemExit(f"pandas baseline failed on {size}:\n{r.stderr}")
    return {"wall": r.wall, "cpu": r.cpu, "peak_rss": r.peak_rss, "inner": json.loads(r.stdout)["seconds"]}


def check_pandas(size: str) -> dict:
    import pyarrow.parquet as pq
    from compare import compare_tables

    return compare_tables(
        pq.read_table(OUT / f"patients_{size}.parquet"), pq.read_table(OUT / f"pandas_{size}.parquet")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="carethread benchmark")
    parser.add_argument("--sizes", default="1m,10m,100m")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--pandas-reps", type=int, default=1)
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--no-legacy", action="store_true", help="skip the before/after comparison")
    parser.add_argument("--no-inprocess", action="store_true")
    parser.add_argument(
        "--detail-sizes",
        default="1m,10m",
        help="sizes that also get the in-process runs and the phase timing (each costs "
        "several CLI runs; at 100 M about 10 minutes)",
    )
    parser.add_argument(
        "--measures", default=",".join(MEASURES), help="CLI commands timed end to end (patients is always included)"
    )
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    measures = ["patients"] + [m.strip() for m in args.measures.split(",") if m.strip() and m.strip() != "patients"]
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown:
        parser.error(f"unknown measure(s) {', '.join(unknown)}; choose from {', '.join(MEASURES)}")
    OUT.mkdir(parents=True, exist_ok=True)

    results = {
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine.facts(),
        "args": vars(args),
        "sizes": {},
    }
    for size in sizes:
        data.ensure(size, log=log)
        results["sizes"][size] = {
            "encounters": data.n_rows(size),
            "cli": [],
            "floor": [],
            "measures": {m: [] for m in measures[1:]},
            "generation": data.facts(size),
        }

    log("start-up cost (imports only)")
    results["startup"] = [run_startup() for _ in range(3)]

    for rep in range(args.reps):
        for size in sizes:
            # Rotate the order each repetition so drift in the machine's load spreads evenly.
            jobs = ["floor", *measures]
            shift = rep % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                r = run_floor(size) if job == "floor" else run_cli(size, job)
                slot = results["sizes"][size]
                (
                    slot["floor"] if job == "floor" else slot["cli"] if job == "patients" else slot["measures"][job]
                ).append(r)
                log(f"rep {rep} {size} {job}: {r['wall']:.2f} s, peak {gib(r['peak_rss'])}")

    detailed = [s for s in sizes if s in args.detail_sizes.split(",")]
    for size in detailed:
        log(f"CLI phases {size}")
        results["sizes"][size]["phases"] = run_phases(size)

    if not args.no_inprocess:
        for size in detailed:
            log(f"in-process {size}")
            results["sizes"][size]["inprocess"] = run_inprocess(size, args.reps, legacy=not args.no_legacy)

    if not args.no_pandas and "1m" in sizes:
        log("pandas baseline on 1m (this takes minutes)")
        runs = []
        for rep in range(args.pandas_reps):
            runs.append(run_pandas("1m"))
            log(f"pandas rep {rep}: {runs[-1]['wall']:.1f} s")
        results["pandas"] = {"size": "1m", "runs": runs, "check": check_pandas("1m")}

    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    results["machine"]["load_average_end"] = os.getloadavg()
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    write_markdown(results)
    log(f"wrote {RESULTS_MD.relative_to(HERE.parent)} and {(OUT / 'results.json').relative_to(HERE.parent)}")


# --- report -----------------------------------------------------------------------------------


def _runs(xs, key="wall"):
    return ", ".join(f"{x[key]:.2f}" for x in xs)


# One function writes RESULTS.md top to bottom, a branch per optional section, in page order.
def render(results: dict) -> str:  # noqa: C901
    m = results["machine"]
    lines = [
        f"Run {results['started']} – {results['finished']}: `python bench/run.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}" if not isinstance(v, bool) else (f"--{k.replace('_', '-')}" if v else "")
            for k, v in results["args"].items()
        ).strip()
        + "`",
        "",
        "### Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu_model']}, {m['logical_cores']} logical cores ({m['physical_cores']} physical) |",
        f"| RAM | {m['ram_gib']} GiB |",
        f"| OS | {m['os']} |",
        f"| Python / DuckDB / Ibis / sqlglot | {m['python']} / {m['duckdb']} / {m['ibis']} / {m['sqlglot']} |",
        f"| pandas / pyarrow / numpy | {m['pandas']} / {m['pyarrow']} / {m['numpy']} |",
        f"| BLAS threads env | {m['blas_env']} |",
        f"| load average (1/5/15 min) at start / end | {' '.join(f'{x:.1f}' for x in m['load_average'])} / "
        f"{' '.join(f'{x:.1f}' for x in m.get('load_average_end', []))} |",
        "",
        "The machine is shared with other engineers' test runs: every timing below is the median of "
        f"{results['args']['reps']} runs, and the runs being compared were interleaved in the same session "
        "(individual runs are listed so the spread is visible).",
        "",
    ]
    startup = med([r["wall"] for r in results["startup"]])
    lines += [
        "### End to end (subprocesses)",
        "",
        "| input | encounters | `carethread patients` | floor (b), fresh DuckDB process | ratio "
        "| CLI peak RSS | floor peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results["sizes"].items():
        cli, fl = med([x["wall"] for x in r["cli"]]), med([x["wall"] for x in r["floor"]])
        rss = max(x["peak_rss"] for x in r["cli"])
        lines.append(
            f"| {size} | {r['encounters']:,} | {cli:.2f} s | {fl:.2f} s | **{cli / fl:.2f}×** | {gib(rss)} | "
            f"{gib(max(x['peak_rss'] for x in r['floor']))} |"
        )
    lines += [
        "",
        f"Start-up alone (`import ibis, duckdb, carethread.cli, …` in a fresh interpreter): {startup:.2f} s "
        f"(runs: {_runs(results['startup'])}).",
        "",
    ]
    for size, r in results["sizes"].items():
        lines.append(
            f"* {size} runs — CLI: {_runs(r['cli'])} s (CPU {_runs(r['cli'], 'cpu')} s); "
            f"floor: {_runs(r['floor'])} s (query alone {_runs(r['floor'], 'query')} s)."
        )
    lines.append("")

    lines += [
        "Where one CLI run spends its time (`bench/cli_phases.py`: the real CLI with its steps timestamped; "
        "one run, so only roughly comparable with the medians above):",
        "",
        "| input | start-up + imports | connect + read + validate | measure (`patient_continuity(...).cache()`) | "
        "write | remarks | interpreter + DuckDB tear-down | total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results["sizes"].items():
        ph = r.get("phases")
        if not ph:
            continue
        mk = ph["marks"]
        lines.append(
            f"| {size} | {mk['read:start']:.2f} s | {mk['read:end'] - mk['read:start']:.2f} s | "
            f"{mk['write:start'] - mk['read:end']:.2f} s | {mk['write:end'] - mk['write:start']:.2f} s | "
            f"{mk['remarks:end'] - mk['remarks:start']:.2f} s | {ph['wall'] - mk['atexit']:.2f} s | "
            f"{ph['wall']:.2f} s |"
        )
    lines.append("")

    if any("inprocess" in r for r in results["sizes"].values()):
        lines += [
            "### In process (one connection, measure only)",
            "",
            "`patient_continuity(data.encounters).cache()` after `read()`, exactly as the CLI runs it (the "
            "validation projection of the lazy Parquet view is part of its scan), against the floor query on "
            "the same connection.",
            "",
            "| input | read + validate | floor query | floor, result fetched to Arrow | `patient_continuity` (now) "
            "| ratio | before (c866095 formulation) | ratio | speed-up | now == before |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for size, r in results["sizes"].items():
            ip = r.get("inprocess")
            if not ip:
                continue
            runs = ip["runs"]
            fl, me = med([x["wall"] for x in runs["floor"]]), med([x["wall"] for x in runs["measure"]])
            fa = med([x["wall"] for x in runs.get("floor_arrow", [])])
            row = f"| {size} | {ip['read']['wall']:.2f} s | {fl:.2f} s | {fa:.2f} s | {me:.2f} s | **{me / fl:.2f}×** |"
            if "legacy" in runs:
                lg = med([x["wall"] for x in runs["legacy"]])
                same = ip.get("check")
                ok = "yes (0 differing rows)" if same is not None and not same["mismatch"] else f"NO: {same}"
                row += f" {lg:.2f} s | {lg / fl:.2f}× | {lg / me:.2f}× | {ok} |"
            else:
                row += " – | – | – | – |"
            lines.append(row)
        lines.append("")
        for size, r in results["sizes"].items():
            ip = r.get("inprocess")
            if ip:
                runs = ip["runs"]
                lines.append(
                    f"* {size} runs — floor: {_runs(runs['floor'])} s; "
                    f"floor to Arrow: {_runs(runs.get('floor_arrow', []))} s; "
                    f"now: {_runs(runs['measure'])} s"
                    + (f"; before: {_runs(runs['legacy'])} s" if "legacy" in runs else "")
                    + "."
                )
        lines.append("")

    if "pandas" in results:
        p = results["pandas"]
        pw = med([x["wall"] for x in p["runs"]])
        cli1 = med([x["wall"] for x in results["sizes"]["1m"]["cli"]])
        chk = p["check"]
        lines += [
            "### pandas `groupby().apply()` baseline (a), 1 M",
            "",
            f"{len(p['runs'])} run(s): {_runs(p['runs'])} s end to end (peak RSS "
            f"{gib(max(x['peak_rss'] for x in p['runs']))}); `carethread patients` median {cli1:.2f} s → "
            f"**{pw / cli1:.0f}× faster**.",
            "",
            f"Output check before timing counts: {chk['rows_a']:,} patients each side, "
            + (
                "identical visit counts, clinician counts and usual clinicians, every index equal to 1e-9 "
                f"(largest difference {chk['max_abs_diff']:.1e}), nulls in the same places."
                if not chk["mismatch"]
                else f"**MISMATCH** {chk['mismatch']}"
            ),
            "",
        ]

    if any(r.get("measures") for r in results["sizes"].values()):
        names = list(next(r["measures"] for r in results["sizes"].values() if r.get("measures")))
        lines += [
            "### Every measure, end to end",
            "",
            "`carethread <measure> INPUT --out …parquet` with its defaults (attribution as of the day after "
            "the last encounter, 18-month lookback, plurality; breaks as confirmed switches), median wall time and, in "
            "brackets, its ratio to `carethread patients` in the same run.",
            "",
            "| input | patients | " + " | ".join(names) + " | largest peak RSS |",
            "|---|---:|" + "---:|" * len(names) + "---:|",
        ]
        for size, r in results["sizes"].items():
            base = med([x["wall"] for x in r["cli"]])
            cells = [
                f"{med([x['wall'] for x in r['measures'][m]]):.2f} s "
                f"({med([x['wall'] for x in r['measures'][m]]) / base:.2f}×)"
                for m in names
            ]
            rss = max(x["peak_rss"] for runs in [r["cli"], *r["measures"].values()] for x in runs)
            lines.append(f"| {size} | {base:.2f} s | " + " | ".join(cells) + f" | {gib(rss)} |")
        lines.append("")
        for size, r in results["sizes"].items():
            lines.append(
                f"* {size} runs — " + "; ".join(f"{m}: {_runs(runs)} s" for m, runs in r["measures"].items()) + "."
            )
        lines.append("")

    lines += scale.render(results, CHART.name if scale.write_chart(results, CHART) else None)

    lines += ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    if "pandas" in results:
        ratio = med([x["wall"] for x in results["pandas"]["runs"]]) / med(
            [x["wall"] for x in results["sizes"]["1m"]["cli"]]
        )
        lines.append(
            f"| ≥ {TARGET_PANDAS:.0f}× faster than pandas at 1 M | {ratio:.0f}× "
            f"| {'yes' if ratio >= TARGET_PANDAS else '**no**'} |"
        )
    if "10m" in results["sizes"]:
        r = results["sizes"]["10m"]
        ip = r.get("inprocess")
        if ip:
            ratio_ip = med([x["wall"] for x in ip["runs"]["measure"]]) / med([x["wall"] for x in ip["runs"]["floor"]])
            lines.append(
                f"| `patients` within {TARGET_FLOOR:.0f}× of the floor at 10 M, in process, measure only | "
                f"{ratio_ip:.2f}× | {'yes' if ratio_ip <= TARGET_FLOOR else '**no**'} |"
            )
        rss = max(x["peak_rss"] for x in r["cli"])
        lines.append(f"| peak RSS ≤ 2 GB at 10 M | {gib(rss)} | {'yes' if rss <= TARGET_RSS else '**no**'} |")
        base = med([x["wall"] for x in r["cli"]])
        for m in ("attribute", "panels", "dyads"):
            if m in r.get("measures", {}):
                ratio = med([x["wall"] for x in r["measures"][m]]) / base
                lines.append(
                    f"| `{m}` within {TARGET_MEASURE:.0f}× of `patients` at 10 M | {ratio:.2f}× | "
                    f"{'yes' if ratio <= TARGET_MEASURE else '**no**'} |"
                )
    lines += scale.targets(results)
    lines.append("")

    for size, r in results["sizes"].items():
        prof = (r.get("inprocess") or {}).get("profile")
        profiled = [s for s, r in results["sizes"].items() if (r.get("inprocess") or {}).get("profile")]
        if not prof or size != max(profiled, key=lambda s: results["sizes"][s]["encounters"]):
            continue
        ops = prof["operators"]
        total = sum(o["seconds"] for o in ops) or 1.0
        lines += [
            f"### Where the time goes ({size}, DuckDB operator profile of the measure query)",
            "",
            f"One profiled run: {prof['wall']:.2f} s wall, {prof['cpu']:.2f} s CPU. Operator times are summed "
            "over threads; shares of their total are what matter. Operators under 1 % are left out.",
            "",
            "| operator | rows out | share | detail |",
            "|---|---:|---:|---|",
        ]
        for o in ops:
            if o["seconds"] / total >= 0.01:
                lines.append(
                    f"| {'· ' * o['depth']}{o['operator']} | {o['rows'] or 0:,} | {100 * o['seconds'] / total:.0f} % | "
                    f"{o['detail'].replace('|', '/')[:100]} |"
                )
        fp = r["inprocess"].get("floor_profile")
        if fp:
            lines += [
                "",
                f"The floor query profiled the same way: {fp['wall']:.2f} s wall, {fp['cpu']:.2f} s CPU "
                f"(measure / floor CPU: {prof['cpu'] / fp['cpu']:.2f}×).",
            ]
        lines.append("")
    return "\n".join(lines)


def write_markdown(results: dict) -> None:
    block = f"{BEGIN}\n{render(results)}\n{END}"
    if RESULTS_MD.exists() and BEGIN in RESULTS_MD.read_text():
        text = RESULTS_MD.read_text()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        RESULTS_MD.write_text(head + block + tail)
    else:
        RESULTS_MD.write_text("# carethread benchmark results\n\n" + block + "\n")


if __name__ == "__main__":
    main()
