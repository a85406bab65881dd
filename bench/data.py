"""Benchmark inputs: synthetic encounters written once to ``bench/data/`` and reused.

``bench/data/`` is gitignored. Each size is a folder written by
:func:`carethread.synth.write_chunked` (``encounters/part-*.parquet`` plus the
side tables); the benchmark reads the ``encounters/`` folder only, which is
what "encounters from Parquet" means in the issue.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

#: name -> (patients, years). ~25 encounters per patient: 3 years plus the
#: 18 months of history the generator emits before them.
SIZES = {"1m": (40_000, 3), "10m": (400_000, 3)}
SEED = 2024


def generator_version() -> str:
    """A digest of the generator's source: cached inputs are remade when it changes."""
    import carethread.synth

    digest = hashlib.sha256()
    for path in sorted(Path(carethread.synth.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def encounters_dir(name: str) -> Path:
    return DATA / name / "encounters"


def ensure(name: str, log=print) -> Path:
    """Generate the input for ``name`` unless a complete copy is cached."""
    patients, years = SIZES[name]
    folder = DATA / name
    stamp = folder / "DONE.json"
    meta = {"patients": patients, "years": years, "seed": SEED, "generator": generator_version()}
    if stamp.exists() and json.loads(stamp.read_text()).get("meta") == meta:
        return encounters_dir(name)
    from carethread.synth import write_chunked

    log(f"generating {name}: {patients} patients, {years} years (cached in {folder}) ...")
    t0 = time.perf_counter()
    write_chunked(folder, patients, years=years, seed=SEED, chunk_patients=200_000)
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in encounters_dir(name).glob("*.parquet"))
    stamp.write_text(json.dumps({"meta": meta, "rows": rows, "seconds": time.perf_counter() - t0}))
    log(f"  {rows:,} encounters in {time.perf_counter() - t0:.0f} s")
    return encounters_dir(name)


def n_rows(name: str) -> int:
    return json.loads((DATA / name / "DONE.json").read_text())["rows"]


if __name__ == "__main__":
    for size in SIZES:
        ensure(size)
