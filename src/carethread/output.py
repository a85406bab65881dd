"""Results leave carethread here: files by extension, or a table on screen.

Results stay lazy Ibis tables until this edge, so writing a large result goes
straight from the engine to Parquet or CSV without passing through pandas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import ibis
from rich.console import Console
from rich.table import Table as RichTable

from carethread import engine
from carethread.data import format_count
from carethread.errors import OptionError

WRITABLE = (".csv", ".parquet")


def check_out_path(path: str | os.PathLike, option: str = "--out") -> Path:
    """The output path if its extension is one we write, else an error naming ``option``.

    >>> check_out_path("out.parquet").suffix
    '.parquet'
    >>> check_out_path("rejects.txt", option="--quarantine")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --quarantine rejects.txt: write to a .csv or .parquet file ...
    """
    p = Path(path)
    if p.suffix.lower() not in WRITABLE:
        raise OptionError(f"{option} {p.name}: write to a .csv or .parquet file (the extension decides the format).")
    return p


def metadata_sidecar(path: str | os.PathLike) -> Path:
    """Where the metadata of a CSV file is written: ``<name>.csv-metadata.json`` beside it (the CSVW convention).

    >>> metadata_sidecar("out/patients.csv").name
    'patients.csv-metadata.json'
    """
    p = Path(path)
    return p.with_name(p.name + "-metadata.json")


def write_table(table: ibis.Table, path: str | os.PathLike, *, metadata: dict[str, str] | None = None) -> Path:
    """Write ``table`` to ``path`` (``.csv`` or ``.parquet``), creating folders.

    ``metadata`` (text keys and values: the window and settings a result
    describes) goes into a Parquet file's key-value metadata, and for a CSV
    file into the JSON file :func:`metadata_sidecar` names.

    Examples
    --------
    >>> import ibis, tempfile, pathlib, json
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_table(ibis.memtable({"patient_id": ["007"]}), out, metadata={"window": "all data"})
    >>> out.read_text().splitlines()
    ['patient_id', '007']
    >>> json.loads(metadata_sidecar(out).read_text())
    {'window': 'all data'}
    """
    p = check_out_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = {str(k): str(v) for k, v in (metadata or {}).items()}
    if p.suffix.lower() == ".csv":
        table.to_csv(p)
        if text:
            metadata_sidecar(p).write_text(json.dumps(text, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif text and engine.is_duckdb(table._find_backend(use_default=True)):
        # DuckDB's Parquet writer takes the pairs as a struct literal; quotes are doubled inside it.
        pairs = ", ".join(f"'{_quoted(k)}': '{_quoted(v)}'" for k, v in text.items())
        table.to_parquet(p, kv_metadata=_Literal("{" + pairs + "}"))
    else:
        table.to_parquet(p)
        if text:
            import pyarrow.parquet as pq

            written = pq.read_table(p)
            pq.write_table(written.replace_schema_metadata({**(written.schema.metadata or {}), **text}), p)
    return p


def _quoted(text: str) -> str:
    return text.replace("'", "''")


class _Literal(str):
    """A text the DuckDB writer's options take as it is (its ``repr`` is itself)."""

    def __repr__(self) -> str:
        return str(self)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return format_count(value)
    return str(value)


def print_table(
    table: ibis.Table,
    console: Console,
    *,
    limit: int = 20,
    title: str | None = None,
    order_by: Sequence[str] | None = None,
) -> int:
    """Print up to ``limit`` rows of ``table`` as a rich table; return the row count.

    The preview is ordered by ``order_by``, by default every column from the
    first (the identifier) to the last: a total order, so the preview is the
    same every run. ``order_by=()`` keeps the table's own order.
    """
    total = int(table.count().execute())
    order = table.columns if order_by is None else tuple(order_by)
    preview = table.order_by(*order) if order else table
    rows = preview.limit(limit).to_pyarrow().to_pylist() if limit else []
    view = RichTable(title=title, show_lines=False, header_style="bold")
    for column in table.columns:
        view.add_column(column, justify="left")
    for row in rows:
        view.add_row(*(_cell(row[c]) for c in table.columns))
    console.print(view)
    if total > len(rows):
        console.print(f"… {format_count(total - len(rows))} more rows; write them all with --out FILE.csv|.parquet")
    return total
