"""DuckDB file scanning for readers: CSV, Parquet and NDJSON files as tables, and the rows it rejects.

DuckDB-specific: the SQL that opens files (and DuckDB database files) for the
readers. Everything here returns Ibis tables or plain Python values; readers
never write SQL themselves, except a reader's own ``sql.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import ibis
from ibis.backends import BaseBackend

from carethread.engine.connection import duckdb_connection
from carethread.engine.names import new_name, quote_identifier, quote_literal
from carethread.engine.sql import create_view, drop, keeping_insertion_order

#: What DuckDB raises when a file cannot be read; readers turn it into InputError.
BackendError = duckdb.Error

_OUR_BUGS = tuple(
    getattr(duckdb, name)
    for name in ("BinderException", "CatalogException", "ParserException", "ResourceInUseException")
    if hasattr(duckdb, name)
)


def is_data_error(exc: BaseException) -> bool:
    """Whether a DuckDB error comes from the data (corrupt file, bad bytes),
    not from a query carethread built wrongly (which must surface as a bug)."""
    return isinstance(exc, duckdb.Error) and not isinstance(exc, _OUR_BUGS)


def parquet_columns(con: BaseBackend, path: str) -> list[str]:
    """Column names of one Parquet file; raises :data:`BackendError` if unreadable."""
    rows = duckdb_connection(con).execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(path)})").fetchall()
    return [row[0] for row in rows]


def parquet_table(con: BaseBackend, paths: Sequence[str]) -> ibis.Table:
    """A lazy view over Parquet files, with ``__file`` and ``__row`` added.

    ``__file`` is the position of the file in ``paths`` (0-based) and
    ``__row`` the 1-based row number inside that file (DuckDB's
    ``file_row_number``, which is exact whatever the number of threads).
    Columns keep their Parquet types; schemas that differ between files are
    unified by name. Nothing is read until the view is queried.
    """
    name = new_name("parquet")
    files = ", ".join(quote_literal(p) for p in paths)
    return create_view(
        con,
        name,
        "SELECT * EXCLUDE (file_row_number), CAST(file_index AS INTEGER) AS __file, "
        "file_row_number + 1 AS __row "
        f"FROM read_parquet([{files}], file_row_number = true, union_by_name = true)",
    )


def parquet_minimums(con: BaseBackend, paths: Sequence[str], columns: Sequence[str]) -> dict[str, list[str]]:
    """Per-row-group minimum of each column, from Parquet statistics (no scan).

    Returns column → list of minimums (as text) of the row groups that hold a
    non-NULL value; a column is left out when some such row group has no
    statistics. A truncated statistic is still a lower bound (a prefix).
    """
    if not columns or not paths:
        return {}
    files = ", ".join(quote_literal(p) for p in paths)
    wanted = ", ".join(quote_literal(c) for c in columns)
    rows = (
        duckdb_connection(con)
        .execute(
            "SELECT path_in_schema, stats_min_value, num_values, stats_null_count "
            f"FROM parquet_metadata([{files}]) WHERE path_in_schema IN ({wanted})"
        )
        .fetchall()
    )
    out: dict[str, list[str]] = {c: [] for c in columns}
    for column, smallest, values, nulls in rows:
        if column not in out:
            continue
        if smallest is None:
            if nulls is not None and values is not None and nulls >= values:
                continue  # an all-NULL row group
            out.pop(column)
            continue
        out[column].append(smallest)
    seen = {row[0] for row in rows}
    return {c: v for c, v in out.items() if c in seen}


def store_rows(con: BaseBackend, rows) -> str:
    """Store a one-pass Arrow stream of rows in a temporary table; returns its name.

    ``rows`` is what :func:`carethread.readers.lines.row_batches` yields. The
    stream is produced by one Python thread, so it is only stored here; the
    splitting and checking that follow read the stored table on every thread.
    """
    raw = duckdb_connection(con)
    name = new_name("rows")
    stream = f"{name}_in"
    # A query first ends any result the caller left unread (DuckDB refuses to register then).
    raw.execute("SELECT 1").fetchall()
    raw.register(stream, rows)
    try:
        # In stream order: a key that increases in the file then proves itself unique cheaply.
        with keeping_insertion_order(raw):
            raw.execute(f"CREATE TEMP TABLE {quote_identifier(name)} AS SELECT * FROM {quote_identifier(stream)}")
    finally:
        raw.unregister(stream)
    return name


def csv_rows(con: BaseBackend, files: Sequence[tuple[str, Sequence[str], str, str]]) -> ibis.Table:
    """A lazy view that splits rows of delimited text into fields, every column ``VARCHAR``.

    ``files`` holds, per file, ``(rows, column names, delimiter, field pattern)``:
    ``rows`` a table from :func:`store_rows` (``__row``, ``__line``: one row's
    text, ``__flag``: a reason code when the text could not be taken as it is);
    ``field pattern`` the RE2 expression of one field after its delimiter
    (:func:`carethread.readers.lines.field_pattern`) and ``__mode`` how to split
    the row (:data:`carethread.readers.lines.PLAIN`, ``QUOTED``, ``OTHER``). The view has the named
    columns (an empty value is NULL; a quoted one loses its quotes, ``""`` is ``"``),
    ``__file`` (the file's position in ``files``), ``__row``, and ``__reject`` /
    ``__reject_value`` (the whole row) for a row that cannot be split:
    ``__flag`` when set, else ``unbalanced_quote`` (quotes that do not pair up, or
    a quote inside an unquoted value), ``line_ending`` (a carriage return outside
    quotes), ``malformed_row`` (another number of fields than the header's).

    Lines without a quote, and lines whose every field is quoted with no quote
    inside (``__mode`` 0 and 1, found in Python), are split with ``string_split``;
    only other lines pay for the regular expression.
    """
    parts = []
    for index, (rows, columns, delimiter, pattern) in enumerate(files):
        d, qdq = quote_literal(delimiter), quote_literal(f'"{delimiter}"')
        # __m: the regular expression's matches (mode 2 only), each a field with its delimiter.
        matched = (
            f"SELECT *, CASE WHEN __mode = 2 THEN regexp_extract_all({d} || __line, {quote_literal(pattern)}, 1) "
            f"END AS __m FROM {quote_identifier(rows)}"
        )
        split = (
            "SELECT __row, __flag, __line, __mode, __m, CASE __mode "
            f"WHEN 0 THEN string_split(__line, {d}) "
            f"WHEN 1 THEN string_split(substring(__line, 2, length(__line) - 2), {qdq}) "
            f"ELSE list_transform(__m, lambda x: {_UNQUOTE.format('x')}) END AS __f FROM ({matched})"
        )
        fields = ", ".join(f"nullif(__f[{i}], '') AS {quote_identifier(c)}" for i, c in enumerate(columns, 1))
        checked = (
            f"SELECT {fields}, CAST({index} AS INTEGER) AS __file, __row, __line, CASE "
            "WHEN __flag IS NOT NULL THEN __flag "
            "WHEN __mode = 2 AND list_sum(list_transform(__m, lambda x: length(x) + 1)) "
            "IS DISTINCT FROM length(__line) + 1 THEN 'unbalanced_quote' "
            "WHEN __mode <> 1 AND contains(__line, chr(13)) AND (__mode = 0 OR list_bool_or(list_transform(__m, "
            "lambda x: contains(x, chr(13)) AND NOT starts_with(ltrim(x), '\"')))) THEN 'line_ending' "
            f"WHEN len(__f) <> {len(columns)} THEN 'malformed_row' END AS __reject FROM ({split})"
        )
        parts.append(
            "SELECT * EXCLUDE (__line), CASE WHEN __reject IS NOT NULL THEN __line END AS __reject_value "
            f"FROM ({checked})"
        )
    return create_view(con, new_name("csv"), " UNION ALL BY NAME ".join(parts))


#: A field's value in SQL: without its quotes when quoted (``""`` inside is one ``"``).
_UNQUOTE = (
    "(CASE WHEN starts_with(ltrim({0}), '\"') "
    "THEN replace(substring(trim({0}), 2, length(trim({0})) - 2), '\"\"', '\"') ELSE {0} END)"
)


def csv_rejects(
    con: BaseBackend, reject_tables: Sequence[tuple[str, str]], *, header: bool = True
) -> list[tuple[int, int, str, str | None, str | None]]:
    """Rows DuckDB could not parse, then drop the reject tables.

    Returns one ``(file index, data row, error type, column, raw line)`` tuple
    per rejected row, in file and row order. DuckDB reports the record number
    counting the header as 1 (a quoted value spanning lines is still one
    record), so the data row is one less; with ``header=False`` (NDJSON) it
    is the line number.
    """
    raw = duckdb_connection(con)
    out: list[tuple[int, int, str, str | None, str | None]] = []
    existing = {row[0] for row in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for index, (table, _scan) in enumerate(reject_tables):
        if table not in existing:
            continue
        rows = raw.execute(
            f"SELECT line, error_type, column_name, csv_line FROM {quote_identifier(table)} "
            f"WHERE scan_id = (SELECT max(scan_id) FROM {quote_identifier(table)}) "
            "ORDER BY line, byte_position"
        ).fetchall()
        seen: set[int] = set()
        for line, kind, col, text in rows:
            if line not in seen:  # a line with several extra fields is reported once per field
                seen.add(line)
                out.append((index, int(line) - (1 if header else 0), str(kind), col, text))
    drop(con, [name for pair in reject_tables for name in pair], kind="TABLE")
    return out


def renumber_after_rejects(con: BaseBackend, table: str, rejected: Sequence[tuple[int, int]]) -> None:
    """Shift ``__row`` of parsed rows so numbers count the rejected rows too.

    ``rejected`` holds ``(file index, data row)`` of rows DuckDB skipped.
    Parsed row number k of a file becomes the k-th integer that is not a
    rejected row number: with rejected rows r_1 < r_2 < ..., let
    g_j = r_j - j (parsed rows before the j-th rejected one); then
    row = k + #{j : g_j < k}.
    """
    if not rejected:
        return
    raw = duckdb_connection(con)
    gaps = new_name("gaps")
    raw.execute(f"CREATE TEMP TABLE {quote_identifier(gaps)} (file INTEGER, g BIGINT)")
    by_file: dict[int, list[int]] = {}
    for file, row in rejected:
        by_file.setdefault(file, []).append(row)
    values = [(file, row - j) for file, rows in by_file.items() for j, row in enumerate(sorted(rows), 1)]
    raw.executemany(f"INSERT INTO {quote_identifier(gaps)} VALUES (?, ?)", values)
    raw.execute(
        f"UPDATE {quote_identifier(table)} AS t SET __row = t.__row + "
        f"(SELECT count(*) FROM {quote_identifier(gaps)} AS g "
        "WHERE g.file = t.__file AND g.g < t.__row) "
        f"WHERE t.__file IN (SELECT DISTINCT file FROM {quote_identifier(gaps)})"
    )
    drop(con, [gaps], kind="TABLE")


def attach_read_only(con: BaseBackend, path: str) -> str:
    """Attach a DuckDB database file to ``con`` read-only; returns its catalog name.

    Its tables are then ``con.table(name, database=(catalog, schema))``, on
    the same connection as everything else, and the file is never written.
    Raises :data:`BackendError` when the file is not a DuckDB database.
    """
    catalog = new_name("db")
    duckdb_connection(con).execute(f"ATTACH {quote_literal(path)} AS {quote_identifier(catalog)} (READ_ONLY)")
    return catalog


# ---------------------------------------------------------------------------
# NDJSON (the FHIR reader, readers/fhir/).
#
# A FHIR Bulk Data export is read line by line: DuckDB's CSV scanner splits a
# file into lines (one VARCHAR column; the delimiter is a byte sequence that
# cannot occur in valid JSON) and each line is parsed once with
# ``json_extract_string`` over a list of paths. Nothing but the extracted
# fields leaves the scan, so an export of any size streams through in
# DuckDB's vector-sized chunks, on every thread.
#
# Line numbers come from storage order, not from ``row_number() OVER ()``
# (which would pin the scan, the JSON parse and every join after it to one
# thread): with ``preserve_insertion_order`` DuckDB stores the result of a
# parallel scan in file order, so a row's position in the stored table is
# its line's position in the file (blank lines are kept until numbered).
# tests/test_reader_fhir.py checks this on a multi-buffer file with 4 threads.
# ---------------------------------------------------------------------------

#: Splits nothing: control bytes cannot appear in valid JSON, so a line that
#: holds this sequence is malformed anyway (DuckDB allows up to 4 bytes).
_NO_DELIMITER = "\x1f\x1e\x1d\x1c"
#: The longest NDJSON line accepted (DuckDB's default is 2 MB; a Patient with
#: an embedded photo can be longer). A longer line is quarantined.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: DuckDB's read buffer. Its default (16 x max_line_size) would hold up to
#: 256 MB of text per file; 32 MB keeps memory flat in the file size.
_NDJSON_BUFFER = 32 * 1024 * 1024


def ndjson_lines(con: BaseBackend, path: str, index: int) -> tuple[ibis.Table, tuple[str, str]]:
    """A lazy view of one NDJSON file, one row per line: ``line``, ``__file``, ``__row``.

    ``__file`` is ``index``; ``__row`` is 0 until :func:`store_in_file_order`
    numbers the stored rows. Blank lines are rows too (``line`` NULL or white
    space), so positions match line numbers. Files ending in ``.gz`` are
    decompressed by DuckDB; CRLF line ends are recognised (a file mixing CRLF
    and LF may count a CRLF line twice).

    Lines DuckDB cannot take (invalid UTF-8, longer than
    :data:`MAX_LINE_BYTES`) are left out and recorded in a reject table pair,
    returned; read it with :func:`csv_rejects` (``header=False``) after the
    view has been scanned, and renumber with :func:`renumber_after_rejects`.
    """
    name = new_name("ndjson")
    reject_table, reject_scan = f"{name}_rej", f"{name}_scan"
    lines = create_view(
        con,
        name,
        f"SELECT line, CAST({int(index)} AS INTEGER) AS __file, CAST(0 AS BIGINT) AS __row "
        f"FROM read_csv({quote_literal(path)}, columns = {{'line': 'VARCHAR'}}, header = false, "
        f"auto_detect = false, delim = {quote_literal(_NO_DELIMITER)}, quote = '', escape = '', "
        f"strict_mode = false, max_line_size = {MAX_LINE_BYTES}, buffer_size = {_NDJSON_BUFFER}, "
        f"store_rejects = true, rejects_table = {quote_literal(reject_table)}, "
        f"rejects_scan = {quote_literal(reject_scan)})",
    )
    return lines, (reject_table, reject_scan)


def store_in_file_order(
    con: BaseBackend, parts: Sequence[ibis.Table], prefix: str, *, drop: tuple[str, str] | None = None
) -> tuple[ibis.Table, str]:
    """Store one expression per file (in file order) in a temporary table and
    number its rows: ``__row`` = position within the file, from 1.

    Each part must be one :func:`ndjson_lines` view under projections only,
    and all parts must have the same columns. A join would void the order:
    DuckDB may build its hash table on the lines and stream the other side.
    Rows whose ``drop[0]`` column equals ``drop[1]`` (blank lines) are
    deleted after numbering.
    """
    raw = duckdb_connection(con)
    name = new_name(prefix)
    with keeping_insertion_order(raw):
        before = 0
        for i, part in enumerate(parts):
            if i == 0:
                con.create_table(name, part, temp=True)
            else:
                con.insert(name, part)
            after = raw.execute(f"SELECT count(*) FROM {quote_identifier(name)}").fetchall()[0][0]
            raw.execute(f"UPDATE {quote_identifier(name)} SET __row = rowid - {before} + 1 WHERE rowid >= {before}")
            before = after
    if drop is not None:
        raw.execute(
            f"DELETE FROM {quote_identifier(name)} WHERE {quote_identifier(drop[0])} = {quote_literal(drop[1])}"
        )
    return con.table(name), name
