"""Hostile input (issue 17): every reproducer of the issue, reader side, as a test.

Each test writes the bytes the issue describes, reads them, and checks where every
row went (accepted, or quarantined alone with its row and a reason) and that
messages say what, where and how to fix without a value of the data.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from carethread import engine, read
from carethread.errors import InputError, OptionError, SchemaError
from carethread.readers import lines
from carethread.validate import finishing

EXTRACTION = dt.date(2024, 6, 30)
#: One valid FHIR Encounter, as an NDJSON line.
ENCOUNTER = json.dumps(
    {
        "resourceType": "Encounter",
        "id": "e1",
        "class": {"code": "EMER"},
        "period": {"start": "2024-01-02"},
        "subject": {"reference": "Patient/p1"},
    }
)


@pytest.fixture(scope="module")
def con():
    c = engine.connect()
    yield c
    c.disconnect()


def load(path, con, **kwargs):
    kwargs.setdefault("extraction_date", EXTRACTION)
    return read(path, con=con, **kwargs)


def quarantine(data):
    rows = data.quarantine.to_pyarrow().to_pylist()
    return sorted((r["source"], int(r["row"]), r["column"], r["value"], r["reason"]) for r in rows)


def patients(data):
    return [r["patient_id"] for r in data.encounters.order_by("encounter_id").to_pyarrow().to_pylist()]


def write(tmp_path, content: bytes, name="encounters.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --- 1. every physical data line accounted for ----------------------------------------------


def test_quoted_file_whose_line_ends_change_from_crlf_to_lf_loses_no_row(con, tmp_path):
    # The issue: "2 rows read = 1 accepted + 1 quarantined" for these 4 data rows.
    path = write(
        tmp_path,
        b'patient_id,start,note\r\n"P1","2024-01-01","a"\r\n"P2","2024-01-02","b"\n"P3","2024-01-03","c"\n'
        b'"P4","2024-01-04","d"\n',
    )
    data = load(path, con)
    assert data.reconciliation() == "encounters.csv: 4 rows read = 4 accepted + 0 quarantined"
    assert patients(data) == ["P1", "P2", "P3", "P4"]


def test_unbalanced_quote_is_quarantined_alone_and_the_next_lines_are_read(con, tmp_path):
    path = write(
        tmp_path, b'patient_id,start,note\nP1,2024-01-01,a\nP2,2024-01-02,"b\nP3,2024-01-03,c\nP4,2024-01-04,d\n'
    )
    data = load(path, con)
    assert quarantine(data) == [("encounters.csv", 2, None, 'P2,2024-01-02,"b', "unbalanced_quote")]
    assert patients(data) == ["P1", "P3", "P4"]
    assert data.reconciliation() == "encounters.csv: 4 rows read = 3 accepted + 1 quarantined"


def test_unbalanced_quote_of_a_long_line_is_not_cut_at_1000_characters(con, tmp_path):
    note = "x" * 5000
    path = write(tmp_path, f'patient_id,start,note\nP1,2024-01-01,"{note}\nP2,2024-01-02,y\n'.encode())
    data = load(path, con)
    [(_s, row, _c, value, reason)] = quarantine(data)
    assert (row, reason, value) == (1, "unbalanced_quote", f'P1,2024-01-01,"{note}')
    assert patients(data) == ["P2"]


def test_quarantine_values_beyond_the_shown_length_are_cut_with_a_remark(con, tmp_path, monkeypatch):
    monkeypatch.setattr(finishing, "SHOWN_CHARS", 20)
    path = write(tmp_path, b'patient_id,start,note\nP1,2024-01-01,"abcdefghijklmnopqrstuvwxyz\nP2,2024-01-02,y\n')
    data = load(path, con)
    assert [v for *_rest, v, _r in quarantine(data)] == ['P1,2024-01-01,"abcde…']
    assert "encounters.csv: 1 quarantined value longer than 20 characters is cut there in the quarantine" in " ".join(
        data.remarks
    )


def test_bare_carriage_return_in_an_unquoted_value_keeps_one_row(con, tmp_path):
    # The issue: a bare CR split one row into two.
    path = write(tmp_path, b"patient_id,start,note\nP1,2024-01-01,a\nP2,2024-01-02,b\rx\nP3,2024-01-03,c\n")
    data = load(path, con)
    assert quarantine(data) == [("encounters.csv", 2, None, "P2,2024-01-02,b\rx", "line_ending")]
    assert data.reconciliation() == "encounters.csv: 3 rows read = 2 accepted + 1 quarantined"


def test_a_row_over_two_lines_with_a_bare_carriage_return_is_quarantined_whole(con, tmp_path):
    # Found by the long fuzz tier: the quoted value spans lines; the CR outside it is the row's fault.
    path = write(tmp_path, b'patient_id,start,note,code\nP1,2024-01-01,"a\nb",x\ry\nP2,2024-01-02,c,d\n')
    data = load(path, con)
    assert quarantine(data) == [("encounters.csv", 1, None, 'P1,2024-01-01,"a\nb",x\ry', "line_ending")]
    assert data.reconciliation() == "encounters.csv: 2 rows read = 1 accepted + 1 quarantined"
    assert data.counts[0].lines == 3


def test_carriage_return_inside_quotes_is_part_of_the_value(con, tmp_path):
    path = write(tmp_path, b'patient_id,start,note\nP1,2024-01-01,"a\rb"\n"P\r2",2024-01-02,c\n')
    data = load(path, con)
    assert data.reconciliation() == "encounters.csv: 2 rows read = 2 accepted + 0 quarantined"
    assert patients(data) == ["P1", "P\r2"]


def test_carriage_return_only_line_ends_say_how_to_convert(con, tmp_path):
    path = write(tmp_path, b"patient_id,start\rP1,2024-01-01\rP2,2024-01-02\r")
    with pytest.raises(InputError) as err:
        load(path, con)
    assert str(err.value) == (
        "encounters.csv ends its lines with a carriage return alone (the old Mac OS format), which carethread "
        "does not read: its first line holds a carriage return that is not followed by a line feed. Convert the "
        "line ends to LF or CRLF (for example: tr '\\r' '\\n' < encounters.csv > converted.csv) and read the "
        "converted file."
    )


def test_quoted_value_over_several_lines_is_one_row_and_a_remark_says_so(con, tmp_path):
    path = write(tmp_path, b'patient_id,start,note\nP1,2024-01-01,"one\ntwo\nthree"\nP2,2024-01-02,x\n')
    data = load(path, con)
    assert data.reconciliation() == "encounters.csv: 2 rows read = 2 accepted + 0 quarantined"
    # Data row N starts on line N + 1: P2 is on line 5, so it is data row 4.
    assert [r["encounter_id"] for r in data.encounters.to_pyarrow().to_pylist()] == ["encounters:1", "encounters:4"]
    assert (
        "encounters.csv: 1 row holds a quoted value that spans lines (3 lines in all; the first is data row 1); "
        "each counts as one row, numbered by its first line, so data row N is still on line N + 1." in data.remarks
    )


def test_blank_lines_are_no_rows_and_are_counted(con, tmp_path):
    path = write(tmp_path, b"patient_id,start\n\nP1,2024-01-01\n   \r\nP2,2024-01-40\n\n")
    data = load(path, con)
    assert data.reconciliation() == "encounters.csv: 2 rows read = 1 accepted + 1 quarantined"
    assert quarantine(data) == [("encounters.csv", 4, "start", "2024-01-40", "unparseable_start")]
    assert "encounters.csv: 3 blank lines were skipped (no row)." in data.remarks


@pytest.mark.parametrize("piece", [1 << 20, 16])
def test_a_line_too_long_to_read_is_quarantined_and_skipped(con, tmp_path, monkeypatch, piece):
    monkeypatch.setattr(lines, "MAX_ROW_BYTES", 64)
    # With small pieces the long line is never whole in memory: it is skipped up to its end.
    monkeypatch.setattr(lines, "CHUNK_BYTES", 32)
    monkeypatch.setattr(lines, "PIECE_BYTES", piece)
    path = write(tmp_path, b"patient_id,start\nP1,2024-01-01\nP2," + b"9" * 200 + b"\nP3,2024-01-03\n")
    data = load(path, con)
    [(_s, row, column, value, reason)] = quarantine(data)
    assert (row, column, reason) == (2, None, "line_too_long") and value.startswith("P2,999")
    assert patients(data) == ["P1", "P3"]
    assert data.counts[0].lines == 3


def test_invalid_utf8_lines_are_quarantined_one_by_one(con, tmp_path):
    path = write(tmp_path, b"patient_id,start\nP\xff1,2024-01-01\nP2,2024-01-02\n\xfe,x\n")
    data = load(path, con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == [
        (1, "invalid_encoding"),
        (3, "invalid_encoding"),
    ]
    assert patients(data) == ["P2"]


# --- 2. no value of the data in any message -------------------------------------------------


@pytest.mark.parametrize(
    ("first_line", "kinds"),
    [
        (b"P0017,2024-01-02,C3\n", "column 1 looks like an identifier, column 2 like a date"),
        (b"17,08/14/2024,300\n", "column 1 looks like a number, column 2 like a date, column 3 like a number"),
        (b"MRN123456,14.08.2024 9:05\n", "column 1 looks like an identifier, column 2 like a date"),
    ],
)
def test_a_file_without_header_row_is_named_by_column_positions(con, tmp_path, first_line, kinds):
    path = write(tmp_path, first_line + b"P0018,2024-01-03,C3\n")
    with pytest.raises(SchemaError) as err:
        load(path, con)
    message = str(err.value)
    assert message == (
        f"encounters.csv has no header row. Its first line looks like data, not column names: {kinds}. "
        "Add a header row naming the columns (patient_id, start, ...) as the first line."
    )
    for value in first_line.decode().strip().split(","):
        assert f" {value}" not in message and f"`{value}`" not in message


def test_a_headerless_file_with_a_repeated_value_names_no_value(con, tmp_path):
    path = write(tmp_path, b"P0017,P0017,2024-01-02\n")
    with pytest.raises(SchemaError) as err:
        load(path, con)
    assert "P0017" not in str(err.value) and "has no header row" in str(err.value)


def test_omop_without_header_rows_leaks_no_person_id(con, tmp_path):
    (tmp_path / "VISIT_OCCURRENCE.csv").write_text(
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date\n1,7,9202,2024-01-02\n"
    )
    (tmp_path / "PERSON.csv").write_text("123456,8507,1950\n")
    with pytest.raises(SchemaError) as err:
        load(tmp_path, con, format="omop")
    assert str(err.value) == (
        "PERSON.csv has no column `person_id`, which the OMOP CDM person table requires. Its first line looks "
        "like data, not column names: column 1 looks like a number, column 2 like a number, column 3 like a "
        "number. Export the table with its CDM column names (and its header row)."
    )


def test_omop_unknown_concepts_show_no_value_of_a_shifted_row(con, tmp_path):
    # Rows 2 and 3 as a file with shifted fields has them: a date and a person id where the visit
    # concept belongs. Neither is shown; 0 and an empty concept are.
    (tmp_path / "VISIT_OCCURRENCE.csv").write_text(
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date\n1,7,9202,2024-01-02\n"
        "2,7,1887-09-14,2024-01-03\n3,7,4471093,2024-01-05\n4,7,0,2024-01-06\n5,7,0,2024-01-07\n"
        "6,7,,2024-01-08\n"
    )
    data = load(tmp_path, con, format="omop")
    [remark] = [r for r in data.remarks if "with no setting" in r]
    assert remark == (
        "VISIT_OCCURRENCE.csv: visit_concept_id values with no setting: 0 No matching concept (2 rows), "
        "empty (1 row), and 2 other values (2 rows; --quarantine PATH lists them). Map them with "
        "--visit-concepts ID=SETTING (a setting or by_specialty)."
    )


# --- 3. non-finite and out-of-range numbers -------------------------------------------------


def test_non_finite_and_huge_capacities_are_quarantined_per_row(con, tmp_path):
    (tmp_path / "encounters.csv").write_text("patient_id,clinician_id,start\nP1,C1,2024-01-01\n")
    (tmp_path / "clinicians.csv").write_text(
        "clinician_id,capacity\nC1,1e19\nC2,inf\nC3,nan\nC4,-inf\nC5,1e400\nC6,-1\nC7,12\n"
    )
    data = load(tmp_path, con)
    assert [(row, value, reason) for _s, row, _c, value, reason in quarantine(data)] == [
        (1, "1e19", "invalid_capacity"),
        (2, "inf", "invalid_capacity"),
        (3, "nan", "invalid_capacity"),
        (4, "-inf", "invalid_capacity"),
        (5, "1e400", "invalid_capacity"),
        (6, "-1", "invalid_capacity"),
    ]
    assert data.clinicians.to_pyarrow().to_pylist()[0]["capacity"] == 12


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e20, -1e20])
def test_float_id_columns_that_hold_no_identifier_are_quarantined(con, tmp_path, bad):
    path = tmp_path / "encounters.parquet"
    pq.write_table(
        pa.table({"patient_id": [1.0, bad, 3.0], "clinician_id": [7.0, 7.0, bad], "start": ["2024-01-01"] * 3}),
        path,
    )
    data = load(path, con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == [
        (2, "invalid_patient_id"),
        (3, "invalid_clinician_id"),
    ]
    assert patients(data) == ["1"]


def test_float_encounter_and_practice_ids_that_hold_no_identifier(con, tmp_path):
    path = tmp_path / "encounters.parquet"
    nan = float("nan")
    pq.write_table(
        pa.table(
            {
                "encounter_id": [1.0, nan, 3.0],
                "patient_id": ["P1", "P2", "P3"],
                "practice_id": [5.0, 5.0, 2.0**60],
                "start": ["2024-01-01"] * 3,
            }
        ),
        path,
    )
    data = load(path, con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == [
        (2, "invalid_encounter_id"),
        (3, "invalid_practice_id"),
    ]


def test_float_capacity_with_nan_in_parquet(con, tmp_path):
    pq.write_table(pa.table({"patient_id": ["P1"], "start": ["2024-01-01"]}), tmp_path / "encounters.parquet")
    pq.write_table(
        pa.table({"clinician_id": ["C1", "C2", "C3"], "capacity": [float("nan"), 1e300, 900.0]}),
        tmp_path / "clinicians.parquet",
    )
    data = load(tmp_path, con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == [
        (1, "invalid_capacity"),
        (2, "invalid_capacity"),
    ]


def test_omop_year_of_birth_out_of_range_is_quarantined(con, tmp_path):
    (tmp_path / "VISIT_OCCURRENCE.csv").write_text(
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date\n1,7,9202,2024-01-02\n"
    )
    (tmp_path / "PERSON.csv").write_text("person_id,year_of_birth\n7,99999999999\n8,1950\n9,0\n")
    data = load(tmp_path, con, format="omop")
    assert [(r[0], r[1], r[3], r[4]) for r in quarantine(data)] == [
        ("PERSON.csv", 1, "99999999999", "unparseable_birth_date"),
        ("PERSON.csv", 3, "0", "unparseable_birth_date"),
    ]


def test_omop_float_ids_in_parquet_are_quarantined(con, tmp_path):
    pq.write_table(
        pa.table(
            {
                "visit_occurrence_id": [1.0, 2.0, 3.0],
                "person_id": [7.0, float("nan"), 8.0],
                "visit_concept_id": [9202, 9202, 9202],
                "visit_start_date": [dt.date(2024, 1, 2)] * 3,
                "provider_id": [5.0, 5.0, 1e20],
            }
        ),
        tmp_path / "visit_occurrence.parquet",
    )
    data = load(tmp_path, con, format="omop")
    assert [(r[1], r[2], r[4]) for r in quarantine(data)] == [
        (2, "person_id", "invalid_patient_id"),
        (3, "provider_id", "invalid_clinician_id"),
    ]


@pytest.mark.parametrize(
    ("clinicians", "problem"),
    [
        ("clinician_id,capacity\n,12\n", "has no valid row: its 1 row was rejected (clinician_id is missing"),
        ("clinician_id,capacity\n", "has column names but no data rows"),
    ],
)
def test_an_optional_side_table_without_a_valid_row_is_set_aside(con, tmp_path, clinicians, problem):
    (tmp_path / "encounters.csv").write_text("patient_id,clinician_id,start\nP1,C1,2024-01-01\n")
    (tmp_path / "clinicians.csv").write_text(clinicians)
    (tmp_path / "patients.csv").write_text("patient_id,birth_date\nP1,notadate\n")
    data = load(tmp_path, con)
    assert data.clinicians is None and data.patients is None
    assert data.encounters.count().execute() == 1
    assert any(
        r.startswith(f"clinicians.csv {problem}") and r.endswith("every measure runs without it.") for r in data.remarks
    )
    assert any(r.startswith("patients.csv has no valid row") for r in data.remarks)


def test_fhir_side_types_without_a_valid_resource_are_set_aside(con, tmp_path):
    (tmp_path / "Encounter.ndjson").write_text(ENCOUNTER + "\n")
    (tmp_path / "Patient.ndjson").write_text('{"resourceType": "Patient"\n')
    data = load(tmp_path, con)
    assert data.patients is None and data.encounters.count().execute() == 1
    assert any(r.startswith("Patient.ndjson has no valid row") for r in data.remarks)


# --- 4. reader-side failures are sentences --------------------------------------------------


def _gzipped_rows(n=200_000) -> bytes:
    body = "patient_id,start\n" + "".join(f"P{i:06d},2024-01-{1 + i % 28:02d}\n" for i in range(n))
    return gzip.compress(body.encode(), compresslevel=1)


@pytest.mark.parametrize("damage", ["cut in the middle", "cut at the end", "bytes changed in the middle"])
def test_damaged_gzip_anywhere_is_a_clear_error_and_no_row_is_used(con, tmp_path, damage):
    data = _gzipped_rows()
    middle = len(data) // 2
    damaged = {
        "cut in the middle": data[:middle],
        "cut at the end": data[:-4],
        "bytes changed in the middle": data[:middle]
        + bytes(b ^ 0x55 for b in data[middle : middle + 64])
        + data[middle + 64 :],
    }[damage]
    path = write(tmp_path, damaged, "encounters.csv.gz")
    with pytest.raises(InputError) as err:
        load(path, con)
    message = str(err.value)
    assert message.startswith("encounters.csv.gz is a damaged gzip file: it could not be decompressed ")
    assert message.endswith(
        "no row of it was used. The file is truncated or corrupt: download or export it again "
        "(`gzip -t FILE` checks a copy)."
    )
    assert "P0" not in message


def test_damaged_gzip_in_the_middle_of_an_ndjson_file_is_a_clear_error(con, tmp_path):
    # DuckDB reads past such damage (the "only files cut in their last 8 bytes").
    line = ENCOUNTER
    data = gzip.compress((line + "\n").encode() * 50_000, compresslevel=1)
    middle = len(data) // 2
    damaged = data[:middle] + bytes(b ^ 0x55 for b in data[middle : middle + 64]) + data[middle + 64 :]
    write(tmp_path, damaged, "Encounter.ndjson.gz")
    with pytest.raises(
        InputError, match=r"^Encounter\.ndjson\.gz is a damaged gzip file: it could not be decompressed"
    ):
        load(tmp_path, con)


def test_a_mapping_that_names_a_missing_column_says_what_to_do(con, tmp_path):
    path = write(tmp_path, b"patient_id,start\nP1,2024-01-01\n")
    with pytest.raises(SchemaError) as err:
        load(path, con, mapping={"patient_id": "NOPE"})
    assert str(err.value) == (
        "encounters.csv has no column `NOPE` (given for patient_id by --map patient_id=NOPE). The file has a "
        "column named `patient_id`: drop patient_id=NOPE from --map to read it, or give the name of the column "
        "that holds it."
    )


# --- 5. a FHIR manifest cannot point outside its export -------------------------------------


def _export(tmp_path, url):
    export, outside = tmp_path / "export", tmp_path / "outside"
    export.mkdir()
    outside.mkdir()
    line = ENCOUNTER
    (outside / "Encounter.ndjson").write_text(line + "\n")
    (export / "manifest.json").write_text(json.dumps({"output": [{"type": "Encounter", "url": url}]}))
    return export, outside


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("../outside/Encounter.ndjson", "a path that leads out of the export folder"),
        ("{outside}/Encounter.ndjson", "an absolute path"),
        ("file://{outside}/Encounter.ndjson", "an absolute path"),
        ("sub/../../outside/Encounter.ndjson", "a path that leads out of the export folder"),
    ],
)
def test_manifest_urls_outside_the_export_are_refused(con, tmp_path, url, what):
    url = url.format(outside=tmp_path / "outside")
    export, _outside = _export(tmp_path, url)
    with pytest.raises(InputError) as err:
        load(export, con)
    assert str(err.value) == (
        f"manifest.json lists `{url}`, {what}: carethread reads only files inside the export's folder "
        f"({export}). Copy the file into that folder and list it by its name, or remove manifest.json to read "
        "the NDJSON files present by name."
    )


def test_manifest_symlink_leading_out_is_refused_and_one_inside_is_read(con, tmp_path):
    export, outside = _export(tmp_path, "Encounter.ndjson")
    os.symlink(outside / "Encounter.ndjson", export / "Encounter.ndjson")
    with pytest.raises(InputError, match="a path that leads out of the export folder"):
        load(export, con)
    (export / "Encounter.ndjson").unlink()
    (export / "files").mkdir()
    (export / "files" / "Encounter.ndjson").write_bytes((outside / "Encounter.ndjson").read_bytes())
    (export / "manifest.json").write_text(
        json.dumps({"output": [{"type": "Encounter", "url": "files/Encounter.ndjson"}]})
    )
    assert load(export, con).reconciliation() == "Encounter.ndjson: 1 row read = 1 accepted + 0 quarantined"


# --- 6. DuckDB's special strings and impossible offsets are no dates ------------------------


def test_special_words_and_impossible_utc_offsets_are_unparseable(con, tmp_path):
    values = [
        "epoch",
        "infinity",
        "-infinity",
        "today",
        "now",
        "allballs",
        "2024-01-01T10:00+25:00",
        "2024-01-01 10:00 America/New_York",
        "2024-01-01T10:00:00+14:00",
        "2024-01-01T10:00:00-05:30",
        "2024-01-01T10:00:00Z",
        "2024-01-01",
    ]
    body = "patient_id,start\n" + "".join(f"P{i},{v}\n" for i, v in enumerate(values, 1))
    data = load(write(tmp_path, body.encode()), con)
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == [
        (i, "unparseable_start") for i in range(1, 9)
    ]
    # Valid offsets are dropped, keeping the wall-clock time as written (P9 to P12).
    got = {r["patient_id"]: r["start"] for r in data.encounters.to_pyarrow().to_pylist()}
    ten = dt.datetime(2024, 1, 1, 10, 0)
    assert got == {"P9": ten, "P10": ten, "P11": ten, "P12": dt.datetime(2024, 1, 1)}


# --- 7. real extracts' values (issue 13, item 4) --------------------------------------------


SETTINGS_CSV = (
    "patient_id,start,setting\nP1,2024-01-01,Office Visit\nP2,2024-01-02,ED\nP3,2024-01-03,office visit\n"
    "P4,2024-01-04,ward 7\nP5,2024-01-05,ED\nP6,2024-01-06,Office-Visit\nP7,2024-01-07,MRN0012345\n"
    "P8,2024-01-08,virtual\n"
)


def test_unknown_settings_are_named_most_frequent_first_but_never_an_identifier(con, tmp_path):
    data = load(write(tmp_path, SETTINGS_CSV.encode()), con)
    [remark] = [r for r in data.remarks if "no care setting" in r]
    assert remark == (
        "encounters.csv: setting values that are no care setting: `ED` (2 rows), `Office Visit` (1 row), "
        "`Office-Visit` (1 row), `office visit` (1 row), `ward 7` (1 row), and 1 other value. Map them to one of "
        "primary_care, specialty, urgent_care, emergency, inpatient, virtual, home, other with --setting-map "
        '"VALUE=SETTING,..." (or a file of such lines).'
    )


@pytest.mark.parametrize("given", ["text", "file", "dict"])
def test_setting_map_applies_before_settings_are_checked(con, tmp_path, given):
    pairs = {"Office Visit": "primary_care", "ED": "emergency", "ward 7": "Inpatient"}
    setting_map = {
        "text": "Office Visit=primary_care, ED=emergency,ward 7=Inpatient",
        "file": tmp_path / "settings.txt",
        "dict": pairs,
    }[given]
    (tmp_path / "settings.txt").write_text(
        "# source=setting\nOffice Visit=primary_care\nED=emergency\nward 7=Inpatient\n"
    )
    data = load(write(tmp_path, SETTINGS_CSV.encode()), con, setting_map=setting_map)
    got = {r["patient_id"]: r["setting"] for r in data.encounters.to_pyarrow().to_pylist()}
    mapped = ["primary_care", "emergency", "primary_care", "inpatient", "emergency", "primary_care"]
    assert got == {**{f"P{i}": s for i, s in enumerate(mapped, 1)}, "P8": "virtual"}
    assert quarantine(data) == [("encounters.csv", 7, "setting", "MRN0012345", "unknown_setting")]
    assert (
        "encounters.csv: 6 accepted encounters have a setting given by the setting map (--setting-map)." in data.remarks
    )


def test_setting_map_errors(con, tmp_path):
    with pytest.raises(
        OptionError, match=r"^--setting-map: `ward` \(for ED\) is not a setting; use one of primary_care"
    ):
        load(write(tmp_path, SETTINGS_CSV.encode()), con, setting_map="ED=ward")
    with pytest.raises(OptionError, match="is neither VALUE=SETTING pairs nor an existing file"):
        load(write(tmp_path, SETTINGS_CSV.encode()), con, setting_map=str(tmp_path / "none.txt"))
    with pytest.raises(OptionError, match=r"^--setting-map does not apply to the omop format\.$"):
        read(tmp_path / "x", format="omop", setting_map="ED=emergency")


US_DATES = "patient_id,start\nP1,05/14/2024\nP2,3/12/2024\nP3,12/31/2023\n"


def test_dates_that_fit_one_pattern_name_it_in_the_error(con, tmp_path):
    with pytest.raises(InputError) as err:
        load(write(tmp_path, US_DATES.encode()), con)
    assert str(err.value) == (
        "encounters.csv has no valid row: all 3 rows were rejected (start is not a date or timestamp: 3 rows, "
        "first at data row 1 (line 2)). The start values that are not ISO dates all fit %m/%d/%Y: pass "
        "--date-format %m/%d/%Y (or --date-format auto). Fix the file, or pass --map / --date-format if columns "
        "or dates were misread; --quarantine PATH writes the rejected rows."
    )


def test_date_format_auto_reads_one_unambiguous_pattern(con, tmp_path):
    data = load(write(tmp_path, (US_DATES + "P4,2024-02-01\n").encode()), con, date_format="auto")
    assert [r["start"] for r in data.encounters.order_by("patient_id").to_pyarrow().to_pylist()] == [
        dt.datetime(2024, 5, 14),
        dt.datetime(2024, 3, 12),
        dt.datetime(2023, 12, 31),
        dt.datetime(2024, 2, 1),
    ]
    assert "encounters.csv: --date-format auto read start with the pattern %m/%d/%Y." in data.remarks


def test_date_format_auto_reads_nothing_when_no_one_pattern_fits_every_value(con, tmp_path):
    # 3/12/2024 9:05 has a time: no one pattern reads it and the other dates, so none is used.
    data = load(write(tmp_path, (US_DATES + "P4,3/12/2024 9:05\nP5,2024-02-01\n").encode()), con, date_format="auto")
    assert [(row, reason) for _s, row, _c, _v, reason in quarantine(data)] == [
        (i, "unparseable_start") for i in (1, 2, 3, 4)
    ]
    assert not any("--date-format auto read" in r for r in data.remarks)


def test_date_format_auto_refuses_to_choose_between_day_and_month_first(con, tmp_path):
    path = write(tmp_path, b"patient_id,start\nP1,03/04/2024\nP2,05/06/2024\n")
    with pytest.raises(OptionError) as err:
        load(path, con, date_format="auto")
    assert str(err.value) == (
        "--date-format auto: the start values of encounters.csv fit %m/%d/%Y and %d/%m/%Y, which read them "
        "differently (day or month first). Pass the --date-format your data uses."
    )
    with pytest.raises(OptionError, match="--date-format auto applies to --format generic"):
        read(tmp_path, format="omop", date_format="auto")


def test_the_cli_reads_an_extracts_own_settings_and_dates(tmp_path):
    from typer.testing import CliRunner

    from carethread.cli import app

    body = "patient_id,clinician_id,start,setting\nP1,C1,05/14/2024,Office Visit\nP1,C1,3/12/2024,ED\n"
    out = tmp_path / "visits.csv"
    args = [str(write(tmp_path, body.encode())), "--extraction-date", "2024-06-30", "--out", str(out)]
    args += ["--setting-map", "Office Visit=primary_care,ED=emergency", "--date-format", "auto"]
    res = CliRunner().invoke(app, ["patients", *args])
    assert res.exit_code == 0, res.stderr
    assert "encounters.csv: 2 rows read = 2 accepted + 0 quarantined" in res.stderr
    [row] = list(csv.DictReader(out.open()))
    # Without the map both settings would be unknown and no row valid; with it one encounter is a
    # primary-care visit and the emergency one is no visit.
    assert (row["patient_id"], row["n_visits"], row["usual_clinician_id"]) == ("P1", "1", "C1")
    assert "encounters.csv: --date-format auto read start with the pattern %m/%d/%Y." in res.stderr
