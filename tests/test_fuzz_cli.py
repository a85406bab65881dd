"""Fuzzing the command line (issue 17): the fuzzed inputs of every reader, run as a user would.

``carethread patients INPUT --out FILE`` runs in a subprocess on inputs made by the
generators of :mod:`tests.test_fuzz_readers` (CSV and TSV, Parquet, side tables,
Synthea, OMOP, FHIR, headerless files). Each run must exit 0, 1 or 2, print no
traceback, and show none of the planted values on stderr (where messages go).
A subprocess costs about two seconds, so the fast tier runs one input of each kind
and ``make fuzz`` (``CARETHREAD_FUZZ_CASES``) one run per 40 cases of a reader family.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.test_fuzz_readers import CASES, SEED, Plant, Tally, csv_file, fhir_line, omop_folder, synthea_folder

KINDS = ("csv", "parquet", "side tables", "synthea", "omop", "fhir", "headerless")
SOURCE = Path(__file__).resolve().parents[1] / "src"


def make_input(kind: str, rng: random.Random, plant: Plant, folder: Path) -> tuple[Path, list[str]]:
    """One fuzzed input of ``kind`` in ``folder``: the INPUT path and extra options."""
    if kind == "csv":
        content, _d, _c = csv_file(rng, plant)
        (folder / "visits.csv").write_bytes(content)
        return folder / "visits.csv", []
    if kind == "parquet":
        n = rng.randrange(1, 20)
        special = [float("nan"), float("inf"), 1e20, 7.0]
        pq.write_table(
            pa.table(
                {
                    "patient_id": [rng.choice([plant.patient(), None]) for _ in range(n)],
                    "clinician_id": [rng.choice(special) for _ in range(n)],
                    "start": [plant.day() for _ in range(n)],
                }
            ),
            folder / "visits.parquet",
        )
        return folder / "visits.parquet", []
    if kind == "side tables":
        (folder / "encounters.csv").write_text(f"patient_id,clinician_id,start\n{plant.patient()},C1,2024-01-02\n")
        for table in ("clinicians", "patients"):
            (folder / f"{table}.csv").write_bytes(csv_file(rng, plant, table, anchor=rng.random() < 0.5)[0])
        return folder, []
    if kind == "synthea":
        synthea_folder(rng, plant, folder)
        return folder, ["--format", "synthea"]
    if kind == "omop":
        omop_folder(rng, plant, folder)
        return folder, ["--format", "omop"]
    if kind == "fhir":
        lines = [fhir_line(rng, plant, "Encounter") for _ in range(rng.randrange(1, 20))]
        (folder / "Encounter.ndjson").write_text("".join(line + "\n" for line in lines))
        return folder, []
    row = [plant.patient(), plant.day(), plant.clinician()]
    (folder / "visits.csv").write_text(",".join(row) + "\n" + ",".join(row) + "\n")
    return folder / "visits.csv", []


def test_fuzz_cli(tmp_path):
    tally = Tally("CLI (patients, in a subprocess)")
    rng = random.Random(f"{SEED}-cli")
    runs = [KINDS[i % len(KINDS)] for i in range(max(len(KINDS), CASES // 40))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")])}
    env.pop("CARETHREAD_DEBUG", None)
    for i, kind in enumerate(runs):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        plant = Plant(rng)
        target, options = make_input(kind, rng, plant, folder)
        out = tmp_path / f"out{i}.csv"
        args = [sys.executable, "-m", "carethread", "patients", str(target), "--out", str(out)]
        args += ["--extraction-date", "2024-06-30", *options]
        res = subprocess.run(args, capture_output=True, text=True, errors="replace", env=env, timeout=300)
        tally.cases += 1
        what = f"{kind} {target} exit {res.returncode}"
        if "Traceback" in res.stderr:
            tally.note("tracebacks", f"{what}: {res.stderr[-500:]}")
        if res.returncode not in (0, 1, 2):
            tally.note("wrong_exits", f"{what}: {res.stderr[-300:]}")
        if kind == "headerless" and res.returncode == 0:
            tally.note("wrong_exits", f"{what}: a file without header row was read")
        found = sorted(v for v in plant.values if v in res.stderr)
        if found:
            tally.note("leaks", f"{what}: {found[:3]} in {res.stderr[-400:]!r}")
    tally.finish()
