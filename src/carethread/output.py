"""Results leave carethread here: tables and text files, written whole or not at all.

Results stay lazy Ibis tables until this edge, so writing a large result goes
straight from the engine to Parquet or CSV without passing through pandas.

Every file is written to a temporary file in the target's folder and renamed
onto the target once complete (:func:`replacing`), so the target is always
the old file or the whole new one, never a part: a full disk, an error or a
Ctrl-C leaves the old file (if any) and no temporary file behind. The file
written is exactly the path given. Output paths are checked before a run
computes anything (:func:`check_out_path`): the extension, that the path is
not a folder, that no part of its folder is a file, and that the folder can
be written to.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from carethread.errors import OptionError, OutputError

if TYPE_CHECKING:
    import ibis

#: Table formats by extension (the extension decides the format).
WRITABLE = (".csv", ".parquet")

#: The ``--out`` that means standard output (CSV).
STDOUT = "-"

#: Temporary files are hidden and carry this prefix, so a stray one says whose it is.
TEMP_PREFIX = ".carethread-"


def is_stdout(path: str | os.PathLike | None) -> bool:
    """Whether ``path`` means standard output (``-``).

    >>> is_stdout("-"), is_stdout("out.csv"), is_stdout(None)
    (True, False, False)
    """
    return path is not None and os.fspath(path) == STDOUT


def check_out_path(
    path: str | os.PathLike,
    option: str = "--out",
    *,
    suffixes: Iterable[str] = WRITABLE,
    stdout: bool = False,
) -> Path:
    """``path`` if a file can be written there, else an :class:`OptionError` naming ``option``.

    Checked without writing anything: the extension is one of ``suffixes``
    (it decides the format), the path is not a folder, the nearest existing
    folder on the way is a folder (not a file) and takes new files (a probe
    file is created and removed). With ``stdout``, ``-`` is accepted and
    means standard output.

    >>> check_out_path("out.parquet").suffix
    '.parquet'
    >>> check_out_path("rejects.txt", option="--quarantine")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --quarantine rejects.txt: write to a .csv or .parquet file ...
    """
    p = Path(path)
    if stdout and is_stdout(path):
        return p
    allowed = tuple(suffixes)
    if p.suffix.lower() not in allowed:
        what = " or ".join(allowed) if allowed != WRITABLE else ".csv or .parquet"
        hint = " (the extension decides the format)" if allowed == WRITABLE else ""
        if p.is_dir():
            raise OptionError(f"{option} {p}: is a folder; give a file name inside it ending in {allowed[0]}.")
        raise OptionError(f"{option} {p.name}: write to a {what} file{hint}.")
    _check_location(p, option)
    return p


def check_out_folder(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` if a folder of results can be made or filled there, else an :class:`OptionError` naming ``option``.

    The path may be a folder or not exist yet; a file there, a file on the
    way, or a folder that takes no files are refused before anything runs.

    >>> import tempfile, pathlib
    >>> check_out_folder(pathlib.Path(tempfile.mkdtemp()) / "new").name
    'new'
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OptionError(f"{option} {p}: is a file; give a folder (it is created if missing).")
    _check_writable(p if p.is_dir() else _nearest_existing(p, option), p, option)
    return p


def _check_location(path: Path, option: str) -> None:
    if path.is_dir():
        raise OptionError(f"{option} {path}: is a folder; give a file name, e.g. {path / ('result' + path.suffix)}.")
    _check_writable(_nearest_existing(path, option), path, option)


def _check_writable(folder: Path, path: Path, option: str) -> None:
    if not folder.is_dir():
        raise OptionError(
            f"{option} {path}: {folder} is a file, not a folder, so nothing can be written under it; "
            "choose another path."
        )
    probe = folder / f"{TEMP_PREFIX}probe-{secrets.token_hex(4)}"
    try:
        probe.open("x").close()
        probe.unlink()
    except OSError as exc:
        raise OptionError(
            f"{option} {path}: cannot write into the folder {folder} ({_reason(exc)}); "
            "choose a folder you can write to, or change its permissions."
        ) from None


def _nearest_existing(path: Path, option: str) -> Path:
    """The nearest folder (or file) on the way to ``path`` that exists."""
    folder = path.parent
    while True:
        try:
            if folder.exists():
                return folder
        except OSError as exc:  # a folder on the way that cannot be entered
            raise OptionError(
                f"{option} {path}: cannot look into {folder} ({_reason(exc)}); choose another place."
            ) from None
        folder = folder.parent


def _reason(exc: OSError) -> str:
    """The operating system's words for an error, without the path it quotes."""
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__


#: Errors a write can meet, by ``errno``: what to tell the user to do.
_FIXES = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EFBIG: "write elsewhere (the file system limits file sizes) or write Parquet, which is smaller",
    errno.EACCES: "write to a folder you can write to, or change its permissions",
    errno.EPERM: "write to a folder you can write to, or change its permissions",
    errno.EROFS: "write to a folder on a writable disk",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENOTDIR: "choose a path whose folders are folders, not files",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def _write_error(path: Path, exc: BaseException) -> OutputError:
    """An :class:`OutputError` saying what went wrong writing ``path`` and how to fix it.

    ``exc`` is an ``OSError`` or an engine's error (DuckDB reports a full disk
    as an ``IOException`` whose text holds the operating system's words).
    """
    code = getattr(exc, "errno", None)
    if code is None:
        text = str(exc)
        code = next((c for c in _FIXES if os.strerror(c) in text), None)
    if code is None:
        return OutputError(
            f"Could not write {path} ({type(exc).__name__}); nothing was written there. "
            "Re-run with CARETHREAD_DEBUG=1 for details."
        )
    return OutputError(f"Could not write {path}: {os.strerror(code)}; nothing was written there. {_FIXES[code]}.")


def _is_engine_io_error(exc: BaseException) -> bool:
    import duckdb

    return isinstance(exc, duckdb.IOException)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends well.

    Folders on the way are created. When the block raises, is interrupted
    (Ctrl-C, SIGTERM: see :func:`carethread.engine.signals.stop_on_signals`)
    or the rename fails, the temporary file is removed and ``path`` keeps
    what it had. Write errors become an :class:`OutputError` that says what
    happened and how to fix it. Blocks nest: files prepared in nested blocks
    are renamed innermost first, after every one of them was written.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with replacing(target) as tmp:
    ...     _ = tmp.write_text("whole")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('whole', ['notes.txt'])
    """
    from carethread.engine.signals import stop_on_signals

    target = Path(path)
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp")
    try:
        with stop_on_signals():
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                yield tmp
                os.replace(tmp, target)
            except OSError as exc:
                raise _write_error(target, exc) from None
            except Exception as exc:
                if _is_engine_io_error(exc):
                    raise _write_error(target, exc) from None
                raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (see :func:`replacing`); returns the path.

    >>> import tempfile, pathlib
    >>> write_text(pathlib.Path(tempfile.mkdtemp()) / "r.html", "<p>hi</p>").read_text()
    '<p>hi</p>'
    """
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def metadata_sidecar(path: str | os.PathLike) -> Path:
    """Where the metadata of a CSV file is written: ``<name>.csv-metadata.json`` beside it (the CSVW name).

    >>> metadata_sidecar("out/patients.csv").name
    'patients.csv-metadata.json'
    """
    p = Path(path)
    return p.with_name(p.name + "-metadata.json")


def _as_text(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (metadata or {}).items()}


def write_table(table: ibis.Table, path: str | os.PathLike, *, metadata: dict[str, str] | None = None) -> Path:
    """Write ``table`` to ``path`` (``.csv`` or ``.parquet``, or ``-``: CSV on standard output).

    The file appears whole or not at all (:func:`replacing`), at exactly
    ``path``; folders on the way are created. ``metadata`` (text keys and
    values, such as the window and settings a result describes) goes into a
    Parquet file's key-value metadata, and for a CSV file into the JSON
    object of :func:`metadata_sidecar` (renamed into place with the CSV; a
    stale one is removed when there is no metadata). Standard output gets
    the CSV only.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OptionError
        The extension is not ``.csv`` or ``.parquet``, or the path is a
        folder or under a file (:func:`check_out_path`).
    OutputError
        The write failed (a full disk, permissions); nothing was written.

    Examples
    --------
    >>> import ibis, tempfile, pathlib, json
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_table(ibis.memtable({"patient_id": ["007"]}), out, metadata={"window": "all data"})
    >>> out.read_text().splitlines()
    ['patient_id', '007']
    >>> json.loads(metadata_sidecar(out).read_text())
    {'window': 'all data'}
    """
    from carethread.engine.export import write_file

    if is_stdout(path):
        _write_stdout(table)
        return Path(path)
    p = check_out_path(path)
    text = _as_text(metadata)
    if p.suffix.lower() == ".parquet":
        with replacing(p) as tmp:
            write_file(table, tmp, file_format="parquet", metadata=text)
        return p
    sidecar = metadata_sidecar(p)
    with replacing(p) as tmp:
        write_file(table, tmp, file_format="csv")
        if text:
            write_text(sidecar, json.dumps(text, indent=2, ensure_ascii=False) + "\n")
    if not text:
        with contextlib.suppress(FileNotFoundError):
            sidecar.unlink()
    return p


def _write_stdout(table: ibis.Table) -> None:
    """The CSV of ``table`` on standard output, byte for byte what ``--out FILE.csv`` writes.

    The engine writes the file into a private temporary folder, which is
    then copied out and removed. A reader that stops early (``| head``) ends
    the copy quietly.
    """
    from carethread.engine.export import write_file
    from carethread.engine.signals import stop_on_signals

    folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    try:
        with stop_on_signals():
            write_file(table, folder / "out.csv", file_format="csv")
            sys.stdout.flush()
            stream = getattr(sys.stdout, "buffer", None)
            with (folder / "out.csv").open("rb") as handle:
                try:
                    if stream is not None:
                        shutil.copyfileobj(handle, stream)
                        stream.flush()
                    else:  # a text-only stream (some notebooks and test runners)
                        sys.stdout.write(handle.read().decode("utf-8"))
                        sys.stdout.flush()
                except BrokenPipeError:
                    # The reader has gone; Python would complain again at exit when it flushes.
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
