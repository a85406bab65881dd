"""FHIR R4 resources of the synthetic system, one NDJSON line each, built column-wise.

The codings and systems written (:data:`CLASS_OF_SETTING`, :data:`NUCC_OF_SPECIALTY`,
:data:`CODE_OF_ROLE`) and one builder per resource type; :mod:`carethread.synth.fhir`
writes them into a Bulk Data export.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carethread import schema
from carethread.errors import InputError
from carethread.synth import tables as tb

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
PATIENT_SYSTEM = "https://carethread.example/fhir/sid/patient"
PRACTICE_SYSTEM = "https://carethread.example/fhir/sid/practice"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/practitioner-role"
NUCC = "http://nucc.org/provider-taxonomy"
SNOMED = "http://snomed.info/sct"

#: Canonical setting → Encounter.class code (v3 ActCode).
CLASS_OF_SETTING: dict[str, str] = {
    "primary_care": "AMB",
    "specialty": "AMB",
    "urgent_care": "AMB",
    "emergency": "EMER",
    "inpatient": "IMP",
    "virtual": "VR",
    "home": "HH",
    "other": "FLD",
}
_CLASS_DISPLAY = {
    "AMB": "ambulatory",
    "EMER": "emergency",
    "IMP": "inpatient encounter",
    "VR": "virtual",
    "HH": "home health",
    "FLD": "field",
}

#: The synthetic system's specialties as NUCC taxonomy codings (``None``: no
#: individual taxonomy exists, the role carries only the text).
NUCC_OF_SPECIALTY: dict[str, tuple[str, str] | None] = {
    "family medicine": ("207Q00000X", "Family Medicine"),
    "internal medicine": ("207R00000X", "Internal Medicine"),
    "pediatrics": ("208000000X", "Pediatrics"),
    "nursing": ("163WG0000X", "Registered Nurse, General Practice"),
    "urgent care": None,
    "emergency medicine": ("207P00000X", "Emergency Medicine"),
    "hospital medicine": ("208M00000X", "Hospitalist"),
    "cardiology": ("207RC0000X", "Cardiovascular Disease"),
    "dermatology": ("207N00000X", "Dermatology"),
    "orthopedics": ("207X00000X", "Orthopaedic Surgery"),
    "endocrinology": ("207RE0101X", "Endocrinology, Diabetes & Metabolism"),
    "gastroenterology": ("207RG0100X", "Gastroenterology"),
    "neurology": ("2084N0400X", "Neurology"),
    "psychiatry": ("2084P0800X", "Psychiatry"),
    "obstetrics and gynecology": ("207V00000X", "Obstetrics & Gynecology"),
    "pulmonology": ("207RP1001X", "Pulmonary Disease"),
    "ophthalmology": ("207W00000X", "Ophthalmology"),
}

#: Canonical role → PractitionerRole.code coding (system, code, display).
CODE_OF_ROLE: dict[str, tuple[str, str, str]] = {
    "physician": (ROLE_SYSTEM, "doctor", "Doctor"),
    "nurse": (ROLE_SYSTEM, "nurse", "Nurse"),
    "np": (NUCC, "363L00000X", "Nurse Practitioner"),
    "pa": (NUCC, "363A00000X", "Physician Assistant"),
}

_URGENT_TYPE = (
    f',"type":[{{"coding":[{{"system":"{SNOMED}","code":"702927004",'
    '"display":"Urgent care clinic"}],"text":"Urgent care clinic"}]'
)
_SERVICE_TYPE = {
    "primary_care": f',"serviceType":{{"coding":[{{"system":"{SNOMED}","code":"394814009",'
    '"display":"General practice"}]}',
    "specialty": f',"serviceType":{{"coding":[{{"system":"{SNOMED}","code":"394733009",'
    '"display":"Medical specialty--OTHER--NOT LISTED"}]}',
}


def _participant_type(code: str, display: str) -> str:
    return f'"type":[{{"coding":[{{"system":"{PARTICIPATION}","code":"{code}","display":"{display}"}}]}}],'


_PPRF = _participant_type("PPRF", "primary performer")
_ATND = _participant_type("ATND", "attender")
_SPRF = _participant_type("SPRF", "secondary performer")


# --- column-wise JSON ------------------------------------------------------------------


def join_text(*parts) -> pa.Array:
    """Concatenate string arrays and scalars row by row; a NULL part adds nothing."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _escaped(values: pa.Array, what: str) -> pa.Array:
    """String values made safe inside a JSON string (backslash and quote escaped).

    Control characters would need ``\\u`` escapes; identifiers never hold
    them, so they are refused rather than guessed at.
    """
    values = values.cast(pa.string())
    if pc.any(pc.match_substring_regex(values, r"[\x00-\x1f]")).as_py():
        raise InputError(
            f"{what} holds control characters (tab, newline, ...), which the FHIR writer does not "
            "escape. Clean the values first."
        )
    values = pc.replace_substring(values, "\\", "\\\\")
    return pc.replace_substring(values, '"', '\\"')


def _when(mask, then, otherwise=None) -> pa.Array:
    """``then`` where ``mask`` is true, else ``otherwise`` (NULL: nothing written)."""
    if otherwise is None:
        otherwise = pa.scalar(None, pa.string())
    return pc.if_else(mask, then, otherwise)


def _date_text(values: pa.Array) -> pa.Array:
    return pc.strftime(values.cast(pa.timestamp("s")), format="%Y-%m-%d")


def _instant_text(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``period.start``: the UTC instant written with ``Z`` or with an offset."""
    values = values.cast(pa.timestamp("us"))
    micros = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
    shift_minutes = np.select([index % 4 == 1, index % 4 == 3], [-300, 120], 0)
    shifted = pc.add(values, pa.array(shift_minutes * 60_000_000, pa.duration("us")))
    if np.all(np.nan_to_num(micros) % 1_000_000 == 0):  # whole seconds: no fraction written
        shifted = shifted.cast(pa.timestamp("s"))
    text = pc.strftime(shifted, format="%Y-%m-%dT%H:%M:%S")
    suffix = np.where(shift_minutes == -300, "-05:00", np.where(shift_minutes == 120, "+02:00", "Z"))
    return join_text(text, pa.array(suffix))


class Directory:
    """Clinician positions and NPIs, for conditional references and second participants."""

    def __init__(self, clinicians: pa.Table):
        self.ids = clinicians["clinician_id"].combine_chunks().cast(pa.string())
        # Synthetic 10-digit NPIs by position: 9000000001, 9000000002, ...
        self.npi = tb.format_ids("9", np.arange(1, len(self.ids) + 1), 9)
        self.ids_escaped = _escaped(self.ids, "clinician_id")

    def position(self, clinician: pa.Array) -> pa.Array:
        return pc.index_in(clinician, value_set=self.ids)


def _reference(kind: str, ident: pa.Array, conditional, system: str, value: pa.Array | None = None) -> pa.Array:
    """``{"reference":"Kind/<id>"}`` or ``{"reference":"Kind?identifier=<system>|<value>"}``."""
    literal = join_text(f'{{"reference":"{kind}/', ident, '"}')
    if value is None:
        value = ident
    cond = join_text(f'{{"reference":"{kind}?identifier={system}|', value, '"}')
    return pc.if_else(conditional, cond, literal)


def encounter_lines(batch: pa.RecordBatch, first_index: int, directory: Directory) -> pa.Array:
    n = batch.num_rows
    index = first_index + np.arange(n, dtype=np.int64)
    odd = pa.array(index % 2 == 1)
    setting = batch.column("setting").cast(pa.string())
    known = pc.is_in(setting, value_set=pa.array(list(CLASS_OF_SETTING)))
    if not pc.all(pc.fill_null(known, False)).as_py():
        raise InputError(
            "The encounters hold settings outside "
            + ", ".join(schema.SETTINGS)
            + "; validate them (carethread reads them with --format generic) before writing FHIR."
        )
    codes = list(CLASS_OF_SETTING.values())
    class_code = pc.take(pa.array(codes), pc.index_in(setting, value_set=pa.array(list(CLASS_OF_SETTING))))
    class_display = pc.take(
        pa.array([_CLASS_DISPLAY[c] for c in codes]), pc.index_in(setting, value_set=pa.array(list(CLASS_OF_SETTING)))
    )

    encounter_id = _escaped(batch.column("encounter_id"), "encounter_id")
    patient = _escaped(batch.column("patient_id"), "patient_id")
    clinician = batch.column("clinician_id").cast(pa.string())
    practice = batch.column("practice_id").cast(pa.string())
    has_clinician = pc.is_valid(clinician)

    head = join_text(
        '{"resourceType":"Encounter","id":"',
        encounter_id,
        f'","status":"finished","class":{{"system":"{ACT_CODE}","code":"',
        class_code,
        '","display":"',
        class_display,
        '"}',
    )
    urgent = _when(pc.equal(setting, "urgent_care"), _URGENT_TYPE)
    clinic = pc.and_(pc.equal(class_code, "AMB"), pc.invert(has_clinician))
    service = _when(
        pc.and_(clinic, pc.equal(setting, "primary_care")),
        _SERVICE_TYPE["primary_care"],
        _when(pc.and_(clinic, pc.equal(setting, "specialty")), _SERVICE_TYPE["specialty"]),
    )
    subject = join_text(',"subject":', _reference("Patient", patient, odd, PATIENT_SYSTEM))

    # The performer: literal or by NPI; its participant type by position.
    position = directory.position(clinician)
    npi = pc.take(directory.npi, position)
    by_npi = pc.and_(odd, pc.is_valid(npi))
    clin_text = _escaped(pc.fill_null(clinician, ""), "clinician_id")
    individual = _reference("Practitioner", clin_text, by_npi, NPI_SYSTEM, pc.fill_null(npi, ""))
    pattern = index % 10
    kind = np.select([np.isin(pattern, (1, 4)), pattern == 9], [1, 2], 0)
    ptype = pc.take(pa.array([_PPRF, _ATND, ""]), pa.array(kind))
    main = join_text("{", ptype, '"individual":', individual, "}")
    # A second clinician listed first (secondary performer) on some encounters.
    n_clin = len(directory.ids)
    second = None
    if n_clin > 1:
        after = (pc.fill_null(position, 0).to_numpy(zero_copy_only=False).astype(np.int64) + 1) % n_clin
        other = pc.take(directory.ids_escaped, pa.array(after))
        with_second = pc.and_(pa.array(np.isin(pattern, (3, 4))), pc.is_valid(position))
        second = _when(with_second, join_text("{", _SPRF, '"individual":{"reference":"Practitioner/', other, '"}},'))
    participant = _when(has_clinician, join_text(',"participant":[', second, main, "]"))

    start = _instant_text(batch.column("start"), index)
    period = join_text(',"period":{"start":"', start, '"}')
    practice_text = _escaped(pc.fill_null(practice, ""), "practice_id")
    provider = _when(
        pc.is_valid(practice),
        join_text(',"serviceProvider":', _reference("Organization", practice_text, odd, PRACTICE_SYSTEM)),
    )
    return join_text(head, urgent, service, subject, participant, period, provider, "}")


def patient_lines(batch: pa.RecordBatch) -> pa.Array:
    patient = _escaped(batch.column("patient_id"), "patient_id")
    sex = batch.column("sex").cast(pa.string())
    gender = pc.if_else(pc.equal(sex, "F"), "female", pc.if_else(pc.equal(sex, "M"), "male", "unknown"))
    birth = batch.column("birth_date")
    death = batch.column("death_date")
    return join_text(
        '{"resourceType":"Patient","id":"',
        patient,
        f'","identifier":[{{"system":"{PATIENT_SYSTEM}","value":"',
        patient,
        '"}]',
        _when(pc.is_valid(sex), join_text(',"gender":"', pc.fill_null(gender, "unknown"), '"')),
        _when(pc.is_valid(birth), join_text(',"birthDate":"', _date_text(birth), '"')),
        _when(pc.is_valid(death), join_text(',"deceasedDateTime":"', _date_text(death), '"')),
        "}",
    )


def practitioner_lines(directory: Directory) -> pa.Array:
    return join_text(
        '{"resourceType":"Practitioner","id":"',
        directory.ids_escaped,
        f'","identifier":[{{"system":"{NPI_SYSTEM}","value":"',
        directory.npi,
        '"}],"active":true}',
    )


def _codeable(mapping: dict, values: pa.Array, text: pa.Array | None) -> pa.Array:
    """A CodeableConcept per value from ``mapping`` (value → (system, code, display) or None)."""
    keys = list(mapping)
    coding = [
        ""
        if mapping[k] is None
        else f'"coding":[{{"system":"{mapping[k][0]}","code":"{mapping[k][1]}","display":"{mapping[k][2]}"}}]'
        for k in keys
    ]
    found = pc.index_in(values, value_set=pa.array(keys, pa.string()))
    coded = pc.take(pa.array(coding, pa.string()), found)
    if text is None:
        return _when(pc.is_valid(found), join_text("{", coded, "}"))
    sep = _when(pc.and_(pc.is_valid(found), pc.not_equal(pc.fill_null(coded, ""), "")), ",")
    return _when(pc.is_valid(values), join_text("{", coded, sep, '"text":"', text, '"}'))


def role_lines(clinicians: pa.Table, directory: Directory) -> pa.Array:
    n = clinicians.num_rows
    odd = pa.array(np.arange(n) % 2 == 1)
    practice = clinicians["practice_id"].combine_chunks().cast(pa.string())
    practice_text = _escaped(pc.fill_null(practice, ""), "practice_id")
    by_id = lambda system, value: join_text(f'{{"identifier":{{"system":"{system}","value":"', value, '"}}')  # noqa: E731
    practitioner = pc.if_else(
        odd, by_id(NPI_SYSTEM, directory.npi), join_text('{"reference":"Practitioner/', directory.ids_escaped, '"}')
    )
    organization = pc.if_else(
        odd, by_id(PRACTICE_SYSTEM, practice_text), join_text('{"reference":"Organization/', practice_text, '"}')
    )
    specialty = clinicians["specialty"].combine_chunks().cast(pa.string())
    nucc = {k: (NUCC, *v) if v is not None else None for k, v in NUCC_OF_SPECIALTY.items()}
    role = clinicians["role"].combine_chunks().cast(pa.string())
    role_cc = _codeable(CODE_OF_ROLE, role, _escaped(pc.fill_null(role, ""), "role"))
    spec_cc = _codeable(nucc, specialty, _escaped(pc.fill_null(specialty, ""), "specialty"))
    start = clinicians["active_from"].combine_chunks()
    end = clinicians["active_to"].combine_chunks()
    period = _when(
        pc.or_(pc.is_valid(start), pc.is_valid(end)),
        join_text(
            ',"period":{',
            _when(pc.is_valid(start), join_text('"start":"', _date_text(start), '"')),
            _when(pc.and_(pc.is_valid(start), pc.is_valid(end)), ","),
            _when(pc.is_valid(end), join_text('"end":"', _date_text(end), '"')),
            "}",
        ),
    )
    return join_text(
        '{"resourceType":"PractitionerRole","id":"role-',
        directory.ids_escaped,
        '","practitioner":',
        practitioner,
        _when(pc.is_valid(practice), join_text(',"organization":', organization)),
        _when(pc.is_valid(role_cc), join_text(',"code":[', role_cc, "]")),
        _when(pc.is_valid(spec_cc), join_text(',"specialty":[', spec_cc, "]")),
        period,
        "}",
    )


def organization_lines(practices: pa.Array) -> pa.Array:
    text = _escaped(practices, "practice_id")
    return join_text(
        '{"resourceType":"Organization","id":"',
        text,
        f'","identifier":[{{"system":"{PRACTICE_SYSTEM}","value":"',
        text,
        '"}],"active":true,"name":"Practice ',
        text,
        '"}',
    )


# --- inputs ----------------------------------------------------------------------------------
