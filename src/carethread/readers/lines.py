"""The lines of a delimited text file, exactly as written: every data line read, numbered
and accounted for.

DuckDB's CSV scanner ends a row at a carriage return inside a value (and drops the
character after it), loses rows when CRLF and LF line ends alternate in a quoted file,
and after an unbalanced quote takes every following line into one rejected "row". So
Python finds the lines here (a few vectorised NumPy passes over 16 MiB at a time) and
DuckDB splits each line into fields (:func:`carethread.engine.csv_rows`).

The rules (docs/formats.md, *Lines and rows*):

- A line ends at a line feed (LF); a carriage return (CR) right before it is part of the
  line end, so CRLF and LF may be mixed. Any other CR stays in the line, where it is
  quarantined (``line_ending``) unless it is inside a quoted value.
- Line 1 is the header. **Data row N is the row that starts on line N + 1**, always.
- A blank line (nothing, or only spaces) is no row; a remark counts them.
- A line with an odd number of ``"`` opens a quoted value that goes on over the next
  lines: it is joined with the lines up to the next line with an odd number of quotes
  when the text so joined is one well-formed row with the header's number of fields.
  Otherwise the line stays alone (:func:`split_record` finds it unbalanced and it is
  quarantined as ``unbalanced_quote``), and reading goes on at the next line.
- A row longer than :data:`MAX_ROW_BYTES` is quarantined (``line_too_long``); bytes that
  are not UTF-8 are quarantined (``invalid_encoding``), each on its own line.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

#: How much of the file is split at a time, read in pieces of :data:`PIECE_BYTES`.
CHUNK_BYTES, PIECE_BYTES = 16 << 20, 1 << 20
#: The longest row read (one line, or a quoted value spanning lines); a longer one is quarantined.
MAX_ROW_BYTES = 16 << 20
#: How much of a row too long to read is kept for the quarantine.
SHOWN_BYTES = 10_000

#: The batches :func:`row_batches` yields: where each row starts, its text, a reason when
#: the text could not be taken as it is (``invalid_encoding``, ``line_too_long``), and how
#: to split it (:data:`PLAIN`, :data:`QUOTED`, :data:`OTHER`).
SCHEMA = pa.schema([("__row", pa.int64()), ("__line", pa.string()), ("__flag", pa.string()), ("__mode", pa.int8())])

#: How a row is split into fields: it holds no quote; every field is quoted and holds
#: no quote (``"a","b"``: split between the quotes); anything else (field by field).
PLAIN, QUOTED, OTHER = 0, 1, 2

_LF, _CR, _QUOTE, _SPACE = 10, 13, 34, 32


@dataclass
class LineCount:
    """Where the data lines of one file went (header excluded).

    ``lines == rows + blank + continued`` once the file has been read to the end.
    """

    source: str
    lines: int = 0
    rows: int = 0
    blank: int = 0
    continued: int = 0
    spanning: int = 0
    first_spanning: int | None = None
    failure: str | None = None


def field_pattern(delimiter: str) -> str:
    """The regular expression of one field after its delimiter (Python ``re`` and RE2 alike).

    A field is either quoted (spaces around it allowed, ``""`` inside for a quote) or
    holds no quote at all. Every match starts with the delimiter, so the matches of
    ``delimiter + row`` cover the row exactly when the row is well formed.

    >>> field_pattern(",")
    ',( *"(?:[^"]|"")*" *|[^",]*)'
    """
    token = {"\t": r"\t", "|": r"\|"}.get(delimiter, delimiter)
    inside = {"\t": r"\t"}.get(delimiter, delimiter)
    return f'{token}( *"(?:[^"]|"")*" *|[^"{inside}]*)'


def unquote(field: str) -> str:
    """A field's value: a quoted field without its quotes, ``""`` read as ``"``."""
    text = field.strip(" ")
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return field


def split_record(text: str, delimiter: str) -> list[str] | None:
    """The values of one row by the rules above, or None when its quotes are malformed.

    >>> split_record('a,"b, ""c"" d",', ",")
    ['a', 'b, "c" d', '']
    >>> split_record('a,"b', ",") is None, split_record('a,b"c', ",") is None
    (True, True)
    """
    fields = re.findall(field_pattern(delimiter), delimiter + text, flags=re.S)
    if sum(len(f) + 1 for f in fields) != len(text) + 1:
        return None
    return [unquote(f) for f in fields]


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb", buffering=0)


def _failure(source: str, path: Path, exc: BaseException, done: int) -> str:
    where = f"after about {done / 2**20:.0f} MiB of text" if done >= 1 << 20 else "near its start"
    if path.name.lower().endswith(".gz"):
        return (
            f"{source} is a damaged gzip file: it could not be decompressed {where}; no row of it was used. "
            "The file is truncated or corrupt: download or export it again (`gzip -t FILE` checks a copy)."
        )
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return (
        f"{source} could not be read to the end ({reason}) {where}; no row of it was used. "
        "Check the disk or network share, and read it again."
    )


class _Splitter:
    """One file's rows as Arrow batches; counts go into ``count`` as the file is read."""

    def __init__(self, path: Path, delimiter: str, n_fields: int, count: LineCount):
        self.path, self.delimiter, self.n_fields, self.count = path, delimiter, n_fields, count
        self.line = 0  # physical lines consumed so far (the header is line 1)
        self.skipping = False  # inside a line longer than MAX_ROW_BYTES
        self.done = 0  # bytes read (decompressed)

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            with _open(self.path) as fh:
                buf = b""
                while True:
                    data = self._read(fh)
                    eof = not data
                    buf = buf + data if buf else data
                    if eof and buf and not buf.endswith(b"\n"):
                        buf += b"\n"  # the last line, without its line feed
                    buf = yield from self._split(buf, eof)
                    if eof:
                        break
        except (OSError, EOFError, zlib.error) as exc:
            self.count.failure = _failure(self.count.source, self.path, exc, self.done)

    def _read(self, fh) -> bytes:
        """The next :data:`CHUNK_BYTES` of the file, read in pieces so that ``done`` counts
        what came before an error."""
        parts, size = [], 0
        while size < CHUNK_BYTES:
            piece = fh.read(PIECE_BYTES)
            if not piece:
                break
            parts.append(piece)
            size += len(piece)
            self.done += len(piece)
        return b"".join(parts)

    def _split(self, buf: bytes, eof: bool) -> Iterator[pa.RecordBatch]:
        """Yield the batch of the complete rows in ``buf``; return what is left over."""
        if self.skipping:
            cut = buf.find(b"\n")
            if cut < 0:
                return b""
            self.skipping, buf = False, buf[cut + 1 :]
        arr = np.frombuffer(buf, dtype=np.uint8)
        stops = np.flatnonzero(arr == _LF)
        if len(stops) == 0:
            if len(buf) <= MAX_ROW_BYTES:
                return buf
            # One line longer than any row read: quarantined, and skipped up to its end.
            self.skipping = True
            row = self.line
            self.line += 1
            self.count.lines += 1
            yield self._batch([(row, _shown(buf), "line_too_long")])
            return b""
        starts = np.empty_like(stops)
        starts[0], starts[1:] = 0, stops[:-1] + 1
        crlf = (stops > starts) & (arr[np.maximum(stops - 1, 0)] == _CR)
        ends = stops - crlf  # where each line's text ends
        quotes = np.flatnonzero(arr == _QUOTE) if buf.find(b'"') >= 0 else None
        counts = _per_line(quotes, starts, ends)
        cut, joins = self._joins(buf, counts, starts, ends, self.line + 1, eof)
        modes = self._modes(arr, quotes, counts, starts, ends, cut)
        batch = self._rows(buf, arr, starts[:cut], ends[:cut], stops[:cut], joins, modes)
        if batch.num_rows:
            yield batch
        return buf[starts[cut] :] if cut < len(stops) else buf[stops[-1] + 1 :]

    def _modes(self, arr, quotes, counts, starts, ends, cut: int) -> pa.Array:
        """How each of the first ``cut`` lines is split (:data:`PLAIN`, :data:`QUOTED`, :data:`OTHER`).

        ``quotes`` are the positions of the quotes in ``arr``, ``counts`` how many
        each line holds. A line is
        :data:`QUOTED` when it starts and ends with a quote, holds two quotes per
        field, and between its first and last quote the header's number of fields
        less one separators ``"<delimiter>"`` that do not overlap: then no field
        holds a quote.
        """
        if quotes is None:
            return pa.array(np.zeros(cut, dtype=np.int8))
        starts, ends, count = starts[:cut], ends[:cut], counts[:cut]
        mode = np.where(count == 0, PLAIN, OTHER).astype(np.int8)
        first = arr[np.minimum(starts, len(arr) - 1)] == _QUOTE
        last = arr[np.maximum(ends - 1, 0)] == _QUOTE
        candidate = (ends - starts >= 2) & first & last & (count == 2 * self.n_fields)
        if candidate.any():
            # A separator is a quote, the delimiter, a quote: two quotes two bytes apart.
            pair = quotes[:-1][np.diff(quotes) == 2]
            seps = pair[arr[pair + 1] == ord(self.delimiter)]
            overlapping = seps[1:][np.diff(seps) == 2]
            # Separators made with neither the line's first nor its last quote.
            inside = _per_line(seps, starts + 1, ends - 3)
            simple = candidate & (inside == self.n_fields - 1) & (_per_line(overlapping, starts, ends) == 0)
            mode[simple] = QUOTED
        return pa.array(mode)

    def _rows(self, buf: bytes, arr, starts, ends, stops, joins, modes: pa.Array) -> pa.RecordBatch:
        """The rows of the lines ``starts``/``ends`` (the next ones of the file), in file order."""
        first = self.line + 1  # the line number of the first line here
        lines = np.arange(first, first + len(starts), dtype=np.int64)
        keep, special = self._kept(buf, arr, starts, ends, lines, joins)
        self.count.lines += len(starts) - (1 if first == 1 else 0)
        self.line += len(starts)
        text = _strings(arr, starts, ends, stops)
        bad = _invalid_utf8(buf, starts, ends, text)
        for i in bad:
            if keep[i]:
                keep[i] = False
                special.append((int(lines[i]) - 1, _shown(buf[starts[i] : ends[i]]), "invalid_encoding"))
        if bad:
            text = _strings_valid(buf, starts, ends, keep)
        rows = pa.array(lines - 1)
        if not keep.all():
            mask = pa.array(keep)
            rows, text, modes = rows.filter(mask), text.filter(mask), modes.filter(mask)
        batch = pa.record_batch([rows, text, pa.nulls(len(rows), pa.string()), modes], schema=SCHEMA)
        if special:
            # Rows over several lines and rows taken apart go back to their place in the file.
            both = pa.Table.from_batches([batch, self._batch(special, count=False)]).combine_chunks()
            batch = both.take(np.argsort(both["__row"].to_numpy(), kind="stable")).to_batches()[0]
        self.count.rows += batch.num_rows
        return batch

    def _kept(self, buf: bytes, arr, starts, ends, lines, joins) -> tuple[np.ndarray, list]:
        """Which lines are rows as they are, and the rows made otherwise (``(row, text, flag)``):
        rows over several lines, and rows too long to read. Counts blank and joined lines."""
        keep = np.ones(len(starts), dtype=bool)
        lengths = ends - starts
        blank = lengths == 0
        for i in np.flatnonzero(~blank & (arr[starts] == _SPACE)):
            blank[i] = not buf[starts[i] : ends[i]].strip(b" ")
        if lines[:1].tolist() == [1]:
            keep[0] = blank[0] = False  # the header
        special: list[tuple[int, str, str | None]] = []
        for a, b, text in joins:
            keep[a : b + 1] = False
            blank[a + 1 : b + 1] = False  # a blank line inside a quoted value is part of it
            special.append((int(lines[a]) - 1, text, None))
            self.count.continued += b - a
            self.count.spanning += 1
            if self.count.first_spanning is None:
                self.count.first_spanning = int(lines[a]) - 1
        for i in np.flatnonzero(lengths > MAX_ROW_BYTES):
            keep[i] = False
            special.append((int(lines[i]) - 1, _shown(buf[starts[i] : ends[i]]), "line_too_long"))
        self.count.blank += int(blank.sum())
        return keep & ~blank, special

    def _batch(self, rows: list[tuple[int, str, str | None]], *, count: bool = True) -> pa.RecordBatch:
        if count:
            self.count.rows += len(rows)
        return pa.record_batch(
            [
                pa.array([r for r, _t, _f in rows], pa.int64()),
                pa.array([t for _r, t, _f in rows], pa.string()),
                pa.array([f for _r, _t, f in rows], pa.string()),
                pa.array([OTHER if '"' in t else PLAIN for _r, t, _f in rows], pa.int8()),
            ],
            schema=SCHEMA,
        )

    def _joins(self, buf, counts, starts, ends, first: int, eof: bool) -> tuple[int, list[tuple[int, int, str]]]:
        """How many lines of ``buf`` to take now, and the quoted values that span lines.

        Returns ``cut`` (lines from an opening quote whose closing line is not in
        ``buf`` yet are left for the next round, within :data:`MAX_ROW_BYTES`) and
        ``(first line, last line, joined text)`` of each row that spans lines.
        """
        n = len(starts)
        if counts is None:
            return n, []
        odd = [int(i) for i in np.flatnonzero(counts & 1) if not (first == 1 and i == 0)]
        joins: list[tuple[int, int, str]] = []
        k = 0
        while k < len(odd):
            a = odd[k]
            if k + 1 == len(odd):
                if not eof and len(buf) - starts[a] <= MAX_ROW_BYTES:
                    return a, joins  # the closing line may come in the next chunk
                break
            b = odd[k + 1]
            text = self._joined(buf, starts, ends, a, b)
            if text is not None:
                joins.append((a, b, text))
                k += 2
            else:
                k += 1
        return n, joins

    def _joined(self, buf, starts, ends, a: int, b: int) -> str | None:
        """Lines ``a..b`` as one row, if they make one well-formed row of the right width."""
        if ends[b] - starts[a] > MAX_ROW_BYTES:
            return None
        try:
            text = "\n".join(buf[starts[i] : ends[i]].decode("utf-8") for i in range(a, b + 1))
        except UnicodeDecodeError:
            return None
        fields = split_record(text, self.delimiter)
        return text if fields is not None and len(fields) == self.n_fields else None


def _per_line(positions: np.ndarray | None, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """How many of the sorted ``positions`` lie in each line ``[start, end)``."""
    if positions is None:
        return None
    return np.searchsorted(positions, ends) - np.searchsorted(positions, starts)


def _shown(data: bytes) -> str:
    """The start of a line for the quarantine, undecodable bytes replaced."""
    return data[:SHOWN_BYTES].decode("utf-8", errors="replace")


def _strings(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, stops: np.ndarray) -> pa.Array:
    """The lines' texts as one Arrow string array, line ends left out (one copy of the bytes)."""
    if len(starts) == 0:
        return pa.array([], pa.string())
    region = arr[: stops[-1] + 1]
    drop = np.concatenate([stops, (ends[ends < stops])])
    keep = np.ones(len(region), dtype=bool)
    keep[drop] = False
    data = region[keep]
    offsets = np.zeros(len(starts) + 1, dtype=np.int32)
    np.cumsum(ends - starts, out=offsets[1:])
    return pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(data))


def _invalid_utf8(buf: bytes, starts, ends, text: pa.Array) -> list[int]:
    """Indexes of the lines that are not UTF-8 (checked line by line only when the batch is not)."""
    try:
        text.validate(full=True)
        return []
    except pa.ArrowInvalid:
        pass
    bad = []
    for i in range(len(starts)):
        try:
            buf[starts[i] : ends[i]].decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return bad


def _strings_valid(buf: bytes, starts, ends, keep: np.ndarray) -> pa.Array:
    """The texts of the kept lines, the others empty (the slow path for a chunk with bad bytes)."""
    return pa.array(
        [buf[starts[i] : ends[i]].decode("utf-8") if keep[i] else "" for i in range(len(starts))], pa.string()
    )


def gzip_failure(path: Path, source: str) -> str | None:
    """Decompress a gzip file to its end without keeping anything; the message saying where
    it breaks, or None when it is whole (its checksum and length match).

    For files DuckDB reads itself (NDJSON), which reads past damage in the middle of
    a gzip stream without an error. zlib releases the GIL, so this can run in a
    thread beside DuckDB.
    """
    done = 0
    try:
        with gzip.open(path, "rb") as fh:
            while piece := fh.read(1 << 20):
                done += len(piece)
    except (OSError, EOFError, zlib.error) as exc:
        return _failure(source, path, exc, done)
    return None


def row_batches(path: Path, delimiter: str, n_fields: int, count: LineCount) -> pa.RecordBatchReader:
    """The rows of a delimited file (see the module docstring) as a one-pass Arrow stream.

    ``count`` is filled in as the stream is read. A file that cannot be read to the end
    (a damaged gzip stream, an I/O error) ends the stream early and sets
    ``count.failure`` to a message saying so; the caller raises it.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "visits.csv"
    >>> _ = path.write_bytes(b'id,note\\r\\n1,"two\\nlines"\\n\\n3,x\\ry\\n')
    >>> count = LineCount("visits.csv")
    >>> [(r["__row"], r["__line"]) for r in row_batches(path, ",", 2, count).read_all().to_pylist()]
    [(1, '1,"two\\nlines"'), (4, '3,x\\ry')]
    >>> count.lines, count.rows, count.blank, count.continued
    (4, 2, 1, 1)
    """
    splitter = _Splitter(Path(path), delimiter, n_fields, count)
    return pa.RecordBatchReader.from_batches(SCHEMA, splitter.batches())
