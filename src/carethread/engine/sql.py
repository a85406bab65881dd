"""SQL helper functions: temporary tables and views, portable casts, DuckDB built-ins.

Everything here returns Ibis tables or expressions (or plain Python values),
so measures, readers and validation never write SQL themselves (a reader's
own ``sql.py`` builds the SQL text of its format and runs it with
:func:`create_view`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

import duckdb
import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend

from carethread.engine.connection import backend_name, duckdb_connection, is_duckdb
from carethread.engine.names import new_name, quote_identifier


def create_view(con: BaseBackend, name: str, select: str) -> ibis.Table:
    """A temporary view ``name`` over the SQL query ``select``, as an Ibis table.

    >>> from carethread.engine import connect
    >>> create_view(connect(), "numbers", "SELECT 1 AS x UNION ALL SELECT 2").x.sum().execute()
    3
    """
    duckdb_connection(con).execute(f"CREATE TEMP VIEW {quote_identifier(name)} AS {select}")
    return con.table(name)


def materialize(con: BaseBackend, expr: ibis.Table, prefix: str) -> tuple[ibis.Table, str]:
    """Run ``expr`` once into a temporary table; returns the table and its name.

    Insertion order is preserved while doing so (CSV row numbers depend on
    it), whatever the connection's ``preserve_insertion_order`` setting.
    """
    name = new_name(prefix)
    with keeping_insertion_order(duckdb_connection(con)):
        table = con.create_table(name, expr, temp=True)
    return table, name


@contextlib.contextmanager
def keeping_insertion_order(raw):
    """DuckDB's ``preserve_insertion_order`` on for the block, then as it was."""
    setting = raw.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    if not setting:
        raw.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        if not setting:
            raw.execute("SET preserve_insertion_order = false")


def drop(con: BaseBackend, names: Sequence[str], *, kind: str = "VIEW") -> None:
    """Drop temporary views or tables, ignoring ones that do not exist."""
    for name in names:
        duckdb_connection(con).execute(f"DROP {kind} IF EXISTS {quote_identifier(name)}")


def stage(con: BaseBackend, expr: ibis.Table, prefix: str) -> ibis.Table:
    """Keep an intermediate result where later queries can reuse it cheaply.

    The result is computed once, inside the engine, into a temporary table:
    on DuckDB with :func:`materialize`, elsewhere with Ibis' ``create_table(...,
    temp=True)`` (a session-private table that disappears with the
    connection; no row passes through Python). When the database refuses
    (a read-only transaction or replica, no TEMPORARY privilege), ``expr``
    comes back unchanged: the database then plans it as a subquery wherever
    it is used, which is slower but writes nothing.

    >>> from carethread.engine import connect
    >>> con = connect()
    >>> staged = stage(con, ibis.memtable({"x": [1, 2]}).mutate(y=ibis._.x * 2), "example")
    >>> staged.get_name().startswith("_ct_example_"), staged.y.sum().execute()
    (True, 6)
    """
    if is_duckdb(con):
        _table, name = materialize(con, expr, prefix)
        return con.table(name)  # by bare name, so strictly_increasing can address it
    try:
        return con.create_table(new_name(prefix), expr, temp=True)
    except Exception:  # the backend's own error: read-only, no privilege, no temp tables
        # A data error (a value that cannot be cast) is raised again by the first query of expr.
        return expr


def list_tables(con: BaseBackend, database=None) -> list[str]:
    """Names of the tables and views in ``database`` (a schema, or a
    ``(catalog, schema)`` pair); the connection's current schema when None.

    On DuckDB this asks the catalog directly (Ibis 12's ``list_tables`` calls a
    method DuckDB 2 no longer has); elsewhere it is Ibis' ``list_tables``.

    >>> from carethread.engine import connect
    >>> con = connect()
    >>> _ = con.create_table("visits", ibis.memtable({"x": [1]}))
    >>> list_tables(con)
    ['visits']
    """
    if not is_duckdb(con):
        return list(con.list_tables(database=database)) if database is not None else list(con.list_tables())
    if database is None:
        catalog, schema = None, None
    elif isinstance(database, (tuple, list)):
        catalog, schema = database
    else:
        catalog, schema = None, database
    sql = "SELECT table_name FROM information_schema.tables WHERE true"
    params = []
    if catalog is not None:
        sql += " AND table_catalog = ?"
        params.append(catalog)
    sql += " AND table_schema = ?" if schema is not None else " AND table_schema = current_schema()"
    if schema is not None:
        params.append(schema)
    if catalog is None:
        sql += " AND table_catalog = current_database()" if schema is None else ""
    return [row[0] for row in duckdb_connection(con).execute(sql + " ORDER BY table_name", params).fetchall()]


def strictly_increasing(con: BaseBackend, table: ibis.Table, column: str, *, limit: int | None = None) -> bool:
    """Whether ``column`` has no NULL and strictly increases in scan order.

    That proves the values are distinct without a hash table: one sequential
    pass (``lag() OVER ()`` runs as DuckDB's streaming window, a non-parallel
    operator with fixed order, so each row is compared with the row really
    before it). With ``limit``, only the first rows are looked at (a cheap
    test of whether the full pass is worth it).
    """
    if not is_duckdb(con):  # the proof relies on DuckDB's streaming window
        return False
    try:
        source = quote_identifier(table.get_name())
    except Exception:  # an expression, not a named table or view: no cheap proof
        return False
    head = (
        f"(SELECT {quote_identifier(column)} AS k FROM {source} LIMIT {int(limit)})"
        if limit
        else (f"(SELECT {quote_identifier(column)} AS k FROM {source})")
    )
    bad, n, k, prev = (
        duckdb_connection(con)
        .execute(
            "SELECT count(*) FILTER (WHERE prev >= k), count(*), count(k), count(prev) "
            f"FROM (SELECT k, lag(k) OVER () AS prev FROM {head})"
        )
        .fetchall()[0]
    )
    return bad == 0 and k == n and prev == max(n - 1, 0)


#: What a value must look like before a backend without ``TRY_CAST`` casts it.
_CASTABLE = {
    "integer": r"^[+-]?[0-9]{1,18}$",
    "float": r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$",
    "temporal": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([ T][0-2][0-9]:[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?)?$",
}


def try_cast(value: ibis.Value, to) -> ibis.Value:
    """``value`` cast to ``to``, or NULL where it does not convert.

    DuckDB (and unbound in-memory tables, which run on DuckDB) use
    ``TRY_CAST``. Ibis compiles ``try_cast`` as a plain ``CAST`` on
    PostgreSQL, which fails the whole query on one bad value, so there a
    value is cast only when it has the form of the target type (integers,
    decimals, ISO dates and timestamps) and is NULL otherwise. A well-formed
    but impossible date (``2024-02-30``) still fails there: store dates as
    ``date`` or ``timestamp`` columns, as the OMOP CDM DDL does.

    >>> t = ibis.memtable({"v": ["12", "twelve"]})
    >>> t.select(n=try_cast(t.v, "int64")).to_pyarrow()["n"].to_pylist()
    [12, None]
    """
    target = ibis.dtype(to)
    name = backend_name(value)
    if name in ("duckdb", "memtable"):
        return value.try_cast(target)
    if target.is_integer():
        pattern = _CASTABLE["integer"]
    elif target.is_floating() or target.is_decimal():
        pattern = _CASTABLE["float"]
    elif target.is_temporal():
        pattern = _CASTABLE["temporal"]
    else:
        return value.cast(target)
    return ibis.cases((value.re_search(pattern), value.cast(target)), else_=ibis.null(target))


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(value: str, format: str) -> datetime:  # noqa: A002
    """DuckDB ``try_strptime``: the timestamp, or NULL when ``value`` does not match."""


@ibis.udf.scalar.builtin(name="timezone")
def utc_wall_time(zone: str, value) -> datetime:
    """DuckDB ``timezone(zone, timestamptz)``: the wall-clock time in ``zone``."""


@ibis.udf.scalar.builtin(name="trim")
def trim_spaces(value: str) -> str:
    """DuckDB one-argument ``trim``: strips spaces only, which is cheaper than the
    characters form Ibis' ``strip()`` compiles to (and ids rarely hold tabs)."""


@ibis.udf.scalar.builtin(name="hash")
def fast_hash(value) -> dt.uint64:
    """DuckDB ``hash``: a 64-bit hash, used to test uniqueness cheaply."""


def check_strptime_format(con: BaseBackend, fmt: str) -> bool:
    """Whether DuckDB accepts ``fmt`` as a strptime pattern."""
    try:
        duckdb_connection(con).execute("SELECT try_strptime('2000-01-01', ?)", [fmt]).fetchall()
    except duckdb.Error:
        return False
    return True
