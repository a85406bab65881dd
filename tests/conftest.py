"""Shared fixtures: canonical encounter tables built from plain rows."""

from __future__ import annotations

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


@pytest.fixture
def con():
    c = engine.connect()
    yield c
    c.disconnect()
