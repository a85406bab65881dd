"""Readers: files in, :class:`~carethread.data.CanonicalData` out.

Each input format has one module with one ``read_<format>`` function taking
the same keyword arguments; :func:`read` picks it. Adding a format is one line
in :data:`READERS` and, if it can be recognised, one in :data:`DETECTORS`.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping

from carethread import engine
from carethread.data import CanonicalData
from carethread.errors import OptionError
from carethread.readers.generic import check_mapping, parse_mapping, read_generic
from carethread.readers.values import parse_setting_map

__all__ = ["FORMATS", "READERS", "detect_format", "parse_mapping", "parse_setting_map", "read", "read_generic"]

#: Format name → ``"module:function"`` of its reader.
READERS: dict[str, str] = {
    "generic": "carethread.readers.generic:read_generic",
    "synthea": "carethread.readers.synthea:read_synthea",
    "fhir": "carethread.readers.fhir:read_fhir",
    "omop": "carethread.readers.omop:read_omop",
}

#: Every value ``format`` (``--format``) accepts.
FORMATS: tuple[str, ...] = ("auto", "generic", "synthea", "fhir", "omop")

#: Format name → ``"module:function"`` of a predicate ``looks_like(path) -> bool``,
#: tried in this order by :func:`detect_format`; the generic reader is the fallback.
DETECTORS: dict[str, str] = {
    "fhir": "carethread.readers.fhir:looks_like_fhir",
    "omop": "carethread.readers.omop:looks_like_omop",
    "synthea": "carethread.readers.synthea:looks_like_synthea",
}


def _load(target: str):
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path`` for ``format="auto"``: the first detector that
    recognises it (:data:`DETECTORS`), else ``'generic'``.

    Examples
    --------
    >>> import tempfile
    >>> detect_format(tempfile.mkdtemp())
    'generic'
    """
    for name, target in DETECTORS.items():
        if _load(target)(path):
            return name
    return "generic"


def read(
    path: str | os.PathLike | None = None,
    *,
    format: str = "auto",  # noqa: A002  (the CLI option is --format)
    con=None,
    mapping: Mapping[str, str] | str | None = None,
    extraction_date=None,
    date_format: str | None = None,
    **options,
) -> CanonicalData:
    """Read an input in any supported format into canonical tables.

    Parameters
    ----------
    path
        A file, a glob or a folder; ``None`` reads tables already in the
        database of ``con`` (only the omop format does, so ``"auto"`` then
        means omop).
    format
        One of :data:`FORMATS`; ``"auto"`` (the default) detects it.
    con, mapping, extraction_date, date_format
        As for :func:`~carethread.readers.generic.read_generic`.
    **options
        Options of one format's reader, e.g. ``setting_map`` of
        :func:`~carethread.readers.generic.read_generic`, ``schema`` and
        ``visit_concepts`` of :func:`~carethread.readers.omop.read_omop`;
        ``None`` values are ignored.

    Raises
    ------
    OptionError
        For an unknown format (the message lists the valid ones) or an
        option the format's reader does not take.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "encounters.csv"
    >>> _ = path.write_text("patient_id,start\\n007,2024-01-02\\n")
    >>> data = read(path, extraction_date="2024-06-30")
    >>> data.format, data.encounters.count().execute()
    ('generic', 1)
    >>> read(path, format="excel")
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: Unknown format 'excel'. Valid formats: auto, generic, synthea, fhir, omop.
    """
    name = str(format).strip().lower()
    if name not in FORMATS:
        raise OptionError(f"Unknown format {format!r}. Valid formats: {', '.join(FORMATS)}.")
    if name == "auto":
        name = detect_format(path) if path is not None else "omop"
    reader = _load(READERS[name])
    accepted = inspect.signature(reader).parameters
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        if key not in accepted:
            raise OptionError(f"--{key.replace('_', '-')} does not apply to the {name} format.")
    if path is None and name != "omop":
        raise OptionError(
            f"The {name} format reads files: give INPUT (a file or folder). Only --format omop reads "
            "tables from a database (--engine URL or --database FILE, with --schema)."
        )
    # Files are scanned with the embedded DuckDB; for Spark the validated canonical
    # tables are then copied over (other engines: the reader says files need DuckDB).
    # Tables already in a database (no path) are read where they are.
    target = con
    if path is not None and engine.imports_tables(con):
        con = engine.connect()
    data = reader(
        path,
        con=con,
        mapping=check_mapping(mapping),
        extraction_date=extraction_date,
        date_format=date_format,
        **given,
    )
    if target is not con:
        data = engine.import_data(target, data)
    return data
