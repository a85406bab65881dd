"""Where computation happens: one Ibis connection, DuckDB unless told otherwise.

Measures receive Ibis tables and never ask which backend is behind them. This
package is the only place that knows backend specifics, and with a reader's
own ``sql.py`` the only place SQL text may live:

- :mod:`~carethread.engine.connection`: :func:`connect` and its defaults
  (memory limit, spill folder), which backend a connection is;
- :mod:`~carethread.engine.spark`: Spark sessions, and canonical tables moved
  in from DuckDB;
- :mod:`~carethread.engine.scan`: DuckDB file scanning for the readers (CSV,
  Parquet, NDJSON) and the rows it rejects;
- :mod:`~carethread.engine.sql`: SQL helper functions (temporary tables and
  views, portable casts, DuckDB built-ins);
- :mod:`~carethread.engine.names`: names and quoting in SQL text;
- :mod:`~carethread.engine.export`: tables written to CSV and Parquet files;
- :mod:`~carethread.engine.signals`: Ctrl-C and SIGTERM that stop a running query.

Every function is importable from ``carethread.engine`` itself.
"""

from carethread.engine.connection import (
    backend_name,
    connect,
    default_memory_limit,
    default_temp_dir,
    duckdb_connection,
    duckdb_resources,
    is_duckdb,
    require_duckdb,
)
from carethread.engine.export import write_file
from carethread.engine.names import new_name, quote_identifier, quote_literal
from carethread.engine.scan import (
    MAX_LINE_BYTES,
    BackendError,
    attach_read_only,
    csv_rejects,
    csv_rows,
    is_data_error,
    ndjson_lines,
    parquet_columns,
    parquet_minimums,
    parquet_table,
    renumber_after_rejects,
    store_in_file_order,
    store_rows,
)
from carethread.engine.signals import Terminated, stop_on_signals, watch
from carethread.engine.spark import (
    connect_spark,
    import_data,
    import_table,
    imports_tables,
    is_local_spark,
    spark_local_config,
)
from carethread.engine.sql import (
    check_strptime_format,
    create_view,
    drop,
    fast_hash,
    list_tables,
    materialize,
    stage,
    strictly_increasing,
    trim_spaces,
    try_cast,
    try_strptime,
    utc_wall_time,
)

__all__ = [
    "MAX_LINE_BYTES",
    "BackendError",
    "Terminated",
    "attach_read_only",
    "backend_name",
    "check_strptime_format",
    "connect",
    "connect_spark",
    "create_view",
    "csv_rejects",
    "csv_rows",
    "default_memory_limit",
    "default_temp_dir",
    "drop",
    "duckdb_connection",
    "duckdb_resources",
    "fast_hash",
    "import_data",
    "import_table",
    "imports_tables",
    "is_data_error",
    "is_duckdb",
    "is_local_spark",
    "list_tables",
    "materialize",
    "ndjson_lines",
    "new_name",
    "parquet_columns",
    "parquet_minimums",
    "parquet_table",
    "quote_identifier",
    "quote_literal",
    "renumber_after_rejects",
    "require_duckdb",
    "spark_local_config",
    "stage",
    "stop_on_signals",
    "store_in_file_order",
    "store_rows",
    "strictly_increasing",
    "trim_spaces",
    "try_cast",
    "try_strptime",
    "utc_wall_time",
    "watch",
    "write_file",
]
