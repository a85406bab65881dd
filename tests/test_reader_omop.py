"""The OMOP CDM reader: both shared samples, detection, broken fixtures, the mapping, sources, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from carethread import engine, schema
from carethread.cli import app
from carethread.errors import InputError, OptionError, SchemaError
from carethread.measures.continuity import patient_continuity
from carethread.readers import detect_format, read
from carethread.readers.omop import VISIT_CONCEPTS, looks_like_omop, parse_visit_concepts, read_omop
from tests.conftest import SAMPLES

DATA = SAMPLES
SYNTHEA27 = DATA / "omop54-synthea27nj"
SYNPUF = DATA / "omop50-synpuf-10"
BROKEN = Path(__file__).parent / "fixtures" / "omop" / "broken"
EXTRACTION = dt.date(2024, 6, 30)


def rows(table):
    return table.to_pyarrow().to_pylist()


def counts(data):
    return [(c.source, c.read, c.accepted, c.quarantined) for c in data.counts]


def quarantine(data):
    return sorted(
        ((r["source"], int(r["row"]), r["column"], r["value"], r["reason"]) for r in rows(data.quarantine)),
    )


@pytest.fixture(scope="module")
def shared_con():
    c = engine.connect()
    yield c
    c.disconnect()


@pytest.fixture(scope="module")
def synthea27(shared_con):
    return read(SYNTHEA27, con=shared_con, extraction_date=EXTRACTION)


@pytest.fixture(scope="module")
def broken(shared_con):
    return read(BROKEN, format="omop", con=shared_con, extraction_date=EXTRACTION)


# --- the shared samples ---------------------------------------------------------------------------


def test_synthea27nj_counts_settings_and_side_tables(synthea27):
    data = synthea27
    assert data.format == "omop"
    assert counts(data) == [
        ("VISIT_OCCURRENCE.csv", 1791, 1791, 0),
        ("PERSON.csv", 28, 28, 0),
        ("PROVIDER.csv", 67, 67, 0),
    ]
    assert data.reconciliation().splitlines() == [
        "VISIT_OCCURRENCE.csv: 1 791 rows read = 1 791 accepted + 0 quarantined",
        "PERSON.csv: 28 rows read = 28 accepted + 0 quarantined",
        "PROVIDER.csv: 67 rows read = 67 accepted + 0 quarantined",
    ]
    assert data.remarks == []
    settings = Counter(r["setting"] for r in rows(data.encounters.select("setting")))
    assert settings == {"primary_care": 1722, "emergency": 56, "inpatient": 13}
    assert data.encounters.schema() == schema.ENCOUNTERS
    assert data.patients.schema() == schema.PATIENTS
    assert data.clinicians.schema() == schema.CLINICIANS
    deaths = {r["patient_id"]: r["death_date"] for r in rows(data.patients) if r["death_date"]}
    assert deaths == {"7": dt.date(2019, 5, 28), "11": dt.date(2009, 9, 14), "23": dt.date(2001, 7, 13)}
    first = rows(data.patients.filter(data.patients.patient_id == "1"))[0]
    assert (first["birth_date"], first["sex"]) == (dt.date(1998, 4, 9), "M")
    clinicians = rows(data.clinicians)
    assert {(c["specialty"], c["role"]) for c in clinicians} == {("GENERAL PRACTICE", "physician")}
    encounter = rows(data.encounters.filter(data.encounters.encounter_id == "21"))[0]
    assert encounter == {
        "encounter_id": "21",
        "patient_id": "1",
        "clinician_id": "10",
        "practice_id": None,
        "start": dt.datetime(2000, 12, 27),
        "setting": "primary_care",
    }


def test_synpuf_cdm50_names_unknown_concepts_and_care_sites(shared_con):
    data = read(SYNPUF, con=shared_con, extraction_date=EXTRACTION)
    assert data.format == "omop"
    assert counts(data) == [
        ("visit_occurrence.csv", 27, 10, 17),
        ("person.csv", 10, 10, 0),
        ("provider.csv", 27, 27, 0),
    ]
    reasons = Counter((r["column"], r["value"], r["reason"]) for r in rows(data.quarantine))
    assert reasons == {("visit_concept_id", "0", "unknown_visit_concept"): 17}
    assert Counter(r["setting"] for r in rows(data.encounters)) == {"inpatient": 6, "primary_care": 4}
    # CDM 5.0: visit_start_date with an empty visit_start_time is midnight.
    e = rows(data.encounters.filter(data.encounters.encounter_id == "88179"))[0]
    assert (e["patient_id"], e["clinician_id"], e["practice_id"], e["start"]) == (
        "1780",
        "5247",
        "3617",
        dt.datetime(2008, 4, 9),
    )
    assert data.remarks == [
        "visit_occurrence.csv: 17 of 27 rows quarantined (visit_concept_id has no care setting in the mapping: "
        "17 rows, first at data row 2 (line 3)).",
        "visit_occurrence.csv: 4 accepted outpatient encounters have a clinician with no known specialty; they "
        "were counted as primary_care (pass --visit-concepts 9202=specialty to count them as specialty care).",
        "visit_occurrence.csv: visit_concept_id values with no setting: 0 No matching concept (17 rows). Map them "
        "with --visit-concepts ID=SETTING (a setting or by_specialty).",
    ]
    clinician = rows(data.clinicians.filter(data.clinicians.clinician_id == "16"))[0]
    assert (clinician["practice_id"], clinician["specialty"], clinician["role"]) == ("13", None, None)
    person = rows(data.patients.filter(data.patients.patient_id == "1780"))[0]
    assert (person["birth_date"], person["sex"]) == (dt.date(1940, 2, 1), "F")


def _independent_indices(folder: Path) -> dict[str, dict]:
    """n_visits, n_clinicians, UPC, COC and SECON per person from 9202 visits, in plain Python.

    docs/definitions.md, *Visits*: a visit is a distinct (person, provider, day); a
    person's visits are ordered by their earliest start that day, then provider
    id; indices are None below 2 visits. Every provider of this sample is a
    general practitioner, so every 9202 visit is primary care.
    """
    with (folder / "PROVIDER.csv").open(newline="") as fh:
        specialty = {r["provider_id"]: r["specialty_concept_id"] for r in csv.DictReader(fh)}
    people: set[str] = set()
    days: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    with (folder / "VISIT_OCCURRENCE.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            people.add(r["person_id"])
            if r["visit_concept_id"] != "9202" or not r["provider_id"]:
                continue
            assert specialty[r["provider_id"]] == "38004446"
            start = r["visit_start_datetime"] or r["visit_start_date"]
            key = (r["provider_id"], start[:10])
            days[r["person_id"]][key] = min(days[r["person_id"]].get(key, start), start)
    out = {}
    for person in people:
        visits = sorted(days[person].items(), key=lambda kv: (kv[1], kv[0][0]))
        sequence = [provider for (provider, _day), _start in visits]
        n, per = len(sequence), Counter(sequence)
        enough = n >= 2
        out[person] = {
            "n_visits": n,
            "n_clinicians": len(per),
            "upc": max(per.values()) / n if enough else None,
            "coc": (sum(k * k for k in per.values()) - n) / (n * (n - 1)) if enough else None,
            "secon": sum(a == b for a, b in itertools.pairwise(sequence)) / (n - 1) if enough else None,
        }
    return out


def test_synthea27nj_indices_equal_an_independent_computation(synthea27):
    expected = _independent_indices(SYNTHEA27)
    got = {r["patient_id"]: r for r in rows(patient_continuity(synthea27.encounters))}
    assert set(got) == set(expected) and len(got) == 28
    for person, want in expected.items():
        row = got[person]
        for name, value in want.items():
            if value is None or isinstance(value, int):
                assert row[name] == value, (person, name)
            else:
                assert row[name] == pytest.approx(value, abs=1e-12), (person, name)


# --- detection ------------------------------------------------------------------------------------


def test_detection_of_the_samples_and_not_of_other_formats():
    assert detect_format(SYNTHEA27) == "omop"
    assert detect_format(SYNPUF) == "omop"
    for other in ("synthea-csv-unmc-111", "synthea-csv-dbt-27", "fhir-bulk-smart-10"):
        assert not looks_like_omop(DATA / other), other
    assert not looks_like_omop(Path(__file__).parent / "fixtures" / "generic" / "folder")
    assert not looks_like_omop(SYNTHEA27 / "VISIT_OCCURRENCE.csv")


def test_detection_any_case_comma_or_tab_and_header_checked(tmp_path):
    (tmp_path / "tab").mkdir()
    (tmp_path / "tab" / "Visit_Occurrence.TSV").write_text(
        "VISIT_OCCURRENCE_ID\tPERSON_ID\tVISIT_CONCEPT_ID\tVISIT_START_DATE\tPROVIDER_ID\n1\t7\t9202\t2024-01-02\t10\n"
    )
    assert looks_like_omop(tmp_path / "tab")
    assert detect_format(tmp_path / "tab") == "omop"
    data = read(tmp_path / "tab", extraction_date=EXTRACTION)
    assert rows(data.encounters.select("patient_id", "clinician_id", "setting")) == [
        {"patient_id": "7", "clinician_id": "10", "setting": "primary_care"}
    ]
    assert data.remarks[-1].startswith("The input has no provider table")
    (tmp_path / "generic").mkdir()
    (tmp_path / "generic" / "visit_occurrence.csv").write_text("patient_id,start\n7,2024-01-02\n")
    assert not looks_like_omop(tmp_path / "generic")
    assert detect_format(tmp_path / "generic") == "generic"
    (tmp_path / "x.duckdb").write_bytes(b"")
    assert looks_like_omop(tmp_path / "x.duckdb")


# --- broken fixtures ------------------------------------------------------------------------------


def test_every_broken_row_is_quarantined_with_its_reason(broken):
    assert counts(broken) == [
        ("VISIT_OCCURRENCE.csv", 13, 6, 7),
        ("PERSON.csv", 6, 2, 4),
        ("PROVIDER.csv", 6, 5, 1),
    ]
    assert quarantine(broken) == [
        ("PERSON.csv", 3, "year_of_birth", "1970-13-1", "unparseable_birth_date"),
        ("PERSON.csv", 4, "person_id", "1", "duplicate_patient_id"),
        ("PERSON.csv", 5, "person_id", None, "missing_patient_id"),
        ("PERSON.csv", 6, "death_date", "2031-05-05", "death_date_after_extraction"),
        ("PROVIDER.csv", 5, "provider_id", "10", "duplicate_clinician_id"),
        ("VISIT_OCCURRENCE.csv", 2, "visit_concept_id", "44818517", "unknown_visit_concept"),
        ("VISIT_OCCURRENCE.csv", 3, "visit_occurrence_id", "1", "duplicate_encounter_id"),
        ("VISIT_OCCURRENCE.csv", 4, "visit_start_date", "2031-01-01", "start_after_extraction"),
        ("VISIT_OCCURRENCE.csv", 5, "person_id", None, "missing_patient_id"),
        ("VISIT_OCCURRENCE.csv", 9, "visit_concept_id", "0", "unknown_visit_concept"),
        ("VISIT_OCCURRENCE.csv", 10, "visit_start_date", "2023-13-45", "unparseable_start"),
        ("VISIT_OCCURRENCE.csv", 13, "visit_concept_id", None, "unknown_visit_concept"),
    ]


def test_broken_fixture_accepted_rows_settings_and_fallbacks(broken):
    assert sorted(rows(broken.encounters), key=lambda r: int(r["encounter_id"])) == [
        {
            "encounter_id": "1",
            "patient_id": "1",
            "clinician_id": "10",
            "practice_id": "100",
            "start": dt.datetime(2023, 1, 10, 9),
            "setting": "primary_care",
        },
        # No provider_id: the provider of the first visit_detail row that has one (08:00, not 09:00).
        {
            "encounter_id": "6",
            "patient_id": "1",
            "clinician_id": "12",
            "practice_id": "100",
            "start": dt.datetime(2023, 3, 2, 10),
            "setting": "primary_care",
        },
        {
            "encounter_id": "7",
            "patient_id": "2",
            "clinician_id": "13",
            "practice_id": "100",
            "start": dt.datetime(2023, 3, 5),
            "setting": "specialty",
        },
        {
            "encounter_id": "8",
            "patient_id": "2",
            "clinician_id": "10",
            "practice_id": "100",
            "start": dt.datetime(2023, 3, 6),
            "setting": "emergency",
        },
        {
            "encounter_id": "11",
            "patient_id": "2",
            "clinician_id": "99",
            "practice_id": None,
            "start": dt.datetime(2023, 4, 1),
            "setting": "primary_care",
        },
        {
            "encounter_id": "12",
            "patient_id": "404",
            "clinician_id": "12",
            "practice_id": "200",
            "start": dt.datetime(2023, 4, 2),
            "setting": "emergency",
        },
    ]
    assert sorted(rows(broken.patients), key=lambda r: r["patient_id"]) == [
        {"patient_id": "1", "birth_date": dt.date(1950, 2, 3), "sex": "F", "death_date": None},
        {"patient_id": "2", "birth_date": dt.date(1960, 1, 1), "sex": "M", "death_date": dt.date(2019, 6, 1)},
    ]
    clinicians = {r["clinician_id"]: (r["practice_id"], r["specialty"], r["role"]) for r in rows(broken.clinicians)}
    assert clinicians == {
        "10": ("100", "General Practice", "physician"),
        "11": ("100", "FAMILY PRACTICE", "physician"),
        "12": ("100", "INTERNAL MEDICINE", "physician"),
        "13": ("100", "Cardiology", None),
        "14": ("100", "Nurse Practitioner", "np"),
    }


def test_broken_fixture_remarks_count_without_identifiers(broken):
    remarks = broken.remarks
    assert remarks[1:9] == [
        "VISIT_OCCURRENCE.csv: 1 accepted encounter has no provider_id; it was given the provider of the "
        "visit's first visit_detail row.",
        "VISIT_OCCURRENCE.csv: 1 accepted encounter has a provider_id missing from the provider table "
        "(counted for continuity; the clinician's specialty is unknown).",
        "VISIT_OCCURRENCE.csv: 1 accepted outpatient encounter has a clinician with no known specialty; it was "
        "counted as primary_care (pass --visit-concepts 9202=specialty to count them as specialty care).",
        "VISIT_OCCURRENCE.csv: 1 accepted outpatient encounter has a clinician whose specialty is not primary "
        "care; it was given the setting specialty.",
        "VISIT_OCCURRENCE.csv: 1 accepted encounter has visit_concept_id 262 (emergency room and inpatient "
        "visit); it was given the setting emergency (one row per visit).",
        "VISIT_OCCURRENCE.csv: 1 accepted encounter has a person_id missing from the person table (counted for "
        "continuity; the patient has no birth date or sex).",
        "VISIT_OCCURRENCE.csv: 1 accepted encounter has a care_site_id missing from the care_site table (kept "
        "as the practice).",
        "VISIT_OCCURRENCE.csv: visit_concept_id values with no setting: 0 No matching concept (1 row), 44818517 "
        "Visit derived from encounter on claim (1 row), empty (1 row). Map them with --visit-concepts "
        "ID=SETTING (a setting or by_specialty).",
    ]
    assert "DEATH.csv: 1 row name no person of the person table and was ignored." in remarks
    text = " ".join(remarks)
    for identifier in ("404", "1950", "2031", "1970-13", " 99 "):
        assert identifier not in text


def test_mapping_override_from_python_text_and_file(shared_con, tmp_path):
    data = read_omop(
        BROKEN,
        con=shared_con,
        extraction_date=EXTRACTION,
        visit_concepts={0: "other", "262": "inpatient", 9202: "primary_care"},
    )
    settings = {r["encounter_id"]: r["setting"] for r in rows(data.encounters)}
    assert (settings["9"], settings["8"], settings["7"]) == ("other", "inpatient", "primary_care")
    assert counts(data)[0] == ("VISIT_OCCURRENCE.csv", 13, 7, 6)
    assert any(
        "visit_concept_id 262 (emergency room and inpatient visit); it was given the setting inpatient" in r
        for r in data.remarks
    )
    listed = tmp_path / "concepts.txt"
    listed.write_text("# ours\n44818517 = home\n0=other\n")
    table = tmp_path / "concepts.csv"
    table.write_text("visit_concept_id,setting\n44818517,home\n0,other\n")
    for given in (listed, str(table), "44818517=home, 0=other"):
        data = read_omop(BROKEN, con=shared_con, extraction_date=EXTRACTION, visit_concepts=given)
        settings = {r["encounter_id"]: r["setting"] for r in rows(data.encounters)}
        assert (settings["2"], settings["9"]) == ("home", "other"), given
    # The default mapping itself is untouched by overrides.
    assert VISIT_CONCEPTS[262] == "emergency" and VISIT_CONCEPTS[9202] == "by_specialty"


def test_primary_care_specialties_override(shared_con):
    data = read_omop(BROKEN, con=shared_con, extraction_date=EXTRACTION, primary_care_specialties=[38004451])
    settings = {r["encounter_id"]: r["setting"] for r in rows(data.encounters)}
    assert (settings["1"], settings["7"]) == ("specialty", "primary_care")


def test_bad_mapping_entries_say_how_to_fix(tmp_path):
    with pytest.raises(OptionError, match="is not a concept id"):
        parse_visit_concepts("outpatient=primary_care")
    with pytest.raises(OptionError, match="has no `=`"):
        parse_visit_concepts("9202=primary_care,9203")
    with pytest.raises(OptionError, match="neither concept=setting pairs nor an existing file"):
        parse_visit_concepts(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.csv"
    bad.write_text("concept,where\n1,2\n")
    with pytest.raises(OptionError, match="columns visit_concept_id,setting"):
        parse_visit_concepts(bad)


def test_missing_required_column_names_file_columns_and_fix(tmp_path):
    (tmp_path / "visit_occurrence.csv").write_text(
        "visit_occurrence_id,personid,visit_concept_id,visit_start_date\n1,SECRET-7,9202,2024-01-02\n"
    )
    with pytest.raises(SchemaError) as err:
        read_omop(tmp_path, extraction_date=EXTRACTION)
    message = str(err.value)
    assert message.startswith("visit_occurrence.csv has no column `person_id`, which the OMOP CDM visit_occurrence")
    assert "`personid` looks like person_id" in message and "SECRET-7" not in message


def test_inputs_that_cannot_be_used(tmp_path, shared_con):
    with pytest.raises(InputError, match="has no visit_occurrence table"):
        read_omop(tmp_path, con=shared_con)
    with pytest.raises(InputError, match="does not exist"):
        read_omop(tmp_path / "nope", con=shared_con)
    (tmp_path / "visit_occurrence.csv").write_text(
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date\n1,7,0,2024-01-02\n"
    )
    with pytest.raises(InputError, match="no valid row"):
        read_omop(tmp_path, con=shared_con, extraction_date=EXTRACTION)
    with pytest.raises(OptionError, match="--schema applies to databases"):
        read_omop(tmp_path, con=shared_con, schema="cdm")
    with pytest.raises(OptionError, match="--map does not apply"):
        read(tmp_path, format="omop", con=shared_con, mapping="patient_id=person_id")
    with pytest.raises(OptionError, match="--visit-concepts does not apply to the generic format"):
        read(tmp_path / "visit_occurrence.csv", format="generic", con=shared_con, visit_concepts="0=other")
    not_duckdb = tmp_path / "cdm.duckdb"
    not_duckdb.write_text("not a database")
    with pytest.raises(InputError, match="could not be opened as a DuckDB database"):
        read_omop(not_duckdb, con=shared_con)


def test_malformed_csv_line_is_quarantined(tmp_path, shared_con):
    (tmp_path / "visit_occurrence.csv").write_text(
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date\n"
        "1,7,9202,2024-01-02\n2,7,9202,2024-01-03,extra,fields\n3,7,9202,2024-01-04\n"
    )
    data = read_omop(tmp_path, con=shared_con, extraction_date=EXTRACTION)
    assert [(r[1], r[4]) for r in quarantine(data)] == [(2, "malformed_row")]
    assert sorted(r["encounter_id"] for r in rows(data.encounters)) == ["1", "3"]


# --- a DuckDB database file -----------------------------------------------------------------------


def test_duckdb_file_gives_the_same_tables_as_the_csv_folder(tmp_path, synthea27, shared_con):
    path = tmp_path / "cdm.duckdb"
    with duckdb.connect(str(path)) as db:  # typed columns, as a CDM database has
        for csv_path in SYNTHEA27.glob("*.csv"):
            db.execute(f"CREATE TABLE {csv_path.stem.lower()} AS SELECT * FROM read_csv('{csv_path}')")
        assert (
            db.execute("SELECT typeof(visit_start_datetime) FROM visit_occurrence LIMIT 1").fetchone()[0] == "TIMESTAMP"
        )
    data = read(path, con=shared_con, extraction_date=EXTRACTION)
    assert data.format == "omop"
    assert counts(data) == [
        ("cdm.duckdb:visit_occurrence", 1791, 1791, 0),
        ("cdm.duckdb:person", 28, 28, 0),
        ("cdm.duckdb:provider", 67, 67, 0),
    ]

    def ordered(table, key):
        return sorted(rows(table), key=lambda r: r[key])

    assert ordered(data.encounters, "encounter_id") == ordered(synthea27.encounters, "encounter_id")
    assert ordered(data.patients, "patient_id") == ordered(synthea27.patients, "patient_id")
    assert ordered(data.clinicians, "clinician_id") == ordered(synthea27.clinicians, "clinician_id")
    # The same data through INPUT (attached read-only) and through --database (the engine's own
    # file, a copy: DuckDB will not open one file read-only and read-write in one process).
    shutil.copy(path, tmp_path / "engine.duckdb")
    runner = CliRunner()
    by_input = runner.invoke(
        app, ["patients", str(path), "--extraction-date", "2024-06-30", "--out", str(tmp_path / "a.csv")]
    )
    by_database = runner.invoke(
        app,
        [
            "patients",
            "--database",
            str(tmp_path / "engine.duckdb"),
            "--format",
            "omop",
            "--extraction-date",
            "2024-06-30",
            "--out",
            str(tmp_path / "b.csv"),
        ],
    )
    assert by_input.exit_code == 0, by_input.stderr
    assert by_database.exit_code == 0, by_database.stderr
    assert sorted((tmp_path / "a.csv").read_text().splitlines()) == sorted(
        (tmp_path / "b.csv").read_text().splitlines()
    )
    assert "visit_occurrence: 1 791 rows read = 1 791 accepted + 0 quarantined" in by_database.stderr


# --- the command line -----------------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_reads_the_sample_with_auto_detection_and_reconciliation():
    res = invoke("patients", SYNTHEA27, "--extraction-date", "2024-06-30", "--limit", 1)
    assert res.exit_code == 0, res.stderr
    assert res.stderr.splitlines()[:4] == [
        "Format: omop (detected; --format overrides)",
        "VISIT_OCCURRENCE.csv: 1 791 rows read = 1 791 accepted + 0 quarantined",
        "PERSON.csv: 28 rows read = 28 accepted + 0 quarantined",
        "PROVIDER.csv: 67 rows read = 67 accepted + 0 quarantined",
    ]


def test_cli_exit_codes_without_tracebacks(tmp_path):
    cases = [
        (("patients",), 2, "Missing INPUT"),
        (("patients", BROKEN, "--schema", "cdm"), 2, "--schema applies to databases"),
        (("patients", BROKEN, "--visit-concepts", "9202=clinic"), 2, "is not a setting"),
        (("patients", BROKEN, "--format", "omop", "--map", "patient_id=person_id"), 2, "--map does not apply"),
        (("patients", BROKEN, "--strict", "--extraction-date", "2024-06-30"), 1, "--strict is set"),
        (("patients", tmp_path / "nope"), 1, "does not exist"),
    ]
    for args, code, text in cases:
        res = invoke(*args)
        assert res.exit_code == code, (args, res.stderr)
        assert text in res.stderr and "Traceback" not in res.stderr + res.stdout, args
    folder = tmp_path / "cdm"
    shutil.copytree(BROKEN, folder)
    (folder / "VISIT_OCCURRENCE.csv").write_text("visit_occurrence_id,person_id\n1,7\n")
    res = invoke("patients", folder, "--format", "omop")
    assert res.exit_code == 1 and "requires" in res.stderr and "Traceback" not in res.stderr


def test_cli_visit_concepts_and_quarantine_file(tmp_path):
    q = tmp_path / "q.csv"
    res = invoke(
        "patients",
        BROKEN,
        "--extraction-date",
        "2024-06-30",
        "--visit-concepts",
        "0=other,44818517=home",
        "--quarantine",
        q,
        "--settings",
        "primary_care,home",
    )
    assert res.exit_code == 0, res.stderr
    assert "VISIT_OCCURRENCE.csv: 13 rows read = 8 accepted + 5 quarantined" in res.stderr
    reasons = Counter(r["reason"] for r in csv.DictReader(q.open()))
    assert reasons["unknown_visit_concept"] == 1
