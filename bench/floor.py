"""The floor: the visit step alone, as one plain DuckDB query over the same Parquet files.

``SELECT patient_id, clinician_id, CAST(start AS DATE), count(*) ... GROUP BY ALL``
(string identifiers, timestamps). The query is wrapped in ``count(*)`` so the
whole aggregation runs but no result is shipped to Python: the cheapest
complete execution, hence the strictest floor. ``python bench/floor.py GLOB``
runs it in a fresh process (what ``run.py`` times end to end) and prints the
in-process query time as JSON.
"""

from __future__ import annotations

import json
import sys
import time

FLOOR_SQL = (
    "SELECT count(*) FROM (SELECT patient_id, clinician_id, CAST(start AS DATE) AS day, count(*) AS n "
    "FROM read_parquet({files}) GROUP BY ALL)"
)


def floor_sql(glob: str) -> str:
    return FLOOR_SQL.format(files="'" + glob.replace("'", "''") + "'")


def run_floor(con, glob: str) -> tuple[float, int]:
    """Seconds for the floor query on the DuckDB connection ``con``, and its group count."""
    t0 = time.perf_counter()
    groups = con.execute(floor_sql(glob)).fetchone()[0]
    return time.perf_counter() - t0, groups


if __name__ == "__main__":
    t_start = time.perf_counter()
    import duckdb

    con = duckdb.connect()
    seconds, groups = run_floor(con, sys.argv[1])
    print(json.dumps({"query_seconds": seconds, "groups": groups, "process_seconds": time.perf_counter() - t_start}))
