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
        exhausting memory. Unset, the first two come from the machine
        (:func:`default_memory_limit`, :func:`default_temp_dir`) and DuckDB
        uses every core. With local Spark: driver memory (default
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
        config = {"temp_directory": str(temp_dir or default_temp_dir())}
        limit = memory_limit or default_memory_limit()
        if limit:
            config["memory_limit"] = limit
        if threads:
            config["threads"] = int(threads)
        target = str(Path(database)) if database else ":memory:"
        try:
            return ibis.duckdb.connect(target, **config)
        except Exception as exc:  # duckdb's own error classes are imported further down
            if "memory" in str(exc).lower() and memory_limit:
                raise OptionError(
                    f"--memory-limit {memory_limit!r} is not an amount of memory; write it like 8GB or 512MB."
                ) from None
            raise
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


def default_memory_limit(share: float = 0.6) -> str | None:
    """DuckDB's memory limit unless told otherwise: ``share`` of the machine's RAM.

    Lower than DuckDB's own 80 % because the Python process, Arrow results
    and the operating system's file cache need the rest; beyond the limit
    DuckDB spills to :func:`default_temp_dir` instead of failing.

    >>> default_memory_limit().endswith("GiB")
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: leave DuckDB's default
        return None
    return f"{max(share * total / 2**30, 0.5):.1f}GiB"


def default_temp_dir() -> Path:
    """Where DuckDB spills unless told otherwise: a per-user folder in the system temp dir.

    DuckDB's own default for an in-memory database is ``.tmp`` in the
    current folder, which may be read-only or a synced project folder.
    It is one folder per process inside ``carethread-spill-<uid>``, which
    only its owner can enter.

    >>> default_temp_dir().parent.name.startswith("carethread-spill")
    True
    """
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"carethread-spill-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    # Spilled pages hold patient data. DuckDB creates its spill folder readable by
    # everyone and removes it when done, so it gets a per-process folder inside one
    # that only this user can enter.
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / str(os.getpid())


def duckdb_resources(con: BaseBackend) -> tuple[int, Path]:
    """``(memory limit in bytes, spill folder)`` of an embedded DuckDB connection.

    >>> limit, folder = duckdb_resources(connect(memory_limit="1GB"))
    >>> round(limit / 1e9, 2)
    1.0
    """
    raw = _raw(con)
    # DuckDB shows the limit rounded for people ('953.6 MiB'): exact enough to size work by.
    # fetchall, not fetchone: DuckDB 2 keeps a result open until it is read to the
    # end, and the connection refuses the next query meanwhile.
    [(limit, folder)] = raw.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()
    return _parse_bytes(limit), Path(folder)


def _parse_bytes(text: str) -> int:
    number, _, unit = text.strip().partition(" ")
    scale = {
        "": 1,
        "B": 1,
        "BYTES": 1,
        "KB": 1e3,
        "MB": 1e6,
        "GB": 1e9,
        "TB": 1e12,
        "KIB": 2**10,
        "MIB": 2**20,
        "GIB": 2**30,
        "TIB": 2**40,
    }
    return int(float(number) * scale[unit.strip().upper()])


def backend_name(table: ibis.Table) -> str:
    """Name of the backend a table lives on (``'duckdb'``, ``'postgres'``, ...)."""
    try:
        return table._find_backend().name
    except Exception:  # an unbound memtable has no backend yet
        return "memtable"


def is_duckdb(con: BaseBackend) -> bool:
    """Whether ``con`` is embedded DuckDB, where carethread's fast paths apply.

    >>> is_duckdb(connect())
    True
    """
    return getattr(con, "name", None) == "duckdb"


def list_tables(con: BaseBackend, database=None) -> list[str]:
    """Names of the tables and views in ``database`` (a schema, or a
    ``(catalog, schema)`` pair); the connection's current schema when None.

    On DuckDB this asks the catalog directly (Ibis 12's ``list_tables`` calls a
    method DuckDB 2 no longer has); elsewhere it is Ibis' ``list_tables``.

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
    return [row[0] for row in con.con.execute(sql + " ORDER BY table_name", params).fetchall()]


def stage(con: BaseBackend, expr: ibis.Table, prefix: str) -> ibis.Table:
    """Keep an intermediate result where later queries can reuse it cheaply.

    The result is computed once, inside the engine, into a temporary table:
    on DuckDB with :func:`materialize`, elsewhere with Ibis' ``create_table(...,
    temp=True)`` (a session-private table that disappears with the
    connection; no row passes through Python). When the database refuses
    (a read-only transaction or replica, no TEMPORARY privilege), ``expr``
    comes back unchanged: the database then plans it as a subquery wherever
    it is used, which is slower but writes nothing.

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
    name = _expr_backend(value)
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


def _expr_backend(value: ibis.Value) -> str:
    try:
        return value._find_backend().name
    except Exception:  # unbound: memtables only, executed on DuckDB
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

import contextlib as _contextlib  # noqa: E402  (kept with the section it serves)
import uuid as _uuid  # noqa: E402
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
    rows = (
        _raw(con)
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
    con: BaseBackend, reject_tables: _Sequence[tuple[str, str]], *, header: bool = True
) -> list[tuple[int, int, str, str | None, str | None]]:
    """Rows DuckDB could not parse, then drop the reject tables.

    Returns one ``(file index, data row, error type, column, raw line)`` tuple
    per rejected row, in file and row order. DuckDB reports the record number
    counting the header as 1 (a quoted value spanning lines is still one
    record), so the data row is one less; with ``header=False`` (NDJSON) it
    is the line number.
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
                out.append((index, int(line) - (1 if header else 0), str(kind), col, text))
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
    if not is_duckdb(con):  # the proof relies on DuckDB's streaming window
        return False
    try:
        source = _ident(table.get_name())
    except Exception:  # an expression, not a named table or view: no cheap proof
        return False
    head = (
        f"(SELECT {_ident(column)} AS k FROM {source} LIMIT {int(limit)})"
        if limit
        else (f"(SELECT {_ident(column)} AS k FROM {source})")
    )
    bad, n, k, prev = (
        _raw(con)
        .execute(
            "SELECT count(*) FILTER (WHERE prev >= k), count(*), count(k), count(prev) "
            f"FROM (SELECT k, lag(k) OVER () AS prev FROM {head})"
        )
        .fetchall()[0]
    )
    return bad == 0 and k == n and prev == max(n - 1, 0)


def materialize(con: BaseBackend, expr: ibis.Table, prefix: str) -> tuple[ibis.Table, str]:
    """Run ``expr`` once into a temporary table; returns the table and its name.

    Insertion order is preserved while doing so (CSV row numbers depend on
    it), whatever the connection's ``preserve_insertion_order`` setting.
    """
    name = new_name(prefix)
    with _insertion_order_kept(_raw(con)):
        table = con.create_table(name, expr, temp=True)
    return table, name


@_contextlib.contextmanager
def _insertion_order_kept(raw):
    """DuckDB's ``preserve_insertion_order`` on for the block, then as it was."""
    setting = raw.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    if not setting:
        raw.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        if not setting:
            raw.execute("SET preserve_insertion_order = false")


def drop(con: BaseBackend, names: _Sequence[str], *, kind: str = "VIEW") -> None:
    """Drop temporary views or tables, ignoring ones that do not exist."""
    for name in names:
        _raw(con).execute(f"DROP {kind} IF EXISTS {_ident(name)}")


def attach_read_only(con: BaseBackend, path: str) -> str:
    """Attach a DuckDB database file to ``con`` read-only; returns its catalog name.

    Its tables are then ``con.table(name, database=(catalog, schema))``, on
    the same connection as everything else, and the file is never written.
    Raises :data:`BackendError` when the file is not a DuckDB database.
    """
    catalog = new_name("db")
    _raw(con).execute(f"ATTACH {_literal(path)} AS {_ident(catalog)} (READ_ONLY)")
    return catalog


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


# ---------------------------------------------------------------------------
# NDJSON and FHIR resources (readers/fhir.py).
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
    _raw(con).execute(
        f"CREATE TEMP VIEW {_ident(name)} AS "
        f"SELECT line, CAST({int(index)} AS INTEGER) AS __file, CAST(0 AS BIGINT) AS __row "
        f"FROM read_csv({_literal(path)}, columns = {{'line': 'VARCHAR'}}, header = false, "
        f"auto_detect = false, delim = {_literal(_NO_DELIMITER)}, quote = '', escape = '', "
        f"strict_mode = false, max_line_size = {MAX_LINE_BYTES}, buffer_size = {_NDJSON_BUFFER}, "
        f"store_rejects = true, rejects_table = {_literal(reject_table)}, "
        f"rejects_scan = {_literal(reject_scan)})"
    )
    return con.table(name), (reject_table, reject_scan)


def store_in_file_order(
    con: BaseBackend, parts: _Sequence[ibis.Table], prefix: str, *, drop: tuple[str, str] | None = None
) -> tuple[ibis.Table, str]:
    """Store one expression per file (in file order) in a temporary table and
    number its rows: ``__row`` = position within the file, from 1.

    Each part must be one :func:`ndjson_lines` view under projections only,
    and all parts must have the same columns. A join would void the order:
    DuckDB may build its hash table on the lines and stream the other side.
    Rows whose ``drop[0]`` column equals ``drop[1]`` (blank lines) are
    deleted after numbering.
    """
    raw = _raw(con)
    name = new_name(prefix)
    with _insertion_order_kept(raw):
        before = 0
        for i, part in enumerate(parts):
            if i == 0:
                con.create_table(name, part, temp=True)
            else:
                con.insert(name, part)
            after = raw.execute(f"SELECT count(*) FROM {_ident(name)}").fetchall()[0][0]
            raw.execute(f"UPDATE {_ident(name)} SET __row = rowid - {before} + 1 WHERE rowid >= {before}")
            before = after
    if drop is not None:
        raw.execute(f"DELETE FROM {_ident(name)} WHERE {_ident(drop[0])} = {_literal(drop[1])}")
    return con.table(name), name


def _fhir_key(ref: str, rtype: str, system: str, value: str, default_type: str) -> str:
    """SQL: the lookup key of a FHIR Reference given its four parts.

    Keys are ``Type/id`` for literal references and ``Type?identifier=token``
    for conditional ones (``token`` = ``system|value``, ``value`` or
    ``|value``), so the common relative reference is its own key. Absolute
    URLs, ``/_history/`` versions, percent-encoded bars and extra search
    parameters take the slow path; a logical reference (identifier only) is
    keyed as the conditional reference it stands for. A reference that is not
    of either shape gets a NULL key.
    """
    tail = r"([A-Za-z]+)(/[^/?]+|\?.*)$"
    plain = f"regexp_replace({ref}, '/_history/[^?]*', '')"
    slow = (
        f"CASE WHEN regexp_extract({plain}, '{tail}', 2) LIKE '?%' "
        f"THEN regexp_extract({plain}, '{tail}', 1) || '?identifier=' || "
        f"replace(replace(regexp_extract(regexp_extract({plain}, '{tail}', 2), '[?&]identifier=([^&]*)', 1), "
        "'%7C', '|'), '%7c', '|') "
        f"ELSE nullif(regexp_extract({plain}, '{tail}', 0), '') END"
    )
    fast = (
        f"substr({ref}, 1, 1) BETWEEN 'A' AND 'Z' AND NOT contains({ref}, '/_history/') "
        f"AND NOT contains({ref}, '%') AND NOT contains({ref}, '&')"
    )
    logical_type = f"coalesce(nullif(regexp_extract({rtype}, '([A-Za-z]+)$', 1), ''), {_literal(default_type)})"
    logical = (
        f"{logical_type} || '?identifier=' || "
        f"CASE WHEN {system} IS NULL THEN {value} ELSE {system} || '|' || {value} END"
    )
    return (
        f"CASE WHEN {ref} IS NOT NULL THEN (CASE WHEN {fast} THEN {ref} ELSE {slow} END) "
        f"WHEN {value} IS NOT NULL THEN {logical} END"
    )


def _codes(fragment: str, path: str) -> str:
    """SQL: the codes found at ``path`` in a JSON fragment, as ``'|c1|c2|'`` (NULL: none)."""
    return (
        f"CASE WHEN {fragment} IS NOT NULL THEN nullif('|' || array_to_string("
        f"try(json_extract_string({fragment}, {_literal(path)})), '|') || '|', '||') END"
    )


def _first_text(fragment: str, element: str) -> str:
    """SQL: the text of a CodeableConcept (or of the first of a list), else its first display."""
    return (
        f"CASE WHEN {fragment} IS NOT NULL THEN coalesce("
        f"try(json_extract_string({fragment}, '{element}.text')), "
        f"try(json_extract_string({fragment}, '{element}.coding[0].display')), "
        f"try(json_extract_string({fragment}, '{element}.coding[0].code'))) END"
    )


def _utc(text: str) -> str:
    """SQL: a FHIR dateTime as a TIMESTAMP in UTC wall time; NULL when unparseable.

    An explicit offset (``-05:00``) converts to UTC; ``Z`` is UTC already; a
    date alone is midnight. ``YYYY`` and ``YYYY-MM`` do not parse.
    """
    offset = f"length({text}) > 10 AND substr({text}, length({text}) - 5, 1) IN ('+', '-')"
    return (
        f"CASE WHEN {offset} THEN timezone('UTC', try_cast({text} AS TIMESTAMPTZ)) "
        f"ELSE try_cast({text} AS TIMESTAMP) END"
    )


def _reference_paths(name: str, path: str) -> dict[str, str]:
    return {
        f"{name}_ref": f"{path}.reference",
        f"{name}_type": f"{path}.type",
        f"{name}_system": f"{path}.identifier.system",
        f"{name}_value": f"{path}.identifier.value",
    }


#: JSON paths extracted from each resource type in the one parse of a line.
_FHIR_PATHS: dict[str, dict[str, str]] = {
    "Encounter": {
        # Only what almost every line needs: every path costs on every line.
        # Identifier-only references and encounters with several participants
        # are read by a second parse of their line (see fhir_resources).
        "resource_type": "$.resourceType",
        "id": "$.id",
        "status": "$.status",
        "class_code": "$.class.code",
        "start_text": "$.period.start",
        "type_json": "$.type",
        "service_json": "$.serviceType",
        "subject_ref": "$.subject.reference",
        "subject_value": "$.subject.identifier.value",
        "provider_ref": "$.serviceProvider.reference",
        "provider_value": "$.serviceProvider.identifier.value",
        "p0_ref": "$.participant[0].individual.reference",
        "p0_value": "$.participant[0].individual.identifier.value",
        "p1": "$.participant[1]",
    },
    "Patient": {
        "resource_type": "$.resourceType",
        "id": "$.id",
        "identifier_json": "$.identifier",
        "gender": "$.gender",
        "birth_text": "$.birthDate",
        "death_text": "$.deceasedDateTime",
    },
    "Practitioner": {"resource_type": "$.resourceType", "id": "$.id", "identifier_json": "$.identifier"},
    "Organization": {"resource_type": "$.resourceType", "id": "$.id", "identifier_json": "$.identifier"},
    "PractitionerRole": {
        "resource_type": "$.resourceType",
        "id": "$.id",
        "identifier_json": "$.identifier",
        **_reference_paths("practitioner", "$.practitioner"),
        **_reference_paths("organization", "$.organization"),
        "code_json": "$.code",
        "specialty_json": "$.specialty",
        "period_start": "$.period.start",
        "period_end": "$.period.end",
    },
}

_REF_STRUCT = '{"reference": "VARCHAR", "type": "VARCHAR", "identifier": {"system": "VARCHAR", "value": "VARCHAR"}}'
_IDENTIFIERS = '[{"system": "VARCHAR", "value": "VARCHAR"}]'
_PARTICIPANTS = '[{"type": [{"coding": [{"code": "VARCHAR"}]}], "individual": ' + _REF_STRUCT + "}]"


def _is_clinician(ref: str, rtype: str, value: str) -> str:
    """SQL: whether a participant's individual is a Practitioner or PractitionerRole."""
    return (
        f"CASE WHEN {ref} IS NOT NULL THEN starts_with({ref}, 'Practitioner') OR contains({ref}, '/Practitioner') "
        f"ELSE {value} IS NOT NULL AND coalesce({rtype}, 'Practitioner') LIKE '%Practitioner%' END"
    )


def _performer(parts: str) -> str:
    """SQL: the primary performer among participants (a list of structs): the
    first clinician participant typed PPRF, else ATND, else the first clinician."""
    is_clinician = _is_clinician("x.individual.reference", "x.individual.type", "x.individual.identifier.value")
    clinicians = f"list_filter({parts}, lambda x: {is_clinician})"

    def typed(code: str) -> str:
        return (
            f"list_filter(__clin, lambda y: list_contains(flatten(list_transform(y.type, "
            f"lambda t: list_transform(t.coding, lambda c: c.code))), {_literal(code)}))[1]"
        )

    # A lambda over a one-element list binds the clinicians once.
    return (
        f"list_transform([{clinicians}], lambda __clin: "
        f"coalesce({typed('PPRF')}, {typed('ATND')}, __clin[1]).individual)[1]"
    )


#: Participants read by the second parse; more take a third (``json_transform``).
_FAST_PARTICIPANTS = 3
_PARTICIPANT_PATHS = [
    f"$.participant[{i}].{field}"
    for i in range(_FAST_PARTICIPANTS)
    for field in (
        "individual.reference",
        "individual.type",
        "individual.identifier.system",
        "individual.identifier.value",
        "type",
    )
] + [f"$.participant[{_FAST_PARTICIPANTS}]"]


def _first_participants(pp: str) -> str:
    """SQL: the primary performer among the first participants, from ``pp`` (the
    list :data:`_PARTICIPANT_PATHS` extracted), as a struct ``ref, type, system,
    value``, by the rule of :func:`_performer`.

    The participant's ``type`` comes as JSON text, which DuckDB writes
    compactly, so ``"code":"PPRF"`` appears in it exactly when one of its
    codings has that code (a string value cannot hold an unescaped quote).
    """
    n = _FAST_PARTICIPANTS

    def at(i: int, k: int) -> str:
        return f"{pp}[{5 * i + k + 1}]"

    clinician = [_is_clinician(at(i, 0), at(i, 1), at(i, 3)) for i in range(n)]

    def typed(i: int, code: str) -> str:
        return f'(({clinician[i]}) AND coalesce(contains({at(i, 4)}, \'"code":"{code}"\'), false))'

    order = (
        [typed(i, "PPRF") for i in range(n)]
        + [typed(i, "ATND") for i in range(n)]
        + [f"coalesce({c}, false)" for c in clinician]
    )
    pick = "CASE " + " ".join(f"WHEN {cond} THEN {i % n}" for i, cond in enumerate(order)) + " END"

    def field(k: int) -> str:
        return "CASE __i " + " ".join(f"WHEN {i} THEN {at(i, k)}" for i in range(n)) + " END"

    return (
        f"list_transform([{pick}], lambda __i: struct_pack(ref := {field(0)}, type := {field(1)}, "
        f"system := {field(2)}, value := {field(3)}))[1]"
    )


def fhir_resources(con: BaseBackend, lines: ibis.Table, resource: str) -> ibis.Table:
    """Flat fields of the FHIR resources in an :func:`ndjson_lines` view.

    One row per line, with ``__file``, ``__row``, ``__state`` (``'ok'``;
    ``'blank'`` for a line of white space, which holds no resource;
    ``'malformed'`` when the line is not a complete JSON object), ``__text``
    (the first 1 000 characters of a malformed line), ``resource_type``,
    ``id`` and the fields the reader needs for ``resource`` (``Encounter``,
    ``Patient``, ``Practitioner``, ``PractitionerRole`` or ``Organization``):

    - references as lookup keys (``subject_key``, ``performer_key``,
      ``provider_key``, ``practitioner_key``, ``organization_key``; see
      :func:`_fhir_key`);
    - coded fields as ``'|code1|code2|'`` strings (``type_codes``,
      ``service_codes``, ``role_codes``, ``specialty_codes``) with their text
      (``service_text``, ``role_text``, ``specialty_text``);
    - dates as text (``birth_text``, ...), and ``start`` as a TIMESTAMP in
      UTC wall time (``start_text`` keeps the text only when it does not parse);
    - ``identifiers`` (a list of ``{system, value}``) for the resources that
      references point at.

    The Encounter's performer is chosen here: among the participants whose
    individual is a Practitioner or PractitionerRole, the first typed
    ``PPRF``, else the first typed ``ATND``, else the first.
    """
    paths = _FHIR_PATHS[resource]
    at = {n: f"v[{i + 1}]" for i, n in enumerate(paths)}
    listed = ", ".join(_literal(p) for p in paths.values())
    source = _ident(lines.get_name())
    # Cheap tests first: trimming copies the line, so only lines that do not
    # start with '{' pay for it (CASE and OR evaluate lazily per row).
    space = "e' \\t\\r'"
    parsed = (
        "SELECT __file, __row, line, CASE WHEN starts_with(line, '{') THEN false WHEN line IS NULL THEN true "
        f"ELSE trim(line, {space}) = '' END AS __blank, "
        "try(json_extract_string(line, [" + listed + f"])) AS v FROM {source}"
    )
    state = (
        "CASE WHEN __blank THEN 'blank' WHEN v IS NULL THEN 'malformed' WHEN starts_with(line, '{') THEN 'ok' "
        f"WHEN starts_with(ltrim(line, {space}), '{{') THEN 'ok' ELSE 'malformed' END"
    )
    checked = f"SELECT * EXCLUDE (__blank), {state} AS __state FROM ({parsed})"
    cols = [
        "__file",
        "__row",
        "__state",
        "CASE WHEN __state = 'malformed' THEN left(line, 1000) END AS __text",
        f"{at['resource_type']} AS resource_type",
        f"{at['id']} AS id",
    ]
    if "identifier_json" in paths:
        cols.append(
            f"CASE WHEN {at['identifier_json']} IS NOT NULL THEN "
            f"try(json_transform({at['identifier_json']}, {_literal(_IDENTIFIERS)})) END AS identifiers"
        )
    if resource == "Encounter":

        def second(ref: str, value: str, path: str) -> str:
            # An identifier-only reference: its type and system need a second parse.
            return (
                f"CASE WHEN {ref} IS NULL AND {value} IS NOT NULL THEN json_extract_string(line, "
                f"['{path}.type', '{path}.identifier.system']) END"
            )

        many = f"{at['p1']} IS NOT NULL OR ({at['p0_ref']} IS NULL AND {at['p0_value']} IS NOT NULL)"
        listed_pp = ", ".join(_literal(p) for p in _PARTICIPANT_PATHS)
        cols += [
            f"{at['status']} AS status",
            f"{at['class_code']} AS class_code",
            f"{at['start_text']} AS start_text",
            f"{_utc(at['start_text'])} AS start",
            f"{_codes(at['type_json'], '$[*].coding[*].code')} AS type_codes",
            f"{_codes(at['service_json'], '$.coding[*].code')} AS service_codes",
            f"{_first_text(at['service_json'], '$')} AS service_text",
            f"{at['subject_ref']} AS __s_ref",
            f"{at['subject_value']} AS __s_value",
            f"{second(at['subject_ref'], at['subject_value'], '$.subject')} AS __s2",
            f"{at['provider_ref']} AS __o_ref",
            f"{at['provider_value']} AS __o_value",
            f"{second(at['provider_ref'], at['provider_value'], '$.serviceProvider')} AS __o2",
            f"CASE WHEN {many} THEN json_extract_string(line, [{listed_pp}]) END AS __pp",
            f"CASE WHEN {_is_clinician(at['p0_ref'], 'NULL', 'NULL')} THEN {at['p0_ref']} END AS __p0",
            "line",
        ]
        layer1 = f"SELECT {', '.join(cols)} FROM ({checked})"
        layer2 = (
            "SELECT * EXCLUDE (line), CASE WHEN __pp IS NULL THEN NULL "
            f"WHEN __pp[{len(_PARTICIPANT_PATHS)}] IS NOT NULL THEN "
            f"try(json_transform(json_extract(line, '$.participant'), {_literal(_PARTICIPANTS)})) END AS __parts "
            f"FROM ({layer1})"
        )
        chosen = (
            "CASE WHEN __parts IS NOT NULL THEN struct_pack(ref := __c.reference, type := __c.type, "
            "system := __c.identifier.system, value := __c.identifier.value) "
            f"WHEN __pp IS NOT NULL THEN {_first_participants('__pp')} "
            "ELSE struct_pack(ref := __p0, type := NULL::VARCHAR, system := NULL::VARCHAR, value := NULL::VARCHAR) END"
        )
        layer3 = f"SELECT *, CASE WHEN __parts IS NOT NULL THEN {_performer('__parts')} END AS __c FROM ({layer2})"
        layer4 = f"SELECT *, {chosen} AS __pick FROM ({layer3})"
        subject = _fhir_key("__s_ref", "__s2[1]", "__s2[2]", "__s_value", "Patient")
        provider = _fhir_key("__o_ref", "__o2[1]", "__o2[2]", "__o_value", "Organization")
        performer = _fhir_key("__pick.ref", "__pick.type", "__pick.system", "__pick.value", "Practitioner")
        sql = (
            "SELECT * EXCLUDE (__s_ref, __s_value, __s2, __o_ref, __o_value, __o2, __pp, __p0, __parts, __c, "
            f"__pick, start_text), {subject} AS subject_key, {provider} AS provider_key, "
            f"{performer} AS performer_key, CASE WHEN start IS NULL THEN start_text END AS start_text "
            f"FROM ({layer4})"
        )
    else:
        if resource == "Patient":
            cols += [
                f"{at['gender']} AS gender",
                f"{at['birth_text']} AS birth_text",
                f"{at['death_text']} AS death_text",
            ]
        if resource == "PractitionerRole":
            cols += [
                f"{_fhir_key(at['practitioner_ref'], at['practitioner_type'], at['practitioner_system'], at['practitioner_value'], 'Practitioner')} AS practitioner_key",
                f"{_fhir_key(at['organization_ref'], at['organization_type'], at['organization_system'], at['organization_value'], 'Organization')} AS organization_key",
                f"{_codes(at['code_json'], '$[*].coding[*].code')} AS role_codes",
                f"{_first_text(at['code_json'], '$[0]')} AS role_text",
                f"{_codes(at['specialty_json'], '$[*].coding[*].code')} AS specialty_codes",
                f"{_first_text(at['specialty_json'], '$[0]')} AS specialty_text",
                f"{at['period_start']} AS period_start",
                f"{at['period_end']} AS period_end",
            ]
        sql = f"SELECT {', '.join(cols)} FROM ({checked})"
    name = new_name(f"fhir_{resource.lower()}")
    _raw(con).execute(f"CREATE TEMP VIEW {_ident(name)} AS {sql}")
    return con.table(name)
