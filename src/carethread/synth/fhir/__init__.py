"""The synthetic health system as a FHIR R4 Bulk Data export.

:func:`write_fhir` writes ``Encounter``, ``Patient``, ``Practitioner``,
``PractitionerRole`` and ``Organization`` NDJSON files (one resource per line,
``<Type>.000.ndjson``, ``<Type>.001.ndjson``, ...) and a ``manifest.json``
shaped like the Bulk Data IG's complete-status response. It is the input of
the FHIR reader's round-trip test and of its benchmark, so the output
deliberately uses every form the reader must understand:

- **References** alternate between literal (``Practitioner/C00001``) and
  conditional (``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9000000001``)
  from one encounter to the next, for the subject, the performer and the
  ``serviceProvider``; PractitionerRole points at its practitioner and
  organisation literally or, as Synthea does, by identifier only.
- **Performers**: most encounters have one ``PPRF`` participant; some have
  ``ATND`` instead, some no participant type at all, and some carry a second
  participant (``SPRF``, another clinician) listed first, which the reader
  must pass over.
- **Times**: ``period.start`` is written in UTC with ``Z``, or with a
  ``-05:00`` / ``+02:00`` offset and the wall time shifted to match, so the
  instant is always the canonical ``start`` read as UTC.

Setting → FHIR (the reader maps it back, see :mod:`carethread.readers.fhir`):

================  ===================================================================
setting           written as
================  ===================================================================
primary_care      class ``AMB``; the performer's PractitionerRole has a primary-care
                  specialty (family/internal medicine, pediatrics, practice nurse)
specialty         class ``AMB``; the performer is a specialist
urgent_care       class ``AMB`` and ``type`` SNOMED 702927004 "Urgent care clinic"
                  (Synthea's convention)
emergency         class ``EMER``
inpatient         class ``IMP``
virtual           class ``VR``
home              class ``HH``
other             class ``FLD``
================  ===================================================================

An ``AMB`` encounter without a clinician carries ``serviceType`` instead
(SNOMED 394814009 "General practice" or 394733009 "Medical specialty--OTHER--NOT
LISTED"), the only place left to say which kind of clinic it was. Panel
capacity has no FHIR element and is not written.

Everything is built column-wise with pyarrow compute (string joins over whole
record batches); encounters are streamed in batches, so memory stays bounded
by the batch size whatever the size of the system.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from carethread.errors import InputError, OptionError
from carethread.synth.fhir.resources import (
    Directory,
    encounter_lines,
    join_text,
    organization_lines,
    patient_lines,
    practitioner_lines,
    role_lines,
)

__all__ = ["write_fhir", "write_fhir_chunked"]


def _write_lines(fh, lines: pa.Array) -> int:
    """Append ``lines`` (one JSON resource each) to an open binary file."""
    if len(lines) == 0:
        return 0
    text = join_text(lines, "\n").cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data = memoryview(text.buffers()[2])[offsets[0] : offsets[-1]]
    fh.write(data)
    return len(lines)


class _Output:
    """NDJSON files of one resource type, rotated every ``rows_per_file`` lines."""

    def __init__(self, folder: Path, resource: str, rows_per_file: int):
        self.folder, self.resource, self.rows_per_file = folder, resource, rows_per_file
        self.files: list[tuple[str, int]] = []
        self._fh = None
        self._rows = 0

    def write(self, lines: pa.Array) -> None:
        start = 0
        while start < len(lines):
            if self._fh is None or self._rows >= self.rows_per_file:
                self._open()
            take = min(len(lines) - start, self.rows_per_file - self._rows)
            self._rows += _write_lines(self._fh, lines.slice(start, take))
            start += take

    def _open(self) -> None:
        self._close_file()
        name = f"{self.resource}.{len(self.files):03d}.ndjson"
        self._fh = open(self.folder / name, "wb")  # noqa: SIM115  (closed in _close_file)
        self.files.append((name, 0))
        self._rows = 0

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
            name, _ = self.files[-1]
            self.files[-1] = (name, self._rows)
            self._fh = None

    def close(self) -> list[tuple[str, int]]:
        if not self.files:
            self._open()  # an empty type still gets its (empty) file
        self._close_file()
        return self.files


# --- resources -----------------------------------------------------------------------------


def _tables(system_or_folder) -> tuple[ds.Dataset | pa.Table, pa.Table, pa.Table]:
    """(encounters, clinicians, patients) from a system or a folder of synth Parquet."""
    if hasattr(system_or_folder, "encounters"):
        return system_or_folder.encounters, system_or_folder.clinicians, system_or_folder.patients
    folder = Path(system_or_folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass a SyntheticSystem or a folder written by carethread synth.")
    found = {}
    for name in ("encounters", "clinicians", "patients"):
        part = folder / name
        single = folder / f"{name}.parquet"
        if part.is_dir() and any(part.glob("*.parquet")):
            found[name] = ds.dataset(sorted(part.glob("*.parquet")), format="parquet")
        elif single.is_file():
            found[name] = ds.dataset(single, format="parquet")
        else:
            raise InputError(
                f"{folder} has no {name} table ({name}.parquet or {name}/*.parquet). "
                "Write the system with `carethread synth --out DIR` first."
            )
    return found["encounters"], found["clinicians"].to_table(), found["patients"].to_table()


def _batches(table, rows: int) -> Iterator[pa.RecordBatch]:
    if isinstance(table, pa.Table):
        yield from table.to_batches(max_chunksize=rows)
    else:
        yield from table.to_batches(batch_size=rows)


def write_fhir(
    system_or_folder,
    out_dir: str | os.PathLike,
    *,
    rows_per_file: int = 1_000_000,
    batch_rows: int = 100_000,
) -> dict[str, list[Path]]:
    """Write a synthetic system as a FHIR R4 Bulk Data export (NDJSON + manifest).

    Parameters
    ----------
    system_or_folder
        A :class:`~carethread.synth.SyntheticSystem`, or a folder written by
        :func:`~carethread.synth.write_chunked` (``encounters/part-*.parquet``,
        ``clinicians.parquet``, ``patients.parquet``), which is streamed.
    out_dir
        Folder for ``<Type>.<nnn>.ndjson`` and ``manifest.json``; ``*.ndjson``
        files already there are removed first.
    rows_per_file
        Encounters (and other resources) per NDJSON file.
    batch_rows
        Rows turned into JSON at a time; bounds the writer's memory.

    Returns
    -------
    dict
        Resource type → the files written, in order.

    Raises
    ------
    InputError
        If the folder lacks a table, or values cannot be written (settings
        outside the canonical ones, control characters in identifiers).

    Notes
    -----
    See the module docstring for the mapping. ``manifest.json`` lists every
    file with its resource count; ``url`` is the file name relative to the
    manifest (the files are local), and ``transactionTime`` is midnight UTC
    after the last encounter's day, which the reader takes as the default
    extraction date.

    Examples
    --------
    >>> import json, tempfile
    >>> from carethread.synth import generate
    >>> out = tempfile.mkdtemp()
    >>> files = write_fhir(generate(50, years=1, seed=3), out)
    >>> sorted(files)
    ['Encounter', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole']
    >>> manifest = json.loads((files["Encounter"][0].parent / "manifest.json").read_text())
    >>> [o["type"] for o in manifest["output"]][:2], manifest["output"][0]["url"]
    (['Encounter', 'Patient'], 'Encounter.000.ndjson')
    >>> json.loads(files["Patient"][0].read_text().splitlines()[0])["resourceType"]
    'Patient'
    """
    if rows_per_file < 1 or batch_rows < 1:
        raise OptionError("rows_per_file and batch_rows must be at least 1.")
    encounters, clinicians, patients = _tables(system_or_folder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*list(out.glob("*.ndjson")), out / "manifest.json"]:
        if stale.exists():
            stale.unlink()
    directory = Directory(clinicians)
    outputs = {
        name: _Output(out, name, rows_per_file)
        for name in ("Encounter", "Patient", "Practitioner", "PractitionerRole", "Organization")
    }

    practices = [clinicians["practice_id"].combine_chunks().cast(pa.string())]
    last_start = None
    done = 0
    for batch in _batches(encounters, batch_rows):
        outputs["Encounter"].write(encounter_lines(batch, done, directory))
        done += batch.num_rows
        practices.append(pc.unique(batch.column("practice_id").cast(pa.string())))
        latest = pc.max(batch.column("start")).as_py()
        if latest is not None and (last_start is None or latest > last_start):
            last_start = latest
    for batch in _batches(patients, batch_rows):
        outputs["Patient"].write(patient_lines(batch))
    outputs["Practitioner"].write(practitioner_lines(directory))
    outputs["PractitionerRole"].write(role_lines(clinicians, directory))
    every = pc.drop_null(pc.unique(pa.chunked_array(practices).combine_chunks()))
    outputs["Organization"].write(organization_lines(every.take(pc.array_sort_indices(every))))

    written = {name: output.close() for name, output in outputs.items()}
    day = (last_start.date() + _dt.timedelta(days=1)) if last_start is not None else _dt.date.today()
    manifest = {
        "transactionTime": f"{day.isoformat()}T00:00:00Z",
        "request": "https://carethread.example/fhir/$export",
        "requiresAccessToken": False,
        "output": [
            {"type": name, "url": file, "count": count} for name, files in written.items() for file, count in files
        ],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {name: [out / file for file, _ in files] for name, files in written.items()}


def write_fhir_chunked(
    out_dir: str | os.PathLike,
    n_patients: int,
    *,
    years: float = 3,
    seed: int = 0,
    start: str | _dt.date = "2022-01-01",
    chunk_patients: int = 200_000,
) -> dict[str, Path]:
    """Generate a system chunk by chunk and write it as a FHIR Bulk export.

    The system is generated exactly as :func:`~carethread.synth.write_chunked`
    does (same arguments, same data) into a scratch folder inside
    ``out_dir``, then streamed into NDJSON by :func:`write_fhir`; the ground
    truth (``true_usual.parquet``, ``true_switches.parquet``) is kept beside
    the export (the FHIR reader does not read Parquet files).

    Returns
    -------
    dict
        ``manifest`` and each resource type → the first file of that type;
        ``true_usual`` and ``true_switches`` → their Parquet files.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_fhir_chunked(tempfile.mkdtemp(), 200, years=1, chunk_patients=100)
    >>> sorted(paths)  # doctest: +NORMALIZE_WHITESPACE
    ['Encounter', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole',
     'manifest', 'true_switches', 'true_usual']
    """
    from carethread.synth import write_chunked

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=out))
    try:
        tables = write_chunked(scratch, n_patients, years=years, seed=seed, start=start, chunk_patients=chunk_patients)
        files = write_fhir(scratch, out)
        paths: dict[str, Path] = {name: written[0] for name, written in files.items()}
        paths["manifest"] = out / "manifest.json"
        for name in ("true_usual", "true_switches"):
            paths[name] = out / f"{name}.parquet"
            shutil.move(str(tables[name]), paths[name])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return paths
