"""The FHIR R4 Bulk Data reader: NDJSON exports into canonical tables.

Input layout
------------
A folder written by a Bulk Data ``$export`` (or one NDJSON file): one
resource per line, files named by resource type (``Encounter.ndjson``,
``Encounter.000.ndjson``, ``Encounter.001.ndjson``, ``.ndjson.gz``), with or
without the export's ``manifest.json``. With a manifest, its ``output`` list
says which file holds which type (the last segment of each ``url`` names the
file in the folder; a listed file that is missing is an error) and its
``transactionTime`` is the default extraction date. Files of other types
(``Condition``, ``Location``, the manifest's ``error`` files, a ``log.ndjson``)
are not read; a remark names how many.

Five types are read: ``Encounter`` → encounters; ``Practitioner`` (with its
``PractitionerRole``) → clinicians; ``Patient`` → patients; ``Organization``
(the practices encounters and roles point at). Any of the last four may be
missing from an export (the IG lets a patient-level export leave them out).

Rows and counts
---------------
A row is a non-blank line; ``row`` in the quarantine is its line number in
the file. For every file ``read == accepted + quarantined``. Lines are
streamed through DuckDB (:func:`carethread.engine.ndjson_lines`): each is
parsed once, only the fields below are kept, and the checked encounters are
stored once, so the JSON text is never held in memory.

Fields
------
===================  ==========================================================
canonical            FHIR
===================  ==========================================================
encounter_id         ``Encounter.id`` (``<file>:<line>`` when absent)
patient_id           ``Encounter.subject`` → ``Patient.id``
clinician_id         the primary performer → ``Practitioner.id``: the only
                     Practitioner/PractitionerRole participant; with several,
                     the first typed ``PPRF``, else ``ATND``, else the first
                     (RelatedPerson participants never count)
practice_id          ``Encounter.serviceProvider`` → ``Organization.id``
start                ``Encounter.period.start``; an offset converts to UTC
                     wall time (``2024-03-01T20:00:00-05:00`` → ``2024-03-02
                     01:00``), ``Z`` is UTC, a date alone is midnight
setting              ``Encounter.class`` (below)
clinicians           ``Practitioner.id``; ``practice_id``, ``specialty``,
                     ``role``, ``active_from``/``active_to`` from the
                     practitioner's first PractitionerRole (``organization``,
                     ``specialty`` text, ``code``, ``period``)
patients             ``Patient.id``, ``birthDate``, ``gender`` (``male`` → M,
                     ``female`` → F, other codes as given),
                     ``deceasedDateTime`` (its date as written)
===================  ==========================================================

References are resolved, never guessed: literal ``Practitioner/<id>`` (also
absolute URLs and ``/_history/`` versions), conditional
``Practitioner?identifier=<system>|<value>`` (``%7C`` for ``|`` too) and
logical ones (an ``identifier`` without ``reference``, as Synthea's
PractitionerRole has) are matched against the ids and identifiers of the
resources in the export; the same for Patient and Organization. A
PractitionerRole reference resolves to the role's practitioner. When the
export has no resource of the target type at all, the reference's own id or
identifier value is used as it is.

Which references are required: ``subject`` must be present
(``missing_patient_id``); every reference that *is* present must resolve
when its type is in the export (``unknown_patient_reference``,
``unknown_clinician_reference``, ``unknown_practice_reference``): a dangling
link means a broken or partial export, and counting the encounter anyway
would attribute it to nobody or to the wrong place. An encounter without a
performer or ``serviceProvider`` is kept (no clinician / no practice).

Settings
--------
======================================  =======================================
``Encounter.class.code`` (v3 ActCode)   setting
======================================  =======================================
``AMB``                                 ``urgent_care`` when ``type`` or
                                        ``serviceType`` has SNOMED 702927004
                                        "Urgent care clinic" (Synthea's
                                        convention); else ``primary_care`` or
                                        ``specialty`` by the performer's
                                        specialty (below); with no performer
                                        specialty, by ``serviceType`` the same
                                        way; with neither, ``primary_care``
                                        (counted in a remark)
``EMER``                                ``emergency``
``IMP``, ``ACUTE``, ``NONAC``, ``SS``,  ``inpatient`` (hospital stays of any
``OBSENC``                              length, observation included)
``VR``                                  ``virtual``
``HH``                                  ``home``
``FLD``, ``PRENC``                      ``other``
anything else, or no class              quarantined: ``unknown_encounter_class``
======================================  =======================================

The performer's specialty comes from their PractitionerRole at the
encounter's ``serviceProvider`` (else their first role; a PractitionerRole
performer is that role). It is **primary care** when any ``specialty``
coding is one of :data:`PRIMARY_CARE_CODES` (NUCC general practice 208D00000X,
family medicine 207Q*, internal medicine 207R00000X, pediatrics 208000000X,
family / primary-care / pediatric NPs, general-practice nurses 163WG0000X;
SNOMED practice settings general practice, family practice, internal
medicine, pediatrics) or its text is in :data:`PRIMARY_CARE_TEXTS`; any other
specialty is ``specialty`` care. Internal-medicine *subspecialties*
(cardiology 207RC0000X, ...) are specialty care. Pediatrics and practice
nurses count as primary care because they hold or serve primary-care panels.

Encounters whose ``status`` says they did not take place (``planned``,
``cancelled``, ``entered-in-error``) are quarantined as ``encounter_not_held``.

PractitionerRole roles: practitioner-role ``doctor`` or a NUCC physician code
(``20xxxxxxxX``) → physician; NUCC 363L* → np, 363A* → pa, 163W* or
``nurse`` → nurse; otherwise the code's text (see
:data:`carethread.validate.ROLE_ALIASES`; unknown → other).

Modules
-------
:mod:`~carethread.readers.fhir.discover` finds the files and reads the
manifest; :mod:`~carethread.readers.fhir.sql` holds the SQL that parses each
line once, which :mod:`~carethread.readers.fhir.stage` runs per resource type;
:mod:`~carethread.readers.fhir.resolve` resolves references;
:mod:`~carethread.readers.fhir.classify` turns classes and specialties into
settings and roles; :mod:`~carethread.readers.fhir.read` is the reader.
"""

from carethread.readers.fhir.classify import (
    NOT_HELD,
    PRIMARY_CARE_CODES,
    PRIMARY_CARE_PREFIXES,
    PRIMARY_CARE_TEXTS,
    SETTING_OF_CLASS,
    URGENT_CARE_CODES,
)
from carethread.readers.fhir.discover import RESOURCES, Export, ExportFile, looks_like_fhir
from carethread.readers.fhir.read import read_fhir

__all__ = [
    "NOT_HELD",
    "PRIMARY_CARE_CODES",
    "PRIMARY_CARE_PREFIXES",
    "PRIMARY_CARE_TEXTS",
    "RESOURCES",
    "SETTING_OF_CLASS",
    "URGENT_CARE_CODES",
    "Export",
    "ExportFile",
    "looks_like_fhir",
    "read_fhir",
]
