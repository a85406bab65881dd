"""Spark (the ``spark`` extra): sessions, and tables moved in from DuckDB.

Measures run unchanged on Spark through Ibis' pyspark backend; what differs
is only how the session is made and how canonical tables read by DuckDB
(readers validate with DuckDB) reach it. See docs/spark.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from carethread.engine.names import new_name
from carethread.errors import MissingDependencyError

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


def is_spark_session(obj) -> bool:
    """Whether ``obj`` is a pyspark ``SparkSession`` (told without importing pyspark)."""
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


def spark_backend(session) -> BaseBackend:
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
    pyspark is missing. Starting the JVM is slow; docs/spark.md, *What to
    expect*, has the measured cost.
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
        return spark_backend(session)
    if url.lower().startswith("spark://"):
        scratch = _spark_scratch()
        builder = SparkSession.builder.master(url).appName("carethread")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        builder = builder.config("spark.sql.session.timeZone", "UTC")
        builder = builder.config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        return spark_backend(builder.getOrCreate())
    active = SparkSession.getActiveSession()
    if active is not None or os.environ.get("PYSPARK_GATEWAY_PORT"):
        # spark-submit started the JVM and set the master: keep its settings.
        return spark_backend(active or SparkSession.builder.appName("carethread").getOrCreate())
    builder = SparkSession.builder
    for key, value in spark_local_config(memory_limit=memory_limit, temp_dir=temp_dir, threads=threads).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return spark_backend(session)


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
            from carethread.engine.export import write_file  # export imports this module's package

            write_file(table, path, file_format="parquet")  # the scratch path as an SQL literal, not a repr
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
