"""Staging a FHIR export: every file of one resource type parsed once into a stored table.

Lines are streamed through DuckDB (:func:`carethread.engine.ndjson_lines`),
each parsed once by :func:`carethread.readers.fhir.sql.fhir_resources`; only
the extracted fields are stored, numbered by line, so the JSON text is never
held in memory.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import ibis

from carethread import engine
from carethread.errors import InputError
from carethread.readers.fhir.discover import ExportFile
from carethread.readers.fhir.sql import fhir_resources
from carethread.readers.lines import gzip_failure

_ORD = 2**40  # file index * _ORD + line: one sortable position


@dataclass
class Staged:
    """One resource type's parsed rows (stored) and the lines DuckDB rejected."""

    files: list[ExportFile]
    table: ibis.Table
    rejected: list[tuple[int, int, str, str | None, str | None]]

    @property
    def valid(self) -> ibis.Table:
        """Rows that parsed, are of the right type and have an id."""
        t = self.table
        resource = self.files[0].resource
        return t.filter((t["__state"] == "ok") & (t.resource_type == resource) & t.id.notnull())


def _rejected_lines(unparsed) -> list[tuple[int, int, str, str | None, str | None]]:
    return [
        (f, r, "invalid_encoding" if "ENCODING" in kind.upper() else "malformed_json", None, text)
        for f, r, kind, _col, text in unparsed
    ]


def stage_files(con, files: list[ExportFile], *, first: int = 0) -> Staged:
    """Parse every file of one resource type into a temporary table, rows numbered
    by line (blank lines dropped), and collect the lines DuckDB rejected.

    Only projections run between the scan and the store (no join), so DuckDB's
    insertion order is the file's line order. ``__file`` counts from ``first``.
    """
    parts, views, rejects = [], [], []
    for index, file in enumerate(files, first):
        lines, reject = engine.ndjson_lines(con, str(file.path), index)
        parts.append(fhir_resources(con, lines, file.resource))
        views += [parts[-1].get_name(), lines.get_name()]
        rejects.append(reject)
    # DuckDB reads past damage inside a gzip stream: each .gz file is also checked to
    # its end, in a thread beside DuckDB's parse.
    zipped = [f for f in files if f.path.name.lower().endswith(".gz")]
    with ThreadPoolExecutor(max_workers=1) as pool:
        checks = [pool.submit(gzip_failure, f.path, f.source) for f in zipped]
        try:
            _stored, name = engine.store_in_file_order(con, parts, files[0].resource.lower(), drop=("__state", "blank"))
        except engine.BackendError as exc:
            if not engine.is_data_error(exc):
                raise
            name = None
        failures = [c.result() for c in checks]
    for failure in failures:
        if failure:
            engine.drop(con, [name] if name else [], kind="TABLE")
            raise InputError(failure)
    if name is None:
        names = files[0].source if len(files) == 1 else f"one of {', '.join(f.source for f in files)}"
        raise InputError(
            f"{names} could not be read to the end (a .gz file may be truncated or corrupt). "
            "Export it again, or decompress it to see where it breaks."
        )
    unparsed = [(f + first, *rest) for f, *rest in engine.csv_rejects(con, rejects, header=False)]
    engine.renumber_after_rejects(con, name, [(f, r) for f, r, *_ in unparsed])
    engine.drop(con, views)
    return Staged(files, con.table(name), _rejected_lines(unparsed))


def position(t: ibis.Table) -> ibis.IntegerValue:
    """One sortable position for a staged row: file, then line."""
    return t.__file.cast("int64") * _ORD + t.__row
