"""Row checks, the quarantine table and reconciliation counts.

Readers turn a raw table (source columns plus ``__file``, the file's position,
and ``__row``, the 1-based data row inside it) into canonical tables with
:func:`check_encounters`, :func:`check_clinicians` or :func:`check_patients`,
then call :func:`finish`.

A check is one projection: each row gets typed canonical columns and a
``__reason`` that is NULL when the row is fine, else the code of the first
check it failed (in the order of :data:`REASONS`). Nothing is filtered, so
``read == accepted + quarantined`` holds by construction; :func:`finish`
counts both sides in one aggregate and checks the identity anyway.

Reason codes are stable (scripts may filter the quarantine on them):

======================================  ===========================================
code                                    meaning
======================================  ===========================================
``missing_<column>``                    a required value is empty (``patient_id``,
                                        ``start``, ``clinician_id``)
``unparseable_<column>``                not an ISO date or timestamp, nor matching
                                        ``date_format``
``<column>_before_1900``                a date before 1900-01-01
``<column>_after_extraction``           a date after the extraction date
``unknown_setting``                     not one of :data:`carethread.schema.SETTINGS`
                                        after case, space and hyphen are normalised
``invalid_capacity``                    capacity is not a whole number >= 0
``active_to_before_active_from``        a clinician's activity ends before it starts
``death_date_before_birth_date``        a patient dies before being born
``duplicate_<key>``                     the id repeats an earlier accepted row
                                        (the first occurrence, by file then row, is kept)
``malformed_row``                       a CSV line with the wrong number of fields or
                                        unbalanced quotes
``invalid_encoding``                    a CSV line that is not UTF-8
``malformed_json``                      an NDJSON line that is not a JSON object
``unexpected_resource_type``            a FHIR resource in the wrong type's file
``unknown_<what>_reference``            a reference (patient, clinician, practice)
                                        that resolves to nothing in the input
``unknown_encounter_class``             a Synthea/FHIR encounter class with no setting
``unknown_visit_concept``               an OMOP visit_concept_id with no setting
``encounter_not_held``                  a FHIR Encounter that is planned, cancelled
                                        or entered in error
======================================  ===========================================

Format readers pass their own rejections in: a raw table may carry a
``__reject`` column (a reason code, NULL when the row is fine) and a
``__reject_value`` column (the offending value as text); that check runs
before all others. Boolean ``__flag_<name>`` columns are carried into the
checked table, so a reader that adds a remark template for them to
:attr:`Checked.flags` gets them counted over accepted rows in :func:`finish`'s
one aggregate.

The checks and :func:`finish` are Ibis expressions that run on any backend
(the OMOP reader runs them inside PostgreSQL); DuckDB-only shortcuts are
behind :mod:`carethread.engine`, which falls back to portable forms elsewhere.

Empty and whitespace-only strings count as missing. A missing clinician_id is
not a rejection; the count goes into a remark instead.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
from ibis import _

from carethread import engine, schema
from carethread.data import ReadCount, format_count, plural
from carethread.errors import InputError

#: Every reason code, in the order checks run, with the text used in remarks.
REASONS: dict[str, str] = {
    "missing_patient_id": "patient_id is missing",
    "missing_clinician_id": "clinician_id is missing",
    "missing_start": "start is missing",
    "unparseable_start": "start is not a date or timestamp",
    "start_before_1900": "start is before 1900-01-01",
    "start_after_extraction": "start is after the extraction date",
    "unknown_setting": "setting is not a known care setting",
    "invalid_capacity": "capacity is not a whole number of patients",
    "unparseable_active_from": "active_from is not a date",
    "active_from_before_1900": "active_from is before 1900-01-01",
    "active_from_after_extraction": "active_from is after the extraction date",
    "unparseable_active_to": "active_to is not a date",
    "active_to_before_1900": "active_to is before 1900-01-01",
    "active_to_before_active_from": "active_to is before active_from",
    "unparseable_birth_date": "birth_date is not a date",
    "birth_date_before_1900": "birth_date is before 1900-01-01",
    "birth_date_after_extraction": "birth_date is after the extraction date",
    "unparseable_death_date": "death_date is not a date",
    "death_date_before_1900": "death_date is before 1900-01-01",
    "death_date_after_extraction": "death_date is after the extraction date",
    "death_date_before_birth_date": "death_date is before birth_date",
    "duplicate_encounter_id": "encounter_id repeats an earlier row",
    "duplicate_clinician_id": "clinician_id repeats an earlier row",
    "duplicate_patient_id": "patient_id repeats an earlier row",
    "malformed_row": "the line has the wrong number of fields or unbalanced quotes",
    "invalid_encoding": "the line is not UTF-8 text",
    # Format readers (Synthea, FHIR, OMOP) set these through a ``__reject`` column.
    "malformed_json": "the line is not a complete JSON object",
    "unexpected_resource_type": "the resource is not of the type its file holds",
    "unknown_patient_reference": "the patient reference matches no patient",
    "unknown_clinician_reference": "the clinician reference matches no clinician",
    "unknown_practice_reference": "the practice reference matches no organisation",
    "unknown_encounter_class": "the encounter class has no care setting",
    "unknown_visit_concept": "visit_concept_id has no care setting in the mapping",
    "encounter_not_held": "the encounter's status says it did not take place",
}

#: Role spellings mapped to :data:`carethread.schema.ROLES` (after lower-casing
#: and turning spaces and hyphens into underscores); anything else is 'other'.
ROLE_ALIASES: dict[str, str] = {
    **{role: role for role in schema.ROLES},
    "md": "physician",
    "do": "physician",
    "doctor": "physician",
    "nurse_practitioner": "np",
    "physician_assistant": "pa",
    "physician_associate": "pa",
    "rn": "nurse",
    "registered_nurse": "nurse",
}

_EARLIEST = _dt.datetime(1900, 1, 1)
_MAX_INT = 2**53
#: Runs of these become one underscore in settings and roles (same in SQL and Python).
_SEPARATORS = r"[ \t\n\r\f\-]+"


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
class Checked:
    """A checked table before counting: see :func:`check_encounters`."""

    spec: TableSpec
    table: ibis.Table
    columns: dict[str, str | None]
    key_provided: bool
    flags: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    key_unique: bool | None = None


@dataclass
class Finished:
    """The outcome of :func:`finish` for one canonical table."""

    accepted: ibis.Table
    quarantine: ibis.Table
    counts: list[ReadCount]
    remarks: list[str]


@dataclass
class _Rule:
    code: str | ibis.StringValue
    failed: ibis.BooleanValue
    value: ibis.Value | None


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


def normalise_label(value: str | None) -> str | None:
    """Python twin of the SQL normalisation of settings and roles.

    >>> normalise_label(" Primary  Care "), normalise_label("urgent-care"), normalise_label("  ")
    ('primary_care', 'urgent_care', None)
    """
    if value is None:
        return None
    text = str(value).strip(" ")
    return re.sub(_SEPARATORS, "_", text.lower()) if text else None


class _Source:
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
        return self.text(name, trim=True).lower().re_replace(_SEPARATORS, "_")

    def date_rules(
        self, name: str, date_format: str | None, *, latest: _dt.datetime | None
    ) -> tuple[ibis.Value, list[_Rule]]:
        """A date column's value and its unparseable / too early / too late rules."""
        if not self.has(name):
            return ibis.null(dt.timestamp), []
        value, _missing, bad = self.timestamp(name, date_format)
        shown = self.shown(name)
        rules = [
            _Rule(f"unparseable_{name}", bad, shown),
            _Rule(f"{name}_before_1900", value < _EARLIEST, shown),
        ]
        if latest is not None:
            rules.append(_Rule(f"{name}_after_extraction", value >= latest, shown))
        return value, rules


def _format_rules(raw: ibis.Table) -> list[_Rule]:
    """The reader's own rejection (``__reject``), checked before anything else."""
    if "__reject" not in raw.columns:
        return []
    value = raw.__reject_value if "__reject_value" in raw.columns else ibis.null("string")
    return [_Rule(raw.__reject, raw.__reject.notnull(), value.cast("string"))]


def _day_after(extraction_date: _dt.date) -> _dt.datetime:
    return _dt.datetime.combine(extraction_date + _dt.timedelta(days=1), _dt.time())


def _project(
    raw: ibis.Table,
    spec: TableSpec,
    values: Mapping[str, ibis.Value],
    rules: Sequence[_Rule],
    extra: Mapping[str, ibis.Value],
) -> ibis.Table:
    """Canonical columns, ``__file``, ``__row``, ``__reason``, ``__value`` and flags."""
    reason = ibis.cases(*((rule.failed, rule.code) for rule in rules), else_=ibis.null("string"))
    columns = {}
    for name, dtype in spec.schema.items():
        loose = dtype.copy(nullable=True)
        columns[name] = values[name].cast(loose) if name in values else ibis.null(loose)
    # The offending value of the first failing rule: the same CASE order as the reason.
    value = ibis.cases(
        *((rule.failed, rule.value if rule.value is not None else ibis.null("string")) for rule in rules),
        else_=ibis.null("string"),
    )
    # Format readers' flags (``__flag_*`` columns of the raw table) travel along too.
    flags = {c: raw[c] for c in raw.columns if c.startswith("__flag_")}
    return raw.select(**columns, __file=raw.__file, __row=raw.__row, __reason=reason, __value=value, **flags, **extra)


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


# --- the three canonical tables ------------------------------------------------


def _setting(src: _Source) -> tuple[ibis.StringValue, ibis.BooleanValue | None, ibis.BooleanValue | None]:
    """``(setting, unknown, defaulted)``; the latter two are None when impossible."""
    col = src.col("setting")
    known = src.profile.values.get(src.columns["setting"]) if col.type().is_string() else None
    if known is None:
        given = src.label("setting")
        if col.type().is_string():
            # Most values are already canonical; only the rest pay for normalising.
            given = ibis.cases((col.isin(schema.SETTINGS), col), else_=given)
        setting = given.fill_null(schema.DEFAULT_SETTING)
        return setting, ~setting.isin(schema.SETTINGS), given.isnull()
    # Every distinct value is known: normalise each once, here.
    rename, unknown, blank = {}, [], []
    for value in known:
        label = normalise_label(value)
        if label is None:
            blank.append(value)
        elif label not in schema.SETTINGS:
            unknown.append(value)
        elif label != value:
            rename[value] = label
    setting = col.substitute(rename, else_=col) if rename else col
    defaulted = None
    if blank:
        given_blank = [b for b in blank if b is not None]
        defaulted = (col.isnull() | col.isin(given_blank)) if given_blank else col.isnull()
        setting = ibis.cases((defaulted, ibis.literal(schema.DEFAULT_SETTING)), else_=setting)
    return setting, (col.isin(unknown) if unknown else None), defaulted


def check_encounters(
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: str | None = None,
    source: str = "encounters",
    profile: Profile | None = None,
) -> Checked:
    """Check encounter rows; see the module docstring for the rules.

    Parameters
    ----------
    raw
        Source columns plus ``__file`` and ``__row``.
    columns
        Canonical column → source column (``None`` when absent);
        ``patient_id`` and ``start`` must be present.
    extraction_date
        Encounters after this day are rejected.
    date_format
        A strptime pattern tried before the ISO forms.
    source
        How remarks name the input.
    profile
        From :func:`profile` for lazily read sources; default: CSV rules.

    Returns
    -------
    Checked
        ``table`` has the canonical columns (nullable; ``encounter_id`` NULL
        where the source has none, to be derived later), ``__file``,
        ``__row``, ``__reason``, ``__value`` and flag columns.

    Examples
    --------
    >>> import datetime, ibis
    >>> raw = ibis.memtable({"pid": ["007", "", "8"], "when": ["2024-01-02", "2024-01-03", "soon"],
    ...                      "__file": [0, 0, 0], "__row": [1, 2, 3]})
    >>> checked = check_encounters(raw, {"patient_id": "pid", "start": "when"},
    ...                            extraction_date=datetime.date(2024, 6, 30))
    >>> checked.table.select("patient_id", "__reason").to_pyarrow().to_pylist()
    [{'patient_id': '007', '__reason': None}, {'patient_id': None, '__reason': 'missing_patient_id'}, {'patient_id': '8', '__reason': 'unparseable_start'}]
    """
    src = _Source(raw, columns, profile)
    latest = _day_after(extraction_date)
    patient = src.text("patient_id")
    start, start_missing, start_bad = src.timestamp("start", date_format)
    start_shown = src.shown("start")
    rules = [
        *_format_rules(raw),
        _Rule("missing_patient_id", patient.isnull(), src.shown("patient_id")),
        _Rule("missing_start", start_missing, start_shown),
        _Rule("unparseable_start", start_bad, start_shown),
        _Rule("start_before_1900", start < _EARLIEST, start_shown),
        _Rule("start_after_extraction", start >= latest, start_shown),
    ]
    notes: list[str] = []
    extra: dict[str, ibis.Value] = {}
    values: dict[str, ibis.Value] = {"patient_id": patient, "start": start}
    if src.has("setting"):
        setting, unknown, defaulted = _setting(src)
        if unknown is not None:
            rules.append(_Rule("unknown_setting", unknown, src.shown("setting")))
        if defaulted is not None:
            extra["__setting_defaulted"] = defaulted
        values["setting"] = setting
    else:
        values["setting"] = ibis.literal(schema.DEFAULT_SETTING)
        notes.append(f"{source} has no setting column; every encounter was given the setting {schema.DEFAULT_SETTING}.")
    if src.has("clinician_id"):
        values["clinician_id"] = src.text("clinician_id")
        extra["__no_clinician"] = values["clinician_id"].isnull()
    else:
        notes.append(
            f"{source} has no clinician_id column; encounters count for outcomes but "
            "clinician-level measures have nothing to work with."
        )
    for name in ("encounter_id", "practice_id"):
        if src.has(name):
            values[name] = src.text(name)
    table = _project(raw, ENCOUNTERS, values, rules, extra)
    flags = {
        "__no_clinician": "{n} accepted {encounters} {have} no clinician_id: counted for outcomes, "
        "left out of clinician-level measures.",
        "__setting_defaulted": "{n} accepted {encounters} {have} no setting; "
        f"{{they_were}} given {schema.DEFAULT_SETTING}.",
    }
    return Checked(
        ENCOUNTERS,
        table,
        dict(columns),
        key_provided=src.has("encounter_id"),
        flags={k: v for k, v in flags.items() if k in extra},
        notes=notes,
        key_unique=(profile.key_unique if profile else None),
    )


def check_clinicians(
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: str | None = None,
    source: str = "clinicians",
    profile: Profile | None = None,
) -> Checked:
    """Check clinician rows: id present and unique, capacity a count, dates valid.

    ``role`` is normalised like settings and mapped through
    :data:`ROLE_ALIASES`; an unrecognised role becomes ``'other'`` (counted in
    a remark), an empty one stays NULL.
    """
    src = _Source(raw, columns, profile)
    clinician = src.text("clinician_id")
    rules = [*_format_rules(raw), _Rule("missing_clinician_id", clinician.isnull(), src.shown("clinician_id"))]
    values: dict[str, ibis.Value] = {"clinician_id": clinician}
    extra: dict[str, ibis.Value] = {}
    for name in ("practice_id", "specialty"):
        if src.has(name):
            values[name] = src.text(name)
    if src.has("role"):
        given = src.label("role")
        known = given.substitute(ROLE_ALIASES, else_=ibis.null("string"))
        values["role"] = ibis.cases((given.isnull(), ibis.null("string")), else_=known.fill_null("other"))
        extra["__role_other"] = given.notnull() & known.isnull()
    if src.has("capacity"):
        capacity, bad = src.count("capacity")
        values["capacity"] = capacity
        rules.append(_Rule("invalid_capacity", bad, src.shown("capacity")))
    latest = _day_after(extraction_date)
    start, start_rules = src.date_rules("active_from", date_format, latest=latest)
    end, end_rules = src.date_rules("active_to", date_format, latest=None)
    rules += start_rules + end_rules
    if src.has("active_from") and src.has("active_to"):
        rules.append(_Rule("active_to_before_active_from", end.date() < start.date(), src.shown("active_to")))
    if src.has("active_from"):
        values["active_from"] = start.date()
    if src.has("active_to"):
        values["active_to"] = end.date()
    table = _project(raw, CLINICIANS, values, rules, extra)
    flags = {
        "__role_other": "{n} {clinicians} {have} a role that is not one of "
        + ", ".join(schema.ROLES)
        + "; it was set to other."
    }
    return Checked(
        CLINICIANS,
        table,
        dict(columns),
        key_provided=True,
        flags={k: v for k, v in flags.items() if k in extra},
        key_unique=(profile.key_unique if profile else None),
    )


def check_patients(
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: str | None = None,
    source: str = "patients",
    profile: Profile | None = None,
) -> Checked:
    """Check patient rows: id present and unique, birth and death dates valid."""
    src = _Source(raw, columns, profile)
    patient = src.text("patient_id")
    rules = [*_format_rules(raw), _Rule("missing_patient_id", patient.isnull(), src.shown("patient_id"))]
    values: dict[str, ibis.Value] = {"patient_id": patient}
    if src.has("sex"):
        values["sex"] = src.text("sex")
    latest = _day_after(extraction_date)
    birth, birth_rules = src.date_rules("birth_date", date_format, latest=latest)
    death, death_rules = src.date_rules("death_date", date_format, latest=latest)
    rules += birth_rules + death_rules
    if src.has("birth_date") and src.has("death_date"):
        rules.append(_Rule("death_date_before_birth_date", death.date() < birth.date(), src.shown("death_date")))
    if src.has("birth_date"):
        values["birth_date"] = birth.date()
    if src.has("death_date"):
        values["death_date"] = death.date()
    table = _project(raw, PATIENTS, values, rules, {})
    return Checked(
        PATIENTS,
        table,
        dict(columns),
        key_provided=True,
        key_unique=(profile.key_unique if profile else None),
    )


CHECKS = {"encounters": check_encounters, "clinicians": check_clinicians, "patients": check_patients}


# --- counting, duplicates, quarantine -----------------------------------------


def _flag_duplicates(con, checked: Checked) -> ibis.Table:
    """Mark later rows whose key repeats an earlier accepted row.

    :func:`key_is_unique` (which :func:`profile` may already have run)
    settles the common case without a hash table. Otherwise one aggregate
    over the accepted rows finds the repeated keys and where each first
    occurs; only if there are any, the positions of the later occurrences
    are stored in a small temporary table, and rows are flagged by position
    (an integer semi-join, much cheaper in every later query than a join on
    the key).
    """
    t = checked.table
    key = checked.spec.key
    if checked.key_unique or (checked.key_unique is None and key_is_unique(con, t, key)):
        return t
    valid = t.filter(t.__reason.isnull() & t[key].notnull())
    valid = valid.mutate(__ord=valid.__file.cast("int64") * 2**40 + valid.__row)
    repeated = (
        valid.group_by(__dupkey=valid[key])
        .aggregate(__first=_.__ord.min(), __n=_.count())
        .filter(_.__n > 1)
        .select("__dupkey", "__first")
    )
    repeated = engine.stage(con, repeated, "dupkeys")
    if repeated.count().execute() == 0:
        return t
    later = valid.join(repeated, valid[key] == repeated.__dupkey).filter(lambda r: r.__ord > r.__first)
    later = engine.stage(con, later.select("__ord"), "duprows")
    is_later = (t.__file.cast("int64") * 2**40 + t.__row).isin(later.__ord)
    code = f"duplicate_{key}"
    flag = t.__reason.isnull() & is_later
    return t.mutate(
        __reason=ibis.cases((flag, code), else_=t.__reason),
        __value=ibis.cases((flag, t[key]), else_=t.__value),
    )


def _derive_ids(t: ibis.Table, spec: TableSpec, stems: Sequence[str]) -> ibis.Value:
    """encounter_id where the source has none: ``<file stem>:<row>``."""
    stem = ibis.literal(list(stems), type="array<string>")[t.__file] if len(stems) > 1 else ibis.literal(stems[0])
    return t[spec.key].fill_null(stem.concat(":", t.__row.cast("string")))


def _source_names(t: ibis.Table, sources: Sequence[str]) -> ibis.StringValue:
    if len(sources) == 1:
        return ibis.literal(sources[0])
    return ibis.literal(list(sources), type="array<string>")[t.__file]


def finish(
    con,
    checked: Checked,
    *,
    sources: Sequence[str],
    stems: Sequence[str] | None = None,
    rejected: Sequence[tuple[int, int, str, str | None, str | None]] = (),
    extraction_date: _dt.date | None = None,
) -> Finished:
    """Count, flag duplicates and split a checked table into accepted and quarantine.

    Parameters
    ----------
    con
        The connection the checked table lives on.
    checked
        From one of the ``check_*`` functions.
    sources
        Display name of each file, indexed by ``__file``.
    stems
        Prefix of derived encounter ids per file (default: ``sources``).
    rejected
        Rows the file reader could not parse: ``(file index, row, reason
        code, column, raw text)``; they are quarantined and counted.
    extraction_date
        Only used to make remarks precise.

    Raises
    ------
    InputError
        If the table has no row at all, or no row survives validation.
    """
    spec = checked.spec
    t = _flag_duplicates(con, checked) if checked.key_provided else checked.table
    flags = list(checked.flags)
    summary = (
        t.group_by("__file", "__reason")
        .aggregate(n=_.count(), first=_.__row.min(), **{f: t[f].sum() for f in flags})
        .to_pyarrow()
        .to_pylist()
    )
    per_file = {i: {"accepted": 0, "quarantined": 0} for i in range(len(sources))}
    by_reason: dict[str, list[int]] = {}
    first_at: dict[str, tuple[int, int]] = {}
    flag_totals = dict.fromkeys(flags, 0)
    for row in summary:
        file, reason, n = row["__file"], row["__reason"], row["n"]
        if reason is None:
            per_file[file]["accepted"] += n
            for f in flags:
                flag_totals[f] += row[f] or 0
        else:
            per_file[file]["quarantined"] += n
            by_reason.setdefault(reason, []).append(n)
            first_at[reason] = min(first_at.get(reason, (file, row["first"])), (file, row["first"]))
    for file, row_number, code, _column, _text_value in rejected:
        per_file[file]["quarantined"] += 1
        by_reason.setdefault(code, []).append(1)
        first_at[code] = min(first_at.get(code, (file, row_number)), (file, row_number))

    counts = [
        ReadCount(sources[i], c["accepted"] + c["quarantined"], c["accepted"], c["quarantined"])
        for i, c in per_file.items()
    ]
    label = sources[0] if len(sources) == 1 else f"{spec.name} ({plural(len(sources), 'file')})"
    total_read = sum(c.read for c in counts)
    total_accepted = sum(c.accepted for c in counts)
    reasons = {code: sum(ns) for code, ns in by_reason.items()}
    if total_read == 0:
        raise InputError(
            f"{label} has column names but no data rows. Check that the right file was given, or export the data again."
        )
    if total_accepted == 0:
        raise InputError(
            f"{label} has no valid row: all {plural(total_read, 'row')} were rejected ("
            + _describe_reasons(reasons, first_at, sources, extraction_date)
            + "). Fix the file, or pass --map / --date-format if columns or dates were misread; "
            "--quarantine PATH writes the rejected rows."
        )

    remarks = list(checked.notes)
    if spec.key == "encounter_id" and not checked.key_provided:
        remarks.append(
            f"{label} has no encounter_id column; ids were made from the file name and row "
            f"number ({(stems or sources)[0]}:1, {(stems or sources)[0]}:2, ...)."
        )
    if reasons:
        remarks.append(
            f"{label}: {format_count(sum(reasons.values()))} of {plural(total_read, 'row')} quarantined ("
            + _describe_reasons(reasons, first_at, sources, extraction_date)
            + ")."
        )
    for f, template in checked.flags.items():
        n = flag_totals[f]
        if n:
            one = n == 1
            remarks.append(
                f"{label}: "
                + template.format(
                    n=format_count(n),
                    encounters="encounter" if one else "encounters",
                    clinicians="clinician" if one else "clinicians",
                    have="has" if one else "have",
                    they_were="it was" if one else "they were",
                )
            )

    accepted = t.filter(t.__reason.isnull())
    if spec.key == "encounter_id":
        accepted = accepted.mutate(encounter_id=_derive_ids(accepted, spec, stems or sources))
    accepted = accepted.select(**{name: accepted[name].cast(dtype) for name, dtype in spec.schema.items()})

    source_col = {code: checked.columns.get(_column_of(code)) for code in REASONS}
    bad = t.filter(t.__reason.notnull())
    quarantine = bad.select(
        source=_source_names(bad, sources),
        row=bad.__row.cast("string"),
        column=bad.__reason.substitute(
            {k: v for k, v in source_col.items() if v is not None}, else_=ibis.null("string")
        ),
        value=bad.__value,
        reason=bad.__reason,
    )
    if rejected:
        unparsed = ibis.memtable(
            {
                "source": [sources[f] for f, *_rest in rejected],
                "row": [str(r) for _f, r, *_rest in rejected],
                "column": [c for *_rest, c, _v in rejected],
                "value": [v[:1000] if v else v for *_rest, v in rejected],
                "reason": [code for _f, _r, code, *_rest in rejected],
            },
            schema=schema.QUARANTINE,
        )
        quarantine = quarantine.union(unparsed)
    return Finished(accepted, quarantine.cast(schema.QUARANTINE), counts, remarks)


def _column_of(code: str) -> str | None:
    """The canonical column a reason code is about (``missing_start`` → ``start``)."""
    if code in (
        "malformed_row",
        "invalid_encoding",
        "malformed_json",
        "unexpected_resource_type",
        "encounter_not_held",
    ):
        return None
    if code in ("unknown_setting", "unknown_encounter_class", "unknown_visit_concept"):
        return "setting"
    if code.startswith("unknown_") and code.endswith("_reference"):
        return code[len("unknown_") : -len("_reference")] + "_id"
    if code == "invalid_capacity":
        return "capacity"
    for prefix in ("missing_", "unparseable_", "duplicate_"):
        if code.startswith(prefix):
            return code[len(prefix) :]
    for suffix in ("_before_1900", "_after_extraction", "_before_active_from", "_before_birth_date"):
        if code.endswith(suffix):
            return code[: -len(suffix)]
    return None


def _describe_reasons(
    reasons: Mapping[str, int],
    first_at: Mapping[str, tuple[int, int]],
    sources: Sequence[str],
    extraction_date: _dt.date | None,
) -> str:
    """``'start is missing: 2 rows, first at row 1 832; ...'`` (no values, no ids)."""
    parts = []
    order = list(REASONS)
    for code in sorted(reasons, key=lambda c: order.index(c) if c in order else len(order)):
        n = reasons[code]
        text = REASONS.get(code, code)
        if code.endswith("_after_extraction") and extraction_date is not None:
            text += f" ({extraction_date.isoformat()})"
        file, row = first_at[code]
        where = f"row {format_count(row)}"
        if len(sources) > 1:
            where = f"{sources[file]} {where}"
        parts.append(f"{text}: {plural(n, 'row')}, {'first at ' if n > 1 else 'at '}{where}")
    return "; ".join(parts)
