"""Column names in messages: suggestions for a missing column, and never a value shown as a name.

A file without a header row has data where its column names should be, so an
error that lists "the columns present" would print a patient's id. Every reader
names columns through :func:`columns_present`, which shows names only when none
of them looks like a value (:func:`looks_like_value`), and column positions
otherwise.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from carethread.validate.values import value_kind

#: Source column names worth suggesting for a canonical column (never used silently).
ALIASES: dict[str, tuple[str, ...]] = {
    "patient_id": ("patient", "pat_id", "mrn", "person_id", "member_id", "subject_id", "client_id"),
    "start": (
        "date",
        "start_date",
        "visit_date",
        "encounter_date",
        "service_date",
        "admit_date",
        "appointment_date",
        "datetime",
        "timestamp",
        "start_time",
        "period_start",
    ),
    "clinician_id": (
        "clinician",
        "provider",
        "provider_id",
        "npi",
        "doctor",
        "physician",
        "physician_id",
        "practitioner",
        "practitioner_id",
        "prescriber_id",
        "gp",
    ),
    "practice_id": ("practice", "site", "site_id", "clinic", "clinic_id", "organization", "organization_id"),
    "setting": ("care_setting", "encounter_class", "encounter_type", "visit_type", "class", "place_of_service"),
    "encounter_id": ("encounter", "visit_id", "id", "appointment_id"),
    "birth_date": ("dob", "birthdate", "date_of_birth"),
    "death_date": ("dod", "deathdate", "date_of_death"),
    "sex": ("gender",),
}


def looks_like_data(names: Sequence[str]) -> bool:
    """Whether a header line looks like a row of data (any name looks like a value)."""
    return any(value_kind(n) is not None for n in names)


def columns_present(names: Sequence[str]) -> str:
    """The sentence that lists a file's columns: their names, or only positions when the
    names look like data (the file then has no header row, and names would be values).

    >>> columns_present(["PatientID", "VisitDate"])
    'Columns present: `PatientID`, `VisitDate`.'
    >>> columns_present(["P001", "2024-01-02", "C1"])
    'Its first line looks like data, not column names: column 1 looks like an identifier, column 2 like a date.'
    """
    if not looks_like_data(names):
        shown = ", ".join(f"`{c}`" for c in names[:30]) + (", ..." if len(names) > 30 else "")
        return f"Columns present: {shown or '(none)'}."
    found = [(i, kind) for i, kind in ((i, value_kind(n)) for i, n in enumerate(names, 1)) if kind]
    parts = [
        f"column {i} {'looks like' if k == 0 else 'like'} {_article(kind)}" for k, (i, kind) in enumerate(found[:4])
    ]
    more = ", ..." if len(found) > 4 else ""
    return f"Its first line looks like data, not column names: {', '.join(parts)}{more}."


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def no_header_fix(required: Sequence[str]) -> str:
    """How to fix a file whose first line is data."""
    return f"Add a header row naming the columns ({', '.join(required)}, ...) as the first line."


# --- suggestions ---------------------------------------------------------------


def _normalised(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name).lower()


def suggest_column(wanted: str, present: Sequence[str], *, aliases: bool = True) -> str | None:
    """The column in ``present`` most likely meant by ``wanted``, if any.

    The same name ignoring case, spaces, ``_``, ``-`` and ``.``; else a close
    spelling; else (with ``aliases``) one of :data:`ALIASES` for ``wanted``.
    Used in messages only, never to read a column silently; names that look
    like values are never suggested.

    >>> suggest_column("patient_id", ["PatientID", "VisitDate"])
    'PatientID'
    >>> suggest_column("start", ["pid", "visit_date"]), suggest_column("start", ["pid"])
    ('visit_date', None)
    """
    present = [c for c in present if value_kind(c) is None]
    if not present:
        return None
    by_norm = {}
    for column in present:
        by_norm.setdefault(_normalised(column), column)
    if _normalised(wanted) in by_norm:
        return by_norm[_normalised(wanted)]
    close = difflib.get_close_matches(_normalised(wanted), list(by_norm), n=1, cutoff=0.8)
    if close:
        return by_norm[close[0]]
    if aliases:
        for alias in ALIASES.get(wanted, ()):
            if _normalised(alias) in by_norm:
                return by_norm[_normalised(alias)]
    return None
