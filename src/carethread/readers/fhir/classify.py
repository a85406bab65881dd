"""Classifying FHIR resources: an encounter's care setting, a role's kind of care and label.

The rules are in :mod:`carethread.readers.fhir` (*Settings*); this module holds
their code lists and their Ibis expressions.
"""

from __future__ import annotations

import ibis

#: ``Encounter.class.code`` → setting; ``None`` = decided by specialty (AMB).
SETTING_OF_CLASS: dict[str, str | None] = {
    "AMB": None,
    "EMER": "emergency",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "SS": "inpatient",
    "OBSENC": "inpatient",
    "VR": "virtual",
    "HH": "home",
    "FLD": "other",
    "PRENC": "other",
}

#: SNOMED CT 702927004 "Urgent care clinic" in ``Encounter.type``/``serviceType``.
URGENT_CARE_CODES: tuple[str, ...] = ("702927004",)

#: Specialty codes that mean primary care (NUCC taxonomy, SNOMED practice settings).
PRIMARY_CARE_CODES: tuple[str, ...] = (
    "208D00000X",  # General Practice
    "207R00000X",  # Internal Medicine (not its subspecialties)
    "208000000X",  # Pediatrics
    "363LF0000X",  # Nurse Practitioner, Family
    "363LP2300X",  # Nurse Practitioner, Primary Care
    "363LP0200X",  # Nurse Practitioner, Pediatrics
    "163WG0000X",  # Registered Nurse, General Practice
    "394814009",  # SNOMED: General practice
    "419772000",  # SNOMED: Family practice
    "419192003",  # SNOMED: Internal medicine
    "394537008",  # SNOMED: Pediatric specialty
)
#: Code prefixes that mean primary care: NUCC 207Q* is Family Medicine and its areas.
PRIMARY_CARE_PREFIXES: tuple[str, ...] = ("207Q",)
#: Specialty texts (lower case, single spaces) that mean primary care.
PRIMARY_CARE_TEXTS: tuple[str, ...] = (
    "general practice",
    "general practice physician",
    "general practitioner",
    "family medicine",
    "family practice",
    "family physician",
    "internal medicine",
    "general internal medicine",
    "pediatrics",
    "general pediatrics",
    "paediatrics",
    "primary care",
)

#: ``Encounter.status`` values for encounters that did not take place.
NOT_HELD: tuple[str, ...] = ("planned", "cancelled", "entered-in-error")


def _norm_text(text: ibis.StringValue) -> ibis.StringValue:
    return text.lower().re_replace(r"\s+", " ").strip()


def care_kind(codes: ibis.StringValue, text: ibis.StringValue) -> ibis.StringValue:
    """``'primary'`` / ``'specialty'`` from a ``'|code|...|'`` string and a text; NULL if neither.

    >>> t = ibis.memtable({"codes": ["|207QA0000X|", "|207RC0000X|", None], "text": [None, None, "Family  Medicine"]})
    >>> t.select(k=care_kind(t.codes, t.text)).to_pyarrow()["k"].to_pylist()
    ['primary', 'specialty', 'primary']
    """
    primary = _norm_text(text).isin(PRIMARY_CARE_TEXTS).fill_null(False)
    for code in PRIMARY_CARE_CODES:
        primary = primary | codes.contains(f"|{code}|").fill_null(False)
    for prefix in PRIMARY_CARE_PREFIXES:
        primary = primary | codes.contains(f"|{prefix}").fill_null(False)
    given = codes.notnull() | text.notnull()
    return ibis.cases((primary, "primary"), (given, "specialty"), else_=ibis.null("string"))


def role_label(codes: ibis.StringValue, text: ibis.StringValue) -> ibis.StringValue:
    """PractitionerRole.code → a role label for :func:`carethread.validate.check_clinicians`.

    >>> t = ibis.memtable({"codes": ["|doctor|", "|363LF0000X|", "|xyz|"], "text": ["Doctor", None, "Scribe"]})
    >>> t.select(r=role_label(t.codes, t.text)).to_pyarrow()["r"].to_pylist()
    ['physician', 'np', 'Scribe']
    """
    return ibis.cases(
        (codes.contains("|doctor|") | codes.re_search(r"\|20[0-9A-Z]{7}X\|"), "physician"),
        (codes.re_search(r"\|363L[0-9A-Z]{5}X\|"), "np"),
        (codes.re_search(r"\|363A[0-9A-Z]{5}X\|"), "pa"),
        (codes.contains("|nurse|") | codes.re_search(r"\|163W[0-9A-Z]{5}X\|"), "nurse"),
        else_=text,
    )


def encounter_setting(
    class_code: ibis.StringValue,
    type_codes: ibis.StringValue,
    service_codes: ibis.StringValue,
    service_text: ibis.StringValue,
    kind: ibis.StringValue,
) -> tuple[ibis.StringValue, ibis.BooleanValue]:
    """``(setting, unknown class)`` of an encounter.

    ``kind`` is the performer's kind of care (``'primary'``, ``'specialty'`` or
    NULL, from :func:`care_kind`); with no kind, the ``serviceType`` decides.
    An ``AMB`` encounter without either has a NULL setting (the checks then
    count it as primary care).

    >>> t = ibis.memtable({"c": ["AMB", "AMB", "EMER", "XYZ"], "t": ["|702927004|", None, None, None],
    ...                    "s": [None, "|207Q00000X|", None, None]})
    >>> none = ibis.null("string")
    >>> setting, unknown = encounter_setting(t.c, t.t, t.s, none, none)
    >>> t.select(s=setting, u=unknown).to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'s': 'urgent_care', 'u': False}, {'s': 'primary_care', 'u': False},
     {'s': 'emergency', 'u': False}, {'s': None, 'u': True}]
    """
    service = care_kind(service_codes, service_text)
    urgent = ibis.literal(False)
    for code in URGENT_CARE_CODES:
        urgent = urgent | type_codes.contains(f"|{code}|").fill_null(False)
        urgent = urgent | service_codes.contains(f"|{code}|").fill_null(False)
    specialty = ibis.coalesce(kind, service)
    ambulatory = ibis.cases(
        (urgent, "urgent_care"),
        (specialty == "primary", "primary_care"),
        (specialty == "specialty", "specialty"),
        else_=ibis.null("string"),
    )
    code = class_code.upper()
    mapped = code.substitute({k: v for k, v in SETTING_OF_CLASS.items() if v is not None}, else_=ibis.null("string"))
    setting = ibis.cases((code == "AMB", ambulatory), else_=mapped)
    return setting, code.isnull() | ~code.isin(list(SETTING_OF_CLASS))
