"""Row checks, the quarantine table and reconciliation counts.

Readers turn a raw table (source columns plus ``__file``, the file's position,
and ``__row``, the 1-based data row inside it) into canonical tables with
:func:`check_encounters`, :func:`check_clinicians` or :func:`check_patients`,
then call :func:`finish`.

A check is one projection: each row gets typed canonical columns and a
``__reason`` that is NULL when the row is fine, else the code of the first
check it failed (in the order of :data:`REASONS`). Nothing is filtered, so
``read == accepted + quarantined`` holds by construction; :func:`finish`
counts both sides in one aggregate and checks the identity anyway.

Reason codes are stable (scripts may filter the quarantine on them); they are
listed, with their meaning, in :mod:`carethread.validate.reasons`.

Format readers pass their own rejections in: a raw table may carry a
``__reject`` column (a reason code, NULL when the row is fine) and a
``__reject_value`` column (the offending value as text); that check runs
before all others. Boolean ``__flag_<name>`` columns are carried into the
checked table, so a reader that adds a remark template for them to
:attr:`Checked.flags` gets them counted over accepted rows in :func:`finish`'s
one aggregate.

The checks and :func:`finish` are Ibis expressions that run on any backend
(the OMOP reader runs them inside PostgreSQL); DuckDB-only shortcuts are
behind :mod:`carethread.engine`, which falls back to portable forms elsewhere.

Empty and whitespace-only strings count as missing. A missing clinician_id is
not a rejection; the count goes into a remark instead.

Modules: :mod:`~carethread.validate.reasons` (the reason codes),
:mod:`~carethread.validate.typed` (canonical table specs and typed source
columns), :mod:`~carethread.validate.checks` (the row checks) and
:mod:`~carethread.validate.finishing` (:func:`finish`: counts, duplicates,
quarantine). Every name below is importable from ``carethread.validate``.
"""

from carethread.schema import normalize_label
from carethread.validate.checks import (
    CHECKS,
    ROLE_ALIASES,
    Checked,
    check_clinicians,
    check_encounters,
    check_patients,
)
from carethread.validate.finishing import Finished, finish
from carethread.validate.reasons import REASONS, column_of, describe_reasons
from carethread.validate.typed import (
    CLINICIANS,
    ENCOUNTERS,
    PATIENTS,
    SPECS,
    Profile,
    SourceColumns,
    TableSpec,
    iso_timestamp,
    key_is_unique,
    not_an_id,
    number_text,
    profile,
    whole_number,
)

__all__ = [
    "CHECKS",
    "CLINICIANS",
    "ENCOUNTERS",
    "PATIENTS",
    "REASONS",
    "ROLE_ALIASES",
    "SPECS",
    "Checked",
    "Finished",
    "Profile",
    "SourceColumns",
    "TableSpec",
    "check_clinicians",
    "check_encounters",
    "check_patients",
    "column_of",
    "describe_reasons",
    "finish",
    "iso_timestamp",
    "key_is_unique",
    "normalize_label",
    "not_an_id",
    "number_text",
    "profile",
    "whole_number",
]
