"""The synthetic health system as a FHIR R4 Bulk Data export.

:func:`write_fhir` writes ``Encounter``, ``Patient``, ``Practitioner``,
``PractitionerRole`` and ``Organization`` NDJSON files (one resource per line,
``<Type>.000.ndjson``, ``<Type>.001.ndjson``, ...) and a ``manifest.json``
shaped like the Bulk Data IG's complete-status response. It is the input of
the FHIR reader's round-trip test and of its benchmark, so the output
deliberately uses every form the reader must understand:

- **References** alternate between literal (``Practitioner/C00001``) and
  conditional (``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9000000001``)
  from one encounter to the next, for the subject, the performer and the
  ``serviceProvider``; PractitionerRole points at its practitioner and
  organisation literally or, as Synthea does, by identifier only.
- **Performers**: most encounters have one ``PPRF`` participant; some have
  ``ATND`` instead, some no participant type at all, and some carry a second
  participant (``SPRF``, another clinician) listed first, which the reader
  must pass over.
- **Times**: ``period.start`` is written in UTC with ``Z``, or with a
  ``-05:00`` / ``+02:00`` offset and the wall time shifted to match, so the
  instant is always the canonical ``start`` read as UTC.

Setting → FHIR (the reader maps it back, see :mod:`carethread.readers.fhir`):

================  ===================================================================
setting           written as
================  ===================================================================
primary_care      class ``AMB``; the performer's PractitionerRole has a primary-care
                  specialty (family/internal medicine, pediatrics, practice nurse)
specialty         class ``AMB``; the performer is a specialist
urgent_care       class ``AMB`` and ``type`` SNOMED 702927004 "Urgent care clinic"
                  (Synthea's convention)
emergency         class ``EMER``
inpatient         class ``IMP``
virtual           class ``VR``
home              class ``HH``
other             class ``FLD``
================  ===================================================================

An ``AMB`` encounter without a clinician carries ``serviceType`` instead
(SNOMED 394814009 "General practice" or 394733009 "Medical specialty--OTHER--NOT
LISTED"), the only place left to say which kind of clinic it was. Panel
capacity has no FHIR element and is not written.

Everything is built column-wise with pyarrow compute (string joins over whole
record batches); encounters are streamed in batches, so memory stays bounded
by the batch size whatever the size of the system.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from carethread import schema
from carethread.errors import InputError, OptionError
from carethread.synth import tables as tb

__all__ = ["write_fhir", "write_fhir_chunked"]

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


def _join(*parts) -> pa.Array:
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
    return _join(text, pa.array(suffix))


def _write_lines(fh, lines: pa.Array) -> int:
    """Append ``lines`` (one JSON resource each) to an open binary file."""
    if len(lines) == 0:
        return 0
    text = _join(lines, "\n").cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data = memoryview(text.buffers()[2])[offsets[0] : offsets[-1]]
    fh.write(data)
    return len(lines)


class _Output:
    """NDJSON files of one resource type, rotated every ``rows_per_file`` lines."""

    def __init__(self, folder: Path, resource: str, rows_per_file: int):
        self.folder, self.resource, self.rows_per_file = folder, resource, rows_per_file
        self.files: list[tuple[str, int]] = []
        self._fh = None
        self._rows = 0

    def write(self, lines: pa.Array) -> None:
        start = 0
        while start < len(lines):
            if self._fh is None or self._rows >= self.rows_per_file:
                self._open()
            take = min(len(lines) - start, self.rows_per_file - self._rows)
            self._rows += _write_lines(self._fh, lines.slice(start, take))
            start += take

    def _open(self) -> None:
        self._close_file()
        name = f"{self.resource}.{len(self.files):03d}.ndjson"
        self._fh = open(self.folder / name, "wb")  # noqa: SIM115  (closed in _close_file)
        self.files.append((name, 0))
        self._rows = 0

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
            name, _ = self.files[-1]
            self.files[-1] = (name, self._rows)
            self._fh = None

    def close(self) -> list[tuple[str, int]]:
        if not self.files:
            self._open()  # an empty type still gets its (empty) file
        self._close_file()
        return self.files


# --- resources -----------------------------------------------------------------------------


class _Directory:
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
    literal = _join(f'{{"reference":"{kind}/', ident, '"}')
    if value is None:
        value = ident
    cond = _join(f'{{"reference":"{kind}?identifier={system}|', value, '"}')
    return pc.if_else(conditional, cond, literal)


def _encounter_lines(batch: pa.RecordBatch, first_index: int, directory: _Directory) -> pa.Array:
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

    head = _join(
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
    subject = _join(',"subject":', _reference("Patient", patient, odd, PATIENT_SYSTEM))

    # The performer: literal or by NPI; its participant type by position.
    position = directory.position(clinician)
    npi = pc.take(directory.npi, position)
    by_npi = pc.and_(odd, pc.is_valid(npi))
    clin_text = _escaped(pc.fill_null(clinician, ""), "clinician_id")
    individual = _reference("Practitioner", clin_text, by_npi, NPI_SYSTEM, pc.fill_null(npi, ""))
    pattern = index % 10
    kind = np.select([np.isin(pattern, (1, 4)), pattern == 9], [1, 2], 0)
    ptype = pc.take(pa.array([_PPRF, _ATND, ""]), pa.array(kind))
    main = _join("{", ptype, '"individual":', individual, "}")
    # A second clinician listed first (secondary performer) on some encounters.
    n_clin = len(directory.ids)
    second = None
    if n_clin > 1:
        after = (pc.fill_null(position, 0).to_numpy(zero_copy_only=False).astype(np.int64) + 1) % n_clin
        other = pc.take(directory.ids_escaped, pa.array(after))
        with_second = pc.and_(pa.array(np.isin(pattern, (3, 4))), pc.is_valid(position))
        second = _when(with_second, _join("{", _SPRF, '"individual":{"reference":"Practitioner/', other, '"}},'))
    participant = _when(has_clinician, _join(',"participant":[', second, main, "]"))

    start = _instant_text(batch.column("start"), index)
    period = _join(',"period":{"start":"', start, '"}')
    practice_text = _escaped(pc.fill_null(practice, ""), "practice_id")
    provider = _when(
        pc.is_valid(practice),
        _join(',"serviceProvider":', _reference("Organization", practice_text, odd, PRACTICE_SYSTEM)),
    )
    return _join(head, urgent, service, subject, participant, period, provider, "}")


def _patient_lines(batch: pa.RecordBatch) -> pa.Array:
    patient = _escaped(batch.column("patient_id"), "patient_id")
    sex = batch.column("sex").cast(pa.string())
    gender = pc.if_else(pc.equal(sex, "F"), "female", pc.if_else(pc.equal(sex, "M"), "male", "unknown"))
    birth = batch.column("birth_date")
    death = batch.column("death_date")
    return _join(
        '{"resourceType":"Patient","id":"',
        patient,
        f'","identifier":[{{"system":"{PATIENT_SYSTEM}","value":"',
        patient,
        '"}]',
        _when(pc.is_valid(sex), _join(',"gender":"', pc.fill_null(gender, "unknown"), '"')),
        _when(pc.is_valid(birth), _join(',"birthDate":"', _date_text(birth), '"')),
        _when(pc.is_valid(death), _join(',"deceasedDateTime":"', _date_text(death), '"')),
        "}",
    )


def _practitioner_lines(directory: _Directory) -> pa.Array:
    return _join(
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
        return _when(pc.is_valid(found), _join("{", coded, "}"))
    sep = _when(pc.and_(pc.is_valid(found), pc.not_equal(pc.fill_null(coded, ""), "")), ",")
    return _when(pc.is_valid(values), _join("{", coded, sep, '"text":"', text, '"}'))


def _role_lines(clinicians: pa.Table, directory: _Directory) -> pa.Array:
    n = clinicians.num_rows
    odd = pa.array(np.arange(n) % 2 == 1)
    practice = clinicians["practice_id"].combine_chunks().cast(pa.string())
    practice_text = _escaped(pc.fill_null(practice, ""), "practice_id")
    by_id = lambda system, value: _join(f'{{"identifier":{{"system":"{system}","value":"', value, '"}}')  # noqa: E731
    practitioner = pc.if_else(
        odd, by_id(NPI_SYSTEM, directory.npi), _join('{"reference":"Practitioner/', directory.ids_escaped, '"}')
    )
    organization = pc.if_else(
        odd, by_id(PRACTICE_SYSTEM, practice_text), _join('{"reference":"Organization/', practice_text, '"}')
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
        _join(
            ',"period":{',
            _when(pc.is_valid(start), _join('"start":"', _date_text(start), '"')),
            _when(pc.and_(pc.is_valid(start), pc.is_valid(end)), ","),
            _when(pc.is_valid(end), _join('"end":"', _date_text(end), '"')),
            "}",
        ),
    )
    return _join(
        '{"resourceType":"PractitionerRole","id":"role-',
        directory.ids_escaped,
        '","practitioner":',
        practitioner,
        _when(pc.is_valid(practice), _join(',"organization":', organization)),
        _when(pc.is_valid(role_cc), _join(',"code":[', role_cc, "]")),
        _when(pc.is_valid(spec_cc), _join(',"specialty":[', spec_cc, "]")),
        period,
        "}",
    )


def _organization_lines(practices: pa.Array) -> pa.Array:
    text = _escaped(practices, "practice_id")
    return _join(
        '{"resourceType":"Organization","id":"',
        text,
        f'","identifier":[{{"system":"{PRACTICE_SYSTEM}","value":"',
        text,
        '"}],"active":true,"name":"Practice ',
        text,
        '"}',
    )


# --- inputs ----------------------------------------------------------------------------------


def _tables(system_or_folder) -> tuple[ds.Dataset | pa.Table, pa.Table, pa.Table]:
    """(encounters, clinicians, patients) from a system or a folder of synth Parquet."""
    if hasattr(system_or_folder, "encounters"):
        return system_or_folder.encounters, system_or_folder.clinicians, system_or_folder.patients
    folder = Path(system_or_folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass a SyntheticSystem or a folder written by carethread synth.")
    found = {}
    for name in ("encounters", "clinicians", "patients"):
        part = folder / name
        single = folder / f"{name}.parquet"
        if part.is_dir() and any(part.glob("*.parquet")):
            found[name] = ds.dataset(sorted(part.glob("*.parquet")), format="parquet")
        elif single.is_file():
            found[name] = ds.dataset(single, format="parquet")
        else:
            raise InputError(
                f"{folder} has no {name} table ({name}.parquet or {name}/*.parquet). "
                "Write the system with `carethread synth --out DIR` first."
            )
    return found["encounters"], found["clinicians"].to_table(), found["patients"].to_table()


def _batches(table, rows: int) -> Iterator[pa.RecordBatch]:
    if isinstance(table, pa.Table):
        yield from table.to_batches(max_chunksize=rows)
    else:
        yield from table.to_batches(batch_size=rows)


def write_fhir(
    system_or_folder,
    out_dir: str | os.PathLike,
    *,
    rows_per_file: int = 1_000_000,
    batch_rows: int = 100_000,
) -> dict[str, list[Path]]:
    """Write a synthetic system as a FHIR R4 Bulk Data export (NDJSON + manifest).

    Parameters
    ----------
    system_or_folder
        A :class:`~carethread.synth.SyntheticSystem`, or a folder written by
        :func:`~carethread.synth.write_chunked` (``encounters/part-*.parquet``,
        ``clinicians.parquet``, ``patients.parquet``), which is streamed.
    out_dir
        Folder for ``<Type>.<nnn>.ndjson`` and ``manifest.json``; ``*.ndjson``
        files already there are removed first.
    rows_per_file
        Encounters (and other resources) per NDJSON file.
    batch_rows
        Rows turned into JSON at a time; bounds the writer's memory.

    Returns
    -------
    dict
        Resource type → the files written, in order.

    Raises
    ------
    InputError
        If the folder lacks a table, or values cannot be written (settings
        outside the canonical ones, control characters in identifiers).

    Notes
    -----
    See the module docstring for the mapping. ``manifest.json`` lists every
    file with its resource count; ``url`` is the file name relative to the
    manifest (the files are local), and ``transactionTime`` is midnight UTC
    after the last encounter's day, which the reader takes as the default
    extraction date.

    Examples
    --------
    >>> import json, tempfile
    >>> from carethread.synth import generate
    >>> out = tempfile.mkdtemp()
    >>> files = write_fhir(generate(50, years=1, seed=3), out)
    >>> sorted(files)
    ['Encounter', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole']
    >>> manifest = json.loads((files["Encounter"][0].parent / "manifest.json").read_text())
    >>> [o["type"] for o in manifest["output"]][:2], manifest["output"][0]["url"]
    (['Encounter', 'Patient'], 'Encounter.000.ndjson')
    >>> json.loads(files["Patient"][0].read_text().splitlines()[0])["resourceType"]
    'Patient'
    """
    if rows_per_file < 1 or batch_rows < 1:
        raise OptionError("rows_per_file and batch_rows must be at least 1.")
    encounters, clinicians, patients = _tables(system_or_folder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*list(out.glob("*.ndjson")), out / "manifest.json"]:
        if stale.exists():
            stale.unlink()
    directory = _Directory(clinicians)
    outputs = {
        name: _Output(out, name, rows_per_file)
        for name in ("Encounter", "Patient", "Practitioner", "PractitionerRole", "Organization")
    }

    practices = [clinicians["practice_id"].combine_chunks().cast(pa.string())]
    last_start = None
    done = 0
    for batch in _batches(encounters, batch_rows):
        outputs["Encounter"].write(_encounter_lines(batch, done, directory))
        done += batch.num_rows
        practices.append(pc.unique(batch.column("practice_id").cast(pa.string())))
        latest = pc.max(batch.column("start")).as_py()
        if latest is not None and (last_start is None or latest > last_start):
            last_start = latest
    for batch in _batches(patients, batch_rows):
        outputs["Patient"].write(_patient_lines(batch))
    outputs["Practitioner"].write(_practitioner_lines(directory))
    outputs["PractitionerRole"].write(_role_lines(clinicians, directory))
    every = pc.drop_null(pc.unique(pa.chunked_array(practices).combine_chunks()))
    outputs["Organization"].write(_organization_lines(every.take(pc.array_sort_indices(every))))

    written = {name: output.close() for name, output in outputs.items()}
    day = (last_start.date() + _dt.timedelta(days=1)) if last_start is not None else _dt.date.today()
    manifest = {
        "transactionTime": f"{day.isoformat()}T00:00:00Z",
        "request": "https://carethread.example/fhir/$export",
        "requiresAccessToken": False,
        "output": [
            {"type": name, "url": file, "count": count} for name, files in written.items() for file, count in files
        ],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {name: [out / file for file, _ in files] for name, files in written.items()}


def write_fhir_chunked(
    out_dir: str | os.PathLike,
    n_patients: int,
    *,
    years: float = 3,
    seed: int = 0,
    start: str | _dt.date = "2022-01-01",
    chunk_patients: int = 200_000,
) -> dict[str, Path]:
    """Generate a system chunk by chunk and write it as a FHIR Bulk export.

    The system is generated exactly as :func:`~carethread.synth.write_chunked`
    does (same arguments, same data) into a scratch folder inside
    ``out_dir``, then streamed into NDJSON by :func:`write_fhir`; the ground
    truth (``true_usual.parquet``, ``true_switches.parquet``) is kept beside
    the export (the FHIR reader does not read Parquet files).

    Returns
    -------
    dict
        ``manifest`` and each resource type → the first file of that type;
        ``true_usual`` and ``true_switches`` → their Parquet files.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_fhir_chunked(tempfile.mkdtemp(), 200, years=1, chunk_patients=100)
    >>> sorted(paths)  # doctest: +NORMALIZE_WHITESPACE
    ['Encounter', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole',
     'manifest', 'true_switches', 'true_usual']
    """
    from carethread.synth import write_chunked

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=out))
    try:
        tables = write_chunked(scratch, n_patients, years=years, seed=seed, start=start, chunk_patients=chunk_patients)
        files = write_fhir(scratch, out)
        paths: dict[str, Path] = {name: written[0] for name, written in files.items()}
        paths["manifest"] = out / "manifest.json"
        for name in ("true_usual", "true_switches"):
            paths[name] = out / f"{name}.parquet"
            shutil.move(str(tables[name]), paths[name])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return paths
