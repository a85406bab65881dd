"""Typed columns: canonical tables' specs, and source columns read as typed canonical values.

Identifiers become strings, dates and timestamps become timestamps (UTC wall
time), counts become int64, settings and roles normalised labels; what a
source is known to hold (:class:`Profile`) lets these do less work per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis

from carethread import engine, schema

#: A strptime pattern for every date column, or one per canonical date column.
DateFormat = str | Mapping[str, str | None] | None

#: Numbers stored as floats are exact integers below this; an id beyond it is not exact.
_MAX_INT = 2**53

#: What a date or timestamp in text must look like (then DuckDB decides whether it is a
#: real day): ISO 8601 with an optional time and a UTC offset of at most 14 hours. The
#: words DuckDB would also read (``epoch``, ``infinity``, ``today``, ...), time zone
#: names and offsets such as ``+25:00`` are no dates.
ISO_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?)?"
    r"( ?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?))?$"
)


def one_of(value: ibis.Value, options) -> ibis.BooleanValue:
    """``value IN options`` (False for NULL) written as a ``CASE``. DuckDB runs an ``IN``
    list of literals (and a list lookup) as a hash join, which does not keep rows in
    file order when it runs in parallel: stored CSV rows would lose the order that
    proves keys unique cheaply (:func:`key_is_unique`)."""
    return value.substitute(dict.fromkeys(options, True), else_=False)


def iso_timestamp(text: ibis.StringValue) -> ibis.Value:
    """``text`` (trimmed, NULL when blank) as a timestamp when it has the form of
    :data:`ISO_TIMESTAMP` and is a real day, else NULL.

    >>> t = ibis.memtable({"v": ["2024-03-01", "2024-03-01T10:00+01:00", "epoch", "2024-03-01T10:00+25:00"]})
    >>> [str(v) for v in t.select(w=iso_timestamp(t.v)).to_pyarrow()["w"].to_pylist()]
    ['2024-03-01 00:00:00', '2024-03-01 10:00:00', 'None', 'None']
    """
    parsed = engine.try_cast(text, "timestamp")
    # A date alone (10 characters at most, starting with a digit) needs no pattern.
    plain = (text.length() <= 10) & text.left(1).between("0", "9")
    return ibis.cases((plain | text.re_search(ISO_TIMESTAMP), parsed), else_=ibis.null("timestamp"))


def _int64_or_null(col: ibis.Value) -> ibis.Value:
    """A float or decimal as int64 (rounded), NULL where it has none (NaN, infinite,
    beyond int64); never an error.

    On DuckDB this is TRY_CAST: a plain cast under a CASE may still run on every row,
    and a test such as ``isnan(x)`` or ``abs(x) < 1e15`` may be answered from Parquet
    statistics, which leave NaN out (so a NaN id would pass as valid).
    """
    if engine.backend_name(col) in ("duckdb", "memtable"):
        return col.try_cast("int64")
    return ibis.cases(((col.abs() < 2**62).fill_null(False), col.cast("int64")), else_=ibis.null("int64"))


def _is_nan(col: ibis.Value) -> ibis.BooleanValue:
    """NaN, told from the value's text: DuckDB answers ``isnan(x)`` and even ``TRY_CAST(x AS
    BIGINT) IS NULL`` from Parquet statistics, which leave NaN out, as "never"."""
    return col.cast("string").lower().contains("nan").fill_null(False)


def not_an_id(col: ibis.Value) -> ibis.BooleanValue:
    """Whether a float is no identifier: NaN, infinite, or a number too large to be exact
    (beyond 2^53). Always False for other types."""
    if not col.type().is_floating():
        return ibis.literal(False)
    return (col.notnull() & (_is_nan(col) | ~(col.abs() < _MAX_INT))).fill_null(False)


def number_text(col: ibis.Value) -> ibis.StringValue:
    """A float or decimal id as text: whole numbers without ``.0`` (pandas turns integer
    columns with gaps into floats), other numbers as written, NULL for :func:`not_an_id`.

    >>> t = ibis.memtable({"v": [7.0, 8.5, float("nan"), 1e20, None]})
    >>> t.select(w=number_text(t.v)).to_pyarrow()["w"].to_pylist()
    ['7', '8.5', None, None, None]
    """
    number = whole_number(col)
    return ibis.cases(
        (not_an_id(col), ibis.null("string")), (number.notnull(), number.cast("string")), else_=col.cast("string")
    )


def whole_number(col: ibis.Value) -> ibis.Value:
    """A float or decimal as int64 when it is a whole number below 2^53 in size (exact),
    else NULL: never an error, whatever NaN, infinity or 1e300 the column holds."""
    number = _int64_or_null(col)
    exact = ((number.abs() < _MAX_INT) & (number.cast(col.type()) == col)).fill_null(False)
    if col.type().is_floating():
        exact &= ~_is_nan(col)
    return ibis.cases((exact, number), else_=ibis.null("int64"))


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its name, schema, required columns and key."""

    name: str
    schema: ibis.Schema
    required: tuple[str, ...]
    key: str


ENCOUNTERS = TableSpec("encounters", schema.ENCOUNTERS, schema.ENCOUNTERS_REQUIRED, "encounter_id")
CLINICIANS = TableSpec("clinicians", schema.CLINICIANS, schema.CLINICIANS_REQUIRED, "clinician_id")
PATIENTS = TableSpec("patients", schema.PATIENTS, schema.PATIENTS_REQUIRED, "patient_id")
SPECS: dict[str, TableSpec] = {s.name: s for s in (ENCOUNTERS, CLINICIANS, PATIENTS)}


@dataclass
class Profile:
    """How to read a source's values, and facts that let checks do less work.

    Attributes
    ----------
    trim
        Strip spaces around strings (CSV, where writers pad values). With
        ``False`` (Parquet) strings are used as stored, which keeps DuckDB's
        dictionary encoding and makes every later group-by faster.
    blank
        Source column → 0 when the column is known to hold no empty or
        whitespace-only string (it is then used as it is, without a per-row
        test), 1 when it may.
    values
        Source column → every distinct value, for low-cardinality columns
        (``setting``): normalisation then happens once per value in Python
        instead of once per row.
    key_unique
        Whether the key column is known to have no repeated value.
    """

    trim: bool = True
    blank: Mapping[str, int] | None = None
    values: Mapping[str, list] = field(default_factory=dict)
    key_unique: bool | None = None


def _blank(col: ibis.StringValue) -> ibis.BooleanValue:
    """Empty or whitespace only; the trim runs only on values starting with a space."""
    return (col == "") | (col.startswith(" ") & (engine.trim_spaces(col) == ""))


class SourceColumns:
    """Typed, cleaned access to the source columns behind canonical names.

    This is where types are cast. Identifiers are strings: CSV is read as
    text, so ``'007'`` stays ``'007'``; Parquet integers are written in
    decimal, and floats holding whole numbers (pandas turns integer columns
    with gaps into floats) lose their ``.0``.
    """

    def __init__(self, raw: ibis.Table, columns: Mapping[str, str | None], profile: Profile | None):
        self.raw = raw
        self.columns = columns
        self.profile = profile or Profile()

    def has(self, name: str) -> bool:
        return self.columns.get(name) is not None

    def col(self, name: str) -> ibis.Value:
        return self.raw[self.columns[name]]

    def shown(self, name: str) -> ibis.StringValue:
        """The value as the quarantine shows it."""
        col = self.col(name)
        return col if col.type().is_string() else col.cast("string")

    def text(self, name: str, *, trim: bool | None = None) -> ibis.StringValue:
        """A string value with blanks as NULL; a number that is no identifier
        (:meth:`invalid`) is NULL too."""
        col = self.col(name)
        kind = col.type()
        if kind.is_floating() or kind.is_decimal():
            return number_text(col)
        if not kind.is_string():
            return col.cast("string")
        if self.profile.trim if trim is None else trim:
            return engine.trim_spaces(col).nullif("")
        blank = self.profile.blank
        if blank is not None and blank.get(self.columns[name]) == 0:
            return col
        return ibis.cases((_blank(col), ibis.null("string")), else_=col)

    def invalid(self, name: str) -> ibis.BooleanValue:
        """Whether the value is a float that is no identifier (:func:`not_an_id`)."""
        return not_an_id(self.col(name))

    def timestamp(self, name: str, date_format: DateFormat) -> tuple[ibis.Value, ibis.BooleanValue, ibis.BooleanValue]:
        """``(timestamp, missing, unparseable)``.

        Strings accept ISO dates (``2024-03-01``), ISO timestamps
        (``2024-03-01 14:30``, ``2024-03-01T14:30:00``; an offset of at most
        14 hours or ``Z`` is dropped, keeping the wall-clock time as written;
        see :func:`iso_timestamp`) and, tried first, ``date_format`` (a
        pattern, or one per canonical column name).
        Time-zone-aware timestamps become UTC wall time; a date is midnight.
        """
        col = self.col(name)
        kind = col.type()
        if kind.is_timestamp():
            value = engine.utc_wall_time("UTC", col) if kind.timezone else col
            return value, col.isnull(), ibis.literal(False)
        if kind.is_date():
            return col.cast("timestamp"), col.isnull(), ibis.literal(False)
        text = self.text(name, trim=True)
        parsed = self.raw[f"__ts_{name}"] if f"__ts_{name}" in self.raw.columns else self._parse(name, date_format)
        missing = text.isnull()
        return parsed, missing, ~missing & parsed.isnull()

    def _parse(self, name: str, date_format: DateFormat) -> ibis.Value:
        text = self.text(name, trim=True)
        parsed = iso_timestamp(text)
        if isinstance(date_format, Mapping):
            date_format = date_format.get(name)
        if date_format:
            parsed = ibis.coalesce(engine.try_strptime(text, date_format), parsed)
        return parsed

    def with_dates(self, names: Sequence[str], date_format: DateFormat) -> SourceColumns:
        """These columns over a raw table where each date column held as text is parsed
        once, into ``__ts_<name>``: every rule about the date then reads that column
        instead of repeating the parse (and its pattern test) in the SQL."""
        parsed = {
            f"__ts_{name}": self._parse(name, date_format)
            for name in names
            if self.has(name) and self.col(name).type().is_string()
        }
        return SourceColumns(self.raw.mutate(**parsed), self.columns, self.profile) if parsed else self

    def count(self, name: str) -> tuple[ibis.Value, ibis.BooleanValue]:
        """``(int64, invalid)``: a whole number >= 0 (``'12'``, ``'12.0'``, ``12``); NaN,
        infinity and numbers beyond 2^53 are invalid, never an error."""
        col = self.col(name)
        kind = col.type()
        if kind.is_integer():
            value = col.try_cast("int64")  # an unsigned 64-bit count may not fit
            return value, col.notnull() & ((col < 0) | value.isnull())
        if kind.is_floating() or kind.is_decimal():
            number, given = col, col.notnull()
        else:
            text = self.text(name, trim=True)
            number, given = engine.try_cast(text, "float64"), text.notnull()
        value = whole_number(number)
        ok = (value >= 0).fill_null(False)
        return ibis.cases((ok, value), else_=ibis.null("int64")), given & ~ok

    def label(self, name: str) -> ibis.StringValue:
        """Lower case, trimmed, runs of spaces and hyphens as one underscore."""
        return self.text(name, trim=True).lower().re_replace(schema.LABEL_SEPARATORS, "_")


# --- profiling (lazy sources) --------------------------------------------------


def profile(
    con,
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    spec: TableSpec,
    *,
    paths: Sequence[str] = (),
) -> Profile:
    """Facts about a lazily read source that let the checks do less per row.

    - **Blank identifiers.** The smallest value of each string identifier
      column, from the statistics of the Parquet ``paths`` (no scan; a
      ``min()`` scan when statistics are missing): when it neither is empty
      nor starts with a space or control character, no value can be blank,
      and the column is used as it is.
    - **Key uniqueness.** :func:`key_is_unique` on the raw key column.
    - **Setting values.** The distinct values of ``setting`` when there are
      at most 1 000, so they are normalised once each.
    """
    ids = [n for n in ("encounter_id", "patient_id", "clinician_id", "practice_id") if n in spec.schema]
    strings = [columns[n] for n in ids if columns.get(n) is not None and raw[columns[n]].type().is_string()]
    blank: dict[str, int] = {}
    if strings and paths:
        stats = engine.parquet_minimums(con, paths, strings)
        for column, minimums in stats.items():
            blank[column] = 0 if all(m[:1] > " " for m in minimums) else 1
    unknown = [c for c in strings if c not in blank]
    if unknown:
        row = raw.aggregate(**{f"m{i}": raw[c].min() for i, c in enumerate(unknown)}).to_pyarrow().to_pylist()[0]
        for i, column in enumerate(unknown):
            smallest = row[f"m{i}"]
            blank[column] = 0 if smallest is None or smallest[:1] > " " else 1
    key = columns.get(spec.key)
    key_unique = (key_is_unique(con, raw, key) or None) if key is not None else None
    values = {}
    setting = columns.get("setting")
    if setting is not None and raw[setting].type().is_string():
        found = raw.select(v=raw[setting]).distinct().limit(1001).to_pyarrow()["v"].to_pylist()
        if len(found) <= 1000:
            values[setting] = found
    return Profile(trim=False, blank=blank, values=values, key_unique=key_unique)


def key_is_unique(con, table: ibis.Table, column: str) -> bool:
    """Whether ``column`` is cheaply proved free of repeats.

    A key without NULLs that strictly increases in scan order (typical of
    exports) is proved unique by one sequential pass; the first 65 536 rows
    are tried before committing to it. ``False`` means "not proved": the
    exact check in :func:`finish` then decides.
    """
    return engine.strictly_increasing(con, table, column, limit=65_536) and engine.strictly_increasing(
        con, table, column
    )
