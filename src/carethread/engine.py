"""Where computation happens: one Ibis connection, DuckDB unless told otherwise.

Measures receive Ibis tables and never ask which backend is behind them. This
module is the only place that knows backend specifics (and the only place raw
SQL may live).
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from carethread.errors import MissingDependencyError, OptionError

_EXTRA_FOR_SCHEME = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "pyspark": "spark",
    "spark": "spark",
    "mysql": "mysql",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
}


def connect(
    url=None,
    *,
    database: str | os.PathLike | None = None,
    memory_limit: str | None = None,
    temp_dir: str | os.PathLike | None = None,
    threads: int | None = None,
) -> BaseBackend:
    """Return the Ibis connection every measure runs on.

    Parameters
    ----------
    url
        ``None`` or ``"duckdb"`` for embedded DuckDB (the default);
        ``"spark"`` for Spark (see :func:`connect_spark`: local mode, the
        session of ``spark-submit``, or Spark Connect when ``SPARK_REMOTE``
        is set), ``"spark://host:7077"`` for a Spark standalone master,
        ``"sc://host:15002"`` for a Spark Connect server, or an existing
        ``pyspark.sql.SparkSession``; or any Ibis connection URL such as
        ``"postgres://user@host/db"``.
    database
        With DuckDB: a database file to open or create instead of memory.
    memory_limit, temp_dir, threads
        With DuckDB: passed to DuckDB's ``memory_limit``, ``temp_directory``
        and ``threads`` settings, so large inputs spill to disk instead of
        exhausting memory. With local Spark: driver memory (default
        ``1g``), ``spark.local.dir`` (where shuffles spill) and the number
        of local cores (default all).

    Returns
    -------
    ibis.backends.BaseBackend

    Raises
    ------
    MissingDependencyError
        If the backend's driver is not installed; the message names the
        ``pip install`` command.

    Examples
    --------
    >>> con = connect()
    >>> con.name
    'duckdb'
    """
    if _is_spark_session(url):
        return _spark_backend(url)
    if url is None or url in ("duckdb", "duckdb://"):
        config = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if temp_dir:
            config["temp_directory"] = str(temp_dir)
        if threads:
            config["threads"] = int(threads)
        target = str(Path(database)) if database else ":memory:"
        return ibis.duckdb.connect(target, **config)
    if database is not None:
        raise OptionError("--database only applies to the embedded DuckDB engine; put the database in the URL instead.")
    scheme = url.split(":", 1)[0].lower()
    if url.lower() in ("spark", "pyspark") or scheme in ("spark", "sc"):
        return connect_spark(url, memory_limit=memory_limit, temp_dir=temp_dir, threads=threads)
    try:
        return ibis.connect(url)
    except ImportError as exc:
        extra = _EXTRA_FOR_SCHEME.get(scheme, scheme)
        raise MissingDependencyError(
            f"The {scheme!r} engine needs extra packages: pip install 'carethread[{extra}]'"
        ) from exc


def backend_name(table: ibis.Table) -> str:
    """Name of the backend a table lives on (``'duckdb'``, ``'postgres'``, ...)."""
    try:
        return table._find_backend().name
    except Exception:  # an unbound memtable has no backend yet
        return "memtable"


# ---------------------------------------------------------------------------
# Spark (the ``spark`` extra): sessions, and tables moved in from DuckDB.
#
# Measures run unchanged on Spark through Ibis' pyspark backend; what differs
# is only how the session is made and how canonical tables read by DuckDB
# (readers validate with DuckDB) reach it.
# ---------------------------------------------------------------------------

#: Log4j 2 configuration of a local session: errors only, on stderr, so the
#: JVM's start-up warnings do not drown carethread's own output.
_SPARK_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""

_spark_dir: Path | None = None


def _spark_scratch() -> Path:
    """One private scratch folder per process for Spark (warehouse, staged
    Parquet, log configuration), removed when the process exits."""
    global _spark_dir
    if _spark_dir is None:
        import atexit
        import shutil
        import tempfile

        _spark_dir = Path(tempfile.mkdtemp(prefix="carethread-spark-"))
        atexit.register(shutil.rmtree, _spark_dir, True)
    return _spark_dir


def _is_spark_session(obj) -> bool:
    return type(obj).__name__ == "SparkSession" and type(obj).__module__.startswith("pyspark.")


def _import_pyspark():
    try:
        import ibis.backends.pyspark  # noqa: F401  (the Ibis backend, which needs pyspark)
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MissingDependencyError(
            "The Spark engine needs extra packages: pip install 'carethread[spark]' (and Java 17 or later)."
        ) from exc
    return SparkSession


def _spark_backend(session) -> BaseBackend:
    """The Ibis backend over an existing SparkSession (its settings are kept,
    except the session time zone, which Ibis sets to UTC)."""
    _import_pyspark()
    con = ibis.pyspark.connect(session)
    # Ibis 12's pyspark backend caches (``.cache()``, which the CLI and the
    # report use) without first registering the in-memory tables an
    # expression holds, so caching relationship_breaks (it joins a small
    # memtable of offsets) fails with TABLE_OR_VIEW_NOT_FOUND; and it asserts
    # ``is_cached`` right after ``cache()``, which a Spark Connect DataFrame
    # does not report yet (nor ``not is_cached`` right after ``unpersist()``).
    # These are its caching steps with both fixed.

    def _create_cached_table(name, expr):
        con._run_pre_execute_hooks(expr)
        frame = con._session.sql(con.compile(expr)).cache()
        frame.createTempView(name)
        con._cached_dataframes[name] = frame  # what con._drop_cached_table releases
        return con.table(name)

    def _drop_cached_table(name):
        con._session.catalog.dropTempView(name)
        con._cached_dataframes.pop(name).unpersist()

    con._create_cached_table = _create_cached_table
    con._drop_cached_table = _drop_cached_table
    return con


def spark_local_config(
    *, memory_limit: str | None = None, temp_dir: str | os.PathLike | None = None, threads: int | None = None
) -> dict[str, str]:
    """The configuration of a local Spark session started by carethread.

    Small driver memory (the driver is the only executor in local mode),
    UTC session time zone, no web UI, no progress bar, errors-only logs,
    loopback-only networking, and a private warehouse folder, so that
    ``create_table`` never writes into the working directory.

    >>> conf = spark_local_config(threads=2)
    >>> conf["spark.master"], conf["spark.ui.enabled"], conf["spark.driver.bindAddress"]
    ('local[2]', 'false', '127.0.0.1')
    """
    scratch = _spark_scratch()
    log4j = scratch / "log4j2.properties"
    if not log4j.exists():
        log4j.write_text(_SPARK_LOG4J)
    conf = {
        "spark.master": f"local[{int(threads)}]" if threads else "local[*]",
        "spark.app.name": "carethread",
        "spark.driver.memory": memory_limit or "1g",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j}",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        # Results come back to Python through Arrow, not row by row.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if temp_dir:
        conf["spark.local.dir"] = str(temp_dir)
    return conf


def connect_spark(
    url: str = "spark",
    *,
    memory_limit: str | None = None,
    temp_dir: str | os.PathLike | None = None,
    threads: int | None = None,
) -> BaseBackend:
    """An Ibis pyspark backend; which session depends on ``url`` and the environment.

    * ``"spark"`` with ``SPARK_REMOTE`` set (e.g. ``sc://host:15002``, or a
      Databricks Connect URL): a Spark Connect session to that server.
    * ``"sc://..."``: a Spark Connect session to that server.
    * ``"spark"`` inside ``spark-submit`` (or with a session already
      active in this process): that session, with the master and settings
      ``spark-submit`` was given.
    * ``"spark"`` otherwise: a new local session on this machine's cores
      (:func:`spark_local_config`; ``memory_limit``, ``temp_dir`` and
      ``threads`` apply here only).
    * ``"spark://host:7077"``: a session on that standalone master, in
      client mode (this process is the driver; executors must reach it).

    Raises :class:`MissingDependencyError` naming the install command when
    pyspark is missing. Starting a JVM takes several seconds.
    """
    SparkSession = _import_pyspark()
    remote = url if url.lower().startswith("sc://") else None
    if url.lower() in ("spark", "pyspark"):
        remote = os.environ.get("SPARK_REMOTE") or None
    if remote:
        try:
            session = SparkSession.builder.remote(remote).getOrCreate()
        except ImportError as exc:
            raise MissingDependencyError(
                "Spark Connect needs extra packages: pip install 'carethread[spark-connect]'"
            ) from exc
        return _spark_backend(session)
    if url.lower().startswith("spark://"):
        scratch = _spark_scratch()
        builder = SparkSession.builder.master(url).appName("carethread")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        builder = builder.config("spark.sql.session.timeZone", "UTC")
        builder = builder.config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        return _spark_backend(builder.getOrCreate())
    active = SparkSession.getActiveSession()
    if active is not None or os.environ.get("PYSPARK_GATEWAY_PORT"):
        # spark-submit started the JVM and set the master: keep its settings.
        return _spark_backend(active or SparkSession.builder.appName("carethread").getOrCreate())
    builder = SparkSession.builder
    for key, value in spark_local_config(memory_limit=memory_limit, temp_dir=temp_dir, threads=threads).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return _spark_backend(session)


def is_local_spark(con: BaseBackend) -> bool:
    """Whether ``con`` is a classic (not Spark Connect) Spark session in local mode,
    whose executors share this machine's file system."""
    session = getattr(con, "_session", None)
    try:
        return getattr(con, "name", None) == "pyspark" and session.sparkContext.master.startswith("local")
    except Exception:  # Spark Connect sessions have no SparkContext
        return False


def imports_tables(con: BaseBackend | None) -> bool:
    """Whether readers read files for ``con`` with DuckDB and then copy the
    canonical tables over with :func:`import_data` (Spark)."""
    return getattr(con, "name", None) == "pyspark"


def import_table(con: BaseBackend, table: ibis.Table, name: str) -> ibis.Table:
    """Copy a table computed by the embedded DuckDB into ``con``, as ``name``.

    Readers validate with DuckDB; this moves their canonical tables to the
    engine the measures run on. On local Spark the table goes through a
    Parquet file that DuckDB writes (memory stays bounded whatever the size)
    and Spark reads lazily. On other Spark sessions (a cluster, Spark
    Connect) it is sent from this process as Arrow, so it must fit in memory
    here; for large data, put the canonical tables where the cluster can
    read them and use ``con.read_parquet`` (docs/spark.md). Elsewhere the
    backend's ``create_table`` does the copy.
    """
    if getattr(con, "name", None) == "duckdb":
        return table
    if getattr(con, "name", None) == "pyspark":
        if is_local_spark(con):
            # Spark skips files whose names start with "_" or "." as hidden.
            path = _spark_scratch() / "staged" / f"{new_name(name).lstrip('_')}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            table.to_parquet(path)
            return con.read_parquet(path, table_name=new_name(name))
        frame = con._session.createDataFrame(table.to_pyarrow())
        view = new_name(name)
        frame.createOrReplaceTempView(view)
        return con.table(view)
    return con.create_table(new_name(name), table.to_pyarrow())



def import_data(con: BaseBackend, data):
    """A :class:`~carethread.data.CanonicalData` whose canonical tables live on ``con``.

    Encounters, clinicians and patients are copied with :func:`import_table`;
    the quarantine stays with DuckDB (it is only ever written out), and the
    counts and remarks are unchanged.
    """
    import dataclasses

    moved = {
        name: import_table(con, getattr(data, name), name)
        for name in ("encounters", "clinicians", "patients")
        if getattr(data, name) is not None
    }
    return dataclasses.replace(data, **moved)

# ---------------------------------------------------------------------------
# File scanning for readers (readers/generic.py, validate.py).
#
# DuckDB-specific: raw SQL that opens CSV and Parquet files, and the DuckDB
# built-ins validation needs. Everything below returns Ibis tables or
# expressions; readers never write SQL themselves.
# ---------------------------------------------------------------------------

import uuid as _uuid  # noqa: E402  (kept with the section it serves)
from collections.abc import Sequence as _Sequence  # noqa: E402
from datetime import datetime as _datetime  # noqa: E402

import duckdb as _duckdb  # noqa: E402
import ibis.expr.datatypes as _dt  # noqa: E402

#: What DuckDB raises when a file cannot be read; readers turn it into InputError.
BackendError = _duckdb.Error

_OUR_BUGS = tuple(
    getattr(_duckdb, name)
    for name in ("BinderException", "CatalogException", "ParserException", "ResourceInUseException")
    if hasattr(_duckdb, name)
)


def is_data_error(exc: BaseException) -> bool:
    """Whether a DuckDB error comes from the data (corrupt file, bad bytes),
    not from a query carethread built wrongly (which must surface as a bug)."""
    return isinstance(exc, _duckdb.Error) and not isinstance(exc, _OUR_BUGS)


def require_duckdb(con: BaseBackend) -> None:
    """Raise :class:`OptionError` unless ``con`` is an embedded DuckDB connection."""
    if getattr(con, "name", None) != "duckdb":
        raise OptionError(
            "Reading CSV or Parquet files needs the embedded DuckDB engine "
            f"(got {getattr(con, 'name', type(con).__name__)!r}); "
            "leave --engine at its default to read files."
        )


def new_name(prefix: str) -> str:
    """A fresh name for a temporary view or table (``_ct_<prefix>_<hex>``)."""
    return f"_ct_{prefix}_{_uuid.uuid4().hex[:10]}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _raw(con: BaseBackend):
    """The underlying ``duckdb.DuckDBPyConnection`` of an Ibis DuckDB backend."""
    return con.con


def parquet_columns(con: BaseBackend, path: str) -> list[str]:
    """Column names of one Parquet file; raises :data:`BackendError` if unreadable."""
    rows = _raw(con).execute(f"DESCRIBE SELECT * FROM read_parquet({_literal(path)})").fetchall()
    return [row[0] for row in rows]


def parquet_table(con: BaseBackend, paths: _Sequence[str]) -> ibis.Table:
    """A lazy view over Parquet files, with ``__file`` and ``__row`` added.

    ``__file`` is the position of the file in ``paths`` (0-based) and
    ``__row`` the 1-based row number inside that file (DuckDB's
    ``file_row_number``, which is exact whatever the number of threads).
    Columns keep their Parquet types; schemas that differ between files are
    unified by name. Nothing is read until the view is queried.
    """
    name = new_name("parquet")
    files = ", ".join(_literal(p) for p in paths)
    _raw(con).execute(
        f"CREATE TEMP VIEW {_ident(name)} AS "
        "SELECT * EXCLUDE (file_row_number), CAST(file_index AS INTEGER) AS __file, "
        "file_row_number + 1 AS __row "
        f"FROM read_parquet([{files}], file_row_number = true, union_by_name = true)"
    )
    return con.table(name)


def parquet_minimums(con: BaseBackend, paths: _Sequence[str], columns: _Sequence[str]) -> dict[str, list[str]]:
    """Per-row-group minimum of each column, from Parquet statistics (no scan).

    Returns column → list of minimums (as text) of the row groups that hold a
    non-NULL value; a column is left out when some such row group has no
    statistics. A truncated statistic is still a lower bound (a prefix).
    """
    if not columns or not paths:
        return {}
    files = ", ".join(_literal(p) for p in paths)
    wanted = ", ".join(_literal(c) for c in columns)
    rows = _raw(con).execute(
        "SELECT path_in_schema, stats_min_value, num_values, stats_null_count "
        f"FROM parquet_metadata([{files}]) WHERE path_in_schema IN ({wanted})"
    ).fetchall()
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


def csv_table(
    con: BaseBackend, files: _Sequence[tuple[str, _Sequence[str], str]], *, strict: bool = True
) -> tuple[ibis.Table, list[tuple[str, str]]]:
    """A lazy view over CSV files, every column ``VARCHAR``, with ``__file`` and ``__row``.

    ``files`` holds ``(path, column names from the header, delimiter)``. The
    header is parsed by the caller and given explicitly, so DuckDB's sniffer
    cannot mistake a messy file for a one-column one, and every value stays a
    string (``'007'`` stays ``'007'``).

    ``__row`` numbers data rows from 1 (the header is not a row) in file
    order. It comes from ``row_number() OVER ()`` directly above each file's
    scan. DuckDB runs an empty ``OVER ()`` as its streaming window operator,
    which is not a parallel operator and declares a fixed order, so the rows
    reach it one after the other in file order (checked on 3 000 000 rows
    with 8 threads). The price is that the CSV parse itself runs on one
    thread.

    Rows DuckDB cannot parse (wrong number of fields, unbalanced quotes,
    invalid UTF-8) are not numbered here but stored in reject tables, one
    ``(errors, scans)`` pair per file, whose names are returned; read them
    with :func:`csv_rejects` after the view has been scanned once, and
    renumber with :func:`renumber_after_rejects`.

    ``strict=False`` is the fallback for files DuckDB's strict parser gives
    up on (a bare carriage return inside an unquoted value, for example):
    such characters then end a row, and extra fields are dropped instead of
    the row being rejected.
    """
    name = new_name("csv")
    parts, rejects = [], []
    for index, (path, columns, delimiter) in enumerate(files):
        reject_table, reject_scan = f"{name}_rej{index}", f"{name}_scan{index}"
        rejects.append((reject_table, reject_scan))
        spec = ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in columns)
        parts.append(
            f"SELECT *, CAST({index} AS INTEGER) AS __file, row_number() OVER () AS __row "
            f"FROM read_csv({_literal(path)}, columns = {{{spec}}}, header = true, "
            f"auto_detect = false, delim = {_literal(delimiter)}, quote = '\"', escape = '\"', "
            f"strict_mode = {'true' if strict else 'false'}, "
            f"store_rejects = true, rejects_table = {_literal(reject_table)}, "
            f"rejects_scan = {_literal(reject_scan)})"
        )
    _raw(con).execute(f"CREATE TEMP VIEW {_ident(name)} AS " + " UNION ALL BY NAME ".join(parts))
    return con.table(name), rejects


def csv_rejects(
    con: BaseBackend, reject_tables: _Sequence[tuple[str, str]]
) -> list[tuple[int, int, str, str | None, str | None]]:
    """Rows DuckDB could not parse, then drop the reject tables.

    Returns one ``(file index, data row, error type, column, raw line)`` tuple
    per rejected row, in file and row order. DuckDB reports the record number
    counting the header as 1 (a quoted value spanning lines is still one
    record), so the data row is one less.
    """
    raw = _raw(con)
    out: list[tuple[int, int, str, str | None, str | None]] = []
    existing = {row[0] for row in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for index, (table, _scan) in enumerate(reject_tables):
        if table not in existing:
            continue
        rows = raw.execute(
            f"SELECT line, error_type, column_name, csv_line FROM {_ident(table)} "
            f"WHERE scan_id = (SELECT max(scan_id) FROM {_ident(table)}) "
            "ORDER BY line, byte_position"
        ).fetchall()
        seen: set[int] = set()
        for line, kind, col, text in rows:
            if line not in seen:  # a line with several extra fields is reported once per field
                seen.add(line)
                out.append((index, int(line) - 1, str(kind), col, text))
    drop(con, [name for pair in reject_tables for name in pair], kind="TABLE")
    return out


def renumber_after_rejects(con: BaseBackend, table: str, rejected: _Sequence[tuple[int, int]]) -> None:
    """Shift ``__row`` of parsed rows so numbers count the rejected rows too.

    ``rejected`` holds ``(file index, data row)`` of rows DuckDB skipped.
    Parsed row number k of a file becomes the k-th integer that is not a
    rejected row number: with rejected rows r_1 < r_2 < ..., let
    g_j = r_j - j (parsed rows before the j-th rejected one); then
    row = k + #{j : g_j < k}.
    """
    if not rejected:
        return
    raw = _raw(con)
    gaps = new_name("gaps")
    raw.execute(f"CREATE TEMP TABLE {_ident(gaps)} (file INTEGER, g BIGINT)")
    by_file: dict[int, list[int]] = {}
    for file, row in rejected:
        by_file.setdefault(file, []).append(row)
    values = [(file, row - j) for file, rows in by_file.items() for j, row in enumerate(sorted(rows), 1)]
    raw.executemany(f"INSERT INTO {_ident(gaps)} VALUES (?, ?)", values)
    raw.execute(
        f"UPDATE {_ident(table)} AS t SET __row = t.__row + (SELECT count(*) FROM {_ident(gaps)} AS g "
        "WHERE g.file = t.__file AND g.g < t.__row) "
        f"WHERE t.__file IN (SELECT DISTINCT file FROM {_ident(gaps)})"
    )
    drop(con, [gaps], kind="TABLE")


def strictly_increasing(con: BaseBackend, table: ibis.Table, column: str, *, limit: int | None = None) -> bool:
    """Whether ``column`` has no NULL and strictly increases in scan order.

    That proves the values are distinct without a hash table: one sequential
    pass (``lag() OVER ()`` runs as DuckDB's streaming window, a non-parallel
    operator with fixed order, so each row is compared with the row really
    before it). With ``limit``, only the first rows are looked at (a cheap
    test of whether the full pass is worth it).
    """
    try:
        source = _ident(table.get_name())
    except Exception:  # an expression, not a named table or view: no cheap proof
        return False
    head = f"(SELECT {_ident(column)} AS k FROM {source} LIMIT {int(limit)})" if limit else (
        f"(SELECT {_ident(column)} AS k FROM {source})"
    )
    bad, n, k, prev = _raw(con).execute(
        "SELECT count(*) FILTER (WHERE prev >= k), count(*), count(k), count(prev) "
        f"FROM (SELECT k, lag(k) OVER () AS prev FROM {head})"
    ).fetchall()[0]
    return bad == 0 and k == n and prev == max(n - 1, 0)


def materialize(con: BaseBackend, expr: ibis.Table, prefix: str) -> tuple[ibis.Table, str]:
    """Run ``expr`` once into a temporary table; returns the table and its name.

    Insertion order is preserved while doing so (CSV row numbers depend on
    it), whatever the connection's ``preserve_insertion_order`` setting.
    """
    raw = _raw(con)
    name = new_name(prefix)
    setting = raw.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    if not setting:
        raw.execute("SET preserve_insertion_order = true")
    try:
        table = con.create_table(name, expr, temp=True)
    finally:
        if not setting:
            raw.execute("SET preserve_insertion_order = false")
    return table, name


def drop(con: BaseBackend, names: _Sequence[str], *, kind: str = "VIEW") -> None:
    """Drop temporary views or tables, ignoring ones that do not exist."""
    for name in names:
        _raw(con).execute(f"DROP {kind} IF EXISTS {_ident(name)}")


@ibis.udf.scalar.builtin(name="try_strptime")
def try_strptime(value: str, format: str) -> _datetime:  # noqa: A002
    """DuckDB ``try_strptime``: the timestamp, or NULL when ``value`` does not match."""


@ibis.udf.scalar.builtin(name="timezone")
def utc_wall_time(zone: str, value) -> _datetime:
    """DuckDB ``timezone(zone, timestamptz)``: the wall-clock time in ``zone``."""


@ibis.udf.scalar.builtin(name="trim")
def trim_spaces(value: str) -> str:
    """DuckDB one-argument ``trim``: strips spaces only, several times faster than
    the characters form Ibis' ``strip()`` compiles to (and ids rarely hold tabs)."""


@ibis.udf.scalar.builtin(name="hash")
def fast_hash(value) -> _dt.uint64:
    """DuckDB ``hash``: a 64-bit hash, used to test uniqueness cheaply."""


def check_strptime_format(con: BaseBackend, fmt: str) -> bool:
    """Whether DuckDB accepts ``fmt`` as a strptime pattern."""
    try:
        _raw(con).execute("SELECT try_strptime('2000-01-01', ?)", [fmt]).fetchall()
    except _duckdb.Error:
        return False
    return True
