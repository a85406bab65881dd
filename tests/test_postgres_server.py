"""The test PostgreSQL server (tests/postgres.py) never outlives the process that started it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import in_ci
from tests.postgres import _process_start, find_bindir, start_server

ROOT = Path(__file__).resolve().parents[1]

#: An owner that starts a server, says where it is, and waits to be killed.
OWNER = """
import json, time
from tests.postgres import start_server
server = start_server()
postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
print(json.dumps({"root": str(server.root), "port": server.port, "postmaster": postmaster,
                  "watchdog": server.watchdog.pid}), flush=True)
time.sleep(600)
"""

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _binaries():
    if find_bindir() is None:
        if in_ci():
            pytest.fail("PostgreSQL is required in CI (apt-get install postgresql)", pytrace=False)
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")


def accepts_connections(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition, seconds: float) -> None:
    """Return once ``condition()`` is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {seconds} s")
        time.sleep(0.1)


def test_server_stops_when_its_owner_is_killed():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(owner.stdout.readline())
    finally:
        owner.kill()  # SIGKILL: no atexit, no finally, no fixture teardown runs in the owner
        owner.wait()
        owner.stdout.close()
    root = Path(info["root"])
    # Gone within seconds (about 0.3 s on a quiet machine; the bound leaves room for a busy one).
    wait_until(
        lambda: _process_start(info["postmaster"]) is None and _process_start(info["watchdog"]) is None,
        seconds=10,
    )
    assert not root.exists()
    assert not accepts_connections(info["port"])


def test_stop_dismisses_the_watchdog():
    server = start_server()
    assert accepts_connections(server.port)
    assert server.watchdog.poll() is None  # watching
    server.stop()
    assert server.watchdog.returncode == 0
    assert not server.root.exists()
    assert not accepts_connections(server.port)
