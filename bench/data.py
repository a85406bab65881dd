"""Benchmark inputs: synthetic encounters written once to ``bench/data/`` and reused.

``bench/data/`` is gitignored. Each size is a folder written by
:func:`carethread.synth.write_chunked` (``encounters/part-*.parquet`` plus the
side tables); the benchmark reads the ``encounters/`` folder only, which is
what "encounters from Parquet" means in the issue.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import run_measured

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

#: name -> (patients, years). ~25 encounters per patient: 3 years plus the
#: 18 months of history the generator emits before them.
SIZES = {"1m": (40_000, 3), "10m": (400_000, 3), "100m": (4_000_000, 3), "1b": (40_000_000, 3)}
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
    # In a child process: a parent that grew to the generator's size would pass that
    # size on to every later child (Linux keeps ru_maxrss across fork and exec), and
    # the benchmark's peak-memory figures would all read as the generator's.
    code = (
        "import sys; from carethread.synth import write_chunked; "
        "write_chunked(sys.argv[1], int(sys.argv[2]), years=int(sys.argv[3]), seed=int(sys.argv[4]), "
        "chunk_patients=200_000); import pathlib, pyarrow.parquet as pq; "
        "print(sum(pq.ParquetFile(p).metadata.num_rows "
        "for p in pathlib.Path(sys.argv[1], 'encounters').glob('*.parquet')))"
    )
    child = run_measured([sys.executable, "-c", code, str(folder), str(patients), str(years), str(SEED)])
    if child.returncode:
        raise RuntimeError(f"generating {name} failed:\n{child.stderr[-2000:]}")
    rows = int(child.stdout.split()[-1])
    files = sorted(encounters_dir(name).glob("*.parquet"))
    facts = {
        "rows": rows,
        "seconds": child.wall,
        "cpu": child.cpu,
        "peak_rss": child.peak_rss,
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
    }
    stamp.write_text(json.dumps({"meta": meta, **facts}))
    log(f"  {rows:,} encounters in {child.wall:.0f} s, peak RSS {child.peak_rss / 2**30:.2f} GiB")
    return encounters_dir(name)


def facts(name: str) -> dict:
    """What generating ``name`` measured: rows, seconds, cpu, peak_rss, files, bytes."""
    return json.loads((DATA / name / "DONE.json").read_text())


def n_rows(name: str) -> int:
    return facts(name)["rows"]


if __name__ == "__main__":
    for size in sys.argv[1:] or ["1m", "10m", "100m"]:
        ensure(size)
