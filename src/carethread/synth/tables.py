"""Turning the generator's integer arrays into canonical Arrow tables.

Everything here works on whole columns: identifiers are formatted by digit
arithmetic on a byte buffer and looked up with ``take``, so no Python-level
loop runs per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from carethread import schema

ENCOUNTERS = schema.ENCOUNTERS.to_pyarrow()
CLINICIANS = schema.CLINICIANS.to_pyarrow()
PATIENTS = schema.PATIENTS.to_pyarrow()
TRUE_USUAL = pa.schema(
    [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("quarter_start", pa.date32(), nullable=False),
        pa.field("clinician_id", pa.string()),
    ]
)
TRUE_SWITCHES = pa.schema(
    [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("from_clinician_id", pa.string()),
        pa.field("to_clinician_id", pa.string()),
        pa.field("switch_date", pa.date32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("cause", pa.string(), nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("observable", pa.bool_(), nullable=False),
    ]
)

SWITCH_KINDS = ("partner", "other_practice", "emergency_only", "lost")
SWITCH_CAUSES = ("patient_choice", "clinician_left", "moved_away", "died", "disengaged")


def id_width(minimum: int, largest: int) -> int:
    """Digits needed so ids up to ``largest`` keep a fixed width of at least ``minimum``."""
    return max(minimum, len(str(max(int(largest), 0))))


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array.

    The width grows if a number needs more digits, so ids never get truncated.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = numbers.size
    if n:
        width = max(width, len(str(int(numbers.max()))))
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    row = head.size + width
    buf = np.empty((n, row), dtype=np.uint8)
    buf[:, : head.size] = head
    rest = numbers.copy()
    for pos in range(row - 1, head.size - 1, -1):
        buf[:, pos] = 48 + rest % 10
        rest //= 10
    offset_type = np.int32 if n * row < 2**31 else np.int64
    offsets = np.arange(n + 1, dtype=offset_type) * row
    arrow_type = pa.string() if offset_type is np.int32 else pa.large_string()
    arr = pa.Array.from_buffers(arrow_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1))])
    return arr if arrow_type == pa.string() else arr.cast(pa.string())


def lookup(dictionary: pa.Array, index: np.ndarray) -> pa.Array:
    """``dictionary[index]`` with negative indices giving null."""
    index = np.asarray(index, dtype=np.int64)
    missing = index < 0
    return dictionary.take(pa.array(np.where(missing, 0, index), mask=missing if missing.any() else None))


def vocabulary(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Strings from a small vocabulary by integer code (negative = null)."""
    return lookup(pa.array(values, pa.string()), index)


def dates(epoch_day: int, days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """date32 from day offsets relative to ``epoch_day`` (days since 1970-01-01)."""
    values = np.asarray(days, dtype=np.int64) + epoch_day
    if missing is not None and missing.any():
        return pa.array(values.astype(np.int32), mask=missing).cast(pa.date32())
    return pa.array(values.astype(np.int32)).cast(pa.date32())


def timestamps(epoch_day: int, days: np.ndarray, minutes: np.ndarray) -> pa.Array:
    """timestamp[us] from a day offset and minutes after midnight."""
    micros = (np.asarray(days, dtype=np.int64) + epoch_day) * 86_400_000_000 + np.asarray(
        minutes, dtype=np.int64
    ) * 60_000_000
    return pa.array(micros).cast(pa.timestamp("us"))


def truth_tables(
    epoch_day: int, patient_ids: pa.Array, clinician_ids: pa.Array, usual: tuple, switches: dict
) -> tuple[pa.Table, pa.Table]:
    """The ``true_usual`` and ``true_switches`` tables from the truth's arrays.

    ``usual`` is ``(quarter_start, patient, clinician)`` and ``switches`` the
    columns of :func:`carethread.synth.truth.true_switches`, all as indices
    into ``patient_ids`` and ``clinician_ids`` and days from ``epoch_day``.
    """
    quarter_start, who, clin = usual
    usual_table = pa.table(
        [lookup(patient_ids, who), dates(epoch_day, quarter_start), lookup(clinician_ids, clin)], schema=TRUE_USUAL
    )
    sw = switches
    switch_table = pa.table(
        [
            lookup(patient_ids, sw["patient"]),
            lookup(clinician_ids, sw["frm"]),
            lookup(clinician_ids, sw["to"]),
            dates(epoch_day, sw["date"]),
            vocabulary(SWITCH_KINDS, sw["kind"]),
            vocabulary(SWITCH_CAUSES, sw["cause"]),
            dates(epoch_day, sw["event"]),
            pa.array(sw["observable"], pa.bool_()),
        ],
        schema=TRUE_SWITCHES,
    )
    return usual_table, switch_table
