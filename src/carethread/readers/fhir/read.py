"""The FHIR reader: an export's five resource types checked into canonical tables.

See :mod:`carethread.readers.fhir` for what is read, how references resolve
and which rows are quarantined.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt

from carethread import engine, schema, validate
from carethread.data import CanonicalData
from carethread.errors import InputError, OptionError
from carethread.readers.common import combine, parse_extraction_date
from carethread.readers.fhir.classify import NOT_HELD, care_kind, encounter_setting, role_label
from carethread.readers.fhir.discover import RESOURCES, ExportFile, discover_export, manifest_date, manifest_remarks
from carethread.readers.fhir.resolve import clinician_lookup, first_role, lookup, reference_keys, resolve_reference
from carethread.readers.fhir.stage import Staged, position, stage_files


def _format_reject(t: ibis.Table, resource: str, rules: Sequence[tuple[ibis.BooleanValue, str, ibis.Value]] = ()):
    """``__reject``/``__reject_value``: malformed line, wrong type, then ``rules`` in order."""
    cases = [
        (t.__state != "ok", "malformed_json", t.__text),
        (t.resource_type.isnull() | (t.resource_type != resource), "unexpected_resource_type", t.resource_type),
        *rules,
    ]
    reject = ibis.cases(*((cond, code) for cond, code, _ in cases), else_=ibis.null("string"))
    value = ibis.cases(*((cond, v.cast("string")) for cond, _, v in cases), else_=ibis.null("string"))
    return reject, value


def _raw_rows(
    t: ibis.Table,
    resource: str,
    rules: Sequence[tuple[ibis.BooleanValue, str, ibis.Value]] = (),
    **columns: ibis.Value,
) -> ibis.Table:
    """One resource type's staged rows as a raw table for the checks: ``__file``,
    ``__row``, the reader's rejection (:func:`_format_reject`) and ``columns``."""
    reject, value = _format_reject(t, resource, rules)
    return t.select(__file=t.__file, __row=t.__row, __reject=reject, __reject_value=value, **columns)


# --- the five resource types ----------------------------------------------------------------


def _finish(con, checked, files, rejected, extraction, *, optional: bool = True):
    """Count and split one resource type; every type but Encounter may be set aside."""
    return validate.finish(
        con,
        checked,
        sources=[f.source for f in files],
        stems=[f.stem for f in files],
        rejected=rejected,
        extraction_date=extraction,
        numbering="line",
        optional=optional,
        hints=False,
    )


def _organizations(con, staged: Staged, extraction) -> validate.Finished:
    """Organizations are only counted: a malformed line or a wrong type is quarantined."""
    t = staged.table
    reject, value = _format_reject(t, "Organization")
    spec = validate.TableSpec("organizations", ibis.schema({"practice_id": dt.string}), (), "practice_id")
    table = t.select(practice_id=t.id, __file=t.__file, __row=t.__row, __reason=reject, __value=value)
    checked = validate.Checked(spec, table, {"practice_id": "id"}, key_provided=False)
    return _finish(con, checked, staged.files, staged.rejected, extraction)


#: Clinician column → the PractitionerRole field it is read from (``__prac`` and
#: ``__org`` are the resolved references); ``role`` and ``kind`` are derived.
_ROLE_FIELDS = {
    "clinician_id": "__prac",
    "practice_id": "__org",
    "specialty": "specialty_text",
    "active_from": "period_start",
    "active_to": "period_end",
    "id": "id",
}


def _roles(con, staged: Staged, lookups: Mapping[str, ibis.Table | None], extraction):
    """PractitionerRole rows: counted and checked; returns the accepted roles' facts too."""
    t = staged.table
    for key, name, resource in (
        ("practitioner_key", "prac", "Practitioner"),
        ("organization_key", "org", "Organization"),
    ):
        known = lookups[resource]
        t = resolve_reference(t, key, known, name, (resource,), unchecked=() if known is not None else (resource,))
    raw = _raw_rows(
        t,
        "PractitionerRole",
        [
            (t.__prac_unknown, "unknown_clinician_reference", t.practitioner_key),
            (t.__org_unknown, "unknown_practice_reference", t.organization_key),
        ],
        **{column: t[field] for column, field in _ROLE_FIELDS.items()},
        role=role_label(t.role_codes, t.role_text),
        kind=care_kind(t.specialty_codes, t.specialty_text),
    )
    columns = {c: c for c in ("clinician_id", "practice_id", "specialty", "role", "active_from", "active_to")}
    checked = validate.check_clinicians(raw, columns, extraction_date=extraction, source="PractitionerRole")
    # One practitioner may hold several roles (organisations, specialties): no repeat check.
    checked.key_provided = False
    finished = _finish(con, checked, staged.files, staged.rejected, extraction)
    good = checked.table.filter(checked.table.__reason.isnull())
    facts = good.join(raw.select("__file", "__row", "kind", "id"), ["__file", "__row"])
    facts, _name = engine.materialize(
        con,
        facts.select(
            "clinician_id",
            "practice_id",
            "specialty",
            "role",
            "active_from",
            "active_to",
            "kind",
            "id",
            ord=position(facts),
        ),
        "roles",
    )
    return finished, facts


def _practitioners(con, staged: Staged, facts: ibis.Table | None, extraction) -> validate.Finished:
    t = staged.table
    raw = _raw_rows(t, "Practitioner", clinician_id=t.id)
    columns: dict[str, str | None] = {"clinician_id": "clinician_id"}
    if facts is not None:
        first = first_role(facts).rename(__rc="clinician_id")
        raw = raw.left_join(first, raw.clinician_id == first.__rc).drop("__rc", "kind")
        columns.update({c: c for c in ("practice_id", "specialty", "role", "active_from", "active_to")})
    checked = validate.check_clinicians(raw, columns, extraction_date=extraction, source="Practitioner")
    return _finish(con, checked, staged.files, staged.rejected, extraction)


def _patients(con, staged: Staged, extraction) -> validate.Finished:
    t = staged.table
    sex = t.gender.substitute({"male": "M", "female": "F"}, else_=t.gender)
    raw = _raw_rows(t, "Patient", patient_id=t.id, sex=sex, birth_date=t.birth_text, death_date=t.death_text)
    columns = {c: c for c in ("patient_id", "sex", "birth_date", "death_date")}
    checked = validate.check_patients(raw, columns, extraction_date=extraction, source="Patient")
    return _finish(con, checked, staged.files, staged.rejected, extraction)


@dataclass
class _Context:
    """What encounter checks need from the other resource types."""

    lookups: dict[str, ibis.Table | None]
    present: set[str]
    facts: ibis.Table | None
    by_practice: bool
    extraction: _dt.date


def _check_encounters(t: ibis.Table, ctx: _Context, label: str) -> validate.Checked:
    """The checked projection of one Encounter file's resources (see the module docstring)."""
    unchecked = lambda *types: tuple(r for r in types if r not in ctx.present)  # noqa: E731
    t = resolve_reference(t, "subject_key", ctx.lookups["Patient"], "pat", ("Patient",), unchecked("Patient"))
    t = resolve_reference(
        t,
        "performer_key",
        ctx.lookups["Practitioner"],
        "clin",
        ("Practitioner", "PractitionerRole"),
        unchecked("Practitioner", "PractitionerRole"),
        carry=("kind",),
    )
    t = resolve_reference(
        t, "provider_key", ctx.lookups["Organization"], "org", ("Organization",), unchecked("Organization")
    )
    kind = t.__clin_kind
    if ctx.facts is not None and ctx.by_practice:
        # Some practitioner's roles differ in kind: use the role at the encounter's organisation.
        roles = ctx.facts
        pair = roles.group_by("clinician_id", "practice_id").aggregate(__pk=roles.kind.argmin(roles.ord))
        pair = pair.rename(__pc="clinician_id", __pp="practice_id")
        t = t.left_join(pair, (t.__clin == pair.__pc) & (t.__org == pair.__pp)).drop("__pc", "__pp")
        kind = ibis.coalesce(t.__pk, t.__clin_kind)
    if ctx.facts is not None and "Practitioner" not in ctx.present:
        # Practitioner ids were taken from the references: find their roles by id.
        first = first_role(ctx.facts).select(__fc="clinician_id", __fk="kind")
        t = t.left_join(first, t.__clin == first.__fc).drop("__fc")
        kind = ibis.coalesce(kind, t.__fk)
    setting, unknown_class = encounter_setting(t.class_code, t.type_codes, t.service_codes, t.service_text, kind)
    status = t.status.lower()
    raw = _raw_rows(
        t,
        "Encounter",
        [
            (status.isin(NOT_HELD).fill_null(False), "encounter_not_held", t.status),
            (t.__pat_unknown, "unknown_patient_reference", t.subject_key),
            (t.__clin_unknown, "unknown_clinician_reference", t.performer_key),
            (t.__org_unknown, "unknown_practice_reference", t.provider_key),
            (unknown_class, "unknown_encounter_class", t.class_code),
            (t.start_text.notnull() & t.start.isnull(), "unparseable_start", t.start_text),
        ],
        encounter_id=t.id,
        patient_id=t.__pat,
        clinician_id=t.__clin,
        practice_id=t.__org,
        start=t.start,
        setting=setting,
    )
    columns = {c: c for c in ("encounter_id", "patient_id", "clinician_id", "practice_id", "start", "setting")}
    # Values come from JSON strings: used as they are (no trimming), and the
    # setting is always canonical or NULL (NULL: AMB without a specialty).
    facts = validate.Profile(trim=False, values={"setting": [*schema.SETTINGS, None]})
    return validate.check_encounters(raw, columns, extraction_date=ctx.extraction, source=label, profile=facts)


def _encounters(con, files: list[ExportFile], ctx: _Context) -> validate.Finished:
    """Parse and check one Encounter file at a time into one stored table, then count.

    Only one file's parsed fields are held at a time (plus the checked
    canonical rows of all files).
    """
    label = files[0].source if len(files) == 1 else f"Encounter ({len(files)} files)"
    checked, name, rejected, rows = None, None, [], 0
    for index, file in enumerate(files):
        staged = stage_files(con, [file], first=index)
        rejected += staged.rejected
        rows += staged.table.count().execute() + len(staged.rejected)
        part = _check_encounters(staged.table, ctx, label)
        if checked is None:
            checked = part
            _stored, name = engine.materialize(con, part.table, "encounters")
        else:
            con.insert(name, part.table)
        engine.drop(con, [staged.table.get_name()], kind="TABLE")
    if rows == 0:
        raise InputError(
            f"{label} holds no resource (every line is blank). Export the encounters again, "
            "or check that the right folder was given."
        )
    checked.table = con.table(name)
    checked.flags["__setting_defaulted"] = (
        "{n} accepted ambulatory (AMB) {encounters} {have} no specialty to tell primary from specialty "
        "care (no PractitionerRole specialty, no serviceType); {they_were} counted as primary_care."
    )
    return _finish(con, checked, files, rejected, ctx.extraction, optional=False)


# --- the reader ---------------------------------------------------------------------------


def read_fhir(
    path: str | os.PathLike,
    *,
    con=None,
    mapping: Mapping[str, str] | str | None = None,
    extraction_date: _dt.date | str | None = None,
    date_format: str | None = None,
) -> CanonicalData:
    """Read a FHIR R4 Bulk Data export (NDJSON) into canonical tables.

    Parameters
    ----------
    path
        The export's folder (``Encounter.ndjson``, ``Encounter.000.ndjson``,
        ``.ndjson.gz``, with or without ``manifest.json``), its manifest, or
        one NDJSON file.
    con
        An Ibis DuckDB connection; default :func:`carethread.engine.connect`.
    mapping, date_format
        Not used by this format (FHIR names its fields and writes ISO
        dates); giving either is an :class:`OptionError`.
    extraction_date
        Later dates are rejected. Default: the manifest's
        ``transactionTime``, else today.

    Returns
    -------
    CanonicalData
        ``format='fhir'``; one :class:`~carethread.data.ReadCount` per file
        read (Encounter, Patient, Practitioner, PractitionerRole, Organization).

    Raises
    ------
    InputError
        No Encounter file, a file the manifest lists is missing, or no
        encounter survives validation.
    OptionError
        ``mapping`` or ``date_format`` given, or a bad extraction date.

    Notes
    -----
    The mapping, the reference rules and the reason codes are in the module
    docstring. Lines are parsed by DuckDB as they stream past; only the
    checked canonical rows are stored.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "Encounter.ndjson").write_text(
    ...     '{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"EMER"},'
    ...     '"subject":{"reference":"Patient/007"},"period":{"start":"2024-01-02T23:30:00-05:00"}}\\n'
    ...     '{"resourceType":"Encounter","id":"e2","class":{"code":"EMER"}\\n')
    >>> data = read_fhir(folder, extraction_date="2024-06-30")
    >>> print(data.reconciliation())
    Encounter.ndjson: 2 rows read = 1 accepted + 1 quarantined
    >>> data.encounters.select("encounter_id", "patient_id", "start", "setting").to_pyarrow().to_pylist()
    [{'encounter_id': 'e1', 'patient_id': '007', 'start': datetime.datetime(2024, 1, 3, 4, 30), 'setting': 'emergency'}]
    >>> data.quarantine.select("row", "reason").to_pyarrow().to_pylist()
    [{'row': '2', 'reason': 'malformed_json'}]
    """
    if mapping:
        raise OptionError(
            "--map does not apply to --format fhir: FHIR resources name their fields. "
            "Remove --map, or convert the data to CSV for --format generic."
        )
    if date_format:
        raise OptionError("--date-format does not apply to --format fhir: FHIR dates are ISO 8601. Remove it.")
    export = discover_export(path)
    given = extraction_date if extraction_date is not None else manifest_date(export.manifest)
    extraction = parse_extraction_date(given)
    con = engine.connect() if con is None else con
    engine.require_duckdb(con)

    staged = {r: stage_files(con, export.files[r]) for r in RESOURCES[:-1] if r in export.files}
    # A type counts as present (references to it must resolve) when the export
    # holds at least one valid resource of that type.
    present = {r for r, st in staged.items() if st.valid.count().execute() > 0}
    lookups: dict[str, ibis.Table | None] = {
        r: lookup(con, reference_keys(staged[r]), r.lower()) if r in present else None
        for r in ("Practitioner", "Organization", "Patient")
    }
    finished: dict[str, validate.Finished] = {}
    facts = None
    if "PractitionerRole" in staged:
        finished["PractitionerRole"], facts = _roles(con, staged["PractitionerRole"], lookups, extraction)
    if "Practitioner" in staged:
        finished["Practitioner"] = _practitioners(con, staged["Practitioner"], facts, extraction)
    if "Patient" in staged:
        finished["Patient"] = _patients(con, staged["Patient"], extraction)
    if "Organization" in staged:
        finished["Organization"] = _organizations(con, staged["Organization"], extraction)
    lookups["Practitioner"] = clinician_lookup(con, staged, present, facts)
    by_practice = False
    if facts is not None:
        kinds = facts.group_by("clinician_id").aggregate(n=facts.kind.nunique())
        by_practice = (kinds.n.max().execute() or 0) > 1
    ctx = _Context(lookups, present, facts, by_practice, extraction)
    finished["Encounter"] = _encounters(con, export.files["Encounter"], ctx)

    order = ("Encounter", "Patient", "Practitioner", "PractitionerRole", "Organization")
    counts, remarks, quarantine = combine(finished[r] for r in order if r in finished)
    remarks += manifest_remarks(export, counts)
    if "Practitioner" in finished and finished["Practitioner"].usable:
        clinicians = finished["Practitioner"].accepted
    elif facts is not None:
        clinicians = (
            first_role(facts)
            .select(
                "clinician_id",
                "practice_id",
                "specialty",
                "role",
                capacity=ibis.null("int64"),
                active_from="active_from",
                active_to="active_to",
            )
            .cast(validate.CLINICIANS.schema)
        )
    else:
        clinicians = None
    return CanonicalData(
        encounters=finished["Encounter"].accepted,
        clinicians=clinicians,
        patients=finished["Patient"].accepted if "Patient" in finished and finished["Patient"].usable else None,
        quarantine=quarantine,
        counts=counts,
        remarks=remarks,
        format="fhir",
    )
