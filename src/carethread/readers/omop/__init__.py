"""The OMOP CDM reader: visits, persons and providers of an OMOP Common Data Model.

Sources
-------
- **A folder of CDM tables** as CSV (comma or tab separated, ``.csv``,
  ``.tsv``, optionally gzipped) or Parquet, file names in any case
  (``VISIT_OCCURRENCE.csv``, ``visit_occurrence.tsv``). Read with embedded
  DuckDB.
- **A DuckDB database file** (``cdm.duckdb``) holding the CDM tables; it is
  attached read-only.
- **Any database Ibis connects to** (``con=ibis.postgres.connect(...)``,
  ``schema="cdm"``). Every check, join and count runs inside that database as
  SQL; only counts, a few distinct concept ids and the measures' results come
  back to Python.

Tables
------
``visit_occurrence`` (required) becomes the encounters; ``person`` (with
``death``) the patients; ``provider`` (with ``concept`` for specialty names)
the clinicians. ``visit_detail`` supplies a visit's clinician when
``visit_occurrence.provider_id`` is empty: the provider of the visit's first
detail row that has one (earliest ``visit_detail_start_datetime``, then
``visit_detail_start_date``, then ``visit_detail_id``). ``care_site`` is only
used to count visits naming a care site it lacks. Column names are matched
ignoring case; CDM 5.4, 5.3 and 5.0 names are understood (5.0 has
``visit_start_time`` instead of ``visit_start_datetime``).

================  ======================================================
canonical         OMOP
================  ======================================================
encounter_id      ``visit_occurrence_id``
patient_id        ``person_id``
clinician_id      ``visit_occurrence.provider_id``, else the first
                  ``visit_detail.provider_id`` of the visit
practice_id       ``visit_occurrence.care_site_id``, else the
                  clinician's ``provider.care_site_id``
start             ``visit_start_datetime``, else ``visit_start_date``
                  (5.0: ``visit_start_date`` + ``visit_start_time``)
setting           ``visit_concept_id`` through :data:`VISIT_CONCEPTS`
birth_date        ``birth_datetime``, else ``year_of_birth`` /
                  ``month_of_birth`` / ``day_of_birth`` (a missing month
                  or day is 1, as OHDSI ages count whole years)
sex               ``gender_concept_id``: 8507 ``M``, 8532 ``F``, else empty
death_date        earliest ``death.death_date`` (or ``death_datetime``)
clinicians        ``provider_id``; ``care_site_id`` as practice;
                  specialty = ``concept_name`` of ``specialty_concept_id``,
                  else ``specialty_source_value``; role ``physician`` for a
                  primary-care specialty concept, ``np`` / ``pa`` when the
                  specialty names a nurse practitioner or physician
                  assistant, else empty
================  ======================================================

Settings
--------
:data:`VISIT_CONCEPTS` maps standard visit concepts to settings; the value
``by_specialty`` (outpatient and office visits) means ``primary_care`` when
the visit's clinician has a primary-care specialty concept
(:data:`PRIMARY_CARE_SPECIALTIES`: the CMS Shared Savings Program's general
practice, family practice, internal medicine, pediatric and geriatric
medicine) or no known specialty (empty, 0 or 38004514 "Unknown Physician
Specialty"; counted in a remark), and ``specialty`` otherwise.

Visit concept 262 (Emergency Room and Inpatient Visit) becomes **one**
encounter with setting ``emergency``: the canonical table has one setting per
encounter, the visit starts in the emergency room (its start time is the
arrival there), splitting it into two rows would count one OMOP row twice and
need invented ids, and neither setting counts as a continuity visit by
default. Map it to ``inpatient`` to count the admission instead.

A visit whose ``visit_concept_id`` is not in the mapping (including 0, "No
matching concept") is quarantined as ``unknown_visit_concept``; a remark lists
the concept ids concerned. Override or extend the mapping with
``visit_concepts`` (``{581478: "emergency"}``, the text
``"9202=primary_care,262=inpatient"``, or a file of ``id=setting`` lines or
``visit_concept_id,setting`` CSV rows); the CLI option is ``--visit-concepts``.

Rows and counts
---------------
``visit_occurrence``, ``person`` and ``provider`` each get a reconciliation
line (``read = accepted + quarantined``). In CSV files ``row`` is the data row
(header excluded); in database tables, which have no row order, it is the
row's position in key order (``ORDER BY visit_occurrence_id``, 1-based).
"""

from carethread.readers.omop.concepts import (
    BY_SPECIALTY,
    GENDERS,
    KNOWN_CONCEPT_NAMES,
    PRIMARY_CARE_SPECIALTIES,
    UNKNOWN_SPECIALTIES,
    VISIT_CONCEPTS,
    parse_visit_concepts,
)
from carethread.readers.omop.read import looks_like_omop, read_omop

__all__ = [
    "BY_SPECIALTY",
    "GENDERS",
    "KNOWN_CONCEPT_NAMES",
    "PRIMARY_CARE_SPECIALTIES",
    "UNKNOWN_SPECIALTIES",
    "VISIT_CONCEPTS",
    "looks_like_omop",
    "parse_visit_concepts",
    "read_omop",
]
