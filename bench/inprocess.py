"""In-process timings: the floor query and ``patient_continuity`` on one connection.

    python bench/inprocess.py bench/data/10m/encounters --reps 3 [--legacy] [--check] [--profile PATH]

Reads the input with the generic reader once (timed), then, ``reps`` times
and interleaved: the floor query (:mod:`floor`), ``patient_continuity`` on
the reader's (lazy, validated) encounters as the CLI runs it
(``.cache()``), and with ``--legacy`` the pre-benchmark formulation
(:mod:`legacy_continuity`). ``--check`` compares the two results exactly
(``tol=0``); ``--profile`` writes DuckDB's per-operator profile of the
measure query and of the floor. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn):
    c0, t0 = _cpu(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, _cpu() - c0, out


def operator_profile(con, sql: str, path: Path) -> dict:
    """Run ``sql`` once with DuckDB's JSON profiler; the operators, flattened.

    Operator timings are summed over threads, so they add up to more than
    the query's wall time; their shares are what matters.
    """
    raw = con.con
    raw.execute("PRAGMA enable_profiling = 'json'")
    raw.execute(f"PRAGMA profiling_output = '{path}'")
    try:
        raw.execute(f"CREATE OR REPLACE TEMP TABLE _bench_profile AS {sql}")
    finally:
        raw.execute("PRAGMA disable_profiling")
        raw.execute("DROP TABLE IF EXISTS _bench_profile")
    tree = json.loads(path.read_text())
    rows = []

    def walk(node, depth):
        info = node.get("extra_info", {})
        what = info.get("Function") or info.get("Groups") or info.get("Aggregates") or info.get("Projections") or ""
        if isinstance(what, list):
            what = ", ".join(what)
        rows.append(
            {
                "depth": depth,
                "operator": node["name"],
                "seconds": node.get("timing", 0.0),
                "rows": node.get("intermediate_rows"),
                "detail": str(what)[:140],
            }
        )
        for child in node.get("children", []):
            walk(child, depth + 1)

    for child in tree["operator"]:
        walk(child, 0)
    query = tree.get("query", {})
    return {
        "wall": query.get("total_time"),
        "cpu": query.get("cpu_time"),
        "operators": rows,
        "peak_buffer_memory": tree.get("system", {}).get("peak_buffer_memory"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--profile")
    parser.add_argument("--check", action="store_true", help="compare the measure with the legacy formulation")
    args = parser.parse_args()

    t_import, _, _ = _timed(lambda: __import__("carethread.readers"))
    import ibis
    import legacy_continuity
    from floor import floor_sql, run_floor

    from carethread.engine import connect
    from carethread.measures import continuity
    from carethread.readers import read

    con = connect()
    read_wall, read_cpu, data = _timed(lambda: read(args.input, con=con))
    glob = str(Path(args.input) / "*.parquet")
    candidates = {"floor": None, "floor_arrow": None, "measure": continuity}
    if args.legacy:
        candidates["legacy"] = legacy_continuity
    results = {name: [] for name in candidates}
    for rep in range(args.reps):
        for name, module in candidates.items():
            if name == "floor":
                wall, cpu, _ = _timed(lambda: run_floor(con.con, glob))
            elif name == "floor_arrow":  # the same aggregation, its result fetched as an Arrow table
                sql = floor_sql(glob).replace("SELECT count(*) FROM (", "SELECT * FROM (", 1)
                wall, cpu, _ = _timed(lambda sql=sql: con.con.execute(sql).to_arrow_table())
            else:
                wall, cpu, cached = _timed(lambda m=module: m.patient_continuity(data.encounters).cache())
                cached.release()
            results[name].append({"wall": wall, "cpu": cpu})
        print(json.dumps({"rep": rep, **{k: round(v[-1]["wall"], 3) for k, v in results.items()}}), file=sys.stderr)
    out = {"import_seconds": t_import, "read": {"wall": read_wall, "cpu": read_cpu}, "runs": results}
    if args.check:
        from compare import compare_tables

        now = continuity.patient_continuity(data.encounters).to_pyarrow()
        before = legacy_continuity.patient_continuity(data.encounters).to_pyarrow()
        out["check"] = compare_tables(now, before, tol=0.0)
    if args.profile:
        out["profile"] = operator_profile(
            con, str(ibis.to_sql(continuity.patient_continuity(data.encounters))), Path(args.profile)
        )
        out["floor_profile"] = operator_profile(
            con,
            floor_sql(glob).replace("SELECT count(*) FROM (", "SELECT * FROM (", 1),
            Path(args.profile).with_suffix(".floor.json"),
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
