"""The Synthea CSV reader: a Synthea ``output/csv`` folder into canonical tables.

Files
-----
File names are matched in any case (``encounters.csv``, ``ENCOUNTERS.CSV``;
``.csv.gz`` too). Columns are found by name, in any case, and only the ones
listed here are read, so the column sets of different Synthea releases all
work (providers with ``UTILIZATION`` or ``ENCOUNTERS,PROCEDURES``, patients
with or without ``FIPS``, ``INCOME``, ``MIDDLE``).

=====================  ========  ===============================================
file                   needed    columns read → canonical
=====================  ========  ===============================================
``encounters.csv``     yes       ``Id`` → encounter_id, ``PATIENT`` → patient_id,
                                 ``PROVIDER`` → clinician_id, ``ORGANIZATION`` →
                                 practice_id, ``START`` → start,
                                 ``ENCOUNTERCLASS`` (+ speciality) → setting
``providers.csv``      yes [1]_  ``Id`` → clinician_id, ``ORGANIZATION`` →
                                 practice_id, ``SPECIALITY`` → specialty (and
                                 role, below)
``patients.csv``       no        ``Id`` → patient_id, ``BIRTHDATE`` → birth_date,
                                 ``GENDER`` → sex, ``DEATHDATE`` → death_date
``organizations.csv``  no        not read: ``ORGANIZATION`` is already the
                                 organisation's id, and the canonical model has
                                 no practice table to fill from it
=====================  ========  ===============================================

.. [1] Not needed in the older layout below, where encounters name no clinician.

``STOP`` and the cost, payer and code columns are not used. ``START`` is an ISO
timestamp in UTC with a ``Z`` (``2023-01-27T16:17:47Z``); it is kept as UTC
wall time, so the calendar day of a visit is the UTC day.

Older layout (Synthea 2.x, 2019)
--------------------------------
Encounters without an ``ORGANIZATION`` column come from Synthea 2.x, whose
``PROVIDER`` column holds the **organisation's** id (its data dictionary: "Foreign
key to the Organization"). There, ``PROVIDER`` is read as practice_id, encounters
have no clinician (clinician-level measures have nothing to work with; use
``--level practice``) and a remark says so. Because no clinician's speciality is
known, ambulatory classes become ``primary_care``.

Settings
--------
``ENCOUNTERCLASS`` is compared in lower case, without spaces, hyphens or
underscores (``Urgent Care`` = ``urgentcare``):

=====================================  ============================================
``ENCOUNTERCLASS``                     setting
=====================================  ============================================
``wellness``, ``ambulatory``,          ``primary_care`` when the clinician's
``outpatient``                         ``SPECIALITY`` is one of
                                       :data:`PRIMARY_CARE_SPECIALITIES`
                                       (``GENERAL PRACTICE``) or unknown (no
                                       clinician, empty speciality); otherwise
                                       ``specialty``
``urgentcare``                         ``urgent_care``
``emergency``                          ``emergency``
``inpatient``                          ``inpatient``
``virtual``, ``telemed``               ``virtual``
``home``                               ``home``
``hospice``, ``snf``                   ``other`` (facility stays, not visits)
anything else, or empty                quarantined: ``unknown_encounter_class``
=====================================  ============================================

Clinician roles
---------------
Synthea's providers are physicians unless the speciality names another
profession (:data:`ROLE_BY_SPECIALITY`, matched as a part of the upper-cased
speciality, first match wins): ``NURSE PRACTITIONER`` → ``np``,
``PHYSICIAN ASSISTANT`` → ``pa``, another ``NURSE`` (midwife, anaesthetist,
clinical nurse specialist) → ``nurse``; audiologists, therapists, psychologists,
social workers, dietitians, speech pathologists, optometrists and
chiropractors → ``other``; everything else, an empty speciality included →
``physician``.

Quarantine
----------
Besides the checks every reader shares (:mod:`carethread.validate`: missing
patient or start, bad or impossible dates, duplicate ``Id`` — the first
occurrence is kept — and malformed CSV lines), an encounter is quarantined when

- its ``PROVIDER`` is not an ``Id`` of providers.csv: ``unknown_clinician_reference``
  (the encounter is dropped rather than kept without a clinician: its setting
  depends on the clinician's speciality, and a dangling id means the export is
  inconsistent, which the quarantine makes visible);
- patients.csv is present and its ``PATIENT`` is not an ``Id`` there
  (whatever that patient row's own validity): ``unknown_patient_reference``;
- its class is not in the table above: ``unknown_encounter_class``.

An empty ``PROVIDER`` is not a rejection: the encounter is kept without a
clinician, as with every reader. For every file ``read = accepted +
quarantined``.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path

import ibis

from carethread import engine, validate
from carethread.data import CanonicalData
from carethread.errors import CarethreadError, InputError, OptionError, SchemaError
from carethread.readers import common
from carethread.readers.generic import check_mapping

__all__ = [
    "CLASS_SETTINGS",
    "PRIMARY_CARE_SPECIALITIES",
    "ROLE_BY_SPECIALITY",
    "looks_like_synthea",
    "read_synthea",
]

#: Marks the classes whose setting depends on the clinician's speciality.
BY_SPECIALITY = "by_speciality"

#: Normalised ``ENCOUNTERCLASS`` → setting (see the module docstring).
CLASS_SETTINGS: dict[str, str] = {
    "wellness": BY_SPECIALITY,
    "ambulatory": BY_SPECIALITY,
    "outpatient": BY_SPECIALITY,
    "urgentcare": "urgent_care",
    "emergency": "emergency",
    "inpatient": "inpatient",
    "virtual": "virtual",
    "telemed": "virtual",
    "home": "home",
    "hospice": "other",
    "snf": "other",
}

#: Upper-cased specialities whose ambulatory encounters are primary care.
PRIMARY_CARE_SPECIALITIES: tuple[str, ...] = ("GENERAL PRACTICE",)

#: Part of an upper-cased speciality → role, first match wins; else ``physician``.
ROLE_BY_SPECIALITY: tuple[tuple[str, str], ...] = (
    ("NURSE PRACTITIONER", "np"),
    ("PHYSICIAN ASSISTANT", "pa"),
    ("NURSE", "nurse"),
    ("AUDIOLOG", "other"),
    ("THERAP", "other"),
    ("PSYCHOLOG", "other"),
    ("SOCIAL WORK", "other"),
    ("DIETITIAN", "other"),
    ("NUTRITION", "other"),
    ("SPEECH", "other"),
    ("OPTOMETR", "other"),
    ("CHIROPRACT", "other"),
)

#: Canonical column → Synthea column, per canonical table (names in any case).
COLUMNS: dict[str, dict[str, str]] = {
    "encounters": {
        "encounter_id": "Id",
        "patient_id": "PATIENT",
        "clinician_id": "PROVIDER",
        "practice_id": "ORGANIZATION",
        "start": "START",
        "setting": "ENCOUNTERCLASS",
    },
    "clinicians": {"clinician_id": "Id", "practice_id": "ORGANIZATION", "specialty": "SPECIALITY"},
    "patients": {"patient_id": "Id", "birth_date": "BIRTHDATE", "sex": "GENDER", "death_date": "DEATHDATE"},
}
#: Synthea file stem → canonical table.
FILES: dict[str, str] = {"encounters": "encounters", "providers": "clinicians", "patients": "patients"}
REQUIRED: dict[str, tuple[str, ...]] = {
    "encounters": ("Id", "START", "PATIENT", "PROVIDER", "ENCOUNTERCLASS"),
    "clinicians": ("Id",),
    "patients": ("Id",),
}


# --- finding the files -----------------------------------------------------------


def _find(folder: Path, stem: str) -> Path | None:
    """The CSV file ``<stem>.csv`` (any case, optionally gzipped) in ``folder``."""
    found = [
        p
        for p in common.data_files(folder, recursive=False)
        if common.file_kind(p) == "csv" and common.norm_stem(p) == stem
    ]
    if len(found) > 1:
        raise InputError(
            f"{folder} has more than one {stem} file ({', '.join(p.name for p in found)}). Keep one of them."
        )
    return found[0] if found else None


def looks_like_synthea(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Synthea CSV folder: ``encounters.csv`` and
    ``providers.csv`` (any case), the encounters header naming ``PROVIDER``
    and ``ENCOUNTERCLASS``. Reads one header line; never raises.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "encounters.csv").write_text("Id,START,PATIENT,PROVIDER,ENCOUNTERCLASS\\n")
    >>> looks_like_synthea(folder)
    False
    >>> _ = (folder / "Providers.csv").write_text("Id,SPECIALITY\\n")
    >>> looks_like_synthea(folder)
    True
    """
    try:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            return False
        encounters, providers = _find(folder, "encounters"), _find(folder, "providers")
        if encounters is None or providers is None:
            return False
        file = common.SourceFile(encounters, encounters.name, "csv")
        common.open_csv(file)
    except (CarethreadError, OSError):
        return False
    names = {c.upper() for c in file.columns}
    return {"PROVIDER", "ENCOUNTERCLASS"} <= names


def _folder(path: str | os.PathLike) -> Path:
    folder = Path(path).expanduser()
    if not folder.exists():
        raise InputError(
            f"{os.fspath(path)} does not exist. Pass the folder Synthea wrote its CSV files to "
            "(output/csv), which holds encounters.csv and providers.csv."
        )
    if not folder.is_dir():
        raise InputError(
            f"{folder.name} is a file; the Synthea reader reads a folder. Pass the folder that holds "
            "encounters.csv and providers.csv (output/csv), or use --format generic for a single file."
        )
    return folder


def _columns(file: common.SourceFile, table: str) -> dict[str, str | None]:
    """Canonical → actual source column of ``file`` (header names matched in any case)."""
    present = {c.upper(): c for c in file.columns}
    for name in REQUIRED[table]:
        if name.upper() not in present:
            raise SchemaError(
                f"{file.source} has no column `{name}`, which Synthea writes and the Synthea reader needs. "
                f"{common.columns_present(file.columns)} Check that the folder is Synthea CSV output (with "
                "its header row); for other CSV files use --format generic (with --map for column names)."
            )
    return {canonical: present.get(synthea.upper()) for canonical, synthea in COLUMNS[table].items()}


# --- derived columns -------------------------------------------------------------


def _trimmed(col: ibis.Value) -> ibis.StringValue:
    return engine.trim_spaces(col).nullif("")


def _role(speciality: ibis.StringValue) -> ibis.StringValue:
    upper = speciality.upper()
    return ibis.cases(*((upper.contains(part), role) for part, role in ROLE_BY_SPECIALITY), else_="physician")


def _check_providers(raw, columns, **kwargs) -> validate.Checked:
    spec = columns.get("specialty")
    derived = _role(_trimmed(raw[spec])) if spec else ibis.literal("physician")
    raw = raw.mutate(__role=derived)
    return validate.check_clinicians(raw, {**columns, "role": "__role"}, **kwargs)


def _encounter_check(clinicians: ibis.Table | None, patient_ids: ibis.Table | None, *, current: bool):
    """The encounters check: ``__reject`` codes and the setting, then the shared checks.

    ``clinicians`` are the accepted providers (one row per id), ``patient_ids``
    every patient id of patients.csv (``None`` when there is no such file).
    """

    def check(raw: ibis.Table, columns: Mapping[str, str | None], **kwargs) -> validate.Checked:
        keep = list(raw.columns)
        patient_col, provider_col, class_col = columns["patient_id"], columns["clinician_id"], columns["setting"]
        # Left joins on unique keys: one output row per encounter row, so no row
        # can be lost or doubled; __file and __row come through unchanged.
        if current:
            side = clinicians.select(__cid="clinician_id", __spec="specialty", __known_c=ibis.literal(True))
            keep += ["__spec", "__known_c"]
            raw = raw.left_join(side, _trimmed(raw[provider_col]) == side.__cid).select(*keep)
        if patient_ids is not None:
            side = patient_ids.select(__pid="patient_id", __known_p=ibis.literal(True))
            keep += ["__known_p"]
            raw = raw.left_join(side, _trimmed(raw[patient_col]) == side.__pid).select(*keep)
        mapped = (
            engine.trim_spaces(raw[class_col])
            .lower()
            .re_replace(r"[ \t_\-]+", "")
            .substitute(CLASS_SETTINGS, else_=ibis.null("string"))
        )
        speciality = raw.__spec.upper() if current else ibis.null("string")
        primary = speciality.isnull() | speciality.isin(PRIMARY_CARE_SPECIALITIES)
        setting = ibis.cases(
            (mapped == BY_SPECIALITY, ibis.cases((primary, "primary_care"), else_="specialty")),
            else_=mapped,
        )
        rules = []  # (failed, code, offending value), in the order of validate.REASONS
        if patient_ids is not None:
            given = _trimmed(raw[patient_col]).notnull()
            rules.append((given & raw.__known_p.isnull(), "unknown_patient_reference", raw[patient_col]))
        if current:
            given = _trimmed(raw[provider_col]).notnull()
            rules.append((given & raw.__known_c.isnull(), "unknown_clinician_reference", raw[provider_col]))
        rules.append((mapped.isnull(), "unknown_encounter_class", raw[class_col]))
        if "__reject" in raw.columns:  # a row the CSV reader could not split comes first
            rules.insert(0, (raw.__reject.notnull(), raw.__reject, raw.__reject_value))
        reject = ibis.cases(*((failed, code) for failed, code, _v in rules), else_=ibis.null("string"))
        value = ibis.cases(*((failed, v) for failed, _c, v in rules), else_=ibis.null("string"))
        # The derived setting replaces ENCOUNTERCLASS under its own name, so the
        # quarantine's `column` names the source column an analyst can find.
        raw = raw.mutate(**{class_col: setting, "__reject": reject, "__reject_value": value})
        return validate.check_encounters(raw, columns, **kwargs)

    return check


# --- the reader ------------------------------------------------------------------


def read_synthea(
    path: str | os.PathLike,
    *,
    con=None,
    mapping: Mapping[str, str] | str | None = None,
    extraction_date: _dt.date | str | None = None,
    date_format: str | None = None,
) -> CanonicalData:
    """Read a Synthea CSV folder into canonical encounters, clinicians and patients.

    Parameters
    ----------
    path
        The folder Synthea wrote its CSV files to (see the module docstring).
    con
        An Ibis DuckDB connection; default :func:`carethread.engine.connect`.
    mapping
        Not supported: Synthea columns are read by name. Give ``None``.
    extraction_date
        The day the data was extracted (Synthea's end date); later dates are
        rejected. Default: today.
    date_format
        A strptime pattern tried before the ISO forms (Synthea writes ISO,
        so this is rarely needed).

    Returns
    -------
    CanonicalData
        ``format='synthea'``; one :class:`~carethread.data.ReadCount` per
        file read (encounters, providers, patients), ``read = accepted +
        quarantined`` for each.

    Raises
    ------
    InputError
        The folder does not exist, lacks encounters.csv (or providers.csv in
        the current layout), or a file is unreadable or has no valid row.
    SchemaError
        A needed column is missing (the message lists the columns present).
    OptionError
        A ``mapping`` was given, or an invalid extraction date or date format.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "providers.csv").write_text(
    ...     "Id,ORGANIZATION,SPECIALITY\\nc1,o1,GENERAL PRACTICE\\nc2,o1,PSYCHIATRY\\n")
    >>> _ = (folder / "encounters.csv").write_text(
    ...     "Id,START,PATIENT,ORGANIZATION,PROVIDER,ENCOUNTERCLASS\\n"
    ...     "e1,2023-01-27T16:17:47Z,p1,o1,c1,wellness\\n"
    ...     "e2,2023-02-01T09:00:00Z,p1,o1,c2,ambulatory\\n"
    ...     "e3,2023-03-01T09:00:00Z,p1,o1,c9,ambulatory\\n")
    >>> data = read_synthea(folder, extraction_date="2024-06-30")
    >>> print(data.reconciliation())
    encounters.csv: 3 rows read = 2 accepted + 1 quarantined
    providers.csv: 2 rows read = 2 accepted + 0 quarantined
    >>> data.encounters.order_by("encounter_id").select("encounter_id", "setting").to_pyarrow().to_pylist()
    [{'encounter_id': 'e1', 'setting': 'primary_care'}, {'encounter_id': 'e2', 'setting': 'specialty'}]
    >>> data.quarantine.to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'source': 'encounters.csv', 'row': '3', 'column': 'PROVIDER', 'value': 'c9',
      'reason': 'unknown_clinician_reference'}]
    """
    if check_mapping(mapping):
        raise OptionError(
            "--map applies to --format generic only; the Synthea reader finds its columns by name. "
            "Drop --map, or read the files with --format generic."
        )
    extraction = common.parse_extraction_date(extraction_date)
    con = engine.connect() if con is None else con
    engine.require_duckdb(con)
    common.check_date_format(con, date_format, reader="synthea")
    folder = _folder(path)
    files: dict[str, common.SourceFile] = {}
    for stem, table in FILES.items():
        found = _find(folder, stem)
        if found is not None:
            files[table] = common.SourceFile(found, found.name, "csv")
            common.open_csv(files[table])
    if "encounters" not in files:
        raise InputError(
            f"{folder} has no encounters.csv, so it is not a Synthea CSV folder. Pass the folder "
            "Synthea wrote (output/csv), or choose another --format."
        )
    encounters = files["encounters"]
    current = "ORGANIZATION" in {c.upper() for c in encounters.columns}
    if current and "clinicians" not in files:
        raise InputError(
            f"{folder} has encounters.csv but no providers.csv, which the Synthea reader needs to "
            "resolve each encounter's clinician and tell primary care from specialty visits. "
            "Copy providers.csv from the same Synthea run into the folder."
        )
    read = dict(extraction_date=extraction, date_format=date_format)
    finished: dict[str, validate.Finished] = {}
    remarks: list[str] = []

    clinicians = None
    if "clinicians" in files:
        file = files["clinicians"]
        finished["clinicians"] = common.read_table(
            con, "clinicians", [file], _columns(file, "clinicians"), check=_check_providers, **read
        )
        clinicians = finished["clinicians"].accepted

    patient_ids = None
    if "patients" in files:
        file = files["patients"]
        seen: list[validate.Checked] = []

        def check_patients(raw, columns, **kwargs):
            # Kept so encounters are checked against every patient id in the
            # file, including rows quarantined for their own reasons (a bad
            # birth date must not also reject that patient's encounters).
            seen.append(validate.check_patients(raw, columns, **kwargs))
            return seen[-1]

        finished["patients"] = common.read_table(
            con, "patients", [file], _columns(file, "patients"), check=check_patients, optional=True, **read
        )
        stored = seen[-1].table
        patient_ids = stored.filter(stored.patient_id.notnull()).select("patient_id").distinct()
    else:
        remarks.append(
            "The folder has no patients.csv: there is no patients table (birth dates, sex, deaths), "
            "and encounters' patient references were not checked."
        )

    columns = _columns(encounters, "encounters")
    if not current:
        columns["practice_id"], columns["clinician_id"] = columns["clinician_id"], None
        remarks.insert(
            0,
            f"{encounters.source} has Synthea's older column set (no ORGANIZATION column), whose "
            "PROVIDER column names the organisation: it was read as practice_id, so encounters have "
            "no clinician; use --level practice for continuity.",
        )
    finished["encounters"] = common.read_table(
        con,
        "encounters",
        [encounters],
        columns,
        check=_encounter_check(clinicians, patient_ids, current=current),
        **read,
    )

    order = ("encounters", "clinicians", "patients")
    counts, table_remarks, quarantine = common.combine(finished[table] for table in order if table in finished)
    return CanonicalData(
        encounters=finished["encounters"].accepted,
        clinicians=clinicians,
        patients=finished["patients"].accepted if "patients" in finished and finished["patients"].usable else None,
        quarantine=quarantine,
        counts=counts,
        remarks=remarks + table_remarks,
        format="synthea",
    )
