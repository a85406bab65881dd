"""A throwaway PostgreSQL server for the tests, and a loader for OMOP CSV folders.

:func:`start_server` runs ``initdb`` into a temporary folder and starts
``postgres`` on a free TCP port of 127.0.0.1 (and a Unix socket in the same
folder), with trust authentication and ``fsync`` off: a scratch database that
lives as long as the test session. PostgreSQL refuses to run as root, so as
root the server runs as the ``postgres`` system user (or ``nobody``) through
``runuser``.

The server stops itself when the process that started it ends, however it
ends (``kill -9`` of pytest included): a small watchdog process (this file run
as a script) holds the read end of a pipe whose write end only the owner has.
When the owner exits the kernel closes that end, the watchdog's read returns,
and it stops the server (immediate shutdown) and deletes its files. It also
checks every second that the owner's pid still names the same process, for an
owner whose forked children would keep the pipe open. :meth:`Server.stop` is
the ordinary, prompt way; the watchdog is for runs that never reach it.

The server binaries are looked up in ``pg_config --bindir``, then
``/usr/lib/postgresql/<version>/bin`` (newest first), then ``PATH``. On Debian
``apt-get install postgresql`` provides them (``.ci/run`` does that).

:func:`load_omop` creates one table per CSV file in a schema, typed like the
OMOP CDM DDL (``*_id`` integer, ``*_date`` date, ``*_datetime`` timestamp,
the rest text), and fills it with ``COPY``.
"""

from __future__ import annotations

import contextlib
import csv
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The database superuser the tests connect as (trust authentication).
USER = "carethread"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server could be started here; the message says why."""


@dataclass
class Server:
    """A running scratch server."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None
    #: The watchdog process and the write end of its pipe (see the module docstring).
    watchdog: subprocess.Popen | None = field(default=None, repr=False)
    _lifeline: int | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        """The connection URL Ibis and the CLI's ``--engine`` take."""
        return f"postgres://{USER}@127.0.0.1:{self.port}/postgres"

    def connect(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True)

    def stop(self) -> None:
        """Stop the server (fast shutdown), delete its files and dismiss the watchdog."""
        with contextlib.suppress(Exception):
            _run(self, [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "30"])
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lifeline is not None:
            os.close(self._lifeline)  # the watchdog wakes, finds nothing left to stop, and exits
            self._lifeline = None
        if self.watchdog is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.watchdog.wait(timeout=30)

    def _stop_now(self) -> None:
        """The watchdog's stop: immediate shutdown (the files go anyway), then the files."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                _run(self, [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w"])
            # A server that did not answer pg_ctl in time is killed.
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, if any."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    candidates += versions
    which = shutil.which("initdb")
    if which:
        candidates.append(Path(which).resolve().parent)
    candidates.append(Path("/usr/local/bin"))
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (0,)


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (tells a reused pid apart), ``None`` if it has exited.

    A zombie (exited, not yet reaped) counts as exited. Without ``/proc`` only existence is known.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    state, *rest = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3, start time 22
    return None if state in ("Z", "X") else rest[18]


def _start_watchdog(server: Server) -> None:
    """Start the watchdog that stops ``server`` when this process ends (see the module docstring)."""
    lifeline_read, lifeline_write = os.pipe()  # neither end is inherited by other children
    try:
        server.watchdog = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "watch",
                str(os.getpid()),
                str(lifeline_read),
                str(server.bindir),
                str(server.root),
                server.run_as or "",
            ],
            pass_fds=(lifeline_read,),
            start_new_session=True,  # not in pytest's process group: a Ctrl-C or group kill spares it
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
    except OSError:
        os.close(lifeline_write)
        raise
    finally:
        os.close(lifeline_read)
    server._lifeline = lifeline_write


def _watch(owner: int, lifeline: int, server: Server) -> None:
    """Wait until ``owner`` has ended (the pipe closes, or its pid is gone), then stop ``server``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    started = _process_start(owner)
    while started is not None and _process_start(owner) == started:
        readable, _, _ = select.select([lifeline], [], [], 1.0)
        if readable:  # nobody writes to the pipe: readable means the owner's end was closed
            break
    server._stop_now()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> str | None:
    """``None`` when not root; else a system user PostgreSQL will run as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServerUnavailable("running as root and neither a postgres nor a nobody user exists to run the server as")


def _run(server_or_user, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    user = server_or_user.run_as if isinstance(server_or_user, Server) else server_or_user
    if user is not None:
        if shutil.which("runuser") is None:
            raise ServerUnavailable("running as root but runuser is not installed")
        args = ["runuser", "-u", user, "--", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
    env["LC_ALL"] = "C"
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd="/")


def start_server() -> Server:
    """Start a scratch server; raises :class:`ServerUnavailable` with the reason."""
    bindir = find_bindir()
    if bindir is None:
        raise ServerUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found via pg_config, "
            "/usr/lib/postgresql/*/bin or PATH; install them with apt-get install postgresql"
        )
    run_as = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="ct-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = Server(bindir=bindir, root=root, port=_free_port(), run_as=run_as)
    try:
        _start_watchdog(server)  # first, so that even a run killed during initdb leaves nothing behind
        init = _run(
            server,
            [
                str(bindir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )
        if init.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        options = (
            f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        for attempt in range(3):
            start = _run(
                server,
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(server.data),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(root / "server.log"),
                    "-o",
                    options,
                ],
            )
            if start.returncode == 0:
                break
            # Another process may have taken the port between choosing and binding it.
            server.port = _free_port()
            options = options.replace(options.split()[1], str(server.port), 1)
            time.sleep(0.2 * (attempt + 1))
        else:
            log = (root / "server.log").read_text(errors="replace")[-500:] if (root / "server.log").exists() else ""
            raise ServerUnavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]} {log}")
        return server
    except ServerUnavailable:
        server.stop()
        raise
    except (OSError, subprocess.SubprocessError) as exc:
        server.stop()
        raise ServerUnavailable(f"starting PostgreSQL failed: {exc}") from exc


# --- loading OMOP CSV files ---------------------------------------------------------------------

_INTEGERS = {"year_of_birth", "month_of_birth", "day_of_birth", "quantity", "refills", "days_supply"}
#: Vocabulary keys that end in ``_id`` but are text in the DDL.
_TEXT_IDS = {"domain_id", "vocabulary_id", "concept_class_id", "relationship_id"}


def column_type(name: str) -> str:
    """The CDM DDL type of an OMOP column, from its name.

    >>> column_type("visit_concept_id"), column_type("visit_start_date"), column_type("npi")
    ('integer', 'date', 'text')
    """
    name = name.lower()
    if name.endswith("_datetime"):
        return "timestamp"
    if name.endswith("_date"):
        return "date"
    if (name.endswith("_id") and name not in _TEXT_IDS) or name in _INTEGERS:
        return "integer"
    return "text"


def load_omop(server: Server, folder: Path, schema: str, *, typed: bool = True) -> dict[str, int]:
    """Load every CSV of an OMOP folder into ``schema``; returns rows per table.

    With ``typed=False`` every column is text, as in a CDM loaded without its
    DDL: the reader must then parse (and quarantine) values inside the database.
    """
    counts = {}
    with server.connect() as conn, conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
        for path in sorted(folder.glob("*.csv")):
            table = path.stem.lower()
            with path.open(newline="", encoding="utf-8") as fh:
                header = next(csv.reader(fh))
            columns = ", ".join(f'"{c.lower()}" {column_type(c) if typed else "text"}' for c in header)
            cur.execute(f'CREATE TABLE "{schema}"."{table}" ({columns})')
            with cur.copy(f'COPY "{schema}"."{table}" FROM STDIN WITH (FORMAT csv, HEADER true)') as copy:
                copy.write(path.read_bytes())
            cur.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[table] = cur.fetchone()[0]
    return counts


if __name__ == "__main__":
    # The watchdog: postgres.py watch OWNER_PID LIFELINE_FD BINDIR ROOT RUN_AS
    _, _command, owner_pid, lifeline_fd, bindir, root, run_as = sys.argv
    _watch(
        int(owner_pid),
        int(lifeline_fd),
        Server(bindir=Path(bindir), root=Path(root), port=0, run_as=run_as or None),
    )
