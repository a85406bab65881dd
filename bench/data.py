"""Benchmark inputs: synthetic encounters written once to ``bench/data/`` and reused.

``bench/data/`` is gitignored. Each size is a folder written by
:func:`carethread.synth.write_chunked` (``encounters/part-*.parquet`` plus the
side tables); the benchmark reads the ``encounters/`` folder only, which is
what "encounters from Parquet" means in the issue.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

#: name -> (patients, years). ~25 encounters per patient: 3 years plus the
#: 18 months of history the generator emits before them.
SIZES = {"1m": (40_000, 3), "10m": (400_000, 3)}
SEED = 2024


def generator_version() -> str:
    """A digest of the generator's source: cached inputs are remade when it changes."""
    import importlib.util  # found, not imported: the benchmark's parent process stays small

    folder = importlib.util.find_spec("carethread.synth").submodule_search_locations[0]
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.py")):
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
    log(f"generating {name}: {patients} patients, {years} years (cached in {folder}) ...")
    t0 = time.perf_counter()
    # In a child process: a parent that grew to the generator's size would pass that
    # size on to every later child (Linux keeps ru_maxrss across fork and exec), and
    # the benchmark's peak-memory figures would all read as the generator's.
    code = ("import sys; from carethread.synth import write_chunked; "
            "write_chunked(sys.argv[1], int(sys.argv[2]), years=int(sys.argv[3]), seed=int(sys.argv[4]), "
            "chunk_patients=200_000); import pathlib, pyarrow.parquet as pq; "
            "print(sum(pq.ParquetFile(p).metadata.num_rows for p in pathlib.Path(sys.argv[1], 'encounters').glob('*.parquet')))")
    child = subprocess.run([sys.executable, "-c", code, str(folder), str(patients), str(years), str(SEED)],
                           check=True, capture_output=True, text=True)
    rows = int(child.stdout.split()[-1])
    stamp.write_text(json.dumps({"meta": meta, "rows": rows, "seconds": time.perf_counter() - t0}))
    log(f"  {rows:,} encounters in {time.perf_counter() - t0:.0f} s")
    return encounters_dir(name)


def n_rows(name: str) -> int:
    return json.loads((DATA / name / "DONE.json").read_text())["rows"]


if __name__ == "__main__":
    for size in SIZES:
        ensure(size)
