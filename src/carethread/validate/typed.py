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

_MAX_INT = 2**53
#: Runs of these become one underscore in settings and roles (same in SQL and Python).


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
        """A string value with blanks as NULL."""
        col = self.col(name)
        kind = col.type()
        if kind.is_floating() or kind.is_decimal():
            whole = (col == col.floor()) & (col.abs() < _MAX_INT)
            return ibis.cases((whole, col.cast("int64").cast("string")), else_=col.cast("string"))
        if not kind.is_string():
            return col.cast("string")
        if self.profile.trim if trim is None else trim:
            return engine.trim_spaces(col).nullif("")
        blank = self.profile.blank
        if blank is not None and blank.get(self.columns[name]) == 0:
            return col
        return ibis.cases((_blank(col), ibis.null("string")), else_=col)

    def timestamp(self, name: str, date_format: str | None) -> tuple[ibis.Value, ibis.BooleanValue, ibis.BooleanValue]:
        """``(timestamp, missing, unparseable)``.

        Strings accept ISO dates (``2024-03-01``), ISO timestamps
        (``2024-03-01 14:30``, ``2024-03-01T14:30:00``; an offset or ``Z`` is
        dropped, keeping the wall-clock time as written) and, tried first,
        ``date_format``. Time-zone-aware timestamps become UTC wall time; a
        date is midnight.
        """
        col = self.col(name)
        kind = col.type()
        if kind.is_timestamp():
            value = engine.utc_wall_time("UTC", col) if kind.timezone else col
            return value, col.isnull(), ibis.literal(False)
        if kind.is_date():
            return col.cast("timestamp"), col.isnull(), ibis.literal(False)
        text = self.text(name, trim=True)
        parsed = engine.try_cast(text, "timestamp")
        if date_format:
            parsed = ibis.coalesce(engine.try_strptime(text, date_format), parsed)
        missing = text.isnull()
        return parsed, missing, ~missing & parsed.isnull()

    def count(self, name: str) -> tuple[ibis.Value, ibis.BooleanValue]:
        """``(int64, invalid)``: a whole number >= 0 (``'12'``, ``'12.0'``, ``12``)."""
        col = self.col(name)
        kind = col.type()
        if kind.is_integer():
            return col.cast("int64"), col.notnull() & (col < 0)
        if kind.is_floating() or kind.is_decimal():
            number, given = col, col.notnull()
        else:
            text = self.text(name, trim=True)
            number, given = engine.try_cast(text, "float64"), text.notnull()
        ok = ((number == number.floor()) & (number >= 0) & (number < _MAX_INT)).fill_null(False)
        return ibis.cases((ok, number.cast("int64")), else_=ibis.null("int64")), given & ~ok

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
