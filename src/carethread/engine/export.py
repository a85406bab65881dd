"""Tables to files: CSV and Parquet written by the engine, at exactly the path given.

Ibis' own writers put the path into DuckDB's ``COPY`` as a Python ``repr``:
a backslash is doubled and a character Python escapes (a zero-width space)
becomes ``\\u200b``, so the file lands under another name. Here the path is
an SQL string literal (:func:`~carethread.engine.names.quote_literal`), and
other engines stream Arrow batches into a file this process opened.
:mod:`carethread.output` calls these with a temporary path it then renames.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import ibis

from carethread.engine.connection import duckdb_connection, is_duckdb
from carethread.engine.names import quote_literal
from carethread.engine.signals import watch

#: The formats :func:`write_file` writes.
FORMATS = ("csv", "parquet")


def _kv_metadata(metadata: Mapping[str, str]) -> str:
    pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in metadata.items())
    return "{" + pairs + "}"


def write_file(
    table: ibis.Table,
    path: str | os.PathLike,
    *,
    file_format: str,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``table`` to the file ``path`` (replaced if it exists) as ``"csv"`` or ``"parquet"``.

    ``metadata`` (text keys and values) becomes the Parquet file's key-value
    metadata; CSV has nowhere to keep it, so it is an error there. The
    embedded DuckDB writes with ``COPY`` (header row, DuckDB's formatting of
    dates and numbers); another engine's rows come to this process as Arrow
    batches and pyarrow writes them. While DuckDB writes, Ctrl-C can stop it
    (:func:`~carethread.engine.signals.watch`).

    Examples
    --------
    >>> import tempfile, pathlib, pyarrow.parquet as pq
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a\\\\b \\u200b.parquet"
    >>> write_file(ibis.memtable({"x": [1]}), path, file_format="parquet", metadata={"window": "all"})
    >>> [p.name == path.name for p in path.parent.iterdir()], pq.read_schema(path).metadata
    ([True], {b'window': b'all'})
    """
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {FORMATS}, not {file_format!r}")
    if metadata and file_format != "parquet":
        raise ValueError("only Parquet files hold key-value metadata")
    backend = table._find_backend(use_default=True)
    if is_duckdb(backend):
        options = ["FORMAT csv", "HEADER true"] if file_format == "csv" else ["FORMAT parquet"]
        if metadata:
            options.append(f"KV_METADATA {_kv_metadata(metadata)}")
        # USE_TMP_FILE false: the caller already writes to a temporary name; DuckDB's own
        # temporary file (tmp_<name>) would be one more thing to leave behind.
        options.append("USE_TMP_FILE false")
        backend._run_pre_execute_hooks(table)  # registers in-memory tables the query reads
        query = backend.compile(table)
        watch(backend)
        duckdb_connection(backend).execute(f"COPY ({query}) TO {quote_literal(os.fspath(path))} ({', '.join(options)})")
        return
    _write_batches(table, path, file_format=file_format, metadata=metadata)


def _write_batches(table: ibis.Table, path, *, file_format: str, metadata: Mapping[str, str] | None) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    with table.to_pyarrow_batches() as batches, open(path, "wb") as handle:
        schema = batches.schema
        if file_format == "csv":
            writer = pcsv.CSVWriter(handle, schema)
        else:
            schema = schema.with_metadata({**(schema.metadata or {}), **dict(metadata or {})})
            writer = pq.ParquetWriter(handle, schema)
        with writer:
            for batch in batches:
                writer.write_batch(batch)
