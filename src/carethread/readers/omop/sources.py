"""Where the OMOP CDM tables of an input are: a folder, a DuckDB file or a database.

:func:`open_tables` returns each CDM table the reader uses as a lazy Ibis
table with lower-case column names (matched ignoring case) on one connection.
The tables that become canonical tables (``visit_occurrence``, ``person``,
``provider``) also get ``__file`` and ``__row``: the data row in a CSV or
Parquet file, or the position in key order in a database table (rows have no
other order there). CSV files are parsed once into DuckDB temporary tables,
malformed lines kept aside for the quarantine; database tables are read where
they are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis

from carethread import engine
from carethread.errors import InputError, OptionError, SchemaError
from carethread.readers.common import (
    SourceFile,
    columns_present,
    file_kind,
    line_remarks,
    norm_stem,
    open_csv,
    store_csv,
    suggest_column,
    unreadable_as,
)
from carethread.validate import not_an_id, number_text, whole_number


@dataclass(frozen=True)
class _Spec:
    """A CDM table: columns it must have (each a tuple of alternatives) and may have."""

    required: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...] = ()

    @property
    def wanted(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([c for alts in self.required for c in alts] + list(self.optional)))


TABLES: dict[str, _Spec] = {
    "visit_occurrence": _Spec(
        (("visit_occurrence_id",), ("person_id",), ("visit_concept_id",), ("visit_start_date", "visit_start_datetime")),
        ("visit_start_datetime", "visit_start_time", "provider_id", "care_site_id"),
    ),
    "person": _Spec(
        (("person_id",),),
        ("year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime", "gender_concept_id"),
    ),
    "provider": _Spec((("provider_id",),), ("specialty_concept_id", "care_site_id", "specialty_source_value")),
    "death": _Spec((("person_id",), ("death_date", "death_datetime")), ("death_datetime",)),
    "visit_detail": _Spec(
        (("visit_occurrence_id",), ("provider_id",)),
        ("visit_detail_id", "visit_detail_start_date", "visit_detail_start_datetime"),
    ),
    "care_site": _Spec((("care_site_id",),)),
    "concept": _Spec((("concept_id",), ("concept_name",))),
}

#: The tables that become canonical tables (with row numbers and counts), and their keys.
_KEYS = {"visit_occurrence": "visit_occurrence_id", "person": "person_id", "provider": "provider_id"}

DUCKDB_SUFFIXES = (".duckdb", ".ddb")


@dataclass
class Table:
    """One CDM table as a lazy Ibis table with lower-case column names.

    A canonical table read from CSV keeps the rows that could not be split
    (``__reject``, for the quarantine); a lookup table drops them, and
    ``unparsed`` counts them for a remark.
    """

    name: str
    source: str
    stem: str
    table: ibis.Table
    unparsed: int = 0
    notes: list[str] = field(default_factory=list)
    numbering: str = "row"
    lines: int | None = None

    def has(self, column: str) -> bool:
        return column in self.table.columns


# --- values (portable Ibis) -------------------------------------------------------------------


def as_text(col: ibis.Value) -> ibis.StringValue:
    """An identifier as text; blanks become NULL. Integers are written in decimal.

    >>> import ibis
    >>> t = ibis.memtable({"a": [" 007 ", "", None], "b": [7.0, 8.5, None]})
    >>> t.select(a=as_text(t.a), b=as_text(t.b)).to_pyarrow().to_pylist()
    [{'a': '007', 'b': '7'}, {'a': None, 'b': '8.5'}, {'a': None, 'b': None}]
    """
    kind = col.type()
    if kind.is_string():
        return engine.trim_spaces(col).nullif("")
    if kind.is_floating() or kind.is_decimal():
        return number_text(col)
    return col.cast("string")


def as_int(col: ibis.Value) -> ibis.IntegerValue:
    """A concept id or date part as int64; text that is not a whole number is NULL.

    >>> import ibis
    >>> t = ibis.memtable({"c": ["9202", " 0", "x", ""]})
    >>> t.select(c=as_int(t.c)).to_pyarrow()["c"].to_pylist()
    [9202, 0, None, None]
    """
    kind = col.type()
    if kind.is_integer():
        return col.try_cast("int64")
    if kind.is_floating() or kind.is_decimal():
        return whole_number(col)
    return engine.try_cast(as_text(col), "int64")


def rejection(
    t: ibis.Table, ids: Mapping[str, str], rules: Sequence[tuple[ibis.BooleanValue, str, ibis.Value]] = ()
) -> dict[str, ibis.Value]:
    """``__reject`` and ``__reject_value`` of a canonical table's raw rows, first rule first.

    The CSV reader's own rejection (a row that could not be split) comes first,
    then ids stored as floats that are no identifiers (``ids``: OMOP column →
    canonical id, giving ``invalid_<id>``), then ``rules``.
    """
    cases = [(t.__reject.notnull(), t.__reject, t.__reject_value)] if "__reject" in t.columns else []
    cases += [(not_an_id(t[c]), f"invalid_{name}", t[c].cast("string")) for c, name in ids.items() if c in t.columns]
    cases += list(rules)
    if not cases:
        return {"__reject": ibis.null("string"), "__reject_value": ibis.null("string")}
    return {
        "__reject": ibis.cases(*((cond, code) for cond, code, _v in cases), else_=ibis.null("string")),
        "__reject_value": ibis.cases(*((cond, v.cast("string")) for cond, _c, v in cases), else_=ibis.null("string")),
    }


def moment(t: ibis.Table, date: str, datetime: str, time: str | None = None) -> ibis.Value | None:
    """The datetime column, else the date (5.0: date plus the time text).

    A timestamp when the source columns are typed (databases, Parquet), else
    text that the encounter checks parse (and quarantine when unparseable).
    """
    parts = [t[c] for c in (datetime, date) if c in t.columns]
    if not parts:
        return None
    if all(p.type().is_temporal() for p in parts) and (time is None or time not in t.columns):
        return ibis.coalesce(*(p.cast("timestamp") for p in parts)) if len(parts) > 1 else parts[0].cast("timestamp")
    texts = [as_text(p) for p in parts]
    if time is not None and time in t.columns and date in t.columns and datetime not in t.columns:
        day, clock = as_text(t[date]), as_text(t[time])
        return ibis.ifelse(clock.notnull(), day.concat(" ", clock), day)
    return ibis.coalesce(*texts) if len(texts) > 1 else texts[0]


# --- finding the tables -------------------------------------------------------------------------


def _columns(names: list[str], table: str, label: str) -> dict[str, str]:
    """Lower-case CDM column name → the column's name in the source; checks required ones."""
    spec = TABLES[table]
    by_lower: dict[str, str] = {}
    for name in names:
        if name.lower() in by_lower:
            raise SchemaError(
                f"{label} has two columns named `{name}` (names are compared ignoring case). Rename one of them."
            )
        by_lower[name.lower()] = name
    for alternatives in spec.required:
        if not any(a in by_lower for a in alternatives):
            wanted = " or ".join(f"`{a}`" for a in alternatives)
            near = suggest_column(alternatives[0], [c for c in names if c.lower() not in TABLES[table].wanted])
            hint = f" `{near}` looks like {alternatives[0]}: rename it." if near else ""
            raise SchemaError(
                f"{label} has no column {wanted}, which the OMOP CDM {table} table requires. "
                f"{columns_present(names)}{hint} Export the table with its CDM column names (and its header row)."
            )
    return {lower: original for lower, original in by_lower.items() if lower in spec.wanted}


def _folder_tables(con, folder: Path) -> dict[str, Table]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or file_kind(path) is None or path.name.startswith((".", "_")):
            continue
        name = norm_stem(path)
        if name not in TABLES:
            continue
        if name in found:
            raise InputError(f"{folder} has two {name} tables ({found[name].name}, {path.name}). Keep one of them.")
        found[name] = path
    if "visit_occurrence" not in found:
        raise InputError(
            f"{folder} has no visit_occurrence table: an OMOP CDM folder needs visit_occurrence.csv "
            "(any case; .csv, .tsv or .parquet). Check the folder, or pick another --format."
        )
    tables = {name: _stage_file(con, name, path) for name, path in found.items() if name != "concept"}
    if "concept" in found:
        tables["concept"] = _stage_concepts(con, found["concept"], tables)
    return tables


def _stage_file(con, name: str, path: Path, keep=None) -> Table:
    """One CDM file as a table on ``con``: CSV parsed once into a temporary table."""
    source = SourceFile(path, path.name, file_kind(path))  # type: ignore[arg-type]
    if source.kind == "parquet":
        with unreadable_as(
            f"{path.name} is not a readable Parquet file (it may be truncated or corrupt). Export it again."
        ):
            names = engine.parquet_columns(con, str(path))
        columns = _columns(names, name, path.name)
        raw = engine.parquet_table(con, [str(path)])
        table = raw.select(
            **{lower: raw[original] for lower, original in columns.items()}, __file=raw.__file, __row=raw.__row
        )
        return Table(name, path.name, source.stem, table)
    open_csv(source)
    columns = _columns(source.columns, name, path.name)
    lookup = name not in _KEYS

    def build(raw: ibis.Table) -> ibis.Table:
        expr = raw.select(
            **{lower: raw[original] for lower, original in columns.items()},
            __file=raw.__file,
            __row=raw.__row,
            __reject=raw.__reject,
            __reject_value=raw.__reject_value,
        )
        return keep(expr) if keep is not None else expr

    stored, counts = store_csv(con, [source], build, f"omop_{name}")
    table = con.table(stored)
    unparsed = 0
    if lookup:
        # A lookup row that could not be split is left out (and counted for a remark).
        unparsed = int(table.__reject.notnull().sum().execute() or 0)
        table = table.filter(table.__reject.isnull()).drop("__reject", "__reject_value")
    return Table(name, path.name, source.stem, table, unparsed, line_remarks(counts), "data_row", counts[0].lines)


def _stage_concepts(con, path: Path, tables: dict[str, Table]) -> Table:
    """Only the concept rows the input uses (a full vocabulary has millions)."""
    ids = [tables["visit_occurrence"].table.visit_concept_id]
    provider = tables.get("provider")
    if provider is not None and provider.has("specialty_concept_id"):
        ids.append(provider.table.specialty_concept_id)
    used = ibis.union(*(as_text(c).name("id").as_table() for c in ids)).distinct()  # union of one is not distinct
    return _stage_file(
        con, "concept", path, keep=lambda t: t.filter(as_text(t.concept_id).isin(used.id) | t.__reject.notnull())
    )


def _database_tables(con, database, prefix: str, where: str) -> dict[str, Table]:
    """The CDM tables of ``database``; sources are named ``<prefix><table>``."""
    try:
        names = engine.list_tables(con, database)
    except Exception as exc:  # the backend's own error type; its text may name objects, not data
        raise InputError(
            f"Could not list the tables of {where} ({type(exc).__name__}). Check --schema and that the "
            "connection may read it."
        ) from None
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.lower(), name)
    if "visit_occurrence" not in by_lower:
        shown = ", ".join(sorted(names)[:20]) + (", ..." if len(names) > 20 else "")
        raise InputError(
            f"{where[0].upper() + where[1:]} has no visit_occurrence table (tables: {shown or 'none'}). "
            "Pass --schema with the schema that holds the OMOP CDM tables."
        )
    out = {}
    for table in TABLES:
        if table not in by_lower:
            continue
        source = prefix + table
        t = con.table(by_lower[table], database=database) if database is not None else con.table(by_lower[table])
        columns = _columns(list(t.columns), table, source)
        t = t.select(**{lower: t[original] for lower, original in columns.items()})
        if table in _KEYS:
            # Database rows have no order: number them by key (the other columns
            # only order repeated keys), so quarantine rows can be found again.
            order = [t[_KEYS[table]], *(t[c] for c in t.columns if c != _KEYS[table])]
            t = t.mutate(__file=ibis.literal(0, type="int32"), __row=ibis.row_number().over(order_by=order) + 1)
        out[table] = Table(table, source, table, t)
    return out


def open_tables(con, path, schema: str | None) -> dict[str, Table]:
    """The CDM tables of a folder, a DuckDB file or ``con`` itself (``path=None``).

    >>> import pathlib, tempfile
    >>> from carethread import engine
    >>> cdm = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (cdm / "Visit_Occurrence.csv").write_text(
    ...     "VISIT_OCCURRENCE_ID,PERSON_ID,VISIT_CONCEPT_ID,VISIT_START_DATE\\n1,7,9202,2024-01-02\\n")
    >>> tables = open_tables(engine.connect(), cdm, None)
    >>> tables["visit_occurrence"].source, tables["visit_occurrence"].table.columns  # doctest: +NORMALIZE_WHITESPACE
    ('Visit_Occurrence.csv',
     ('visit_occurrence_id', 'person_id', 'visit_concept_id', 'visit_start_date', '__file', '__row', '__reject',
      '__reject_value'))
    """
    if path is None:
        if schema is None:
            return _database_tables(con, None, "", "the database")
        return _database_tables(con, schema, f"{schema}.", f"schema {schema}")
    target = Path(os.fspath(path)).expanduser()
    if not target.exists():
        raise InputError(
            f"{target} does not exist. Pass an OMOP CDM folder (visit_occurrence.csv, person.csv, ...), "
            "a DuckDB database file, or --engine with a database URL and --schema."
        )
    if target.is_dir():
        if schema is not None:
            raise OptionError("--schema applies to databases (--engine, a .duckdb file), not to a folder of files.")
        engine.require_duckdb(con)
        return _folder_tables(con, target)
    if target.name.lower().endswith(DUCKDB_SUFFIXES):
        engine.require_duckdb(con)
        with unreadable_as(
            f"{target.name} could not be opened as a DuckDB database (is it one, and not open in another program?)."
        ):
            catalog = engine.attach_read_only(con, str(target))
        inside = f"{schema}." if schema else ""
        where = f"schema {schema} of {target.name}" if schema else target.name
        return _database_tables(con, (catalog, schema or "main"), f"{target.name}:{inside}", where)
    raise InputError(
        f"{target.name} is a single file; the omop format reads a folder of CDM tables "
        "(visit_occurrence.csv, person.csv, provider.csv, ...) or a DuckDB database file (.duckdb)."
    )
