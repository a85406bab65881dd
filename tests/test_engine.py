"""The engine: the embedded default works, and the library versions we pin still fit together."""

from __future__ import annotations

import pyarrow as pa
import pytest

from carethread.engine import connect
from carethread.errors import MissingDependencyError, OptionError


def test_default_is_embedded_duckdb_and_create_table_works():
    # ibis 12 with sqlglot >= 30.20 fails here with a DuckDB ParserException
    # ("DROP VIEW IF EXISTS"); pyproject.toml pins sqlglot below that.
    con = connect()
    assert con.name == "duckdb"
    t = con.create_table("probe", pa.table({"patient_id": ["007"]}))
    assert t.patient_id.to_list() == ["007"]
    t = con.create_table("probe", pa.table({"patient_id": ["008"]}), overwrite=True)
    assert t.count().execute() == 1


def test_database_file_persists(tmp_path):
    path = tmp_path / "cohort.duckdb"
    con = connect(database=path)
    con.create_table("x", pa.table({"a": [1]}))
    con.disconnect()
    assert connect(database=path).table("x").count().execute() == 1


def test_memory_limit_and_temp_dir_are_applied(tmp_path):
    con = connect(memory_limit="1GB", temp_dir=tmp_path, threads=1)
    row = con.raw_sql("SELECT current_setting('threads'), current_setting('temp_directory')").fetchone()
    assert int(row[0]) == 1 and row[1] == str(tmp_path)


def test_defaults_come_from_the_machine():
    import os

    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    row = connect().raw_sql("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    limit = float(row[0].split()[0])
    assert 0.55 * ram_gib <= limit <= 0.65 * ram_gib, row
    spill = os.path.dirname(row[1])
    assert os.path.basename(spill).startswith("carethread-spill") and os.path.basename(row[1]) == str(os.getpid())
    assert os.stat(spill).st_mode & 0o777 == 0o700  # spilled pages hold patient data


def test_bad_memory_limit_is_a_usage_error():
    with pytest.raises(OptionError, match="--memory-limit 'lots' is not an amount of memory"):
        connect(memory_limit="lots")


def test_database_with_url_is_a_usage_error():
    with pytest.raises(OptionError):
        connect("postgres://localhost/x", database="a.duckdb")


def test_missing_driver_names_the_install_command(monkeypatch):
    import ibis

    def refuse(url, **kw):
        raise ImportError("no driver")

    monkeypatch.setattr(ibis, "connect", refuse)
    with pytest.raises(MissingDependencyError, match=r"pip install 'carethread\[postgres\]'"):
        connect("postgres://localhost/x")
