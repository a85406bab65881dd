"""The engine: the embedded default works, and the library versions we pin still fit together."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pyarrow as pa
import pytest

from carethread.engine import connect, duckdb_connection
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
    assert 0.18 * ram_gib <= limit <= 0.22 * ram_gib, row  # a fifth (engine.connection.default_memory_limit)
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


# --- where SQL text may live ----------------------------------------------------------

SRC = Path(__file__).resolve().parents[1] / "src" / "carethread"

#: Uppercase SQL as carethread writes it: a statement or a CASE expression.
SQL_TEXT = re.compile(
    r"\bSELECT\b.*\bFROM\b|\b(CREATE|DROP)\s+(TEMP|TEMPORARY|TABLE|VIEW|OR)\b|\bINSERT\s+INTO\b"
    r"|\bDELETE\s+FROM\b|\bUPDATE\s+\S+\s+SET\b|\bATTACH\s|\bCASE\s+WHEN\b|\bDESCRIBE\s+SELECT\b",
    re.DOTALL,
)


def sql_in(path: Path) -> list[str]:
    """Where a module holds SQL: SQL-looking strings (docstrings aside), ``.sql(`` /
    ``.raw_sql(`` calls, ``.execute`` on a raw ``.con``, or ``.execute`` given text."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL_TEXT.search(node.value):
                found.append(f"{where} SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            if name in ("sql", "raw_sql"):
                found.append(f"{where} .{name}(...)")
            elif name in ("execute", "executemany") and (
                (isinstance(owner, ast.Attribute) and owner.attr == "con")
                or any(isinstance(a, (ast.Constant, ast.JoinedStr)) for a in node.args[:1])
            ):
                found.append(f"{where} .{name}(...) on a raw connection or with text")
    return found


def sql_allowed(path: Path) -> bool:
    relative = path.relative_to(SRC).parts
    return relative[0] == "engine" or (relative[0] == "readers" and relative[-1] == "sql.py")


def test_sql_text_lives_only_in_the_engine_and_a_readers_sql_module():
    """Issue 11: SQL text only under engine/ and a reader's own sql.py."""
    outside = [hit for path in sorted(SRC.rglob("*.py")) if not sql_allowed(path) for hit in sql_in(path)]
    assert outside == [], "SQL outside engine/ and readers/*/sql.py:\n" + "\n".join(outside)


def test_the_sql_detector_sees_the_sql_that_is_allowed():
    # Guards the rule above against a detector that finds nothing anywhere.
    found = {path.relative_to(SRC).as_posix(): sql_in(path) for path in sorted(SRC.rglob("*.py")) if sql_allowed(path)}
    assert found["engine/scan.py"] and found["engine/sql.py"] and found["readers/fhir/sql.py"]
    assert not sql_allowed(SRC / "readers" / "fhir" / "read.py") and sql_allowed(SRC / "engine" / "spark.py")
    assert sql_in(SRC / "readers" / "fhir" / "read.py") == []


def test_duckdb_prints_no_progress_bar_to_stdout():
    """DuckDB's progress bar writes to stdout, which carries the data with --out -: it is off."""
    con = connect()
    raw = duckdb_connection(con)
    assert raw.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
