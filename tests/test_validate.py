"""Row checks, reason codes and reconciliation (carethread.validate, carethread.data)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread import schema, validate
from carethread.data import CanonicalData, ReadCount, format_count, plural
from carethread.errors import InputError
from carethread.readers import read

EXTRACTION = dt.date(2024, 6, 30)


def raw(**columns):
    n = len(next(iter(columns.values())))
    return ibis.memtable({**columns, "__file": [0] * n, "__row": list(range(1, n + 1))})


def reasons_of(checked):
    return checked.table.select("__reason").to_pyarrow()["__reason"].to_pylist()


# --- data.py ---------------------------------------------------------------------


def test_read_count_identity_is_enforced():
    assert str(ReadCount("a.csv", 1000, 997, 3)) == "a.csv: 1 000 rows read = 997 accepted + 3 quarantined"
    assert str(ReadCount("a.csv", 1, 1, 0)) == "a.csv: 1 row read = 1 accepted + 0 quarantined"
    with pytest.raises(ValueError, match="lost rows"):
        ReadCount("a.csv", 10, 5, 4)


def test_reconciliation_has_one_line_per_source():
    empty = ibis.memtable({"x": [1]})
    data = CanonicalData(
        empty,
        None,
        None,
        empty,
        counts=[ReadCount("e/part-0.parquet", 3, 3, 0), ReadCount("e/part-1.parquet", 2, 1, 1)],
    )
    assert data.reconciliation() == (
        "e/part-0.parquet: 3 rows read = 3 accepted + 0 quarantined\n"
        "e/part-1.parquet: 2 rows read = 1 accepted + 1 quarantined"
    )
    assert data.n_quarantined == 1


def test_count_formatting():
    assert format_count(1832) == "1 832"
    assert format_count(10_000_000) == "10 000 000"
    assert plural(1, "row") == "1 row"
    assert plural(0, "row") == "0 rows"


# --- reason codes ----------------------------------------------------------------------


def test_every_reason_has_readable_text_and_a_column():
    for code, text in validate.REASONS.items():
        assert code == code.lower() and " " not in code
        assert text and text[0].islower()
        column = validate.column_of(code)
        whole_line = {"malformed_row", "unbalanced_quote", "line_ending", "line_too_long", "invalid_encoding"}
        if code in whole_line | {"malformed_json", "unexpected_resource_type", "encounter_not_held"}:
            assert column is None
        else:
            assert any(column in spec.schema for spec in validate.SPECS.values()), code


def test_checks_run_in_documented_order():
    """A row failing several checks gets the first reason in REASONS order."""
    t = raw(pid=["", "P1"], when=["", "1800-01-01"], where=["spaceship", "spaceship"])
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when", "setting": "where"}, extraction_date=EXTRACTION
    )
    assert reasons_of(checked) == ["missing_patient_id", "start_before_1900"]


@pytest.mark.parametrize(
    ("code", "column"),
    [
        ("malformed_json", None),
        ("unexpected_resource_type", None),
        ("unknown_patient_reference", "pid"),
        ("unknown_clinician_reference", "doc"),
        ("unknown_practice_reference", "site"),
        ("unknown_encounter_class", "kind"),
        ("unknown_visit_concept", "kind"),
        ("encounter_not_held", None),
    ],
)
def test_format_reason_codes_name_the_source_column(code, column):
    t = raw(pid=["P1", "P2"], when=["2024-01-02"] * 2, doc=["c1"] * 2, site=["s1"] * 2, kind=["9999", "virtual"])
    t = t.mutate(__reject=ibis.cases((t.__row == 1, code), else_=ibis.null("string")), __reject_value=ibis.literal("v"))
    checked = validate.check_encounters(
        t,
        {"patient_id": "pid", "start": "when", "clinician_id": "doc", "practice_id": "site", "setting": "kind"},
        extraction_date=EXTRACTION,
    )
    row = validate.finish(ibis.duckdb.connect(), checked, sources=["f"]).quarantine.to_pyarrow().to_pylist()[0]
    assert (row["reason"], row["column"], row["value"]) == (code, column, "v")


def test_a_readers_own_rejection_runs_first_and_reaches_the_quarantine():
    """Format readers mark rows with ``__reject``; it wins over the generic checks."""
    t = raw(pid=["", "P1", "P2"], when=["", "2024-01-02", "2024-01-03"], doc=["x", "ghost", "c1"])
    t = t.mutate(
        __reject=ibis.cases(
            (t.__row == 1, "malformed_json"), (t.__row == 2, "unknown_clinician_reference"), else_=ibis.null("string")
        ),
        __reject_value=ibis.cases((t.__row == 2, t.doc), else_=ibis.null("string")),
    )
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when", "clinician_id": "doc"}, extraction_date=EXTRACTION
    )
    assert reasons_of(checked) == ["malformed_json", "unknown_clinician_reference", None]
    finished = validate.finish(ibis.duckdb.connect(), checked, sources=["Encounter.ndjson"])
    assert [str(c) for c in finished.counts] == ["Encounter.ndjson: 3 rows read = 1 accepted + 2 quarantined"]
    rows = finished.quarantine.order_by("row").to_pyarrow().to_pylist()
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in rows] == [
        ("1", None, None, "malformed_json"),
        ("2", "doc", "ghost", "unknown_clinician_reference"),
    ]


@pytest.mark.parametrize(
    ("start", "reason", "parsed"),
    [
        ("2024-03-01", None, dt.datetime(2024, 3, 1)),
        ("2024-03-01 14:30", None, dt.datetime(2024, 3, 1, 14, 30)),
        ("2024-03-01T14:30:05", None, dt.datetime(2024, 3, 1, 14, 30, 5)),
        (" 2024-03-01 ", None, dt.datetime(2024, 3, 1)),
        ("2024-06-30 23:59", None, dt.datetime(2024, 6, 30, 23, 59)),
        ("2024-07-01", "start_after_extraction", None),
        ("1899-12-31 23:59", "start_before_1900", None),
        ("1900-01-01", None, dt.datetime(1900, 1, 1)),
        ("2024-02-30", "unparseable_start", None),
        ("03/01/2024", "unparseable_start", None),
        ("", "missing_start", None),
        ("   ", "missing_start", None),
        (None, "missing_start", None),
    ],
)
def test_start_parsing_and_range(start, reason, parsed):
    t = raw(pid=["P1"], when=[start])
    checked = validate.check_encounters(t, {"patient_id": "pid", "start": "when"}, extraction_date=EXTRACTION)
    row = checked.table.select("start", "__reason").to_pyarrow().to_pylist()[0]
    assert row["__reason"] == reason
    if parsed is not None:
        assert row["start"] == parsed


def test_date_format_is_tried_before_iso():
    t = raw(pid=["P1", "P2", "P3"], when=["03/01/2024", "2024-01-03", "13/13/2024"])
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when"}, extraction_date=EXTRACTION, date_format="%d/%m/%Y"
    )
    rows = checked.table.select("start", "__reason").to_pyarrow().to_pylist()
    assert rows[0] == {"start": dt.datetime(2024, 1, 3), "__reason": None}
    assert rows[1] == {"start": dt.datetime(2024, 1, 3), "__reason": None}
    assert rows[2]["__reason"] == "unparseable_start"


@pytest.mark.parametrize(
    ("given", "setting", "reason"),
    [
        ("primary_care", "primary_care", None),
        ("Primary Care", "primary_care", None),
        ("  URGENT-care ", "urgent_care", None),
        ("Emergency", "emergency", None),
        ("", "primary_care", None),
        (None, "primary_care", None),
        ("primary", None, "unknown_setting"),
        ("ward 7", None, "unknown_setting"),
    ],
)
def test_setting_normalisation(given, setting, reason):
    t = raw(pid=["P1"], when=["2024-01-01"], where=[given])
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when", "setting": "where"}, extraction_date=EXTRACTION
    )
    row = checked.table.select("setting", "__reason").to_pyarrow().to_pylist()[0]
    assert row["__reason"] == reason
    if setting is not None:
        assert row["setting"] == setting


def test_setting_from_profiled_values_matches_row_by_row():
    values = ["primary_care", "Primary Care", "virtual", "spaceship", None, " "]
    t = raw(pid=["P"] * len(values), when=["2024-01-01"] * len(values), where=values)
    cols = {"patient_id": "pid", "start": "when", "setting": "where"}
    plain = validate.check_encounters(t, cols, extraction_date=EXTRACTION)
    known = validate.Profile(trim=False, values={"where": values})
    fast = validate.check_encounters(t, cols, extraction_date=EXTRACTION, profile=known)
    fields = ["setting", "__reason", "__setting_defaulted"]
    assert plain.table.select(*fields).to_pyarrow().to_pylist() == fast.table.select(*fields).to_pyarrow().to_pylist()


def test_normalize_label():
    assert validate.normalize_label("Primary  Care") == "primary_care"
    assert validate.normalize_label("HOME") == "home"
    assert validate.normalize_label("") is None
    assert validate.normalize_label(None) is None


def test_identifiers_are_trimmed_strings_with_blanks_missing():
    t = raw(pid=[" 007 ", "", "  ", "0042"], when=["2024-01-01"] * 4, doc=["C1", "", " ", " 01 "])
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when", "clinician_id": "doc"}, extraction_date=EXTRACTION
    )
    rows = checked.table.select("patient_id", "clinician_id", "__reason").to_pyarrow().to_pylist()
    assert [r["patient_id"] for r in rows] == ["007", None, None, "0042"]
    assert [r["clinician_id"] for r in rows] == ["C1", None, None, "01"]
    assert [r["__reason"] for r in rows] == [None, "missing_patient_id", "missing_patient_id", None]


def test_numeric_identifiers_become_decimal_strings():
    t = ibis.memtable(
        pa.table(
            {
                "pid": pa.array([7, 42], pa.int64()),
                "doc": pa.array([3.0, None], pa.float64()),
                "when": pa.array([dt.date(2024, 1, 1)] * 2, pa.date32()),
                "__file": [0, 0],
                "__row": [1, 2],
            }
        )
    )
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when", "clinician_id": "doc"}, extraction_date=EXTRACTION
    )
    rows = checked.table.select("patient_id", "clinician_id", "start").to_pyarrow().to_pylist()
    assert rows == [
        {"patient_id": "7", "clinician_id": "3", "start": dt.datetime(2024, 1, 1)},
        {"patient_id": "42", "clinician_id": None, "start": dt.datetime(2024, 1, 1)},
    ]


def test_time_zone_aware_starts_become_utc_wall_time():
    when = pa.array([dt.datetime(2024, 1, 1, 23, 30, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC"))
    t = ibis.memtable(pa.table({"pid": ["P1"], "when": when, "__file": [0], "__row": [1]}))
    checked = validate.check_encounters(t, {"patient_id": "pid", "start": "when"}, extraction_date=EXTRACTION)
    assert checked.table.select("start").to_pyarrow()["start"].to_pylist() == [dt.datetime(2024, 1, 1, 23, 30)]


@pytest.mark.parametrize(
    ("capacity", "value", "reason"),
    [
        ("1800", 1800, None),
        ("900.0", 900, None),
        (" 12 ", 12, None),
        ("", None, None),
        ("-1", None, "invalid_capacity"),
        ("12.5", None, "invalid_capacity"),
        ("lots", None, "invalid_capacity"),
    ],
)
def test_capacity(capacity, value, reason):
    t = raw(cid=["C1"], cap=[capacity])
    checked = validate.check_clinicians(t, {"clinician_id": "cid", "capacity": "cap"}, extraction_date=EXTRACTION)
    row = checked.table.select("capacity", "__reason").to_pyarrow().to_pylist()[0]
    assert row == {"capacity": value, "__reason": reason}


@pytest.mark.parametrize(
    ("role", "expected", "flagged"),
    [
        ("physician", "physician", False),
        ("MD", "physician", False),
        ("Nurse Practitioner", "np", False),
        ("physician-assistant", "pa", False),
        ("RN", "nurse", False),
        ("wizard", "other", True),
        ("", None, False),
    ],
)
def test_roles(role, expected, flagged):
    t = raw(cid=["C1"], r=[role])
    checked = validate.check_clinicians(t, {"clinician_id": "cid", "role": "r"}, extraction_date=EXTRACTION)
    row = checked.table.select("role", "__role_other").to_pyarrow().to_pylist()[0]
    assert row == {"role": expected, "__role_other": flagged}


def test_patient_date_rules():
    t = raw(
        pid=["P1", "P2", "P3", "P4", "P5"],
        born=["1950-01-01", "1950-13-01", "2030-01-01", "1960-01-01", "1880-05-05"],
        died=[None, None, None, "1959-12-31", None],
    )
    checked = validate.check_patients(
        t, {"patient_id": "pid", "birth_date": "born", "death_date": "died"}, extraction_date=EXTRACTION
    )
    assert reasons_of(checked) == [
        None,
        "unparseable_birth_date",
        "birth_date_after_extraction",
        "death_date_before_birth_date",
        "birth_date_before_1900",
    ]


@pytest.mark.parametrize(
    ("check", "column", "value", "reason"),
    [
        (validate.check_clinicians, "active_from", "soon", "unparseable_active_from"),
        (validate.check_clinicians, "active_from", "2025-01-01", "active_from_after_extraction"),
        (validate.check_clinicians, "active_to", "31/12/2020", "unparseable_active_to"),
        (validate.check_clinicians, "active_to", "1899-01-01", "active_to_before_1900"),
        (validate.check_clinicians, "active_to", "2030-01-01", None),  # a planned end date is fine
        (validate.check_patients, "death_date", "yesterday", "unparseable_death_date"),
        (validate.check_patients, "death_date", "1899-01-01", "death_date_before_1900"),
        (validate.check_patients, "death_date", "2024-07-01", "death_date_after_extraction"),
        (validate.check_patients, "birth_date", "1899-12-31", "birth_date_before_1900"),
    ],
)
def test_side_table_date_rules(check, column, value, reason):
    key = "clinician_id" if check is validate.check_clinicians else "patient_id"
    t = raw(k=["X1"], d=[value])
    checked = check(t, {key: "k", column: "d"}, extraction_date=EXTRACTION)
    assert reasons_of(checked) == [reason]


def test_every_reason_code_is_exercised():
    """Keep REASONS and the tests in step: each code appears in some test of this suite."""
    here = Path(__file__).parent
    text = "".join(path.read_text() for path in [here / "test_validate.py", *here.glob("test_reader_*.py")])
    assert [code for code in validate.REASONS if f'"{code}"' not in text] == []


def test_quarantine_value_is_the_offending_value():
    t = raw(pid=["P1", "P2"], when=["tomorrow-ish", "2024-01-01"], where=["virtual", "ward 7"])
    checked = validate.check_encounters(
        t, {"patient_id": "pid", "start": "when", "setting": "where"}, extraction_date=EXTRACTION
    )
    rows = checked.table.select("__reason", "__value").to_pyarrow().to_pylist()
    assert rows == [
        {"__reason": "unparseable_start", "__value": "tomorrow-ish"},
        {"__reason": "unknown_setting", "__value": "ward 7"},
    ]


# --- the reconciliation identity, on random garbage ------------------------------------

CELL = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "007",
            "P1",
            "2024-01-02",
            "2024-02-30",
            "1850-01-01",
            "2099-01-01",
            "Primary Care",
            "virtual",
            "ward",
            "E1",
            "a,b",
            'say "hi"',
            "two\nlines",
            "ünï",
        ]
    ),
    st.text(max_size=8),
)
COLUMNS = ["encounter_id", "patient_id", "clinician_id", "start", "setting"]
ROW = st.fixed_dictionaries({c: CELL for c in COLUMNS})
GARBAGE_LINE = st.sampled_from(['x,"unterminated', "1,2,3,4,5,6,7,8", "only-one-field", '"a"b,c'])


def _check_identity(data: CanonicalData) -> None:
    """The identity, and quarantine rows that are unique and in range.

    In a CSV file data row N starts on line N + 1, so a row's number is at most
    the file's data lines (more than its rows when a quoted value spans lines);
    elsewhere it is at most the rows read.
    """
    accepted = data.encounters.count().execute()
    quarantined = data.quarantine.count().execute()
    assert sum(c.accepted for c in data.counts) == accepted
    assert sum(c.quarantined for c in data.counts) == quarantined
    for count in data.counts:
        assert count.read == count.accepted + count.quarantined
    rows = data.quarantine.to_pyarrow().to_pylist()
    keys = [(r["source"], int(r["row"])) for r in rows]
    assert len(keys) == len(set(keys)), "a row is quarantined twice"
    last = {c.source: c.read if c.lines is None else c.lines for c in data.counts}
    assert all(1 <= row <= last[source] for source, row in keys)
    assert all(r["reason"] in validate.REASONS for r in rows)
    ok = data.encounters.to_pyarrow().to_pylist()
    assert all(r["patient_id"] and r["setting"] in schema.SETTINGS for r in ok)
    assert all(dt.datetime(1900, 1, 1) <= r["start"] < dt.datetime(2024, 7, 1) for r in ok)
    assert len({r["encounter_id"] for r in ok}) == len(ok)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(ROW, min_size=1, max_size=30),
    garbage=st.lists(st.tuples(st.integers(0, 30), GARBAGE_LINE), max_size=3),
)
def test_reconciliation_identity_csv(tmp_path_factory, rows, garbage):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    lines = []
    for r in rows:
        one = io.StringIO()
        csv.writer(one, lineterminator="\n").writerow(["" if r[c] is None else r[c] for c in COLUMNS])
        lines.append(one.getvalue())
    for at, line in garbage:
        lines.insert(min(at, len(lines)), line + "\n")
    path = tmp_path_factory.mktemp("garbage") / "encounters.csv"
    path.write_text(buf.getvalue() + "".join(lines), encoding="utf-8")
    try:
        data = read(path, extraction_date=EXTRACTION)
    except InputError as exc:
        assert "has no valid row" in str(exc) or "no data rows" in str(exc)
        return
    _check_identity(data)
    if not garbage:
        assert sum(c.read for c in data.counts) == len(rows)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=30))
def test_reconciliation_identity_parquet(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("garbage") / "encounters.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in rows[0]])), path)
    try:
        data = read(path, extraction_date=EXTRACTION)
    except InputError as exc:
        assert "has no valid row" in str(exc)
        return
    _check_identity(data)
    assert sum(c.read for c in data.counts) == len(rows)
