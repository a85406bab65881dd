"""The generic CSV/Parquet reader: layouts, mapping, quarantine, row numbers, errors."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from carethread import schema
from carethread.errors import CarethreadError, InputError, OptionError, SchemaError
from carethread.readers import FORMATS, parse_mapping, read
from carethread.readers.generic import read_generic

FIXTURES = Path(__file__).parent / "fixtures" / "generic"
EXTRACTION = dt.date(2024, 6, 30)


def rows(table):
    return table.to_pyarrow().to_pylist()


def quarantine(data):
    return sorted((r["source"], int(r["row"]), r["column"], r["value"], r["reason"]) for r in rows(data.quarantine))


def load(path, con, **kwargs):
    kwargs.setdefault("extraction_date", EXTRACTION)
    return read(path, con=con, **kwargs)


@pytest.fixture(scope="module")
def shared_con():
    from carethread import engine

    c = engine.connect()
    yield c
    c.disconnect()


@pytest.fixture(scope="module")
def reasons(shared_con):
    return load(FIXTURES / "reasons.csv", shared_con)


@pytest.fixture(scope="module")
def folder(shared_con):
    return load(FIXTURES / "folder", shared_con)


# --- every quarantine reason --------------------------------------------------------------


def test_every_encounter_reason_is_quarantined_with_row_column_and_value(reasons):
    data = reasons
    assert quarantine(data) == [
        ("reasons.csv", 2, "patient_id", None, "missing_patient_id"),
        ("reasons.csv", 3, "start", None, "missing_start"),
        ("reasons.csv", 4, "start", "next tuesday", "unparseable_start"),
        ("reasons.csv", 5, "start", "1899-12-31", "start_before_1900"),
        ("reasons.csv", 6, "start", "2024-07-01", "start_after_extraction"),
        ("reasons.csv", 7, "setting", "spaceship", "unknown_setting"),
        ("reasons.csv", 8, "encounter_id", "E01", "duplicate_encounter_id"),
        ("reasons.csv", 11, "patient_id", " ", "missing_patient_id"),
    ]
    assert data.reconciliation() == "reasons.csv: 11 rows read = 3 accepted + 8 quarantined"
    assert rows(data.encounters.select("encounter_id", "clinician_id", "setting")) == [
        {"encounter_id": "E01", "clinician_id": "C1", "setting": "primary_care"},
        {"encounter_id": "E09", "clinician_id": None, "setting": "primary_care"},
        {"encounter_id": "E10", "clinician_id": "C2", "setting": "primary_care"},
    ]


def test_remarks_group_reasons_and_count_caveats(reasons):
    data = reasons
    assert data.remarks == [
        "reasons.csv: 8 of 11 rows quarantined (patient_id is missing: 2 rows, first at data row 2 (line 3); "
        "start is missing: 1 row, at data row 3 (line 4); start is not a date or timestamp: 1 row, at data row 4 "
        "(line 5); start is before 1900-01-01: 1 row, at data row 5 (line 6); start is after the extraction date "
        "(2024-06-30): 1 row, at data row 6 (line 7); setting is not a known care setting: 1 row, at data row 7 "
        "(line 8); encounter_id repeats an earlier row: 1 row, at data row 8 (line 9)).",
        # Setting codes are vocabulary, not identifiers: the remark names them.
        "reasons.csv: setting values that are no care setting: `spaceship` (1 row). Map them to one of "
        "primary_care, specialty, urgent_care, emergency, inpatient, virtual, home, other with --setting-map "
        '"VALUE=SETTING,..." (or a file of such lines).',
        "reasons.csv: 1 accepted encounter has no clinician_id: counted for outcomes, left out of "
        "clinician-level measures.",
        "reasons.csv: 1 accepted encounter has no setting; it was given primary_care.",
    ]


def test_remarks_and_errors_never_contain_identifiers_or_values(reasons):
    data = reasons
    text = " ".join(data.remarks)
    for value in ("007", "P00", "E01", "C1", "PR1", "next tuesday", "1899-12-31"):
        assert value not in text


def test_side_table_reasons(folder):
    data = folder
    assert quarantine(data) == [
        ("clinicians.csv", 3, "active_to", "2018-01-01", "active_to_before_active_from"),
        ("clinicians.csv", 4, "capacity", "lots", "invalid_capacity"),
        ("clinicians.csv", 5, "clinician_id", None, "missing_clinician_id"),
        ("clinicians.csv", 6, "clinician_id", "C1", "duplicate_clinician_id"),
        ("clinicians.csv", 7, "active_from", "1850-01-01", "active_from_before_1900"),
        ("patients.csv", 2, "birth_date", "1960-13-01", "unparseable_birth_date"),
        ("patients.csv", 3, "death_date", "1969-12-31", "death_date_before_birth_date"),
        ("patients.csv", 4, "patient_id", "P1", "duplicate_patient_id"),
        ("patients.csv", 5, "birth_date", "2150-01-01", "birth_date_after_extraction"),
    ]
    assert rows(data.clinicians) == [
        {
            "clinician_id": "C1",
            "practice_id": "PR1",
            "specialty": "family medicine",
            "role": "physician",
            "capacity": 1800,
            "active_from": dt.date(2015, 1, 1),
            "active_to": None,
        },
        {
            "clinician_id": "C2",
            "practice_id": "PR1",
            "specialty": "family medicine",
            "role": "np",
            "capacity": 900,
            "active_from": dt.date(2018, 3, 1),
            "active_to": None,
        },
    ]
    assert rows(data.patients) == [
        {"patient_id": "P1", "birth_date": dt.date(1950, 2, 3), "sex": "F", "death_date": None}
    ]


def test_unknown_role_becomes_other_with_a_remark(con, tmp_path):
    (tmp_path / "encounters.csv").write_text("patient_id,start\nP1,2024-01-01\n")
    (tmp_path / "clinicians.csv").write_text("clinician_id,role\nC1,wizard\nC2,MD\n")
    data = load(tmp_path, con)
    assert rows(data.clinicians.select("clinician_id", "role")) == [
        {"clinician_id": "C1", "role": "other"},
        {"clinician_id": "C2", "role": "physician"},
    ]
    assert (
        "clinicians.csv: 1 clinician has a role that is not one of physician, np, pa, nurse, other; "
        "it was set to other." in data.remarks
    )


def test_malformed_csv_lines_are_quarantined_and_do_not_shift_row_numbers(con):
    data = load(FIXTURES / "malformed.csv", con)
    # Lines: 1 header, 2 P001, 3-4 P002 (a quoted note over two lines), 5 P003, 6 P004, 7 P005.
    # Data row N starts on line N + 1, so P003 is data row 4 although it is the third row.
    assert quarantine(data) == [
        ("malformed.csv", 4, None, "P003,2024-01-03,too,many,fields", "malformed_row"),
        ("malformed.csv", 5, None, "P004,2024-01-04", "malformed_row"),
    ]
    assert [r["encounter_id"] for r in rows(data.encounters)] == ["malformed:1", "malformed:2", "malformed:6"]
    assert data.reconciliation() == "malformed.csv: 5 rows read = 3 accepted + 2 quarantined"
    assert (
        "malformed.csv: 1 row holds a quoted value that spans lines (2 lines in all; the first is data row 2); "
        "each counts as one row, numbered by its first line, so data row N is still on line N + 1." in data.remarks
    )


def test_invalid_utf8_line_is_quarantined(con, tmp_path):
    path = tmp_path / "encounters.csv"
    path.write_bytes(b"patient_id,start\nP1,2024-01-01\nP\xe9,2024-01-02\nP3,2024-01-03\n")
    data = load(path, con)
    assert quarantine(data) == [("encounters.csv", 2, None, "P\ufffd,2024-01-02", "invalid_encoding")]
    assert [r["encounter_id"] for r in rows(data.encounters)] == ["encounters:1", "encounters:3"]


# --- identifiers, types, schema ----------------------------------------------------------


def test_leading_zeros_are_kept(con):
    data = load(FIXTURES / "leading_zeros.csv", con)
    assert rows(data.encounters.select("patient_id", "clinician_id", "practice_id")) == [
        {"patient_id": "007", "clinician_id": "0042", "practice_id": "00501"},
        {"patient_id": "0007", "clinician_id": "0042", "practice_id": "00501"},
    ]


def test_tables_have_exactly_the_canonical_schemas(folder):
    data = folder
    assert data.encounters.schema() == schema.ENCOUNTERS
    assert data.clinicians.schema() == schema.CLINICIANS
    assert data.patients.schema() == schema.PATIENTS
    assert data.quarantine.schema() == schema.QUARANTINE
    assert data.format == "generic"


def test_parquet_types_are_cast_once(con, tmp_path):
    table = pa.table(
        {
            "encounter_id": pa.array([1, 2, 3], pa.int64()),
            "patient_id": pa.array([7, 7, 8], pa.int32()),
            "clinician_id": pa.array([12.0, None, 3.0], pa.float64()),
            "start": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)], pa.date32()),
            "setting": ["Primary Care", "virtual", None],
        }
    )
    pq.write_table(table, tmp_path / "encounters.parquet")
    data = load(tmp_path / "encounters.parquet", con)
    assert rows(data.encounters) == [
        {
            "encounter_id": "1",
            "patient_id": "7",
            "clinician_id": "12",
            "practice_id": None,
            "start": dt.datetime(2024, 1, 1),
            "setting": "primary_care",
        },
        {
            "encounter_id": "2",
            "patient_id": "7",
            "clinician_id": None,
            "practice_id": None,
            "start": dt.datetime(2024, 1, 2),
            "setting": "virtual",
        },
        {
            "encounter_id": "3",
            "patient_id": "8",
            "clinician_id": "3",
            "practice_id": None,
            "start": dt.datetime(2024, 1, 3),
            "setting": "primary_care",
        },
    ]


def test_parquet_blank_identifiers_and_duplicates(con, tmp_path):
    pq.write_table(
        pa.table(
            {
                "encounter_id": ["e3", "e1", "e2", "e1", "e4"],
                "patient_id": ["P1", "", "P2", "P3", "  "],
                "clinician_id": ["C1", "", " ", "C2", "C3"],
                "start": [dt.datetime(2024, 1, 1)] * 5,
            }
        ),
        tmp_path / "encounters.parquet",
    )
    data = load(tmp_path / "encounters.parquet", con)
    assert quarantine(data) == [
        ("encounters.parquet", 2, "patient_id", "", "missing_patient_id"),
        ("encounters.parquet", 5, "patient_id", "  ", "missing_patient_id"),
    ]
    assert rows(data.encounters.select("encounter_id", "clinician_id")) == [
        {"encounter_id": "e3", "clinician_id": "C1"},
        {"encounter_id": "e2", "clinician_id": None},
        {"encounter_id": "e1", "clinician_id": "C2"},  # row 2 was rejected, so this e1 is the first kept
    ]


@pytest.mark.parametrize(
    ("ids", "reasons"),
    [([None, "a", "a", None], [(3, "duplicate_encounter_id")]), ([None, None, "a", "b"], [])],
)
def test_duplicate_check_ignores_missing_ids(con, tmp_path, ids, reasons):
    pq.write_table(
        pa.table({"encounter_id": ids, "patient_id": ["P"] * 4, "start": ["2024-01-01"] * 4}), tmp_path / "e.parquet"
    )
    data = load(tmp_path / "e.parquet", con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == reasons
    kept = [r["encounter_id"] for r in rows(data.encounters)]
    assert len(kept) == len(set(kept)) == 4 - len(reasons)
    assert "e:1" in kept


def test_duplicates_across_files_keep_the_first_file(con, tmp_path):
    folder = tmp_path / "encounters"
    folder.mkdir()
    for i, ids in enumerate([["a", "b"], ["b", "c", "a"]]):
        pq.write_table(
            pa.table(
                {"encounter_id": ids, "patient_id": ["P"] * len(ids), "start": [dt.datetime(2024, 1, 1)] * len(ids)}
            ),
            folder / f"part-{i}.parquet",
        )
    data = load(tmp_path, con)
    assert quarantine(data) == [
        ("encounters/part-1.parquet", 1, "encounter_id", "b", "duplicate_encounter_id"),
        ("encounters/part-1.parquet", 3, "encounter_id", "a", "duplicate_encounter_id"),
    ]
    assert data.reconciliation() == (
        "encounters/part-0.parquet: 2 rows read = 2 accepted + 0 quarantined\n"
        "encounters/part-1.parquet: 3 rows read = 1 accepted + 2 quarantined"
    )


def test_time_zone_aware_parquet_start_is_utc_wall_time(con, tmp_path):
    when = pa.array([dt.datetime(2024, 3, 1, 23, 30, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"patient_id": ["P1"], "start": when}), tmp_path / "e.parquet")
    data = load(tmp_path / "e.parquet", con)
    assert rows(data.encounters.select("start")) == [{"start": dt.datetime(2024, 3, 1, 23, 30)}]


def test_semicolon_delimiter_and_date_format(con):
    data = load(FIXTURES / "semicolon.csv", con, date_format="%d/%m/%Y")
    assert rows(data.encounters.select("patient_id", "start", "setting")) == [
        {"patient_id": "P001", "start": dt.datetime(2024, 1, 1), "setting": "virtual"},
        {"patient_id": "P002", "start": dt.datetime(2024, 2, 1), "setting": "home"},
    ]


def test_extraction_date_defaults_to_today(con, tmp_path):
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    (tmp_path / "e.csv").write_text(f"patient_id,start\nP1,{dt.date.today()}\nP2,{tomorrow}\n")
    data = read(tmp_path / "e.csv", con=con)
    assert [r[4] for r in quarantine(data)] == ["start_after_extraction"]


# --- CSV row numbers on a larger file ------------------------------------------------------


def test_csv_row_numbers_in_a_larger_file(con, tmp_path):
    """Bad rows at known places; quoted values spanning lines; malformed lines.

    Every 97th row has a note over two lines; data row N is the row that starts
    on line N + 1, so the row numbers are line numbers minus one.
    """
    n = 6000
    bad = {
        17: "missing_start",
        1832: "unparseable_start",
        2500: "malformed_row",
        4096: "missing_patient_id",
        5999: "unknown_setting",
        6000: "malformed_row",
    }
    path = tmp_path / "big.csv"
    expected, line = {}, 1
    with path.open("w", newline="") as fh:
        fh.write("patient_id,start,setting,note\n")
        writer = csv.writer(fh, lineterminator="\n")
        for row in range(1, n + 1):
            line += 1
            first_line = line
            note = "line one\nline two" if row % 97 == 0 else f"n{row}"
            reason = bad.get(row)
            if reason is not None:
                expected[first_line - 1] = reason
            if reason == "malformed_row":
                fh.write(f"P{row},2024-01-01,virtual,{note.splitlines()[0]},extra\n")
                continue
            line += note.count("\n")
            writer.writerow(
                [
                    "" if reason == "missing_patient_id" else f"P{first_line - 1:05d}",
                    {"missing_start": "", "unparseable_start": "soon"}.get(reason, "2024-01-01"),
                    "ward" if reason == "unknown_setting" else "primary_care",
                    note,
                ]
            )
    data = load(path, con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == sorted(expected.items())
    kept = rows(data.encounters.select("encounter_id", "patient_id"))
    assert len(kept) == n - len(bad)
    # Derived ids are <file stem>:<data row>, and patient ids carry the data row they were written on.
    assert all(r["encounter_id"] == f"big:{int(r['patient_id'][1:])}" for r in kept)
    assert data.reconciliation() == "big.csv: 6 000 rows read = 5 994 accepted + 6 quarantined"
    first = min(row for row, reason in expected.items() if reason == "malformed_row")
    assert first == 2525  # 2 500 rows and the 25 two-line notes above it, less the header
    assert "first at data row 2 525 (line 2 526)" in " ".join(data.remarks)


def test_parquet_row_numbers(con, tmp_path):
    starts = ["2024-01-01"] * 3000
    starts[1831] = "soon"
    pq.write_table(
        pa.table({"patient_id": [f"P{i}" for i in range(3000)], "start": starts}),
        tmp_path / "e.parquet",
        row_group_size=500,
    )
    data = load(tmp_path / "e.parquet", con)
    assert quarantine(data) == [("e.parquet", 1832, "start", "soon", "unparseable_start")]


# --- layouts: file, glob, folder ------------------------------------------------------------


def test_single_file_csv_and_parquet(con, tmp_path):
    pq.write_table(pa.table({"patient_id": ["007"], "start": ["2024-01-01"]}), tmp_path / "visits.parquet")
    data = load(tmp_path / "visits.parquet", con)
    assert data.reconciliation() == "visits.parquet: 1 row read = 1 accepted + 0 quarantined"
    assert data.clinicians is None and data.patients is None


def test_folder_with_side_tables_ignores_other_files(folder):
    data = folder
    assert [c.source for c in data.counts] == ["encounters.csv", "clinicians.csv", "patients.csv"]


def test_folder_of_parts_like_the_generator_writes(con, tmp_path):
    (tmp_path / "encounters").mkdir()
    for i in range(3):
        pq.write_table(
            pa.table({"encounter_id": [f"E{i}"], "patient_id": ["P1"], "start": ["2024-01-01"]}),
            tmp_path / "encounters" / f"part-{i:05d}.parquet",
        )
    pq.write_table(pa.table({"clinician_id": ["C1"]}), tmp_path / "clinicians.parquet")
    pq.write_table(pa.table({"patient_id": ["P1"]}), tmp_path / "patients.parquet")
    pq.write_table(pa.table({"patient_id": ["P1"], "usual": ["C1"]}), tmp_path / "true_usual.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "true_switches.parquet")
    data = load(tmp_path, con)
    assert [c.source for c in data.counts] == [
        "encounters/part-00000.parquet",
        "encounters/part-00001.parquet",
        "encounters/part-00002.parquet",
        "clinicians.parquet",
        "patients.parquet",
    ]
    # The encounters/ folder itself also works as input (the benchmark reads it).
    assert load(tmp_path / "encounters", con).encounters.count().execute() == 3


def test_folder_without_encounters_table_reads_every_file(con, tmp_path):
    for name in ("jan.csv", "feb.csv"):
        (tmp_path / name).write_text("patient_id,start\nP1,2024-01-01\n")
    (tmp_path / "patients.csv").write_text("patient_id\nP1\n")
    data = load(tmp_path, con)
    assert [c.source for c in data.counts] == ["feb.csv", "jan.csv", "patients.csv"]


def test_glob(con, tmp_path):
    for name in ("a.csv", "b.csv", "c.txt"):
        (tmp_path / name).write_text("patient_id,start\nP1,2024-01-01\n")
    data = load(str(tmp_path / "*.csv"), con)
    assert [c.source for c in data.counts] == ["a.csv", "b.csv"]
    assert rows(data.encounters.select("encounter_id")) == [{"encounter_id": "a:1"}, {"encounter_id": "b:1"}]


def test_ambiguous_folder(con, tmp_path):
    (tmp_path / "encounters.csv").write_text("patient_id,start\nP1,2024-01-01\n")
    pq.write_table(pa.table({"patient_id": ["P1"], "start": ["2024-01-01"]}), tmp_path / "encounters.parquet")
    with pytest.raises(InputError, match="more than one encounters table"):
        load(tmp_path, con)


# --- mapping ----------------------------------------------------------------------------------


def test_mapping_renames_source_columns(con):
    data = load(
        FIXTURES / "mapped.csv", con, mapping="patient_id=PatientID,start=VisitDate,clinician_id=Doctor,setting=Setting"
    )
    assert rows(data.encounters.select("patient_id", "clinician_id", "setting")) == [
        {"patient_id": "007", "clinician_id": "C1", "setting": "virtual"}
    ]
    assert data.remarks == [
        "mapped.csv has no encounter_id column; ids were made from the file name and row number "
        "(mapped:1, mapped:2, ...)."
    ]


def test_missing_required_column_suggests_a_near_miss(con):
    with pytest.raises(SchemaError) as err:
        load(FIXTURES / "mapped.csv", con)
    assert str(err.value) == (
        "mapped.csv has no column `patient_id`, which is required. Columns present: `PatientID`, "
        "`VisitDate`, `Doctor`, `Setting`. `PatientID` looks like patient_id: pass --map "
        "patient_id=PatientID, or rename the column."
    )


def test_missing_start_suggests_a_common_alias(con):
    with pytest.raises(SchemaError) as err:
        load(FIXTURES / "mapped.csv", con, mapping={"patient_id": "PatientID"})
    assert str(err.value).endswith("`VisitDate` looks like start: pass --map start=VisitDate, or rename the column.")


def test_mapped_column_that_does_not_exist(con):
    with pytest.raises(SchemaError) as err:
        load(FIXTURES / "mapped.csv", con, mapping="patient_id=PatientID,start=VisitDate,clinician_id=Doc")
    assert str(err.value) == (
        "mapped.csv has no column `Doc` (given for clinician_id by --map clinician_id=Doc). Columns present: "
        "`PatientID`, `VisitDate`, `Doctor`, `Setting`. `Doctor` looks like clinician_id: pass --map "
        "clinician_id=Doctor, or rename the column."
    )


def test_unused_optional_near_miss_columns_get_a_remark(con):
    data = load(FIXTURES / "mapped.csv", con, mapping="patient_id=PatientID,start=VisitDate")
    assert "mapped.csv: column `Setting` was not used; if it holds setting, pass --map setting=Setting." in data.remarks
    assert (
        "mapped.csv: column `Doctor` was not used; if it holds clinician_id, pass --map clinician_id=Doctor."
        in data.remarks
    )


def test_no_suggestion_when_nothing_is_close(con, tmp_path):
    (tmp_path / "e.csv").write_text("alpha,beta\nx,y\n")
    with pytest.raises(SchemaError) as err:
        load(tmp_path / "e.csv", con)
    assert str(err.value) == (
        "e.csv has no column `patient_id`, which is required. Columns present: `alpha`, `beta`. "
        "Rename the column that holds patient_id, or pass --map patient_id=<column>."
    )


def test_mapping_for_a_table_the_input_lacks(con):
    with pytest.raises(SchemaError, match=r"^--map birth_date=DOB: birth_date belongs to the patients table"):
        load(FIXTURES / "leading_zeros.csv", con, mapping={"birth_date": "DOB"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "patient_id",
            "--map: `patient_id` has no `=`; write canonical=source pairs separated by commas, "
            "e.g. --map patient_id=PAT_ID,start=VISIT_DT.",
        ),
        ("patient_id=", "--map: `patient_id=` needs a name on both sides of `=` (e.g. patient_id=PAT_ID)."),
        ("patient_id=A,patient_id=B", "--map: `patient_id` is given twice; keep one source column for it."),
        (
            "PatientID=x",
            "--map: `PatientID` is not a canonical column; did you mean `patient_id`? Canonical "
            "columns: encounter_id, patient_id, clinician_id, practice_id, start, setting, specialty, "
            "role, capacity, active_from, active_to, birth_date, sex, death_date.",
        ),
        (
            "PAT_ID=patient_id",
            "--map: `PAT_ID` is not a canonical column; it looks reversed: write --map "
            "patient_id=PAT_ID (canonical=source). Canonical columns: encounter_id, patient_id, "
            "clinician_id, practice_id, start, setting, specialty, role, capacity, active_from, "
            "active_to, birth_date, sex, death_date.",
        ),
    ],
)
def test_parse_mapping_errors(text, message):
    with pytest.raises(OptionError) as err:
        parse_mapping(text)
    assert str(err.value) == message


def test_parse_mapping():
    assert parse_mapping(" patient_id = PAT ID , start=VISIT_DT,") == {"patient_id": "PAT ID", "start": "VISIT_DT"}


# --- files that cannot be used at all -------------------------------------------------------


def _error(path, con, **kwargs):
    with pytest.raises(CarethreadError) as err:
        load(path, con, **kwargs)
    return err.value


def test_not_found(con, tmp_path):
    err = _error(tmp_path / "nope.csv", con)
    assert isinstance(err, InputError)
    assert str(err) == (
        f"{tmp_path / 'nope.csv'} does not exist. Pass a CSV or Parquet file, a folder that holds "
        "encounters.csv or encounters.parquet, or a glob such as 'data/*.parquet'."
    )


def test_glob_matching_nothing(con, tmp_path):
    err = _error(str(tmp_path / "*.parquet"), con)
    assert str(err) == (
        f"No CSV or Parquet file matches {tmp_path / '*.parquet'}. Check the pattern; files must end in "
        ".csv, .csv.gz, .tsv or .parquet."
    )


def test_empty_file(con):
    err = _error(FIXTURES / "empty.csv", con)
    assert isinstance(err, InputError)
    assert (
        str(err) == "empty.csv is empty: it has no header row and no data. Export the data again, or remove the file."
    )


def test_header_only(con):
    err = _error(FIXTURES / "header_only.csv", con)
    assert str(err) == (
        "header_only.csv has column names but no data rows. Check that the right file was given, "
        "or export the data again."
    )


def test_empty_parquet(con, tmp_path):
    pq.write_table(
        pa.table({"patient_id": pa.array([], pa.string()), "start": pa.array([], pa.string())}), tmp_path / "e.parquet"
    )
    assert "e.parquet has column names but no data rows" in str(_error(tmp_path / "e.parquet", con))


def test_no_valid_row(con):
    err = _error(FIXTURES / "all_bad.csv", con)
    assert isinstance(err, InputError)
    assert str(err) == (
        "all_bad.csv has no valid row: all 3 rows were rejected (patient_id is missing: 1 row, at data row 3 "
        "(line 4); start is not a date or timestamp: 1 row, at data row 1 (line 2); start is after the extraction "
        "date (2024-06-30): 1 row, at data row 2 (line 3)). Fix the file, or pass --map / --date-format if columns "
        "or dates were misread; --quarantine PATH writes the rejected rows."
    )
    for ident in ("P001", "P002", "someday", "2199"):
        assert ident not in str(err)


def test_first_line_is_data_not_a_header(con):
    err = _error(FIXTURES / "no_header.csv", con)
    assert isinstance(err, SchemaError)
    assert str(err) == (
        "no_header.csv has no header row. Its first line looks like data, not column names: column 1 looks "
        "like an identifier, column 2 like a date. Add a header row naming the columns (patient_id, start, ...) "
        "as the first line."
    )
    assert "P001" not in str(err) and "C1" not in str(err)


@pytest.mark.parametrize("content", [b"PAR1 not really parquet", b"patient_id,start\nP1,2024-01-01\n"])
def test_corrupt_parquet(con, tmp_path, content):
    path = tmp_path / "e.parquet"
    path.write_bytes(content)
    err = _error(path, con)
    assert isinstance(err, InputError)
    assert str(err) == (
        "e.parquet is not a readable Parquet file (it may be truncated, corrupt, or not Parquet at all). "
        "Export it again, or check that the right file was given."
    )
    assert err.__cause__ is None and err.__suppress_context__


def test_parquet_with_corrupt_pages(con, tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(
        pa.table({"patient_id": [f"P{i:06d}" for i in range(20000)], "start": ["2024-01-01"] * 20000}),
        path,
        compression="none",
    )
    data = bytearray(path.read_bytes())
    for k in range(len(data) // 4, len(data) // 2, 5):
        data[k] = 0xFF
    path.write_bytes(bytes(data))
    err = _error(path, con)
    assert isinstance(err, InputError)
    assert str(err).startswith("e.parquet ")
    assert "P0" not in str(err)


def test_unknown_extension(con, tmp_path):
    (tmp_path / "e.xlsx").write_text("x")
    assert str(_error(tmp_path / "e.xlsx", con)).startswith("e.xlsx is neither CSV nor Parquet")


def test_repeated_column_names(con, tmp_path):
    (tmp_path / "e.csv").write_text("patient_id,start,Start\nP1,2024-01-01,x\n")
    assert str(_error(tmp_path / "e.csv", con)) == (
        "e.csv has two columns named `Start` (columns 2 and 3; names are compared ignoring case). Rename one of them."
    )


# --- options and dispatch -----------------------------------------------------------------------


def test_unknown_format_lists_valid_ones(con):
    with pytest.raises(OptionError) as err:
        read(FIXTURES / "reasons.csv", format="excel", con=con)
    assert str(err.value) == "Unknown format 'excel'. Valid formats: auto, generic, synthea, fhir, omop."


def test_every_format_has_a_reader_and_files_have_a_detector():
    from carethread.readers import DETECTORS, READERS

    assert set(READERS) == set(FORMATS) - {"auto"}
    assert list(DETECTORS) == ["fhir", "omop", "synthea"]  # the most specific signature first


@pytest.mark.parametrize("fmt", ["auto", "generic", "GENERIC"])
def test_auto_and_generic(con, fmt):
    assert read(FIXTURES / "leading_zeros.csv", format=fmt, con=con, extraction_date=EXTRACTION).format == "generic"
    assert set(FORMATS) >= {"auto", "generic"}


def test_bad_extraction_date_and_date_format(con):
    with pytest.raises(OptionError, match="extraction_date 'June' is not a date"):
        read_generic(FIXTURES / "reasons.csv", con=con, extraction_date="June")
    with pytest.raises(OptionError, match="--date-format '%Q' is not a strptime pattern"):
        read_generic(FIXTURES / "reasons.csv", con=con, date_format="%Q")


def test_files_need_the_duckdb_engine(tmp_path):
    class Elsewhere:
        name = "postgres"

    with pytest.raises(OptionError, match="needs the embedded DuckDB engine"):
        read(FIXTURES / "leading_zeros.csv", con=Elsewhere())


def test_default_connection(tmp_path):
    shutil.copy(FIXTURES / "leading_zeros.csv", tmp_path / "encounters.csv")
    data = read(tmp_path, extraction_date=EXTRACTION)
    assert data.encounters.count().execute() == 2
