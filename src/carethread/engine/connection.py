"""Connections and their defaults: which engine, how much memory, where to spill.

:func:`connect` returns the Ibis connection every measure runs on; the other
functions say which backend a connection or table is and what resources an
embedded DuckDB has.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from carethread.engine.signals import watch
from carethread.engine.spark import connect_spark, is_spark_session, spark_backend
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
    if is_spark_session(url):
        return spark_backend(url)
    if url is None or url in ("duckdb", "duckdb://"):
        config = {"temp_directory": str(temp_dir or default_temp_dir())}
        limit = memory_limit or default_memory_limit()
        if limit:
            config["memory_limit"] = limit
        if threads:
            config["threads"] = int(threads)
        target = str(Path(database)) if database else ":memory:"
        try:
            con = ibis.duckdb.connect(target, **config)
            # DuckDB's own progress bar prints to stdout, where `--out -` writes the data (ours is on stderr).
            con.con.execute("SET enable_progress_bar = false")
            return watch(con)  # so Ctrl-C can stop its queries
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


def default_memory_limit(share: float = 0.2) -> str | None:
    """DuckDB's memory limit unless told otherwise: ``share`` of the machine's RAM.

    A fifth, far below DuckDB's own 80 %: DuckDB keeps what it was allowed
    to use, and the Python side of a run needs room beside it (``carethread
    all`` at 10^8 encounters peaked 1.4-1.6 GiB above DuckDB's limit, with
    its fitted models, curves and result frames); analysis servers are
    shared, and a run allowed 60 % of a 23.5 GiB machine grew to 15 GB and
    was killed when another session's memory came on top. With a quarter
    that run peaked at 7.96 GB, too near the 8 GB it must stay within
    (bench/RESULTS.md, *carethread all*). Beyond the limit DuckDB spills to
    :func:`default_temp_dir`, and the measures that follow patients through
    time run in more patient batches (:func:`carethread.batches.plan`).
    Give more with ``--memory-limit`` on a machine of one's own.

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
    raw = duckdb_connection(con)
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


def backend_name(table: ibis.Table | ibis.Value) -> str:
    """Name of the backend a table or expression lives on (``'duckdb'``,
    ``'postgres'``, ...); ``'memtable'`` for in-memory tables not yet bound to one."""
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


def require_duckdb(con: BaseBackend) -> None:
    """Raise :class:`OptionError` unless ``con`` is an embedded DuckDB connection."""
    if getattr(con, "name", None) != "duckdb":
        raise OptionError(
            "Reading CSV or Parquet files needs the embedded DuckDB engine "
            f"(got {getattr(con, 'name', type(con).__name__)!r}); "
            "leave --engine at its default to read files."
        )


def duckdb_connection(con: BaseBackend):
    """The underlying ``duckdb.DuckDBPyConnection`` of an Ibis DuckDB backend."""
    return con.con
