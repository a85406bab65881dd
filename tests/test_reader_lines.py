"""Every data line of a CSV file is accounted for, whatever its bytes (issue 17, a property).

The model here is written independently of the reader: lines are the pieces
between line feeds (a CR before the LF belongs to the line end); a line is blank
when it holds nothing but spaces; a row that spans lines must read, with
Python's own ``csv`` module, as one record with the header's number of fields
(a carriage return that does not end a line read as an ordinary character,
when the row is quarantined as ``line_ending`` for it).
For random bytes, quotes, delimiters and line endings the test checks that each
data line is a row's first line, the continuation of an accepted row, or blank,
and that the counts agree with the tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread import engine, read
from carethread.readers import lines

EXTRACTION = dt.date(2024, 6, 30)
COLUMNS = ["patient_id", "start", "note"]
#: Pieces that make CSV hard: quotes, every delimiter, every line end, bad bytes.
TOKENS = [b"P1", b"2024-01-02", b"x", b" ", b'"', b'""', b",", b";", b"\t", b"|", b"\r", b"\n", b"\r\n", b"\n\n"]
BYTES = st.one_of(
    st.sampled_from(TOKENS), st.sampled_from([b"\xff", b"\x00", "é".encode(), b"\xe9"]), st.binary(max_size=3)
)

#: Reasons about a whole line that could not be split: such a row is that line alone.
WHOLE_LINE = {"malformed_row", "unbalanced_quote", "line_ending", "line_too_long", "invalid_encoding"}

_con = None


def shared_con():
    global _con
    if _con is None:
        _con = engine.connect()
    return _con


def model_lines(content: bytes) -> list[bytes]:
    """The file's lines by the rules of the module docstring (index 0 is the header)."""
    pieces = content.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in pieces]


def blank(line: bytes) -> bool:
    return not line.strip(b" ")


def one_record(text: str, delimiter: str, width: int) -> list[str] | None:
    """The fields of ``text`` when Python's csv module reads it as one record of ``width`` fields."""
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True))
    except csv.Error:
        return None
    return records[0] if len(records) == 1 and len(records[0]) == width else None


def check_accounting(content: bytes, delimiter: str, data, source: str, stem: str, columns=COLUMNS) -> None:
    """Each data line is a row start, the continuation of an accepted row, or blank."""
    physical = model_lines(content)[1:]
    patient = columns.index("patient_id")
    [count] = [c for c in data.counts if c.source == source]
    assert count.lines == len(physical)
    accepted = {
        int(r["encounter_id"].rsplit(":", 1)[1]): r
        for r in data.encounters.to_pyarrow().to_pylist()
        if r["encounter_id"].rsplit(":", 1)[0] == stem
    }
    quarantined = {int(r["row"]): r for r in data.quarantine.to_pyarrow().to_pylist() if r["source"] == source}
    assert len(accepted) == count.accepted and len(quarantined) == count.quarantined
    assert not accepted.keys() & quarantined.keys(), "a row both accepted and quarantined"
    starts = sorted(accepted.keys() | quarantined.keys())
    assert len(starts) == count.read == count.accepted + count.quarantined
    assert all(1 <= s <= len(physical) and not blank(physical[s - 1]) for s in starts)
    covered = set(starts)
    for s, t in zip(starts, [*starts[1:], len(physical) + 1], strict=True):
        run = list(range(s, t))  # data rows s .. t-1
        while len(run) > 1 and blank(physical[run[-1] - 1]):
            run.pop()  # blank lines after a row are no part of it
        covered |= set(run)
        if len(run) > 1:
            # A row over several lines is one well-formed record (it may still hold a bad value, or
            # a carriage return outside its quotes: then the row is quarantined whole as line_ending).
            reason = quarantined.get(s, {}).get("reason")
            assert reason not in WHOLE_LINE - {"line_ending"}, f"unparseable row {s} took the next lines"
            text = "\n".join(physical[i - 1].decode("utf-8") for i in run)
            if reason == "line_ending":
                assert "\r" in text, f"row {s} is quarantined as line_ending without a carriage return"
                text = text.replace("\r", "\ue000")  # read as an ordinary character of its field
            fields = one_record(text, delimiter, len(columns))
            assert fields is not None, f"row {s} joined lines that are not one record"
            if s in accepted:
                assert accepted[s]["patient_id"] == (fields[patient].strip(" ") or None)
        elif s in accepted and (fields := one_record(physical[s - 1].decode("utf-8"), delimiter, len(columns))):
            assert accepted[s]["patient_id"] == (fields[patient].strip(" ") or None), f"row {s} read other values"
        elif s in quarantined and quarantined[s]["reason"] in WHOLE_LINE - {"line_too_long", "invalid_encoding"}:
            assert quarantined[s]["value"] == physical[s - 1].decode("utf-8"), "a line not quarantined alone"
    assert all(i in covered or blank(line) for i, line in enumerate(physical, 1)), "a line went nowhere"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    delimiter=st.sampled_from(",;\t|"),
    body=st.lists(BYTES, max_size=60).map(b"".join),
    end=st.sampled_from([b"", b"\n", b"\r\n", b"\r"]),
)
def test_every_data_line_is_a_row_a_continuation_or_blank(tmp_path_factory, delimiter, body, end):
    header = delimiter.join(COLUMNS).encode() + b"\n"
    anchor = delimiter.join(["P0", "2024-01-01", "ok"]).encode() + b"\n"  # one valid row, so the read succeeds
    content = header + anchor + body + end
    path = tmp_path_factory.mktemp("lines") / "visits.csv"
    path.write_bytes(content)
    data = read(path, con=shared_con(), extraction_date=EXTRACTION)
    check_accounting(content, delimiter, data, "visits.csv", "visits")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(['"', ",", "a", "b", '""', " ", "\r"]), max_size=12).map("".join), max_size=20)
)
def test_quoted_mode_is_exactly_its_definition(rows):
    """The vectorised test for "every field quoted, no quote inside" against its definition."""
    n = 3
    path_text = "a,b,c\n" + "".join(r + "\n" for r in rows)
    splitter = lines._Splitter.__new__(lines._Splitter)
    splitter.delimiter, splitter.n_fields = ",", n
    buf = path_text.encode()
    arr = np.frombuffer(buf, dtype=np.uint8)
    stops = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], stops[:-1] + 1])
    ends = stops - ((stops > starts) & (arr[np.maximum(stops - 1, 0)] == 13))
    quotes = np.flatnonzero(arr == 34) if b'"' in buf else None
    counts = lines._per_line(quotes, starts, ends)
    modes = splitter._modes(arr, quotes, counts, starts, ends, len(starts)).to_pylist()
    for i, mode in enumerate(modes):
        text = buf[starts[i] : ends[i]].decode()
        parts = text[1:-1].split('","') if len(text) >= 2 and text[0] == text[-1] == '"' else []
        simple = text.count('"') == 2 * n and len(parts) == n and all('"' not in p for p in parts)
        assert mode == (lines.PLAIN if '"' not in text else lines.QUOTED if simple else lines.OTHER), text
