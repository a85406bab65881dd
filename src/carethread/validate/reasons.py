"""The quarantine's reason codes: their stable names, their texts, and the column each is about.

Reason codes are stable (scripts may filter the quarantine on them):

======================================  ===========================================
code                                    meaning
======================================  ===========================================
``missing_<column>``                    a required value is empty (``patient_id``,
                                        ``start``, ``clinician_id``)
``invalid_<id>``                        an id column stored as numbers holds one that
                                        is no identifier (NaN, infinite, or too large
                                        to be exact: beyond 2^53)
``unparseable_<column>``                not an ISO date or timestamp (with a UTC
                                        offset of at most 14 hours), nor matching
                                        ``date_format``; words such as ``epoch`` or
                                        ``infinity`` are no dates
``<column>_before_1900``                a date before 1900-01-01
``<column>_after_extraction``           a date after the extraction date
``unknown_setting``                     not one of :data:`carethread.schema.SETTINGS`
                                        after case, space and hyphen are normalised
``invalid_capacity``                    capacity is not a whole number >= 0 (NaN,
                                        infinite and beyond 2^53 included)
``active_to_before_active_from``        a clinician's activity ends before it starts
``death_date_before_birth_date``        a patient dies before being born
``duplicate_<key>``                     the id repeats an earlier accepted row
                                        (the first occurrence, by file then row, is kept)
``malformed_row``                       a CSV row with another number of fields than
                                        the header
``unbalanced_quote``                    a CSV line whose quotes do not pair up, or
                                        with a quote inside an unquoted value
``line_ending``                         a CSV line with a carriage return that does
                                        not end it (outside quotes)
``line_too_long``                       a CSV row longer than 16 MiB
``invalid_encoding``                    a CSV or NDJSON line that is not UTF-8
``malformed_json``                      an NDJSON line that is not a JSON object
``unexpected_resource_type``            a FHIR resource in the wrong type's file
``unknown_<what>_reference``            a reference (patient, clinician, practice)
                                        that resolves to nothing in the input
``unknown_encounter_class``             a Synthea/FHIR encounter class with no setting
``unknown_visit_concept``               an OMOP visit_concept_id with no setting
``encounter_not_held``                  a FHIR Encounter that is planned, cancelled
                                        or entered in error
======================================  ===========================================
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence

from carethread.data import format_count, plural

#: Every reason code, in the order checks run, with the text used in remarks.
REASONS: dict[str, str] = {
    "invalid_encounter_id": "encounter_id is a number that is no identifier (NaN, infinite or beyond 2^53)",
    "invalid_patient_id": "patient_id is a number that is no identifier (NaN, infinite or beyond 2^53)",
    "invalid_clinician_id": "clinician_id is a number that is no identifier (NaN, infinite or beyond 2^53)",
    "invalid_practice_id": "practice_id is a number that is no identifier (NaN, infinite or beyond 2^53)",
    "missing_patient_id": "patient_id is missing",
    "missing_clinician_id": "clinician_id is missing",
    "missing_start": "start is missing",
    "unparseable_start": "start is not a date or timestamp",
    "start_before_1900": "start is before 1900-01-01",
    "start_after_extraction": "start is after the extraction date",
    "unknown_setting": "setting is not a known care setting",
    "invalid_capacity": "capacity is not a whole number of patients",
    "unparseable_active_from": "active_from is not a date",
    "active_from_before_1900": "active_from is before 1900-01-01",
    "active_from_after_extraction": "active_from is after the extraction date",
    "unparseable_active_to": "active_to is not a date",
    "active_to_before_1900": "active_to is before 1900-01-01",
    "active_to_before_active_from": "active_to is before active_from",
    "unparseable_birth_date": "birth_date is not a date",
    "birth_date_before_1900": "birth_date is before 1900-01-01",
    "birth_date_after_extraction": "birth_date is after the extraction date",
    "unparseable_death_date": "death_date is not a date",
    "death_date_before_1900": "death_date is before 1900-01-01",
    "death_date_after_extraction": "death_date is after the extraction date",
    "death_date_before_birth_date": "death_date is before birth_date",
    "duplicate_encounter_id": "encounter_id repeats an earlier row",
    "duplicate_clinician_id": "clinician_id repeats an earlier row",
    "duplicate_patient_id": "patient_id repeats an earlier row",
    "malformed_row": "the row has another number of fields than the header",
    "unbalanced_quote": "the line has a quote that does not pair up",
    "line_ending": "the line holds a carriage return that does not end it",
    "line_too_long": "the row is longer than 16 MiB",
    "invalid_encoding": "the line is not UTF-8 text",
    # Format readers (Synthea, FHIR, OMOP) set these through a ``__reject`` column.
    "malformed_json": "the line is not a complete JSON object",
    "unexpected_resource_type": "the resource is not of the type its file holds",
    "unknown_patient_reference": "the patient reference matches no patient",
    "unknown_clinician_reference": "the clinician reference matches no clinician",
    "unknown_practice_reference": "the practice reference matches no organisation",
    "unknown_encounter_class": "the encounter class has no care setting",
    "unknown_visit_concept": "visit_concept_id has no care setting in the mapping",
    "encounter_not_held": "the encounter's status says it did not take place",
}


#: Reason codes about a whole line or resource rather than one of its columns.
WHOLE_ROW_REASONS = frozenset(
    {
        "malformed_row",
        "unbalanced_quote",
        "line_ending",
        "line_too_long",
        "invalid_encoding",
        "malformed_json",
        "unexpected_resource_type",
        "encounter_not_held",
    }
)


def column_of(code: str) -> str | None:
    """The canonical column a reason code is about; None for a whole-line reason.

    >>> column_of("missing_start"), column_of("unknown_clinician_reference"), column_of("malformed_row")
    ('start', 'clinician_id', None)
    """
    if code in WHOLE_ROW_REASONS:
        return None
    if code in ("unknown_setting", "unknown_encounter_class", "unknown_visit_concept"):
        return "setting"
    if code.startswith("unknown_") and code.endswith("_reference"):
        return code[len("unknown_") : -len("_reference")] + "_id"
    for prefix in ("missing_", "invalid_", "unparseable_", "duplicate_"):
        if code.startswith(prefix):
            return code[len(prefix) :]
    for suffix in ("_before_1900", "_after_extraction", "_before_active_from", "_before_birth_date"):
        if code.endswith(suffix):
            return code[: -len(suffix)]
    return None


#: How a row's position is written in messages, by how a source numbers its rows:
#: ``row`` (Parquet, database tables), ``data_row`` (CSV: data row N starts on
#: line N + 1 of the file) and ``line`` (NDJSON: the row is the line number).
NUMBERING = ("row", "data_row", "line")


def where_row(row: int, numbering: str = "row") -> str:
    """A row's position as messages write it (see :data:`NUMBERING`).

    >>> where_row(1832), where_row(1832, "data_row"), where_row(12, "line")
    ('row 1 832', 'data row 1 832 (line 1 833)', 'line 12')
    """
    if numbering == "data_row":
        return f"data row {format_count(row)} (line {format_count(row + 1)})"
    return f"{'line' if numbering == 'line' else 'row'} {format_count(row)}"


def describe_reasons(
    reasons: Mapping[str, int],
    first_at: Mapping[str, tuple[int, int]],
    sources: Sequence[str],
    extraction_date: _dt.date | None,
    *,
    numbering: str = "row",
) -> str:
    """Rejections counted by reason, in the order of :data:`REASONS` (no values, no ids).

    ``reasons`` holds the rows per code, ``first_at`` the ``(file index, row)``
    of each code's first row, ``sources`` the files' names, ``numbering`` how
    the sources number rows (:func:`where_row`).

    >>> describe_reasons({"missing_start": 2, "missing_patient_id": 1}, {"missing_start": (0, 1832),
    ...                  "missing_patient_id": (0, 7)}, ["visits.csv"], None, numbering="data_row")
    ... # doctest: +NORMALIZE_WHITESPACE
    'patient_id is missing: 1 row, at data row 7 (line 8); start is missing: 2 rows,
     first at data row 1 832 (line 1 833)'
    """
    parts = []
    order = list(REASONS)
    for code in sorted(reasons, key=lambda c: order.index(c) if c in order else len(order)):
        n = reasons[code]
        text = REASONS.get(code, code)
        if code.endswith("_after_extraction") and extraction_date is not None:
            text += f" ({extraction_date.isoformat()})"
        file, row = first_at[code]
        where = where_row(row, numbering)
        if len(sources) > 1:
            where = f"{sources[file]} {where}"
        parts.append(f"{text}: {plural(n, 'row')}, {'first at ' if n > 1 else 'at '}{where}")
    return "; ".join(parts)
