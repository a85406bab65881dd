"""The OMOP visit-concept mapping: which care setting each ``visit_concept_id`` means.

:data:`VISIT_CONCEPTS` is the documented default (see ``docs/formats.md``);
:func:`parse_visit_concepts` reads overrides given in Python, on the command
line (``--visit-concepts``) or in a file.
"""

from __future__ import annotations

from carethread.errors import OptionError
from carethread.readers.values import option_pairs
from carethread.schema import SETTINGS, normalize_label

#: The setting value that defers to the clinician's specialty.
BY_SPECIALTY = "by_specialty"

#: Standard visit concept id → setting (or :data:`BY_SPECIALTY`). Visit-domain
#: concepts of the OMOP vocabulary, plus the CMS place-of-service concepts older
#: ETLs put in ``visit_concept_id``.
VISIT_CONCEPTS: dict[int, str] = {
    9202: BY_SPECIALTY,  # Outpatient Visit
    581477: BY_SPECIALTY,  # Office Visit
    8940: BY_SPECIALTY,  # Office (place of service 11)
    8756: BY_SPECIALTY,  # Outpatient Hospital (place of service 22)
    9203: "emergency",  # Emergency Room Visit
    8870: "emergency",  # Emergency Room - Hospital (place of service 23)
    262: "emergency",  # Emergency Room and Inpatient Visit (see the module docstring)
    9201: "inpatient",  # Inpatient Visit
    8717: "inpatient",  # Inpatient Hospital (place of service 21)
    8782: "urgent_care",  # Urgent Care Facility (place of service 20)
    5083: "virtual",  # Telehealth Visit
    581476: "home",  # Home Visit
    42898160: "other",  # Non-hospital institution Visit
    581458: "other",  # Pharmacy Visit
    32036: "other",  # Laboratory Visit
    581478: "other",  # Ambulance Visit
    38004193: "other",  # Case Management Visit
}

#: Provider specialty concepts (Medicare Specialty vocabulary) that make an
#: outpatient visit primary care: the CMS Shared Savings Program's primary-care
#: specialties.
PRIMARY_CARE_SPECIALTIES: dict[int, str] = {
    38004446: "General Practice",
    38004453: "Family Practice",
    38004456: "Internal Medicine",
    38004477: "Pediatric Medicine",
    38004478: "Geriatric Medicine",
}

#: Specialty concepts that say nothing about the specialty.
UNKNOWN_SPECIALTIES: dict[int, str] = {0: "No matching concept", 38004514: "Unknown Physician Specialty"}

#: gender_concept_id → canonical sex.
GENDERS: dict[int, str] = {8507: "M", 8532: "F"}

#: Concept names used in remarks when the input has no concept table.
KNOWN_CONCEPT_NAMES: dict[int, str] = {0: "No matching concept"}


def parse_visit_concepts(value) -> dict[int, str]:
    """Overrides of :data:`VISIT_CONCEPTS` from a dict, a text or a file.

    Text is ``"id=setting,id=setting"``; a path names a file of ``id=setting``
    lines (``#`` starts a comment) or a CSV file with columns
    ``visit_concept_id,setting``. Settings are those of
    :data:`carethread.schema.SETTINGS` or ``by_specialty``.

    Raises
    ------
    OptionError
        For a concept id that is not a whole number, an unknown setting, or
        a file that does not exist.

    Examples
    --------
    >>> parse_visit_concepts("38004207=specialty, 262=inpatient")
    {38004207: 'specialty', 262: 'inpatient'}
    >>> parse_visit_concepts({"5083": "Primary Care"})
    {5083: 'primary_care'}
    >>> parse_visit_concepts("9202=clinic")
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --visit-concepts: `clinic` (for 9202) is not a setting; use one of primary_care, ...
    """
    pairs = option_pairs(
        value,
        "--visit-concepts",
        "concept=setting",
        "--visit-concepts 38004207=specialty,262=inpatient",
        csv_header=("visit_concept_id", "setting"),
    )
    out: dict[int, str] = {}
    for key, setting in pairs:
        try:
            concept = int(str(key).strip())
        except ValueError:
            raise OptionError(
                f"--visit-concepts: `{key}` is not a concept id; visit_concept_id values are whole numbers."
            ) from None
        label = normalize_label(str(setting)) if setting is not None else None
        if label not in SETTINGS and label != BY_SPECIALTY:
            raise OptionError(
                f"--visit-concepts: `{setting}` (for {concept}) is not a setting; use one of "
                f"{', '.join(SETTINGS)}, or {BY_SPECIALTY}."
            )
        out[concept] = label
    return out
