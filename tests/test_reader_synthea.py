"""The Synthea CSV reader: both shared samples, detection, indices against an
independent computation, every quarantine reason, both column sets, the CLI."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import gzip
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import carethread
from carethread import engine
from carethread.cli import app
from carethread.errors import InputError, OptionError, SchemaError
from carethread.measures.continuity import patient_continuity
from carethread.readers import detect_format, read
from carethread.readers.synthea import looks_like_synthea, read_synthea
from tests.conftest import SAMPLES

GENERIC = Path(__file__).parent / "fixtures" / "generic"
EXTRACTION = dt.date(2024, 6, 30)
runner = CliRunner()


def sample(name: str) -> Path:
    return SAMPLES / name


def rows(table):
    return table.to_pyarrow().to_pylist()


def quarantine(data):
    return sorted((r["source"], int(r["row"]), r["column"], r["value"], r["reason"]) for r in rows(data.quarantine))


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def con():
    c = engine.connect()
    yield c
    c.disconnect()


@pytest.fixture(scope="module")
def unmc(con):
    return read(sample("synthea-csv-unmc-111"), con=con, extraction_date=EXTRACTION)


@pytest.fixture(scope="module")
def dbt(con):
    return read(sample("synthea-csv-dbt-27"), con=con, extraction_date=EXTRACTION)


# --- the shared samples ---------------------------------------------------------------------


def test_unmc_sample_counts_and_reconciliation(unmc):
    assert unmc.format == "synthea"
    assert unmc.reconciliation().splitlines() == [
        "encounters.csv.gz: 7 584 rows read = 7 584 accepted + 0 quarantined",
        "providers.csv: 215 rows read = 215 accepted + 0 quarantined",
        "patients.csv: 111 rows read = 111 accepted + 0 quarantined",
    ]
    assert unmc.remarks == []
    settings = dict(collections.Counter(r["setting"] for r in rows(unmc.encounters.select("setting"))))
    # docs/formats.md, *Synthea CSV* (settings): ambulatory 3171 + wellness 2366 + outpatient 1198
    # (all GENERAL PRACTICE), urgentcare 523, emergency 250, inpatient 49, hospice 14 + snf 12, virtual 1.
    assert settings == {
        "primary_care": 6735,
        "urgent_care": 523,
        "emergency": 250,
        "inpatient": 49,
        "other": 26,
        "virtual": 1,
    }
    assert unmc.encounters.clinician_id.nunique().execute() == 196
    assert unmc.encounters.practice_id.nunique().execute() == 196
    assert unmc.patients.count().execute() == 111
    assert unmc.patients.death_date.notnull().sum().execute() == 11
    assert unmc.clinicians.count().execute() == 215


def test_dbt_sample_counts_roles_and_reconciliation(dbt):
    assert dbt.format == "synthea"
    assert dbt.reconciliation().splitlines() == [
        "encounters.csv: 604 rows read = 604 accepted + 0 quarantined",
        "providers.csv: 166 rows read = 166 accepted + 0 quarantined",
        "patients.csv: 27 rows read = 27 accepted + 0 quarantined",
    ]
    settings = collections.Counter(r["setting"] for r in rows(dbt.encounters.select("setting")))
    assert settings == {"primary_care": 574, "emergency": 17, "inpatient": 11, "urgent_care": 2}
    roles = collections.Counter(r["role"] for r in rows(dbt.clinicians.select("role")))
    # GENERAL PRACTICE 63 + INTERNAL MEDICINE 32 + EMERGENCY MEDICINE 6 + PSYCHIATRY 3 +
    # FAMILY PRACTICE 2 physicians; PHYSICAL THERAPY 13 + AUDIOLOGIST 8 + CLINICAL PSYCHOLOGIST 5
    # + CLINICAL SOCIAL WORKER 4 + OPTOMETRY 2 + CHIROPRACTIC 1 other.
    assert roles == {"physician": 106, "np": 21, "pa": 6, "other": 33}
    first = rows(dbt.clinicians.filter(dbt.clinicians.clinician_id == "0f4db68f-7743-3960-b373-4a47d811dec2"))
    assert first == [
        {
            "clinician_id": "0f4db68f-7743-3960-b373-4a47d811dec2",
            "practice_id": "5e765f2b-e908-3888-9fc7-df2cb87beb58",
            "specialty": "GENERAL PRACTICE",
            "role": "physician",
            "capacity": None,
            "active_from": None,
            "active_to": None,
        }
    ]
    patient = rows(dbt.patients.filter(dbt.patients.patient_id == "3edac2e3-d223-6fae-d515-daf96ef6bc76"))
    assert patient == [
        {
            "patient_id": "3edac2e3-d223-6fae-d515-daf96ef6bc76",
            "birth_date": dt.date(2014, 10, 6),
            "sex": "M",
            "death_date": None,
        }
    ]
    encounter = rows(dbt.encounters.filter(dbt.encounters.encounter_id == "57f2562b-445c-f11c-ba40-edc55af3c84f"))
    assert encounter == [
        {
            "encounter_id": "57f2562b-445c-f11c-ba40-edc55af3c84f",
            "patient_id": "3edac2e3-d223-6fae-d515-daf96ef6bc76",
            "clinician_id": "2d85c411-b7bb-3133-8903-276c2e31f452",
            "practice_id": "e002090d-4e92-300e-b41e-7d1f21dee4c6",
            "start": dt.datetime(2023, 1, 27, 16, 17, 47),  # the Z timestamp as UTC wall time
            "setting": "primary_care",
        }
    ]


# --- indices against an independent computation ----------------------------------------------


def independent_indices(folder: Path, classes: dict[str, bool]) -> dict[str, tuple]:
    """n_visits, n_clinicians, UPC and COC per patient, from the CSV text alone.

    ``classes`` maps an ENCOUNTERCLASS to whether the clinician must be a
    GENERAL PRACTICE one for the encounter to count. A visit is a distinct
    (patient, clinician, UTC calendar day) (docs/definitions.md, *Visits*).
    """
    with open(folder / "providers.csv", newline="", encoding="utf-8") as fh:
        speciality = {r["Id"]: r["SPECIALITY"] for r in csv.DictReader(fh)}
    visits: dict[str, set] = collections.defaultdict(set)
    gz = folder / "encounters.csv.gz"  # the larger sample is stored compressed
    opener, path = (gzip.open, gz) if gz.exists() else (open, folder / "encounters.csv")
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            visits.setdefault(r["PATIENT"], set())
            need_gp = classes.get(r["ENCOUNTERCLASS"])
            if need_gp is None or (need_gp and speciality[r["PROVIDER"]] != "GENERAL PRACTICE"):
                continue
            visits[r["PATIENT"]].add((r["PROVIDER"], r["START"][:10]))
    out = {}
    for patient, days in visits.items():
        n = len(days)
        per = collections.Counter(clinician for clinician, _day in days)
        if n < 2:
            out[patient] = (n, len(per), None, None)
        else:
            out[patient] = (n, len(per), max(per.values()) / n, (sum(k * k for k in per.values()) - n) / (n * (n - 1)))
    return out


def measured(data, settings) -> dict[str, tuple]:
    result = patient_continuity(data.encounters, settings=settings)
    return {
        r["patient_id"]: (r["n_visits"], r["n_clinicians"], r["upc"], r["coc"])
        for r in rows(result.select("patient_id", "n_visits", "n_clinicians", "upc", "coc"))
    }


def assert_same(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs)
    for patient, (n, m, upc, coc) in theirs.items():
        got = ours[patient]
        assert got[:2] == (n, m), patient
        for a, b in zip(got[2:], (upc, coc), strict=True):
            assert (a is None and b is None) or math.isclose(a, b, rel_tol=0, abs_tol=1e-12), patient


AMBULATORY = {"wellness": True, "ambulatory": True, "outpatient": True}


@pytest.mark.parametrize("name", ["synthea-csv-unmc-111", "synthea-csv-dbt-27"])
def test_indices_equal_an_independent_computation(name, unmc, dbt):
    data = {"synthea-csv-unmc-111": unmc, "synthea-csv-dbt-27": dbt}[name]
    folder = sample(name)
    primary = independent_indices(folder, AMBULATORY)
    assert_same(measured(data, ["primary_care"]), primary)
    # The default settings add virtual encounters, whatever the clinician's speciality.
    assert_same(measured(data, None), independent_indices(folder, {**AMBULATORY, "virtual": False}))
    # Not a vacuous comparison: most patients have indices, they vary, and the
    # same-day rule merges some encounters (UNMC 6 735 -> 6 572 visits, dbt 574 -> 572).
    upcs = [v[2] for v in primary.values() if v[2] is not None]
    assert len(upcs) >= 0.9 * len(primary) and len(set(upcs)) > 3
    encounters = data.encounters.filter(data.encounters.setting == "primary_care").count().execute()
    assert sum(v[0] for v in primary.values()) < encounters


# --- detection ------------------------------------------------------------------------------


def test_auto_detects_both_samples_and_read_reports_the_format():
    for name in ("synthea-csv-unmc-111", "synthea-csv-dbt-27"):
        assert looks_like_synthea(sample(name))
        assert detect_format(sample(name)) == "synthea"


@pytest.mark.parametrize("name", ["omop54-synthea27nj", "omop50-synpuf-10", "fhir-bulk-smart-10"])
def test_omop_and_fhir_folders_are_not_synthea(name):
    assert not looks_like_synthea(sample(name))
    assert detect_format(sample(name)) != "synthea"


def test_generic_inputs_are_not_mistaken(tmp_path):
    for path in (GENERIC / "folder", GENERIC / "reasons.csv", tmp_path / "missing", tmp_path):
        assert not looks_like_synthea(path)
        assert detect_format(path) == "generic"
    # A canonical folder that happens to hold a providers.csv: the header decides.
    (tmp_path / "encounters.csv").write_text("patient_id,clinician_id,start\n1,A,2024-01-01\n")
    (tmp_path / "providers.csv").write_text("Id,SPECIALITY\nA,GENERAL PRACTICE\n")
    assert detect_format(tmp_path) == "generic"
    data = read(tmp_path, extraction_date=EXTRACTION)
    assert data.format == "generic"


def test_file_names_in_any_case_and_gzip(tmp_path):
    write_folder(tmp_path, providers=PROVIDERS, encounters=ENCOUNTERS_OK, names=str.upper)
    assert detect_format(tmp_path) == "synthea"
    data = carethread.read(tmp_path, extraction_date=EXTRACTION)
    assert data.format == "synthea"
    assert [c.source for c in data.counts] == ["ENCOUNTERS.CSV", "PROVIDERS.CSV"]
    with gzip.open(tmp_path / "Encounters.csv.gz", "wt") as fh:
        fh.write(ENCOUNTERS_OK)
    (tmp_path / "ENCOUNTERS.CSV").unlink()
    data = carethread.read(tmp_path, extraction_date=EXTRACTION)
    assert data.reconciliation().splitlines()[0] == "Encounters.csv.gz: 2 rows read = 2 accepted + 0 quarantined"


# --- hand-made fixtures -----------------------------------------------------------------------

PROVIDERS = """Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,PROCEDURES
gp1,org1,Ann A,F,GENERAL PRACTICE,1 Main St,Town,MA,02000,42.1,-71.1,3,0
psy1,org1,Bob B,M,PSYCHIATRY,1 Main St,Town,MA,02000,42.1,-71.1,1,0
np1,org2,Cy C,F,NURSE PRACTITIONER,2 Main St,Town,MA,02000,42.1,-71.1,1,0
gp1,org9,Dup D,F,PSYCHIATRY,9 Main St,Town,MA,02000,42.1,-71.1,0,0
"""
PATIENTS = """Id,BIRTHDATE,DEATHDATE,SSN,FIRST,LAST,GENDER,ZIP
p1,1980-05-01,,999-1,Al,One,M,02000
p2,1990-01-01,2023-12-31,999-2,Bea,Two,F,02000
p3,2030-01-01,,999-3,Cal,Three,M,02000
"""
HEADER = (
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
    "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION\n"
)
ENCOUNTERS_OK = (
    HEADER
    + """e1,2023-01-02T09:00:00Z,2023-01-02T09:15:00Z,p1,org1,gp1,pay,wellness,1,x,1,1,0,,
e2,2023-02-02T09:00:00Z,,p1,org1,gp1,pay,ambulatory,1,x,1,1,0,,
"""
)
ENCOUNTERS_BAD = (
    HEADER
    + """e1,2023-01-02T09:00:00Z,2023-01-02T09:15:00Z,p1,org1,gp1,pay,wellness,1,x,1,1,0,,
e1,2023-01-03T09:00:00Z,,p1,org1,gp1,pay,wellness,1,x,1,1,0,,
e3,2024-07-01T09:00:00Z,,p1,org1,gp1,pay,wellness,1,x,1,1,0,,
e4,2023-03-01T09:00:00Z,,p1,org1,gp1,pay,spaceship,1,x,1,1,0,,
e5,2023-04-01T09:00:00Z,,p1,org1,ghost,pay,ambulatory,1,x,1,1,0,,
e6,2023-05-01T09:00:00Z,,,org1,gp1,pay,ambulatory,1,x,1,1,0,,
e7,2023-06-01T09:00:00Z,,p404,org1,gp1,pay,ambulatory,1,x,1,1,0,,
e8,2023-07-01T09:00:00Z,,p1,org1,gp1,pay,ambulatory,1,x,1,1,0,,,surplus
e9,2023-08-01T09:00:00Z,,p2,org1,psy1,pay,outpatient,1,x,1,1,0,,
e10,2023-08-02T09:00:00Z,,p3,org2,,pay,Urgent Care,1,x,1,1,0,,
e11,2023-08-03T09:00:00Z,,p2,org2,np1,pay,virtual,1,x,1,1,0,,
e12,2023-08-04T09:00:00Z,,p2,org1,gp1,pay,snf,1,x,1,1,0,,
"""
)
# Synthea 2.x (2019): PROVIDER is the organisation, no ORGANIZATION column (docs/formats.md, *Synthea CSV*).
OLD_ENCOUNTERS = """Id,START,STOP,PATIENT,PROVIDER,ENCOUNTERCLASS,CODE,DESCRIPTION,COST,REASONCODE,REASONDESCRIPTION
o1,2019-01-02T09:00Z,2019-01-02T09:15Z,p1,org1,wellness,1,x,1,,
o2,2019-02-02T09:00Z,2019-02-02T09:15Z,p1,org1,ambulatory,1,x,1,,
o3,2019-03-02T09:00Z,2019-03-02T09:15Z,p1,org2,emergency,1,x,1,,
o4,2019-04-02T09:00Z,2019-04-02T09:15Z,p1,org2,outpatient,1,x,1,,
"""
OLD_PROVIDERS = """Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,UTILIZATION
gp1,org1,Ann A,F,GENERAL PRACTICE,1 Main St,Town,MA,02000,2
"""
OLD_PATIENTS = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,"
    "BIRTHPLACE,ADDRESS,CITY,STATE,ZIP\n"
    "p1,1980-05-01,,999-1,,,,Al,One,,,M,white,nonhispanic,M,Town,1 Road,Town,MA,02000\n"
)


def write_folder(folder: Path, *, names=str.lower, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, text in files.items():
        (folder / names(f"{stem}.csv")).write_text(text)
    return folder


@pytest.fixture
def broken(tmp_path):
    return write_folder(tmp_path / "broken", providers=PROVIDERS, patients=PATIENTS, encounters=ENCOUNTERS_BAD)


def test_every_reason_this_reader_produces_is_quarantined(broken, con):
    data = read_synthea(broken, con=con, extraction_date=EXTRACTION)
    assert quarantine(data) == [
        ("encounters.csv", 2, "Id", "e1", "duplicate_encounter_id"),
        ("encounters.csv", 3, "START", "2024-07-01T09:00:00Z", "start_after_extraction"),
        ("encounters.csv", 4, "ENCOUNTERCLASS", "spaceship", "unknown_encounter_class"),
        ("encounters.csv", 5, "PROVIDER", "ghost", "unknown_clinician_reference"),
        ("encounters.csv", 6, "PATIENT", None, "missing_patient_id"),
        ("encounters.csv", 7, "PATIENT", "p404", "unknown_patient_reference"),
        (
            "encounters.csv",
            8,
            None,
            "e8,2023-07-01T09:00:00Z,,p1,org1,gp1,pay,ambulatory,1,x,1,1,0,,,surplus",
            "malformed_row",
        ),
        ("patients.csv", 3, "BIRTHDATE", "2030-01-01", "birth_date_after_extraction"),
        ("providers.csv", 4, "Id", "gp1", "duplicate_clinician_id"),
    ]
    assert data.reconciliation().splitlines() == [
        "encounters.csv: 12 rows read = 5 accepted + 7 quarantined",
        "providers.csv: 4 rows read = 3 accepted + 1 quarantined",
        "patients.csv: 3 rows read = 2 accepted + 1 quarantined",
    ]
    accepted = rows(data.encounters.order_by("start").select("encounter_id", "patient_id", "clinician_id", "setting"))
    assert accepted == [
        {"encounter_id": "e1", "patient_id": "p1", "clinician_id": "gp1", "setting": "primary_care"},
        # A specialist's outpatient visit; the duplicate gp1 row (PSYCHIATRY) did not override the first.
        {"encounter_id": "e9", "patient_id": "p2", "clinician_id": "psy1", "setting": "specialty"},
        # No clinician: kept, and its patient's bad birth date does not reject it.
        {"encounter_id": "e10", "patient_id": "p3", "clinician_id": None, "setting": "urgent_care"},
        {"encounter_id": "e11", "patient_id": "p2", "clinician_id": "np1", "setting": "virtual"},
        {"encounter_id": "e12", "patient_id": "p2", "clinician_id": "gp1", "setting": "other"},
    ]
    roles = {r["clinician_id"]: (r["role"], r["practice_id"]) for r in rows(data.clinicians)}
    assert roles == {"gp1": ("physician", "org1"), "psy1": ("physician", "org1"), "np1": ("np", "org2")}
    assert rows(data.patients.order_by("patient_id")) == [
        {"patient_id": "p1", "birth_date": dt.date(1980, 5, 1), "sex": "M", "death_date": None},
        {"patient_id": "p2", "birth_date": dt.date(1990, 1, 1), "sex": "F", "death_date": dt.date(2023, 12, 31)},
    ]
    text = " ".join(data.remarks)
    assert "7 of 12 rows quarantined" in text and "the clinician reference matches no clinician" in text
    assert not any(word in text for word in ("ghost", "p404", "spaceship", "gp1"))


def test_cli_quarantines_with_remarks_and_exit_0(broken, tmp_path):
    q = tmp_path / "q.csv"
    res = invoke("patients", broken, "--extraction-date", "2024-06-30", "--quarantine", q)
    assert res.exit_code == 0, res.stderr
    lines = res.stderr.splitlines()
    assert lines[:4] == [
        "Format: synthea (detected; --format overrides)",
        "encounters.csv: 12 rows read = 5 accepted + 7 quarantined",
        "providers.csv: 4 rows read = 3 accepted + 1 quarantined",
        "patients.csv: 3 rows read = 2 accepted + 1 quarantined",
    ]
    assert "Remarks:" in lines
    assert "Traceback" not in res.stderr + res.stdout
    assert sorted(r["reason"] for r in csv.DictReader(q.open())) == sorted(
        [
            "duplicate_encounter_id",
            "start_after_extraction",
            "unknown_encounter_class",
            "unknown_clinician_reference",
            "missing_patient_id",
            "unknown_patient_reference",
            "malformed_row",
            "birth_date_after_extraction",
            "duplicate_clinician_id",
        ]
    )
    for secret in ("ghost", "p404"):
        assert secret not in res.stderr


def test_cli_unusable_inputs_exit_1_and_usage_errors_exit_2(tmp_path):
    no_class = write_folder(
        tmp_path / "a", providers=PROVIDERS, encounters=ENCOUNTERS_OK.replace("ENCOUNTERCLASS", "KIND")
    )
    res = invoke("patients", no_class, "--format", "synthea")
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: encounters.csv has no column `ENCOUNTERCLASS`")
    no_providers = write_folder(tmp_path / "b", encounters=ENCOUNTERS_OK)
    res = invoke("patients", no_providers, "--format", "synthea")
    assert res.exit_code == 1 and "no providers.csv" in res.stderr
    all_bad = write_folder(
        tmp_path / "c",
        providers=PROVIDERS,
        encounters=ENCOUNTERS_OK.replace("wellness", "x").replace("ambulatory", "y"),
    )
    res = invoke("patients", all_bad, "--extraction-date", "2024-06-30")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[0] == "Format: synthea (detected; --format overrides)"
    assert "encounters.csv has no valid row" in res.stderr and "encounter class has no care setting" in res.stderr
    res = invoke("patients", GENERIC / "reasons.csv", "--format", "synthea")
    assert res.exit_code == 1 and "reads a folder" in res.stderr
    res = invoke("patients", all_bad, "--format", "synthea", "--map", "patient_id=PATIENT")
    assert res.exit_code == 2 and "--map applies to --format generic only" in res.stderr
    for res in [invoke("patients", p, "--format", "synthea") for p in (no_class, no_providers, all_bad)]:
        assert "Traceback" not in res.stderr + res.stdout


def test_library_errors_name_the_file_and_the_fix(tmp_path, con):
    with pytest.raises(SchemaError, match=r"patients.csv has no column `Id`.*Columns present: `ID_`"):
        read_synthea(
            write_folder(
                tmp_path / "a", providers=PROVIDERS, encounters=ENCOUNTERS_OK, patients="ID_,BIRTHDATE\nx,2000-01-01\n"
            ),
            con=con,
        )
    with pytest.raises(InputError, match="does not exist"):
        read_synthea(tmp_path / "nope", con=con)
    with pytest.raises(InputError, match=r"no encounters\.csv"):
        read_synthea(write_folder(tmp_path / "b", providers=PROVIDERS), con=con)
    with pytest.raises(OptionError, match="--map"):
        read_synthea(tmp_path, con=con, mapping={"patient_id": "PATIENT"})


def test_older_column_set_reads_provider_as_the_organisation(tmp_path, con):
    folder = write_folder(tmp_path / "old", providers=OLD_PROVIDERS, patients=OLD_PATIENTS, encounters=OLD_ENCOUNTERS)
    assert detect_format(folder) == "synthea"
    data = read(folder, con=con, extraction_date=EXTRACTION)
    assert data.reconciliation().splitlines() == [
        "encounters.csv: 4 rows read = 4 accepted + 0 quarantined",
        "providers.csv: 1 row read = 1 accepted + 0 quarantined",
        "patients.csv: 1 row read = 1 accepted + 0 quarantined",
    ]
    assert rows(data.encounters.order_by("start").select("clinician_id", "practice_id", "setting", "start")) == [
        {"clinician_id": None, "practice_id": "org1", "setting": "primary_care", "start": dt.datetime(2019, 1, 2, 9)},
        {"clinician_id": None, "practice_id": "org1", "setting": "primary_care", "start": dt.datetime(2019, 2, 2, 9)},
        {"clinician_id": None, "practice_id": "org2", "setting": "emergency", "start": dt.datetime(2019, 3, 2, 9)},
        {"clinician_id": None, "practice_id": "org2", "setting": "primary_care", "start": dt.datetime(2019, 4, 2, 9)},
    ]
    assert data.remarks[0].startswith("encounters.csv has Synthea's older column set (no ORGANIZATION column)")
    by_practice = rows(patient_continuity(data.encounters, level="practice").select("n_visits", "upc"))
    assert by_practice == [{"n_visits": 3, "upc": pytest.approx(2 / 3)}]
    # Without providers.csv the older layout still reads: encounters name no clinician.
    (folder / "providers.csv").unlink()
    assert read_synthea(folder, con=con, extraction_date=EXTRACTION).clinicians is None


def test_provider_column_sets_of_other_releases(tmp_path, con):
    # v3.0 providers end in UTILIZATION; patients without FIPS/INCOME; no patients.csv is fine too.
    folder = write_folder(
        tmp_path / "v30",
        encounters=ENCOUNTERS_OK,
        providers=(
            "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,UTILIZATION\n"
            "gp1,org1,Ann A,F,GENERAL PRACTICE,1 Main St,Town,MA,02000,42.1,-71.1,2\n"
        ),
    )
    data = read_synthea(folder, con=con, extraction_date=EXTRACTION)
    assert data.reconciliation().splitlines() == [
        "encounters.csv: 2 rows read = 2 accepted + 0 quarantined",
        "providers.csv: 1 row read = 1 accepted + 0 quarantined",
    ]
    assert data.patients is None
    assert any("no patients.csv" in remark for remark in data.remarks)
