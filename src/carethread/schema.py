"""The canonical tables every reader produces and every measure consumes.

This is the one place where column types are decided. Identifiers (patient,
clinician, practice, encounter) are always strings, so NPIs, MRNs and ZIP codes
keep their leading zeros; readers cast to these types and nowhere else.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.datatypes as dt

#: The care settings an encounter can have (docs/definitions.md, *Canonical tables*).
SETTINGS: tuple[str, ...] = (
    "primary_care",
    "specialty",
    "urgent_care",
    "emergency",
    "inpatient",
    "virtual",
    "home",
    "other",
)

#: Settings whose encounters count as continuity visits unless told otherwise.
DEFAULT_VISIT_SETTINGS: tuple[str, ...] = ("primary_care", "virtual")

#: Setting given to an encounter whose source has no setting column.
DEFAULT_SETTING = "primary_care"

ROLES: tuple[str, ...] = ("physician", "np", "pa", "nurse", "other")

#: Runs of these characters become one ``_`` in a label (a setting or a role).
LABEL_SEPARATORS = r"[ \t\n\r\f\-]+"


def normalize_label(value: str | None) -> str | None:
    """A setting or role label in its canonical spelling; ``None`` for a blank one.

    Surrounding spaces go, letters are lower-cased and every run of spaces,
    tabs, line breaks or hyphens becomes one underscore, so ``" Primary  Care "``,
    ``"primary-care"`` and ``"PRIMARY_CARE"`` all name ``primary_care``. The
    readers apply the same rule in SQL to the setting and role columns.

    >>> normalize_label(" Primary  Care "), normalize_label("urgent-care"), normalize_label("  ")
    ('primary_care', 'urgent_care', None)
    """
    if value is None:
        return None
    text = str(value).strip(" ")
    return re.sub(LABEL_SEPARATORS, "_", text.lower()) if text else None


ENCOUNTERS = ibis.schema(
    {
        "encounter_id": dt.String(nullable=False),
        "patient_id": dt.String(nullable=False),
        "clinician_id": dt.string,
        "practice_id": dt.string,
        "start": dt.Timestamp(nullable=False),
        "setting": dt.String(nullable=False),
    }
)
ENCOUNTERS_REQUIRED: tuple[str, ...] = ("patient_id", "start")

CLINICIANS = ibis.schema(
    {
        "clinician_id": dt.String(nullable=False),
        "practice_id": dt.string,
        "specialty": dt.string,
        "role": dt.string,
        "capacity": dt.int64,
        "active_from": dt.date,
        "active_to": dt.date,
    }
)
CLINICIANS_REQUIRED: tuple[str, ...] = ("clinician_id",)

PATIENTS = ibis.schema(
    {
        "patient_id": dt.String(nullable=False),
        "birth_date": dt.date,
        "sex": dt.string,
        "death_date": dt.date,
    }
)
PATIENTS_REQUIRED: tuple[str, ...] = ("patient_id",)

#: One row per rejected input row. ``row`` is the 1-based data row (CSV header
#: excluded) or a resource id for formats without rows.
QUARANTINE = ibis.schema(
    {
        "source": dt.string,
        "row": dt.string,
        "column": dt.string,
        "value": dt.string,
        "reason": dt.string,
    }
)

#: Columns of the per-patient continuity table (docs/definitions.md, *Continuity indices*).
PATIENT_CONTINUITY_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "n_visits",
    "n_clinicians",
    "usual_clinician_id",
    "upc",
    "coc",
    "secon",
    "mmci",
    "hhi",
    "k_index",
    "known_provider",
)
