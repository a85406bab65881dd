"""Shared fixtures: canonical encounter tables built from plain rows, a PostgreSQL server."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

import carethread.engine as engine

ENCOUNTER_ARROW = pa.schema(
    [
        ("encounter_id", pa.string()),
        ("patient_id", pa.string()),
        ("clinician_id", pa.string()),
        ("practice_id", pa.string()),
        ("start", pa.timestamp("us")),
        ("setting", pa.string()),
    ]
)


def encounters_table(con, rows, name="encounters"):
    """Register rows (dicts without encounter_id) as a canonical encounters table."""
    data = {f.name: [] for f in ENCOUNTER_ARROW}
    for i, r in enumerate(rows):
        data["encounter_id"].append(r.get("encounter_id", f"e{i}"))
        for col in ("patient_id", "clinician_id", "practice_id", "start", "setting"):
            data[col].append(r.get(col))
    return con.create_table(name, pa.table(data, schema=ENCOUNTER_ARROW), overwrite=True)


#: Fixtures that need a service (a JVM, a PostgreSQL server, a browser). A test that uses one,
#: directly or through another fixture, gets the marker named here, so ``make test-fast`` can
#: leave it out without each test saying so; ``make test`` runs every test regardless.
SERVICE_FIXTURES = {
    "spark": "spark",  # tests/test_spark.py: a local Spark session (JVM)
    "postgres_server": "postgres",  # a throwaway PostgreSQL server (tests/postgres.py)
    "chromium_path": "browser",  # tests/test_report_browser.py: headless Chromium
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in SERVICE_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(SERVICE_FIXTURES[fixture])


@pytest.fixture(autouse=True, scope="session")
def _pseudonym_key_of_the_tests(tmp_path_factory):
    """Reports made without a key use the user's key (carethread.pseudonym_key); the tests' lives apart."""
    before = os.environ.get("CARETHREAD_KEY_FILE")
    os.environ["CARETHREAD_KEY_FILE"] = str(tmp_path_factory.mktemp("config") / "pseudonym-key")
    yield
    if before is None:
        os.environ.pop("CARETHREAD_KEY_FILE", None)
    else:
        os.environ["CARETHREAD_KEY_FILE"] = before


@pytest.fixture
def con():
    c = engine.connect()
    yield c
    c.disconnect()


#: Public synthetic samples of every input format (tests/data/README.md says where each is from).
SAMPLES = Path(__file__).resolve().parent / "data"


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set, as CI services and .ci/run do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the whole session (see tests/postgres.py).

    Skipped, with the reason, only when no server can be started and ``CI`` is
    not set; in CI a missing server or driver fails the tests instead.
    """
    from tests.postgres import ServerUnavailable, start_server

    def unavailable(reason: str):
        if in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {reason}")

    try:
        import psycopg  # noqa: F401  (the driver of ibis-framework[postgres])
    except ImportError:
        unavailable("the driver is missing; pip install -e '.[postgres]'")
    try:
        server = start_server()
    except ServerUnavailable as exc:
        unavailable(f"no server could be started ({exc})")
    yield server
    server.stop()
