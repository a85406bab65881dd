"""The FHIR R4 Bulk NDJSON reader and the synthetic system's FHIR writer.

The shared sample (smart-on-fhir 10-patient export) gives exact counts and
reference values computed here with plain ``json`` (not the reader's code
path); hand-made exports cover every quarantine reason, line numbering and the
reference forms; the synthetic system makes a full round trip through the
writer and the reader.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from carethread import engine
from carethread.cli import app
from carethread.errors import InputError, OptionError
from carethread.measures.continuity import patient_continuity
from carethread.readers import detect_format, read
from carethread.readers.fhir import looks_like_fhir, read_fhir
from carethread.synth import generate
from carethread.synth.fhir import write_fhir

#: The smart-on-fhir 10-patient Bulk export (Apache-2.0), vendored byte for byte from the
#: shared data (Condition and Location left out, as on main's tests/data).
SAMPLE = Path(__file__).resolve().parent / "data" / "fhir-bulk-smart-10"
EXTRACTION = dt.date(2024, 6, 30)
NPI = "http://hl7.org/fhir/sid/us-npi"
AMB = ("primary_care", "specialty", "urgent_care")


@pytest.fixture(scope="module")
def con():
    c = engine.connect()
    yield c
    c.disconnect()


def rows(table):
    return table.to_pyarrow().to_pylist()


def quarantine(data):
    return sorted((r["source"], int(r["row"]), r["reason"]) for r in rows(data.quarantine))


def write_lines(path: Path, lines: list) -> Path:
    """Write NDJSON: dicts are dumped, strings written as they are."""
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


# --- the shared sample ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(con):
    return read(SAMPLE, con=con)


def test_sample_counts_and_reconciliation(sample):
    assert sample.format == "fhir"
    assert sample.reconciliation().splitlines() == [
        "Encounter.000.ndjson: 1 215 rows read = 1 215 accepted + 0 quarantined",
        "Patient.000.ndjson: 13 rows read = 13 accepted + 0 quarantined",
        "Practitioner.000.ndjson: 43 rows read = 43 accepted + 0 quarantined",
        "PractitionerRole.000.ndjson: 43 rows read = 43 accepted + 0 quarantined",
        "Organization.000.ndjson: 43 rows read = 43 accepted + 0 quarantined",
    ]
    assert sample.remarks == ["1 file of other resource types was not read (log.ndjson)."]
    assert rows(sample.quarantine) == []


def test_other_resource_types_are_skipped_with_a_remark(con, tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "export")
    for name in ("Condition.000.ndjson", "Location.000.ndjson"):
        write_lines(tmp_path / "export" / name, [{"resourceType": name.split(".")[0], "id": "x1"}])
    data = read(tmp_path / "export", con=con)
    assert data.remarks == [
        "3 files of other resource types were not read (Condition.000.ndjson, Location.000.ndjson, log.ndjson)."
    ]
    assert [c.source for c in data.counts] == [
        "Encounter.000.ndjson",
        "Patient.000.ndjson",
        "Practitioner.000.ndjson",
        "PractitionerRole.000.ndjson",
        "Organization.000.ndjson",
    ]


def test_sample_settings_clinicians_and_practices(sample):
    enc = sample.encounters.to_pyarrow()
    settings = dict(zip(*pc.value_counts(enc["setting"]).flatten(), strict=True))
    # AMB 1133 = 1056 primary care + 77 Synthea urgent-care clinic visits (type 702927004).
    assert {k.as_py(): v.as_py() for k, v in settings.items()} == {
        "primary_care": 1056,
        "urgent_care": 77,
        "inpatient": 49,
        "emergency": 23,
        "home": 9,
        "virtual": 1,
    }
    assert pc.count_distinct(enc["clinician_id"]).as_py() == 39
    assert pc.count_distinct(enc["practice_id"]).as_py() == 39
    assert pc.count_distinct(enc["patient_id"]).as_py() == 13
    assert enc["clinician_id"].null_count == 0 and enc["practice_id"].null_count == 0
    clinicians = sample.clinicians.to_pyarrow()
    assert clinicians.num_rows == 43
    assert set(clinicians["specialty"].to_pylist()) == {"General Practice Physician"}
    assert set(clinicians["role"].to_pylist()) == {"physician"}
    patients = sample.patients.to_pyarrow()
    assert patients.num_rows == 13 and set(patients["sex"].to_pylist()) <= {"F", "M"}


def _independent_indices():
    """n_visits, UPC, COC, SECON per patient over AMB encounters, with plain json.

    Visits: distinct (patient, clinician, UTC calendar day), ordered by their
    earliest start, then clinician id (docs/definitions.md, *Visits*).
    """
    by_identifier = {}
    for line in (SAMPLE / "Practitioner.000.ndjson").read_text().splitlines():
        practitioner = json.loads(line)
        for ident in practitioner.get("identifier", []):
            by_identifier[f"{ident['system']}|{ident['value']}"] = practitioner["id"]
    earliest = defaultdict(dict)
    for line in (SAMPLE / "Encounter.000.ndjson").read_text().splitlines():
        enc = json.loads(line)
        if enc["class"]["code"] != "AMB":
            continue
        patient = enc["subject"]["reference"].removeprefix("Patient/")
        reference = enc["participant"][0]["individual"]["reference"]
        clinician = by_identifier[reference.removeprefix("Practitioner?identifier=")]
        start = dt.datetime.fromisoformat(enc["period"]["start"]).astimezone(dt.UTC).replace(tzinfo=None)
        key = (clinician, start.date())
        earliest[patient][key] = min(earliest[patient].get(key, start), start)
    out = {}
    for patient, visits in earliest.items():
        order = [c for (c, _day), _t in sorted(visits.items(), key=lambda kv: (kv[1], kv[0][0]))]
        n = len(order)
        counts = defaultdict(int)
        for c in order:
            counts[c] += 1
        if n < 2:
            out[patient] = (n, None, None, None)
            continue
        upc = max(counts.values()) / n
        coc = (sum(v * v for v in counts.values()) - n) / (n * (n - 1))
        secon = sum(a == b for a, b in itertools.pairwise(order)) / (n - 1)
        out[patient] = (n, upc, coc, secon)
    return out


def test_sample_indices_equal_an_independent_computation(sample):
    expected = _independent_indices()
    assert len(expected) == 13
    result = {r["patient_id"]: r for r in rows(patient_continuity(sample.encounters, settings=AMB))}
    assert set(result) == set(expected)
    for patient, (n, upc, coc, secon) in expected.items():
        got = result[patient]
        assert got["n_visits"] == n, patient
        for name, value in (("upc", upc), ("coc", coc), ("secon", secon)):
            if value is None:
                assert got[name] is None
            else:
                assert got[name] == pytest.approx(value, abs=1e-12), (patient, name)
    # The data README's rough check: FHIR AMB class, 13 patients, UPC median 0.667.
    upcs = sorted(v[1] for v in expected.values())
    assert upcs[6] == pytest.approx(0.667, abs=0.01)


def test_sample_start_is_utc_wall_time(sample):
    first = json.loads((SAMPLE / "Encounter.000.ndjson").read_text().splitlines()[0])
    assert first["period"]["start"] == "1989-10-04T02:25:16-04:00"
    got = sample.encounters.filter(sample.encounters.encounter_id == first["id"]).start.execute().iloc[0]
    assert got.to_pydatetime() == dt.datetime(1989, 10, 4, 6, 25, 16)


# --- detection and layouts -----------------------------------------------------------------------


def test_detection_with_and_without_manifest_and_gzip(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(SAMPLE / "Encounter.000.ndjson", plain / "Encounter.ndjson")
    assert looks_like_fhir(plain) and detect_format(plain) == "fhir"
    assert looks_like_fhir(plain / "Encounter.ndjson")

    gz = tmp_path / "gz"
    gz.mkdir()
    with gzip.open(gz / "Encounter.000.ndjson.gz", "wb") as fh:
        fh.write((SAMPLE / "Encounter.000.ndjson").read_bytes())
    assert detect_format(gz) == "fhir"

    # With a manifest, file names need not say the type.
    listed = tmp_path / "listed"
    listed.mkdir()
    shutil.copy(SAMPLE / "Encounter.000.ndjson", listed / "output-1.ndjson")
    (listed / "manifest.json").write_text(
        json.dumps(
            {
                "transactionTime": "2024-08-06T18:12:57Z",
                "request": "https://x.example/$export",
                "requiresAccessToken": True,
                "output": [{"type": "Encounter", "url": "https://x.example/files/output-1.ndjson", "count": 1215}],
                "error": [],
            }
        )
    )
    assert detect_format(listed) == "fhir" and looks_like_fhir(listed / "manifest.json")

    csv_folder = tmp_path / "csv"
    csv_folder.mkdir()
    (csv_folder / "encounters.csv").write_text("patient_id,start\n1,2024-01-01\n")
    assert not looks_like_fhir(csv_folder) and detect_format(csv_folder) == "generic"
    synthea = tmp_path / "synthea"
    synthea.mkdir()
    for name in ("encounters.csv", "providers.csv", "organizations.csv", "patients.csv"):
        (synthea / name).write_text("Id\n1\n")
    assert not looks_like_fhir(synthea)
    assert not looks_like_fhir(tmp_path / "missing")


@pytest.mark.parametrize("layout", ["gz", "manifest", "file"])
def test_layouts_read_the_same_encounters(con, sample, tmp_path, layout):
    if layout == "gz":
        with gzip.open(tmp_path / "Encounter.000.ndjson.gz", "wb") as fh:
            fh.write((SAMPLE / "Encounter.000.ndjson").read_bytes())
        target, source = tmp_path, "Encounter.000.ndjson.gz"
    elif layout == "manifest":
        shutil.copy(SAMPLE / "Encounter.000.ndjson", tmp_path / "output-1.ndjson")
        (tmp_path / "manifest.json").write_text(
            json.dumps(
                {
                    "transactionTime": "2024-08-06T18:12:57Z",
                    "output": [{"type": "Encounter", "url": "https://x.example/files/output-1.ndjson", "count": 1215}],
                }
            )
        )
        target, source = tmp_path / "manifest.json", "output-1.ndjson"
    else:
        shutil.copy(SAMPLE / "Encounter.000.ndjson", tmp_path / "Encounter.ndjson")
        target, source = tmp_path / "Encounter.ndjson", "Encounter.ndjson"
    data = read(target, con=con)
    assert data.reconciliation() == f"{source}: 1 215 rows read = 1 215 accepted + 0 quarantined"
    assert data.clinicians is None and data.patients is None
    # Without Practitioner resources a conditional reference keeps its NPI.
    got = data.encounters.to_pyarrow().sort_by("encounter_id")
    assert got["clinician_id"].to_pylist()[0] == "9999974493"
    assert got["setting"].equals(sample.encounters.to_pyarrow().sort_by("encounter_id")["setting"])


def test_manifest_transaction_time_is_the_default_extraction_date(con, tmp_path):
    write_lines(
        tmp_path / "Encounter.ndjson",
        [
            _enc("e1", start="2024-08-05T10:00:00Z"),
            _enc("e2", start="2024-08-07T10:00:00Z"),
        ],
    )
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "transactionTime": "2024-08-06T18:12:57Z",
                "output": [{"type": "Encounter", "url": "Encounter.ndjson", "count": 3}],
            }
        )
    )
    data = read(tmp_path, con=con)
    assert quarantine(data) == [("Encounter.ndjson", 2, "start_after_extraction")]
    assert any(
        "manifest.json says Encounter.ndjson holds 3 resources, but 2 resource lines were read" in r
        for r in data.remarks
    )


def test_manifest_listing_a_missing_file_is_an_error(con, tmp_path):
    write_lines(tmp_path / "Encounter.ndjson", [_enc("e1")])
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "output": [
                    {"type": "Encounter", "url": "Encounter.ndjson"},
                    {"type": "Encounter", "url": "https://x.example/Encounter.001.ndjson"},
                ],
            }
        )
    )
    with pytest.raises(InputError, match=r"manifest\.json lists Encounter\.001\.ndjson, which is not in"):
        read(tmp_path, con=con)


def test_no_encounter_file_and_wrong_options(con, tmp_path):
    write_lines(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    with pytest.raises(InputError, match="holds no Encounter NDJSON file"):
        read(tmp_path, format="fhir", con=con)
    with pytest.raises(InputError, match="does not exist"):
        read(tmp_path / "nope", format="fhir", con=con)
    write_lines(tmp_path / "Encounter.ndjson", [_enc("e1")])
    with pytest.raises(OptionError, match="--map does not apply to --format fhir"):
        read_fhir(tmp_path, con=con, mapping={"patient_id": "x"})
    with pytest.raises(OptionError, match="--date-format does not apply"):
        read_fhir(tmp_path, con=con, date_format="%d/%m/%Y")


def test_corrupt_gzip_is_an_input_error(con, tmp_path):
    data = gzip.compress((json.dumps(_enc("e1")) + "\n").encode() * 2000)
    (tmp_path / "Encounter.ndjson.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"^Encounter\.ndjson\.gz is a damaged gzip file: it could not be"):
        read(tmp_path, con=con, extraction_date=EXTRACTION)


def test_blank_encounter_files_are_an_error(con, tmp_path):
    (tmp_path / "Encounter.ndjson").write_text("\n\n  \n")
    with pytest.raises(InputError, match="holds no resource"):
        read(tmp_path, con=con, extraction_date=EXTRACTION)


# --- hand-made broken exports -------------------------------------------------------------------


def _enc(
    eid,
    *,
    klass="AMB",
    subject="Patient/p1",
    performer="Practitioner/d1",
    start="2024-01-02T09:00:00Z",
    provider="Organization/o1",
    **more,
):
    resource = {"resourceType": "Encounter", "id": eid, "status": "finished", "class": {"code": klass}}
    if subject is not None:
        resource["subject"] = {"reference": subject}
    if performer is not None:
        resource["participant"] = [{"type": [{"coding": [{"code": "PPRF"}]}], "individual": {"reference": performer}}]
    resource["period"] = {"start": start} if start is not None else {}
    if provider is not None:
        resource["serviceProvider"] = {"reference": provider}
    resource.update(more)
    return resource


def _export(folder: Path, encounters: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_lines(
        folder / "Patient.ndjson",
        [
            {
                "resourceType": "Patient",
                "id": "p1",
                "identifier": [{"system": "urn:mrn", "value": "M1"}],
                "gender": "female",
                "birthDate": "1970-01-01",
            },
            {
                "resourceType": "Patient",
                "id": "p2",
                "gender": "male",
                "birthDate": "1980-02-02",
                "deceasedDateTime": "2024-05-01T10:00:00+02:00",
            },
            {"resourceType": "Patient", "id": "p3", "birthDate": "2030-01-01"},
            {"resourceType": "Patient", "id": "p1"},
        ],
    )
    write_lines(
        folder / "Practitioner.ndjson",
        [
            {"resourceType": "Practitioner", "id": "d1", "identifier": [{"system": NPI, "value": "111"}]},
            {"resourceType": "Practitioner", "id": "d2", "identifier": [{"system": NPI, "value": "222"}]},
            {"resourceType": "Practitioner", "id": "d3"},
            "",
            '{"resourceType":"Practitioner","id":"d4"',
        ],
    )
    write_lines(
        folder / "Organization.ndjson",
        [
            {"resourceType": "Organization", "id": "o1", "identifier": [{"system": "urn:org", "value": "ORG1"}]},
            {"resourceType": "Organization", "id": "o2"},
            {"resourceType": "Location", "id": "l1"},
        ],
    )
    nucc = "http://nucc.org/provider-taxonomy"
    write_lines(
        folder / "PractitionerRole.ndjson",
        [
            {
                "resourceType": "PractitionerRole",
                "id": "r1",
                "practitioner": {"reference": "Practitioner/d1"},
                "organization": {"reference": "Organization/o1"},
                "code": [
                    {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}
                        ]
                    }
                ],
                "specialty": [{"coding": [{"system": nucc, "code": "207Q00000X", "display": "Family Medicine"}]}],
                "period": {"start": "2010-01-01"},
            },
            {
                "resourceType": "PractitionerRole",
                "id": "r2",
                "practitioner": {"identifier": {"system": NPI, "value": "222"}},
                "organization": {"identifier": {"system": "urn:org", "value": "ORG1"}},
                "code": [{"coding": [{"system": nucc, "code": "207RC0000X"}]}],
                "specialty": [
                    {
                        "coding": [{"system": nucc, "code": "207RC0000X", "display": "Cardiovascular Disease"}],
                        "text": "cardiology",
                    }
                ],
            },
            {"resourceType": "PractitionerRole", "id": "r3", "practitioner": {"reference": "Practitioner/nobody"}},
            {
                "resourceType": "PractitionerRole",
                "id": "r4",
                "practitioner": {"reference": "Practitioner/d3"},
                "organization": {"reference": "Organization/o2"},
                "code": [{"coding": [{"system": nucc, "code": "363LF0000X"}]}],
                "specialty": [{"coding": [{"system": nucc, "code": "363LF0000X"}], "text": "Family NP"}],
            },
        ],
    )
    return write_lines(folder / "Encounter.ndjson", encounters)


BROKEN = [
    _enc("e1"),  # 1 fine
    _enc(
        "e2",
        subject="Patient?identifier=urn:mrn|M1",
        performer=None,
        start="2024-01-02T20:00:00-05:00",
        participant=[
            {"type": [{"coding": [{"code": "SPRF"}]}], "individual": {"reference": "Practitioner/d1"}},
            {
                "type": [{"coding": [{"code": "ATND"}]}],
                "individual": {"reference": f"Practitioner?identifier={NPI}|222"},
            },
        ],
        serviceProvider={"reference": "Organization?identifier=urn:org|ORG1"},
    ),  # 2 fine: cardiologist
    _enc("e3", klass="EMER", subject="Patient/p2", performer=None, start="2024-02-01"),  # 3 fine
    '{"resourceType":"Encounter","id":"e4","class":{"code":"AMB"',  # 4 truncated
    _enc("e5", performer="Practitioner/ghost"),  # 5 missing practitioner
    _enc("e6", start="2025-01-01T10:00:00Z"),  # 6 in the future
    _enc("e7", start=None),  # 7 no period.start
    {"resourceType": "Observation", "id": "x8"},  # 8 wrong type
    _enc("e1", start="2024-01-05T09:00:00Z"),  # 9 duplicate id
    _enc("e10", klass="XYZ"),  # 10 unknown class
    "",  # 11 blank
    _enc("e12", status="cancelled"),  # 12 did not happen
    _enc("e13", subject="Patient/p99"),  # 13 unknown patient
    _enc("e14", provider="Organization?identifier=urn:org|NOPE"),  # 14 unknown practice
    _enc("e15", start="2024-13-45"),  # 15 not a date
    _enc("e16", performer="https://ehr.example/fhir/Practitioner/d3/_history/2", provider="Organization/o2"),  # 16
    _enc("e17", subject="Patient/p2", performer="PractitionerRole/r4", start="2024-03-01T08:00:00Z"),  # 17
    _enc(
        "e18",
        klass="VR",
        performer=None,
        participant=[
            {"individual": {"reference": "RelatedPerson/rp1"}},
            {"type": [{"coding": [{"code": "PPRF"}]}], "individual": {"reference": "Practitioner/d1"}},
        ],
    ),  # 18 virtual, the related person is passed over
    _enc("e19", performer=None, serviceType={"coding": [{"system": "http://snomed.info/sct", "code": "394733009"}]}),
    _enc("e20", performer=None),  # 20 AMB, nothing says which kind of clinic
    _enc("e21", type=[{"coding": [{"system": "http://snomed.info/sct", "code": "702927004"}]}]),  # 21 urgent care
    "[1, 2]",  # 22 JSON but not an object
    _enc("e23", subject=None),  # 23 no subject
    _enc("e24", klass="IMP", performer="Practitioner/d2"),  # 24 inpatient
    _enc(
        "e25",
        performer=None,
        provider="Organization/o2",
        participant=[
            {"type": [{"coding": [{"code": "CON"}]}], "individual": {"reference": "Practitioner/d2"}},
            {"individual": {"reference": "RelatedPerson/rp1"}},
            {"type": [{"coding": [{"code": "REF"}]}], "individual": {"reference": "Practitioner/d1"}},
            {"type": [{"coding": [{"code": "ATND"}]}], "individual": {"reference": "Practitioner/d3"}},
        ],
    ),  # 25 four participants: the attender
    {
        **_enc(
            "e26",
            subject=None,
            performer=None,
            participant=[{"individual": {"identifier": {"system": NPI, "value": "111"}}}],
        ),
        "subject": {"identifier": {"system": "urn:mrn", "value": "M1"}},
    },  # 26 identifier-only references
]


@pytest.fixture(scope="module")
def broken(con, tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    _export(folder, BROKEN)
    return read(folder, con=con, extraction_date=EXTRACTION)


def test_every_broken_line_is_quarantined_with_its_line_number(broken):
    e = "Encounter.ndjson"
    assert quarantine(broken) == sorted(
        [
            (e, 4, "malformed_json"),
            (e, 5, "unknown_clinician_reference"),
            (e, 6, "start_after_extraction"),
            (e, 7, "missing_start"),
            (e, 8, "unexpected_resource_type"),
            (e, 9, "duplicate_encounter_id"),
            (e, 10, "unknown_encounter_class"),
            (e, 12, "encounter_not_held"),
            (e, 13, "unknown_patient_reference"),
            (e, 14, "unknown_practice_reference"),
            (e, 15, "unparseable_start"),
            (e, 22, "malformed_json"),
            (e, 23, "missing_patient_id"),
            ("Organization.ndjson", 3, "unexpected_resource_type"),
            ("Patient.ndjson", 3, "birth_date_after_extraction"),
            ("Patient.ndjson", 4, "duplicate_patient_id"),
            ("Practitioner.ndjson", 5, "malformed_json"),
            ("PractitionerRole.ndjson", 3, "unknown_clinician_reference"),
        ]
    )


def test_broken_reconciliation_counts_every_line_once(broken):
    assert broken.reconciliation().splitlines() == [
        "Encounter.ndjson: 25 rows read = 12 accepted + 13 quarantined",
        "Patient.ndjson: 4 rows read = 2 accepted + 2 quarantined",
        "Practitioner.ndjson: 4 rows read = 3 accepted + 1 quarantined",
        "PractitionerRole.ndjson: 4 rows read = 3 accepted + 1 quarantined",
        "Organization.ndjson: 3 rows read = 2 accepted + 1 quarantined",
    ]


def test_quarantine_values_name_what_was_wrong(broken):
    values = {(r["source"], int(r["row"])): (r["column"], r["value"]) for r in rows(broken.quarantine)}
    e = "Encounter.ndjson"
    assert values[(e, 4)] == (None, '{"resourceType":"Encounter","id":"e4","class":{"code":"AMB"')
    assert values[(e, 5)] == ("clinician_id", "Practitioner/ghost")
    assert values[(e, 8)] == (None, "Observation")
    assert values[(e, 10)] == ("setting", "XYZ")
    assert values[(e, 12)] == (None, "cancelled")
    assert values[(e, 15)] == ("start", "2024-13-45")


def test_references_performers_and_settings(broken):
    got = {r["encounter_id"]: r for r in rows(broken.encounters)}
    assert sorted(got) == ["e1", "e16", "e17", "e18", "e19", "e2", "e20", "e21", "e24", "e25", "e26", "e3"]
    expect = {
        "e1": ("p1", "d1", "o1", dt.datetime(2024, 1, 2, 9), "primary_care"),
        # Conditional subject and practice; ATND wins over SPRF; UTC from -05:00.
        "e2": ("p1", "d2", "o1", dt.datetime(2024, 1, 3, 1), "specialty"),
        "e3": ("p2", None, "o1", dt.datetime(2024, 2, 1), "emergency"),
        # Absolute, versioned reference; the NP's family-practice role is primary care.
        "e16": ("p1", "d3", "o2", dt.datetime(2024, 1, 2, 9), "primary_care"),
        "e17": ("p2", "d3", "o1", dt.datetime(2024, 3, 1, 8), "primary_care"),
        "e18": ("p1", "d1", "o1", dt.datetime(2024, 1, 2, 9), "virtual"),
        "e19": ("p1", None, "o1", dt.datetime(2024, 1, 2, 9), "specialty"),
        "e20": ("p1", None, "o1", dt.datetime(2024, 1, 2, 9), "primary_care"),
        "e21": ("p1", "d1", "o1", dt.datetime(2024, 1, 2, 9), "urgent_care"),
        "e24": ("p1", "d2", "o1", dt.datetime(2024, 1, 2, 9), "inpatient"),
        "e25": ("p1", "d3", "o2", dt.datetime(2024, 1, 2, 9), "primary_care"),
        "e26": ("p1", "d1", "o1", dt.datetime(2024, 1, 2, 9), "primary_care"),
    }
    for eid, (patient, clinician, practice, start, setting) in expect.items():
        r = got[eid]
        assert (r["patient_id"], r["clinician_id"], r["practice_id"], r["start"], r["setting"]) == (
            patient,
            clinician,
            practice,
            start,
            setting,
        ), eid


def test_side_tables_from_roles_and_patients(broken):
    clinicians = {r["clinician_id"]: r for r in rows(broken.clinicians)}
    assert sorted(clinicians) == ["d1", "d2", "d3"]
    assert (
        clinicians["d1"]["practice_id"],
        clinicians["d1"]["specialty"],
        clinicians["d1"]["role"],
        clinicians["d1"]["active_from"],
    ) == ("o1", "Family Medicine", "physician", dt.date(2010, 1, 1))
    assert (clinicians["d2"]["specialty"], clinicians["d2"]["role"]) == ("cardiology", "physician")
    assert (clinicians["d3"]["practice_id"], clinicians["d3"]["role"]) == ("o2", "np")
    patients = {r["patient_id"]: r for r in rows(broken.patients)}
    assert patients["p2"] == {
        "patient_id": "p2",
        "birth_date": dt.date(1980, 2, 2),
        "sex": "M",
        "death_date": dt.date(2024, 5, 1),
    }
    assert patients["p1"]["sex"] == "F"


def test_broken_remarks_count_without_identifiers(broken):
    text = "\n".join(broken.remarks)
    assert "Encounter.ndjson: 13 of 25 rows quarantined (" in text
    assert "1 accepted ambulatory (AMB) encounter has no specialty to tell primary from specialty care" in text
    assert "3 accepted encounters have no clinician_id" in text
    for identifier in ("ghost", "p99", "NOPE", "M1", "111", "d1", "e13"):
        assert identifier not in text


def test_invalid_utf8_and_long_lines_keep_line_numbers(con, tmp_path):
    _export(tmp_path, [_enc("e1")])
    with open(tmp_path / "Encounter.ndjson", "ab") as fh:
        fh.write(b'{"resourceType":"Encounter","id":"\xff\xfe"}\n')
        fh.write((json.dumps(_enc("e3", klass="nope")) + "\n").encode())
        fh.write((json.dumps(_enc("e4", text={"div": "x" * engine.MAX_LINE_BYTES})) + "\n").encode())
        fh.write((json.dumps(_enc("e5", klass="nope")) + "\n").encode())
    data = read(tmp_path, con=con, extraction_date=EXTRACTION)
    assert [q for q in quarantine(data) if q[0] == "Encounter.ndjson"] == [
        ("Encounter.ndjson", 2, "invalid_encoding"),
        ("Encounter.ndjson", 3, "unknown_encounter_class"),
        ("Encounter.ndjson", 4, "malformed_json"),
        ("Encounter.ndjson", 5, "unknown_encounter_class"),
    ]
    assert data.counts[0].read == 5


def test_line_numbers_survive_parallel_reading(tmp_path):
    """Rows are numbered by storage order: check it on a file of several read
    buffers with 4 threads, blank lines included."""
    pad = "x" * 1800
    lines, expected = [], []
    for n in range(1, 24_001):
        if n % 1009 == 0:
            lines.append("")
        elif n % 97 == 0:
            lines.append(json.dumps(_enc(f"e{n}", klass=f"X{n}", text={"div": pad})))
            expected.append(n)
        else:
            lines.append(json.dumps(_enc(f"e{n}", text={"div": pad})))
    write_lines(tmp_path / "Encounter.ndjson", lines)
    assert (tmp_path / "Encounter.ndjson").stat().st_size > 40 * 2**20
    con4 = engine.connect(threads=4)
    try:
        data = read(tmp_path, con=con4, extraction_date=EXTRACTION)
        bad = rows(data.quarantine)
        assert [int(r["row"]) for r in sorted(bad, key=lambda r: int(r["row"]))] == expected
        assert all(r["value"] == f"X{r['row']}" for r in bad)
        assert data.counts[0].read == 24_000 - 24_000 // 1009
    finally:
        con4.disconnect()


# --- the synthetic system: writer and round trip ---------------------------------------------------


@pytest.fixture(scope="module")
def system():
    return generate(3_000, years=2, seed=11)


@pytest.fixture(scope="module")
def export(system, tmp_path_factory):
    out = tmp_path_factory.mktemp("fhir")
    files = write_fhir(system, out, rows_per_file=7_000, batch_rows=2_500)
    return out, files


def test_writer_output_is_a_bulk_export(system, export):
    out, files = export
    manifest = json.loads((out / "manifest.json").read_text())
    n = system.encounters.num_rows
    assert [f.name for f in files["Encounter"]] == [f"Encounter.{i:03d}.ndjson" for i in range(-(-n // 7_000))]
    counts = {o["url"]: o["count"] for o in manifest["output"]}
    for name, paths in files.items():
        for path in paths:
            lines = path.read_text().splitlines()
            assert counts[path.name] == len(lines)
            assert {json.loads(line)["resourceType"] for line in lines} == {name}
    assert sum(counts[p.name] for p in files["Encounter"]) == n
    last = pc.max(system.encounters["start"]).as_py().date() + dt.timedelta(days=1)
    assert manifest["transactionTime"] == f"{last.isoformat()}T00:00:00Z"
    text = files["Encounter"][0].read_text()
    for form in (
        '"reference":"Practitioner/C',
        f'"reference":"Practitioner?identifier={NPI}|9',
        '"reference":"Patient?identifier=',
        '"reference":"Organization?identifier=',
        '"code":"ATND"',
        '"code":"SPRF"',
        '-05:00"',
        '+02:00"',
        'Z"',
    ):
        assert form in text, form
    role = files["PractitionerRole"][0].read_text()
    assert '"practitioner":{"identifier":{"system":"http://hl7.org/fhir/sid/us-npi"' in role


def test_round_trip_equals_reading_the_parquet(con, system, export, tmp_path):
    out, _files = export
    data = read(out, con=con)
    assert data.format == "fhir" and data.n_quarantined == 0
    system.write(tmp_path / "parquet")
    parquet = read(tmp_path / "parquet", con=con, format="generic")
    key = [("encounter_id", "ascending")]
    got = data.encounters.to_pyarrow().sort_by(key)
    want = parquet.encounters.to_pyarrow().sort_by(key)
    assert got.num_rows == system.encounters.num_rows
    for column in ("encounter_id", "patient_id", "clinician_id", "practice_id", "start", "setting"):
        assert got[column].equals(want[column]), column
    assert set(got["setting"].to_pylist()) == {
        "primary_care",
        "specialty",
        "urgent_care",
        "emergency",
        "inpatient",
        "virtual",
    }
    clinicians = data.clinicians.to_pyarrow().sort_by("clinician_id")
    truth = system.clinicians.sort_by("clinician_id")
    for column in ("clinician_id", "practice_id", "specialty", "role", "active_from", "active_to"):
        assert clinicians[column].equals(truth[column]), column
    assert data.patients.to_pyarrow().sort_by("patient_id").equals(system.patients.sort_by("patient_id"))


def test_writer_streams_a_folder_like_the_generator_writes(tmp_path):
    from carethread.synth import write_chunked

    write_chunked(tmp_path / "parts", 400, years=1, seed=2, chunk_patients=150)
    files = write_fhir(tmp_path / "parts", tmp_path / "fhir", batch_rows=500)
    lines = sum(len(p.read_text().splitlines()) for p in files["Encounter"])
    assert lines == ds.dataset(tmp_path / "parts" / "encounters").count_rows()
    (tmp_path / "parts" / "patients.parquet").unlink()
    with pytest.raises(InputError, match="has no patients table"):
        write_fhir(tmp_path / "parts", tmp_path / "again")


# --- the command line ----------------------------------------------------------------------------------


runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_patients_on_the_sample():
    res = invoke("patients", SAMPLE, "--settings", "primary_care,urgent_care", "--limit", 2)
    assert res.exit_code == 0, res.stderr
    lines = res.stderr.splitlines()
    first = lines.index("Encounter.000.ndjson: 1 215 rows read = 1 215 accepted + 0 quarantined")
    assert lines[first + 1 : first + 5] == [
        "Patient.000.ndjson: 13 rows read = 13 accepted + 0 quarantined",
        "Practitioner.000.ndjson: 43 rows read = 43 accepted + 0 quarantined",
        "PractitionerRole.000.ndjson: 43 rows read = 43 accepted + 0 quarantined",
        "Organization.000.ndjson: 43 rows read = 43 accepted + 0 quarantined",
    ]
    assert sum(line.startswith("│") for line in res.stdout.splitlines()) == 2


def test_cli_exit_codes_on_broken_input(tmp_path):
    _export(tmp_path / "broken", BROKEN)
    res = invoke("patients", tmp_path / "broken", "--extraction-date", "2024-06-30", "--quarantine", tmp_path / "q.csv")
    assert res.exit_code == 0, res.stderr
    assert "Encounter.ndjson: 25 rows read = 12 accepted + 13 quarantined" in res.stderr
    assert len((tmp_path / "q.csv").read_text().splitlines()) == 1 + 18
    res = invoke("patients", tmp_path / "broken", "--extraction-date", "2024-06-30", "--strict")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1] == "Error: 18 rows were rejected and --strict is set; fix them or drop --strict."
    (tmp_path / "empty").mkdir()
    write_lines(tmp_path / "empty" / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    res = invoke("patients", tmp_path / "empty", "--format", "fhir")
    assert res.exit_code == 1 and "holds no Encounter NDJSON file" in res.stderr
    res = invoke("patients", tmp_path / "broken", "--map", "patient_id=x")
    assert res.exit_code == 2 and "--map does not apply to --format fhir" in res.stderr
    for r in (res,):
        assert "Traceback" not in r.stderr + r.stdout


def test_cli_synth_writes_fhir(tmp_path):
    res = invoke("synth", "--patients", 150, "--years", 1, "--seed", 4, "--format", "fhir", "--out", tmp_path / "s")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "s" / "manifest.json").is_file() and (tmp_path / "s" / "true_usual.parquet").is_file()
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".synth-")]
    res = invoke("patients", tmp_path / "s", "--out", tmp_path / "p.csv")
    assert res.exit_code == 0, res.stderr
    assert any(
        line.startswith("Encounter.000.ndjson: ") and line.endswith(" + 0 quarantined")
        for line in res.stderr.splitlines()
    )
    res = invoke("synth", "--format", "xml", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "synth writes parquet or fhir" in res.stderr
