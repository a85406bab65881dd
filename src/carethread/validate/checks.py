"""Row checks: one projection per canonical table that types every column and names
the first check each row fails (see :mod:`carethread.validate`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt

from carethread import schema
from carethread.schema import normalize_label
from carethread.validate.typed import (
    CLINICIANS,
    ENCOUNTERS,
    PATIENTS,
    DateFormat,
    Profile,
    SourceColumns,
    TableSpec,
    one_of,
)

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
class _Rule:
    code: str | ibis.StringValue
    failed: ibis.BooleanValue
    value: ibis.Value | None


def _date_rules(
    src: SourceColumns, name: str, date_format: DateFormat, *, latest: _dt.datetime | None
) -> tuple[ibis.Value, list[_Rule]]:
    """A date column's value and its unparseable / too early / too late rules."""
    if not src.has(name):
        return ibis.null(dt.timestamp), []
    value, _missing, bad = src.timestamp(name, date_format)
    shown = src.shown(name)
    rules = [
        _Rule(f"unparseable_{name}", bad, shown),
        _Rule(f"{name}_before_1900", value < _EARLIEST, shown),
    ]
    if latest is not None:
        rules.append(_Rule(f"{name}_after_extraction", value >= latest, shown))
    return value, rules


def _date_pair(
    src: SourceColumns,
    earlier: str,
    later: str,
    date_format: DateFormat,
    *,
    latest: _dt.datetime,
    later_latest: _dt.datetime | None = None,
) -> tuple[dict[str, ibis.Value], list[_Rule]]:
    """Two date columns where ``later`` may not be before ``earlier`` (active_from/to,
    birth/death): their dates and their rules (``<later>_before_<earlier>`` last)."""
    first, first_rules = _date_rules(src, earlier, date_format, latest=latest)
    second, second_rules = _date_rules(src, later, date_format, latest=later_latest)
    rules = first_rules + second_rules
    if src.has(earlier) and src.has(later):
        rules.append(_Rule(f"{later}_before_{earlier}", second.date() < first.date(), src.shown(later)))
    values = {name: value.date() for name, value in ((earlier, first), (later, second)) if src.has(name)}
    return values, rules


def _checked(
    spec: TableSpec,
    table: ibis.Table,
    columns: Mapping[str, str | None],
    profile: Profile | None,
    *,
    key_provided: bool = True,
    flags: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
) -> Checked:
    return Checked(
        spec,
        table,
        dict(columns),
        key_provided=key_provided,
        flags=dict(flags or {}),
        notes=list(notes),
        key_unique=(profile.key_unique if profile else None),
    )


def _format_rules(raw: ibis.Table) -> list[_Rule]:
    """The reader's own rejection (``__reject``), checked before anything else."""
    if "__reject" not in raw.columns:
        return []
    value = raw.__reject_value if "__reject_value" in raw.columns else ibis.null("string")
    return [_Rule(raw.__reject, raw.__reject.notnull(), value.cast("string"))]


def _invalid_ids(src: SourceColumns, names: Sequence[str]) -> list[_Rule]:
    """``invalid_<id>`` for id columns stored as floats (NaN, infinite, beyond 2^53)."""
    return [
        _Rule(f"invalid_{name}", src.invalid(name), src.shown(name))
        for name in names
        if src.has(name) and src.col(name).type().is_floating()
    ]


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


# --- the three canonical tables ------------------------------------------------


def _setting(src: SourceColumns, setting_map: Mapping[str, str]) -> tuple[ibis.StringValue, dict[str, ibis.Value]]:
    """The setting, and its rule values: ``unknown`` (a value that is no setting),
    ``defaulted`` (a blank one, given the default) and ``mapped`` (a value the
    ``setting_map`` renamed), each left out when impossible.

    ``setting_map`` maps normalised labels (:func:`normalize_label`) to settings
    and applies before the value is checked.
    """
    col = src.col("setting")
    known = src.profile.values.get(src.columns["setting"]) if col.type().is_string() else None
    out: dict[str, ibis.Value] = {}
    if known is None:
        given = src.label("setting")
        if setting_map:
            out["mapped"] = one_of(given, setting_map).fill_null(False)
            given = given.substitute(dict(setting_map), else_=given)
        if col.type().is_string() and not set(setting_map) & set(schema.SETTINGS):
            # Most values are already canonical; only the rest pay for normalising.
            given = ibis.cases((one_of(col, schema.SETTINGS), col), else_=given)
        setting = given.fill_null(schema.DEFAULT_SETTING)
        out.update(unknown=~one_of(setting, schema.SETTINGS), defaulted=given.isnull())
        return setting, out
    # Every distinct value is known: normalise each once, here.
    rename, unknown, blank, mapped = {}, [], [], []
    for value in known:
        label = normalize_label(value)
        if label in setting_map:
            label = setting_map[label]
            mapped.append(value)
        if label is None:
            blank.append(value)
        elif label not in schema.SETTINGS:
            unknown.append(value)
        elif label != value:
            rename[value] = label
    setting = col.substitute(rename, else_=col) if rename else col
    if blank:
        given_blank = [b for b in blank if b is not None]
        out["defaulted"] = (col.isnull() | col.isin(given_blank)) if given_blank else col.isnull()
        setting = ibis.cases((out["defaulted"], ibis.literal(schema.DEFAULT_SETTING)), else_=setting)
    if unknown:
        out["unknown"] = col.isin(unknown)
    if mapped:
        out["mapped"] = col.isin(mapped).fill_null(False)
    return setting, out


def check_encounters(
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: DateFormat = None,
    source: str = "encounters",
    profile: Profile | None = None,
    setting_map: Mapping[str, str] | None = None,
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
        A strptime pattern tried before the ISO forms, or one per canonical
        date column (``{"start": "%m/%d/%Y"}``).
    source
        How remarks name the input.
    profile
        From :func:`profile` for lazily read sources; default: CSV rules.
    setting_map
        Setting labels (normalised, :func:`normalize_label`) → canonical
        settings, applied before settings are checked
        (``{"office_visit": "primary_care"}``).

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
    >>> checked.table.select("patient_id", "__reason").to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'patient_id': '007', '__reason': None}, {'patient_id': None, '__reason': 'missing_patient_id'},
     {'patient_id': '8', '__reason': 'unparseable_start'}]
    """
    src = SourceColumns(raw, columns, profile).with_dates(("start",), date_format)
    raw = src.raw
    latest = _day_after(extraction_date)
    patient = src.text("patient_id")
    start, start_missing, start_bad = src.timestamp("start", date_format)
    start_shown = src.shown("start")
    rules = [
        *_format_rules(raw),
        *_invalid_ids(src, ("encounter_id", "patient_id", "clinician_id", "practice_id")),
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
        setting, found = _setting(src, setting_map or {})
        if "unknown" in found:
            rules.append(_Rule("unknown_setting", found["unknown"], src.shown("setting")))
        for name in ("defaulted", "mapped"):
            if name in found:
                extra[f"__setting_{name}"] = found[name]
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
        "__setting_mapped": "{n} accepted {encounters} {have} a setting given by the setting map (--setting-map).",
    }
    return _checked(
        ENCOUNTERS,
        table,
        columns,
        profile,
        key_provided=src.has("encounter_id"),
        flags={k: v for k, v in flags.items() if k in extra},
        notes=notes,
    )


def check_clinicians(
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: DateFormat = None,
    source: str = "clinicians",
    profile: Profile | None = None,
) -> Checked:
    """Check clinician rows: id present and unique, capacity a count, dates valid.

    ``role`` is normalised like settings and mapped through
    :data:`ROLE_ALIASES`; an unrecognised role becomes ``'other'`` (counted in
    a remark), an empty one stays NULL.
    """
    src = SourceColumns(raw, columns, profile).with_dates(("active_from", "active_to"), date_format)
    raw = src.raw
    clinician = src.text("clinician_id")
    rules = [
        *_format_rules(raw),
        *_invalid_ids(src, ("clinician_id", "practice_id")),
        _Rule("missing_clinician_id", clinician.isnull(), src.shown("clinician_id")),
    ]
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
    active, active_rules = _date_pair(src, "active_from", "active_to", date_format, latest=_day_after(extraction_date))
    values.update(active)
    rules += active_rules
    table = _project(raw, CLINICIANS, values, rules, extra)
    flags = {
        "__role_other": "{n} {clinicians} {have} a role that is not one of "
        + ", ".join(schema.ROLES)
        + "; it was set to other."
    }
    return _checked(CLINICIANS, table, columns, profile, flags={k: v for k, v in flags.items() if k in extra})


def check_patients(
    raw: ibis.Table,
    columns: Mapping[str, str | None],
    *,
    extraction_date: _dt.date,
    date_format: DateFormat = None,
    source: str = "patients",
    profile: Profile | None = None,
) -> Checked:
    """Check patient rows: id present and unique, birth and death dates valid."""
    src = SourceColumns(raw, columns, profile).with_dates(("birth_date", "death_date"), date_format)
    raw = src.raw
    patient = src.text("patient_id")
    rules = [
        *_format_rules(raw),
        *_invalid_ids(src, ("patient_id",)),
        _Rule("missing_patient_id", patient.isnull(), src.shown("patient_id")),
    ]
    values: dict[str, ibis.Value] = {"patient_id": patient}
    if src.has("sex"):
        values["sex"] = src.text("sex")
    latest = _day_after(extraction_date)
    lived, lived_rules = _date_pair(src, "birth_date", "death_date", date_format, latest=latest, later_latest=latest)
    values.update(lived)
    rules += lived_rules
    return _checked(PATIENTS, _project(raw, PATIENTS, values, rules, {}), columns, profile)


CHECKS = {"encounters": check_encounters, "clinicians": check_clinicians, "patients": check_patients}
