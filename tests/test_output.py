"""Writing results: whole or not at all, at exactly the path given, with metadata; signals stop a write."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest

import carethread.engine.export as export
from carethread import engine
from carethread.engine.signals import Terminated, stop_on_signals
from carethread.errors import OptionError, OutputError
from carethread.output import (
    TEMP_PREFIX,
    check_out_path,
    metadata_sidecar,
    replacing,
    write_table,
    write_text,
)

TABLE = {"patient_id": ["007", "008"], "upc": [0.5, None]}

#: Names the engine used to get wrong (a Python repr in DuckDB's COPY): a backslash was doubled and a
#: zero-width space became the six characters \u200b. Quotes of both kinds, spaces and accents too.
AWKWARD_NAMES = ["a\\b", "zero\u200bwidth", "it's", 'say "hi"', "café olé", "semi;colon"]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("stem", AWKWARD_NAMES)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_file_written_is_exactly_the_path_given(tmp_path, stem, suffix):
    out = tmp_path / f"{stem}{suffix}"
    assert write_table(ibis.memtable(TABLE), out) == out
    assert listing(tmp_path) == [out.name]  # nothing else: no other name, no temporary file
    if suffix == ".csv":
        assert out.read_text().splitlines() == ["patient_id,upc", "007,0.5", "008,"]
    else:
        assert pq.read_table(out).to_pydict() == TABLE


def test_a_folder_with_awkward_characters_holds_the_file(tmp_path):
    folder = tmp_path / "it's a\\dir \u200b"
    out = write_table(ibis.memtable(TABLE), folder / "sub" / "p.parquet")
    assert out.exists() and listing(folder / "sub") == ["p.parquet"]


def test_parquet_metadata_is_key_value_metadata(tmp_path):
    out = write_table(ibis.memtable(TABLE), tmp_path / "p.parquet", metadata={"window": "2023-01-01 to 2024-01-01"})
    assert pq.read_schema(out).metadata == {b"window": b"2023-01-01 to 2024-01-01"}
    assert listing(tmp_path) == ["p.parquet"]  # Parquet keeps it inside: no sidecar


def test_csv_metadata_is_a_json_sidecar_removed_when_a_rewrite_has_none(tmp_path):
    out = tmp_path / "p.csv"
    write_table(ibis.memtable(TABLE), out, metadata={"settings": "primary_care,virtual", "it's": 'a "quote"'})
    assert metadata_sidecar(out).name == "p.csv-metadata.json"
    assert json.loads(metadata_sidecar(out).read_text()) == {"settings": "primary_care,virtual", "it's": 'a "quote"'}
    write_table(ibis.memtable(TABLE), out)  # a stale sidecar would describe another run
    assert listing(tmp_path) == ["p.csv"]


class ArrowOnly:
    """A result of an engine other than DuckDB, as the writer sees it: Arrow batches."""

    def to_pyarrow_batches(self):
        import pyarrow as pa

        arrow = pa.table(TABLE)
        return pa.RecordBatchReader.from_batches(arrow.schema, arrow.to_batches(max_chunksize=1))


def test_other_engines_write_through_arrow_batches_with_the_same_metadata(tmp_path):
    """The pyarrow path that PostgreSQL and Spark results take."""
    export._write_batches(ArrowOnly(), tmp_path / "p.parquet", file_format="parquet", metadata={"k": "v"})
    assert pq.read_schema(tmp_path / "p.parquet").metadata == {b"k": b"v"}
    assert pq.read_table(tmp_path / "p.parquet").to_pydict() == TABLE
    export._write_batches(ArrowOnly(), tmp_path / "p.csv", file_format="csv", metadata=None)
    assert (tmp_path / "p.csv").read_text().splitlines() == ['"patient_id","upc"', '"007",0.5', '"008",']


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    out = tmp_path / "p.csv"
    out.write_text("old\n")

    def half_then_full(table, path, **kwargs):
        Path(path).write_text("patient_id,upc\n007,")  # a part, as a full disk leaves it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export, "write_file", half_then_full)
    with pytest.raises(OutputError) as caught:
        write_table(ibis.memtable(TABLE), out)
    assert str(caught.value) == (
        f"Could not write {out}: No space left on device; nothing was written there. free some space or write elsewhere."
    )
    assert listing(tmp_path) == ["p.csv"] and out.read_text() == "old\n"


def test_an_engine_error_with_the_system_s_words_becomes_the_same_sentence(tmp_path, monkeypatch):
    import duckdb

    def duckdb_full(table, path, **kwargs):
        Path(path).write_text("x")
        raise duckdb.IOException(f'Could not write file "{path}": No space left on device')

    monkeypatch.setattr(export, "write_file", duckdb_full)
    with pytest.raises(OutputError, match="No space left on device; nothing was written there"):
        write_table(ibis.memtable(TABLE), tmp_path / "p.parquet")
    assert listing(tmp_path) == []


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, options: str):
    """A tmpfs at ``folder`` (root only); skips the test where none can be mounted."""
    folder.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_a_sentence_and_leaves_nothing(tmp_path):
    """A real ENOSPC: a 64 KiB tmpfs and a table of a few megabytes."""
    with mounted_tmpfs(tmp_path / "small", "size=64k") as small:
        big = ibis.memtable({"patient_id": [f"P{i:09d}" for i in range(200_000)]})
        for suffix in (".csv", ".parquet"):
            with pytest.raises(OutputError, match="No space left on device; nothing was written there"):
                write_table(big, small / f"p{suffix}")
            assert listing(small) == []


@contextlib.contextmanager
def read_only_folder(folder: Path):
    """A folder this process cannot write to: chmod 555, or for root (who ignores it) a read-only tmpfs."""
    folder.mkdir()
    if os.geteuid() == 0:
        with mounted_tmpfs(folder, "ro,size=64k"):
            yield folder
        return
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def test_out_paths_are_checked_before_anything_is_written(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "looks.csv").mkdir()
    cases = {
        tmp_path / "looks.csv": f"--out {tmp_path / 'looks.csv'}: is a folder; give a file name, e.g. "
        f"{tmp_path / 'looks.csv' / 'result.csv'}.",
        tmp_path: f"--out {tmp_path}: is a folder; give a file name inside it ending in .csv.",
        tmp_path / "a_file" / "deeper" / "p.csv": f"--out {tmp_path / 'a_file' / 'deeper' / 'p.csv'}: "
        f"{tmp_path / 'a_file'} is a file, not a folder, so nothing can be written under it; choose another path.",
    }
    for path, message in cases.items():
        with pytest.raises(OptionError) as caught:
            check_out_path(path)
        assert str(caught.value) == message
    assert check_out_path(tmp_path / "new" / "folders" / "p.csv").name == "p.csv"  # folders are made when written
    assert listing(tmp_path) == ["a_file", "looks.csv"]  # the probe left nothing
    assert check_out_path("-", stdout=True) == Path("-")
    with pytest.raises(OptionError, match=r"--quarantine -: write to a \.csv or \.parquet file"):
        check_out_path("-", option="--quarantine")


def test_a_read_only_folder_is_refused_with_the_option_named(tmp_path):
    with read_only_folder(tmp_path / "ro") as folder:
        with pytest.raises(OptionError) as caught:
            check_out_path(folder / "q.csv", option="--quarantine")
        assert str(caught.value).startswith(f"--quarantine {folder / 'q.csv'}: cannot write into the folder {folder} (")
        assert str(caught.value).endswith("choose a folder you can write to, or change its permissions.")


def test_text_files_are_replaced_whole(tmp_path):
    out = write_text(tmp_path / "r.html", "<p>new</p>")
    assert out.read_text() == "<p>new</p>"
    with pytest.raises(RuntimeError), replacing(out) as tmp:
        tmp.write_text("<p>half")
        raise RuntimeError("stopped")
    assert listing(tmp_path) == ["r.html"] and out.read_text() == "<p>new</p>"


# --- signals -------------------------------------------------------------------------------------


def test_sigterm_in_a_guarded_block_unwinds_as_terminated_and_restores_the_handler():
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(Terminated) as caught, stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            cleaned.append(True)
    assert caught.value.code == 143 and cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_stops_a_running_duckdb_query():
    """DuckDB swallows the KeyboardInterrupt of Python's own handler; the guard interrupts the query."""
    con = engine.connect(threads=1)
    slow = "SELECT sum(hash(i)) FROM range(20000000000) t(i)"  # minutes, unless interrupted
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    rescue = threading.Timer(60, con.con.interrupt)  # should the guard fail, do not hang the suite
    timer.start(), rescue.start()
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt), stop_on_signals():
            con.raw_sql(slow).fetchall()
    finally:
        timer.cancel(), rescue.cancel()
    assert time.monotonic() - began < 30


def test_a_signal_during_a_write_leaves_nothing(tmp_path, monkeypatch):
    def write_then_wait(table, path, **kwargs):
        Path(path).write_text("patient_id\n007\n")
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)

    monkeypatch.setattr(export, "write_file", write_then_wait)
    with pytest.raises(KeyboardInterrupt):
        write_table(ibis.memtable(TABLE), tmp_path / "p.csv")
    assert listing(tmp_path) == []
    assert not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())


# --- the command line: reproducers of issue 17 (writes) and 13 (stdout) ----------------------------

FIXTURE = Path(__file__).parent / "fixtures" / "cli" / "encounters.csv"


def run(*args, env=None):
    from typer.testing import CliRunner

    from carethread.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": None, **(env or {})})


@pytest.mark.parametrize("name", ["a\\b.csv", "zero\u200bwidth.parquet"])
def test_cli_out_is_written_at_exactly_the_name_given(tmp_path, name):
    res = run("patients", FIXTURE, "--out", tmp_path / name)
    assert res.exit_code == 0, res.stderr
    # A CSV's window and settings go into the CSVW-named sidecar beside it (issue 13).
    assert listing(tmp_path) == [name, f"{name}-metadata.json"] if name.endswith(".csv") else [name]
    assert f"Wrote {tmp_path / name}" in res.stderr


@pytest.mark.parametrize(
    ("option", "where", "message"),
    [
        ("--out", "folder", "--out {tmp}/folder: is a folder; give a file name inside it ending in .csv."),
        (
            "--out",
            "folder.csv",
            "--out {tmp}/folder.csv: is a folder; give a file name, e.g. {tmp}/folder.csv/result.csv.",
        ),
        (
            "--out",
            "file/p.csv",
            "--out {tmp}/file/p.csv: {tmp}/file is a file, not a folder, so nothing can be written under it; "
            "choose another path.",
        ),
        (
            "--quarantine",
            "q.json",
            "--quarantine q.json: write to a .csv or .parquet file (the extension decides the format).",
        ),
        (
            "--quarantine",
            "folder",
            "--quarantine {tmp}/folder: is a folder; give a file name inside it ending in .csv.",
        ),
    ],
)
def test_cli_bad_output_paths_are_usage_errors_before_reading(tmp_path, option, where, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "file").write_text("x")
    res = run("patients", FIXTURE, option, tmp_path / where)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"Error: {message.format(tmp=tmp_path)}"]  # nothing read, no traceback
    assert listing(tmp_path) == ["file", "folder", "folder.csv"]


def test_cli_out_in_a_read_only_folder_is_refused_before_reading(tmp_path):
    with read_only_folder(tmp_path / "ro") as folder:
        res = run("patients", FIXTURE, "--out", folder / "p.csv")
        assert res.exit_code == 2
        [line] = res.stderr.splitlines()
        assert line.startswith(f"Error: --out {folder / 'p.csv'}: cannot write into the folder {folder} (")


def test_cli_full_disk_is_one_sentence_exit_1_and_the_old_file_stays(tmp_path, monkeypatch):
    out = tmp_path / "p.csv"
    out.write_text("old\n")

    def full(table, path, **kwargs):
        Path(path).write_text("patient_id\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export, "write_file", full)
    res = run("patients", FIXTURE, "--out", out)
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1] == (
        f"Error: Could not write {out}: No space left on device; nothing was written there. "
        "free some space or write elsewhere."
    )
    assert listing(tmp_path) == ["p.csv"] and out.read_text() == "old\n"


def test_cli_out_dash_writes_the_same_csv_to_stdout(tmp_path):
    assert run("dyads", FIXTURE, "--out", tmp_path / "d.csv").exit_code == 0
    res = run("dyads", FIXTURE, "--out", "-")
    assert res.exit_code == 0, res.stderr
    written = (tmp_path / "d.csv").read_text().splitlines()
    printed = res.stdout.splitlines()
    assert printed[0] == written[0] and sorted(printed[1:]) == sorted(written[1:])  # row order is the engine's
    assert "Wrote" not in res.stderr


def test_cli_summary_to_stdout_keeps_its_headline_on_stderr(tmp_path):
    res = run("summary", FIXTURE, "--bootstrap", 0, "--out", "-")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines()[0] == "name,value,ci_low,ci_high,description,note"
    assert "No intervals: --bootstrap 0 skips the bootstrap (ci_low and ci_high are empty)." in res.stderr


#: Runs the CLI with a write that lasts: the engine's COPY of a query that takes minutes ("engine"),
#: or a Python write that sleeps after writing part of the file ("python").
LONG_WRITE = """
import sys, time
from pathlib import Path
import carethread.engine.export as export
from carethread.cli import app

real = export.write_file

def long_write(table, path, **kwargs):
    if sys.argv[1] == "engine":
        backend = table._find_backend(use_default=True)
        real(backend.sql("SELECT sum(hash(i)) AS s FROM range(20000000000) t(i)"), path, **kwargs)
    else:
        Path(path).write_text("patient_id,n_visits\\n007,5\\n")
        time.sleep(120)

export.write_file = long_write
mode, fixture, out = sys.argv[1:]
sys.argv = ["carethread", "patients", fixture, "--out", out]
app()
"""


@pytest.mark.parametrize("mode", ["engine", "python"])
@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C (SIGINT)"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_cli_a_signal_during_the_write_exits_128_plus_it_and_leaves_nothing(tmp_path, mode, signum, code, name):
    import sys

    out = tmp_path / "p.csv"
    child = subprocess.Popen(
        [sys.executable, "-c", LONG_WRITE, mode, str(FIXTURE), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):  # the write has begun
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the write never started"
            time.sleep(0.02)
        child.send_signal(signum)
        _stdout, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == code
    assert stderr.splitlines()[-1] == (
        f"Error: stopped by {name} before the run finished; no partial file was left "
        "(files completed before it stay). Run the command again to finish."
    )
    assert listing(tmp_path) == []  # no file at --out, no temporary file


def test_synth_stopped_half_way_leaves_only_whole_files(tmp_path, monkeypatch):
    import carethread.synth as synth

    real, built = synth._build, []

    def second_chunk_fails(*args, **kwargs):
        if built:
            raise KeyboardInterrupt  # as Ctrl-C would, between two chunks
        built.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "_build", second_chunk_fails)
    with pytest.raises(KeyboardInterrupt):
        synth.write_chunked(tmp_path, 200, years=1, chunk_patients=100)
    # The first chunk's encounters are whole; the tables written across chunks never appeared.
    assert listing(tmp_path) == ["encounters"] and listing(tmp_path / "encounters") == ["part-00000.parquet"]
    assert pq.read_table(tmp_path / "encounters" / "part-00000.parquet").num_rows > 0


def test_cli_synth_and_demo_check_their_out_folder_before_running(tmp_path):
    (tmp_path / "f").write_text("x")
    for command in ("synth", "demo"):
        res = run(command, "--patients", 50, "--out", tmp_path / "f")
        assert res.exit_code == 2
        assert res.stderr.splitlines() == [
            f"Error: --out {tmp_path / 'f'}: is a file; give a folder (it is created if missing)."
        ]
    res = run("synth", "--patients", 50, "--out", tmp_path / "f" / "sub")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"Error: --out {tmp_path / 'f' / 'sub'}: {tmp_path / 'f'} is a file, not a folder, so nothing can be written "
        "under it; choose another path."
    ]
    assert listing(tmp_path) == ["f"]


def test_cli_a_file_the_system_refuses_is_named_with_the_system_s_words(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "data" / "encounters.parquet"))

    monkeypatch.setattr("carethread.synth.write_chunked", refused)
    res = run("synth", "--patients", 50, "--out", tmp_path / "data")
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f"Error: {tmp_path / 'data' / 'encounters.parquet'}: Permission denied; check the path and its permissions."
    ]
