"""The FHIR R4 Bulk Data reader: NDJSON exports into canonical tables.

Input layout
------------
A folder written by a Bulk Data ``$export`` (or one NDJSON file): one
resource per line, files named by resource type (``Encounter.ndjson``,
``Encounter.000.ndjson``, ``Encounter.001.ndjson``, ``.ndjson.gz``), with or
without the export's ``manifest.json``. With a manifest, its ``output`` list
says which file holds which type (the last segment of each ``url`` names the
file in the folder; a listed file that is missing is an error) and its
``transactionTime`` is the default extraction date. Files of other types
(``Condition``, ``Location``, the manifest's ``error`` files, a ``log.ndjson``)
are not read; a remark names how many.

Five types are read: ``Encounter`` → encounters; ``Practitioner`` (with its
``PractitionerRole``) → clinicians; ``Patient`` → patients; ``Organization``
(the practices encounters and roles point at). Any of the last four may be
missing from an export (the IG lets a patient-level export leave them out).

Rows and counts
---------------
A row is a non-blank line; ``row`` in the quarantine is its line number in
the file. For every file ``read == accepted + quarantined``. Lines are
streamed through DuckDB (:func:`carethread.engine.ndjson_lines`): each is
parsed once, only the fields below are kept, and the checked encounters are
stored once, so the JSON text is never held in memory.

Fields
------
===================  ==========================================================
canonical            FHIR
===================  ==========================================================
encounter_id         ``Encounter.id`` (``<file>:<line>`` when absent)
patient_id           ``Encounter.subject`` → ``Patient.id``
clinician_id         the primary performer → ``Practitioner.id``: the only
                     Practitioner/PractitionerRole participant; with several,
                     the first typed ``PPRF``, else ``ATND``, else the first
                     (RelatedPerson participants never count)
practice_id          ``Encounter.serviceProvider`` → ``Organization.id``
start                ``Encounter.period.start``; an offset converts to UTC
                     wall time (``2024-03-01T20:00:00-05:00`` → ``2024-03-02
                     01:00``), ``Z`` is UTC, a date alone is midnight
setting              ``Encounter.class`` (below)
clinicians           ``Practitioner.id``; ``practice_id``, ``specialty``,
                     ``role``, ``active_from``/``active_to`` from the
                     practitioner's first PractitionerRole (``organization``,
                     ``specialty`` text, ``code``, ``period``)
patients             ``Patient.id``, ``birthDate``, ``gender`` (``male`` → M,
                     ``female`` → F, other codes as given),
                     ``deceasedDateTime`` (its date as written)
===================  ==========================================================

References are resolved, never guessed: literal ``Practitioner/<id>`` (also
absolute URLs and ``/_history/`` versions), conditional
``Practitioner?identifier=<system>|<value>`` (``%7C`` for ``|`` too) and
logical ones (an ``identifier`` without ``reference``, as Synthea's
PractitionerRole has) are matched against the ids and identifiers of the
resources in the export; the same for Patient and Organization. A
PractitionerRole reference resolves to the role's practitioner. When the
export has no resource of the target type at all, the reference's own id or
identifier value is used as it is.

Which references are required: ``subject`` must be present
(``missing_patient_id``); every reference that *is* present must resolve
when its type is in the export (``unknown_patient_reference``,
``unknown_clinician_reference``, ``unknown_practice_reference``): a dangling
link means a broken or partial export, and counting the encounter anyway
would attribute it to nobody or to the wrong place. An encounter without a
performer or ``serviceProvider`` is kept (no clinician / no practice).

Settings
--------
======================================  =======================================
``Encounter.class.code`` (v3 ActCode)   setting
======================================  =======================================
``AMB``                                 ``urgent_care`` when ``type`` or
                                        ``serviceType`` has SNOMED 702927004
                                        "Urgent care clinic" (Synthea's
                                        convention); else ``primary_care`` or
                                        ``specialty`` by the performer's
                                        specialty (below); with no performer
                                        specialty, by ``serviceType`` the same
                                        way; with neither, ``primary_care``
                                        (counted in a remark)
``EMER``                                ``emergency``
``IMP``, ``ACUTE``, ``NONAC``, ``SS``,  ``inpatient`` (hospital stays of any
``OBSENC``                              length, observation included)
``VR``                                  ``virtual``
``HH``                                  ``home``
``FLD``, ``PRENC``                      ``other``
anything else, or no class              quarantined: ``unknown_encounter_class``
======================================  =======================================

The performer's specialty comes from their PractitionerRole at the
encounter's ``serviceProvider`` (else their first role; a PractitionerRole
performer is that role). It is **primary care** when any ``specialty``
coding is one of :data:`PRIMARY_CARE_CODES` (NUCC general practice 208D00000X,
family medicine 207Q*, internal medicine 207R00000X, pediatrics 208000000X,
family / primary-care / pediatric NPs, general-practice nurses 163WG0000X;
SNOMED practice settings general practice, family practice, internal
medicine, pediatrics) or its text is in :data:`PRIMARY_CARE_TEXTS`; any other
specialty is ``specialty`` care. Internal-medicine *subspecialties*
(cardiology 207RC0000X, ...) are specialty care. Pediatrics and practice
nurses count as primary care because they hold or serve primary-care panels.

Encounters whose ``status`` says they did not take place (``planned``,
``cancelled``, ``entered-in-error``) are quarantined as ``encounter_not_held``.

PractitionerRole roles: practitioner-role ``doctor`` or a NUCC physician code
(``20xxxxxxxX``) → physician; NUCC 363L* → np, 363A* → pa, 163W* or
``nurse`` → nurse; otherwise the code's text (see
:data:`carethread.validate.ROLE_ALIASES`; unknown → other).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt

from carethread import engine, schema, validate
from carethread.data import CanonicalData, ReadCount, plural
from carethread.errors import InputError, OptionError
from carethread.readers.generic import _extraction_date

__all__ = ["RESOURCES", "SETTING_OF_CLASS", "looks_like_fhir", "read_fhir"]

#: The resource types the reader uses, in the order they are read.
RESOURCES: tuple[str, ...] = ("Practitioner", "Organization", "Patient", "PractitionerRole", "Encounter")

#: ``Encounter.class.code`` → setting; ``None`` = decided by specialty (AMB).
SETTING_OF_CLASS: dict[str, str | None] = {
    "AMB": None,
    "EMER": "emergency",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "SS": "inpatient",
    "OBSENC": "inpatient",
    "VR": "virtual",
    "HH": "home",
    "FLD": "other",
    "PRENC": "other",
}

#: SNOMED CT 702927004 "Urgent care clinic" in ``Encounter.type``/``serviceType``.
URGENT_CARE_CODES: tuple[str, ...] = ("702927004",)

#: Specialty codes that mean primary care (NUCC taxonomy, SNOMED practice settings).
PRIMARY_CARE_CODES: tuple[str, ...] = (
    "208D00000X",  # General Practice
    "207R00000X",  # Internal Medicine (not its subspecialties)
    "208000000X",  # Pediatrics
    "363LF0000X",  # Nurse Practitioner, Family
    "363LP2300X",  # Nurse Practitioner, Primary Care
    "363LP0200X",  # Nurse Practitioner, Pediatrics
    "163WG0000X",  # Registered Nurse, General Practice
    "394814009",  # SNOMED: General practice
    "419772000",  # SNOMED: Family practice
    "419192003",  # SNOMED: Internal medicine
    "394537008",  # SNOMED: Pediatric specialty
)
#: Code prefixes that mean primary care: NUCC 207Q* is Family Medicine and its areas.
PRIMARY_CARE_PREFIXES: tuple[str, ...] = ("207Q",)
#: Specialty texts (lower case, single spaces) that mean primary care.
PRIMARY_CARE_TEXTS: tuple[str, ...] = (
    "general practice",
    "general practice physician",
    "general practitioner",
    "family medicine",
    "family practice",
    "family physician",
    "internal medicine",
    "general internal medicine",
    "pediatrics",
    "general pediatrics",
    "paediatrics",
    "primary care",
)

#: ``Encounter.status`` values for encounters that did not take place.
NOT_HELD: tuple[str, ...] = ("planned", "cancelled", "entered-in-error")

_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
_TYPE_OF_NAME = re.compile(r"^([A-Za-z]+)")
_ORD = 2**40  # file index * _ORD + line: one sortable position


@dataclass
class ExportFile:
    """One NDJSON file of the export."""

    path: Path
    source: str
    resource: str

    @property
    def stem(self) -> str:
        name = self.source
        for suffix in sorted(_SUFFIXES, key=len, reverse=True):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


@dataclass
class Export:
    """What :func:`discover` found: files by type, what was left out, the manifest."""

    files: dict[str, list[ExportFile]]
    ignored: list[str]
    manifest: dict | None
    manifest_counts: dict[str, int]


# --- finding the files -------------------------------------------------------------------


def _is_ndjson(path: Path) -> bool:
    return path.name.lower().endswith(_SUFFIXES)


def _type_of_name(name: str) -> str | None:
    """``Encounter.000.ndjson`` → ``Encounter`` (case-insensitive against :data:`RESOURCES`)."""
    match = _TYPE_OF_NAME.match(name)
    if not match:
        return None
    token = match.group(1).lower()
    return next((r for r in RESOURCES if r.lower() == token), None)


def _read_manifest(path: Path) -> dict | None:
    """The manifest's content if ``path`` is a Bulk Data manifest, else None."""
    try:
        if path.stat().st_size > 50 * 1024 * 1024:
            return None
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(content, dict) and isinstance(content.get("output"), list):
        return content
    return None


def looks_like_fhir(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a FHIR Bulk export (names only, plus a manifest).

    True for a ``.ndjson``/``.ndjson.gz`` file, a Bulk Data ``manifest.json``,
    or a folder holding either a manifest or a ``<Type>*.ndjson[.gz]`` file of
    a type the reader uses.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> looks_like_fhir(folder)
    False
    >>> _ = (folder / "Encounter.000.ndjson.gz").write_bytes(b"")
    >>> looks_like_fhir(folder)
    True
    """
    target = Path(path).expanduser()
    try:
        if target.is_file():
            return _is_ndjson(target) or (target.suffix.lower() == ".json" and _read_manifest(target) is not None)
        if not target.is_dir():
            return False
        for child in target.iterdir():
            if child.is_file() and _is_ndjson(child) and _type_of_name(child.name) is not None:
                return True
        manifest = target / "manifest.json"
        return manifest.is_file() and _read_manifest(manifest) is not None
    except OSError:
        return False


def discover(path: str | os.PathLike) -> Export:
    """The export's files by resource type (see the module docstring)."""
    target = Path(path).expanduser()
    if not target.exists():
        raise InputError(
            f"{target} does not exist. Pass the folder of a FHIR Bulk Data export "
            "(Encounter.ndjson, Patient.ndjson, ...) or one .ndjson file."
        )
    manifest_path = None
    if target.is_file():
        if _is_ndjson(target):
            resource = _type_of_name(target.name)
            if resource is None:
                raise InputError(
                    f"{target.name}: the resource type cannot be told from the file name. Name it "
                    "after its type (Encounter.ndjson), or pass the export's folder."
                )
            return Export({resource: [ExportFile(target, target.name, resource)]}, [], None, {})
        if _read_manifest(target) is None:
            raise InputError(
                f"{target.name} is neither NDJSON (.ndjson, .ndjson.gz) nor a Bulk Data manifest. "
                "Pass the export's folder."
            )
        manifest_path, target = target, target.parent
    elif (target / "manifest.json").is_file():
        manifest_path = target / "manifest.json"

    files: dict[str, list[ExportFile]] = {}
    ignored: list[str] = []
    listed: dict[Path, str] = {}
    counts: dict[str, int] = {}
    manifest = None
    if manifest_path is not None:
        manifest = _read_manifest(manifest_path)
        if manifest is None:
            raise InputError(
                f"{manifest_path.name} is not a Bulk Data manifest (a JSON object with an `output` "
                "list). Fix it or remove it to read the NDJSON files by name."
            )
        for entry in manifest["output"]:
            if not isinstance(entry, dict) or not entry.get("url"):
                continue
            local = _local_file(target, str(entry["url"]))
            if local is None:
                raise InputError(
                    f"{manifest_path.name} lists {Path(urllib.parse.urlparse(str(entry['url'])).path).name}, "
                    f"which is not in {target}. Download the missing file, or remove {manifest_path.name} "
                    "to read only the files present."
                )
            listed[local] = str(entry.get("type") or "")
            if isinstance(entry.get("count"), int):
                counts[local.name] = entry["count"]
        for entry in manifest.get("error") or []:
            if isinstance(entry, dict) and entry.get("url"):
                local = _local_file(target, str(entry["url"]))
                if local is not None:
                    listed[local] = "OperationOutcome"
    candidates = sorted({p for p in target.iterdir() if p.is_file() and _is_ndjson(p)} | set(listed))
    for p in candidates:
        given = listed.get(p)
        resource = next((r for r in RESOURCES if r == given), None) if given is not None else _type_of_name(p.name)
        if resource is None:
            ignored.append(p.name)
            continue
        files.setdefault(resource, []).append(ExportFile(p, p.name, resource))
    if "Encounter" not in files:
        raise InputError(
            f"{target} holds no Encounter NDJSON file (Encounter.ndjson, Encounter.000.ndjson, ...). "
            "Export Encounter resources (e.g. _type=Encounter,Patient,Practitioner,PractitionerRole,"
            "Organization), or pass the folder that holds them."
        )
    return Export(files, ignored, manifest, counts)


def _local_file(folder: Path, url: str) -> Path | None:
    """The file a manifest ``url`` names: its path relative to the folder, else its last segment."""
    parsed = urllib.parse.urlparse(url)
    relative = folder / urllib.parse.unquote(parsed.path if not parsed.scheme else "").lstrip("/")
    if parsed.path and not parsed.scheme and relative.is_file():
        return relative
    name = Path(urllib.parse.unquote(parsed.path)).name
    candidate = folder / name
    return candidate if name and candidate.is_file() else None


# --- staging and lookups -----------------------------------------------------------------


@dataclass
class _Staged:
    """One resource type's parsed rows (stored) and the lines DuckDB rejected."""

    files: list[ExportFile]
    table: ibis.Table
    rejected: list[tuple[int, int, str, str | None, str | None]]

    @property
    def valid(self) -> ibis.Table:
        """Rows that parsed, are of the right type and have an id."""
        t = self.table
        resource = self.files[0].resource
        return t.filter((t["__state"] == "ok") & (t.resource_type == resource) & t.id.notnull())


def _rejected_lines(unparsed) -> list[tuple[int, int, str, str | None, str | None]]:
    return [
        (f, r, "invalid_encoding" if "ENCODING" in kind.upper() else "malformed_json", None, text)
        for f, r, kind, _col, text in unparsed
    ]


def _stage(con, files: list[ExportFile], *, first: int = 0) -> _Staged:
    """Parse every file of one resource type into a temporary table, rows numbered
    by line (blank lines dropped), and collect the lines DuckDB rejected.

    Only projections run between the scan and the store (no join), so DuckDB's
    insertion order is the file's line order. ``__file`` counts from ``first``.
    """
    parts, views, rejects = [], [], []
    for index, file in enumerate(files, first):
        lines, reject = engine.ndjson_lines(con, str(file.path), index)
        parts.append(engine.fhir_resources(con, lines, file.resource))
        views += [parts[-1].get_name(), lines.get_name()]
        rejects.append(reject)
    try:
        _stored, name = engine.store_in_file_order(con, parts, files[0].resource.lower(), drop=("__state", "blank"))
    except engine.BackendError as exc:
        if not engine.is_data_error(exc):
            raise
        names = files[0].source if len(files) == 1 else f"one of {', '.join(f.source for f in files)}"
        raise InputError(
            f"{names} could not be read to the end (a .gz file may be truncated or corrupt). "
            "Export it again, or decompress it to see where it breaks."
        ) from None
    unparsed = [(f + first, *rest) for f, *rest in engine.csv_rejects(con, rejects, header=False)]
    engine.renumber_after_rejects(con, name, [(f, r) for f, r, *_ in unparsed])
    engine.drop(con, views)
    return _Staged(files, con.table(name), _rejected_lines(unparsed))


def _position(t: ibis.Table) -> ibis.IntegerValue:
    return t.__file.cast("int64") * _ORD + t.__row


def _keys(staged: _Staged, **extra: ibis.Value) -> ibis.Table:
    """Every reference key of a resource type: ``key``, ``target`` (the id), ``ord``, extras.

    ``Type/<id>``, and for each identifier ``Type?identifier=system|value``
    (``|value`` when it has no system) and ``Type?identifier=value`` (a token
    search without a system matches any system).
    """
    resource = staged.files[0].resource
    t = staged.valid
    parts = [t.select(key=ibis.literal(f"{resource}/") + t.id, target=t.id, ord=_position(t), **extra)]
    if "identifiers" in t.columns:
        ids = t.select(target=t.id, ord=_position(t), ident=t.identifiers.unnest(), **extra)
        ids = ids.filter(ids.ident["value"].notnull())
        system, value = ids.ident["system"], ids.ident["value"]
        prefix = ibis.literal(f"{resource}?identifier=")
        keep = {k: ids[k] for k in ("target", "ord", *extra)}
        parts.append(ids.select(key=prefix + ibis.coalesce(system, ibis.literal("")) + "|" + value, **keep))
        parts.append(ids.select(key=prefix + value, **keep))
    every = parts[0]
    for more in parts[1:]:
        every = every.union(more)
    return every


def _lookup(con, keys: ibis.Table, name: str) -> ibis.Table:
    """Key → target (and extras), the first resource in the export winning a shared key."""
    extra = [c for c in keys.columns if c not in ("key", "target", "ord")]
    keys = keys.filter(keys.target.notnull())
    first = keys.group_by("key").aggregate(
        target=keys.target.argmin(keys.ord), **{c: keys[c].argmin(keys.ord) for c in extra}
    )
    stored, _name = engine.materialize(con, first, f"lookup_{name}")
    return stored


def _fallback_id(key: ibis.StringValue) -> ibis.StringValue:
    """The id or identifier value a key carries (used when nothing can resolve it)."""
    return key.re_extract(r"^[A-Za-z]+(?:/|\?identifier=(?:[^|]*\|)?)(.+)$", 1).nullif("")


def _has_prefix(key: ibis.StringValue, types: Sequence[str]) -> ibis.BooleanValue:
    test = ibis.literal(False)
    for name in types:
        test = test | key.startswith(f"{name}/") | key.startswith(f"{name}?")
    return test


def _resolve(
    t: ibis.Table,
    key: str,
    lookup: ibis.Table | None,
    name: str,
    types: Sequence[str],
    unchecked: Sequence[str] = (),
    carry: Sequence[str] = (),
) -> ibis.Table:
    """Resolve a reference key; adds ``__<name>`` (the id), ``__<name>_unknown``
    and ``__<name>_<c>`` for each ``carry`` column of the lookup.

    ``types`` are the resource types the reference may point at; those in
    ``unchecked`` are absent from the export, so a reference to them keeps
    its own id instead of having to resolve.
    """
    k = t[key]
    fallback = (
        ibis.cases((_has_prefix(k, unchecked), _fallback_id(k)), else_=ibis.null("string"))
        if unchecked
        else ibis.null("string")
    )
    if lookup is None:
        value = fallback
        return t.mutate(
            **{f"__{name}": value, f"__{name}_unknown": k.notnull() & value.isnull()},
            **{f"__{name}_{c}": ibis.null("string") for c in carry},
        )
    renamed = lookup.select(
        **{f"__{name}_key": lookup.key, f"__{name}_found": lookup.target}, **{f"__{name}_{c}": lookup[c] for c in carry}
    )
    joined = t.left_join(renamed, t[key] == renamed[f"__{name}_key"])
    joined = joined.select(*t.columns, f"__{name}_found", *(f"__{name}_{c}" for c in carry))
    found = joined[f"__{name}_found"]
    keyed = joined[key]
    typed = _has_prefix(keyed, types)
    if unchecked:
        value = ibis.coalesce(
            found, ibis.cases((_has_prefix(keyed, unchecked), _fallback_id(keyed)), else_=ibis.null("string"))
        )
    else:
        value = found
    value = ibis.cases((typed, value), else_=ibis.null("string"))
    return joined.mutate(**{f"__{name}": value, f"__{name}_unknown": keyed.notnull() & value.isnull()}).drop(
        f"__{name}_found"
    )


# --- classification ------------------------------------------------------------------------


def _norm_text(text: ibis.StringValue) -> ibis.StringValue:
    return text.lower().re_replace(r"\s+", " ").strip()


def _care_kind(codes: ibis.StringValue, text: ibis.StringValue) -> ibis.StringValue:
    """``'primary'`` / ``'specialty'`` from a ``'|code|...|'`` string and a text; NULL if neither."""
    primary = _norm_text(text).isin(PRIMARY_CARE_TEXTS).fill_null(False)
    for code in PRIMARY_CARE_CODES:
        primary = primary | codes.contains(f"|{code}|").fill_null(False)
    for prefix in PRIMARY_CARE_PREFIXES:
        primary = primary | codes.contains(f"|{prefix}").fill_null(False)
    given = codes.notnull() | text.notnull()
    return ibis.cases((primary, "primary"), (given, "specialty"), else_=ibis.null("string"))


def _role_label(codes: ibis.StringValue, text: ibis.StringValue) -> ibis.StringValue:
    """PractitionerRole.code → a role label for :func:`validate.check_clinicians`."""
    return ibis.cases(
        (codes.contains("|doctor|") | codes.re_search(r"\|20[0-9A-Z]{7}X\|"), "physician"),
        (codes.re_search(r"\|363L[0-9A-Z]{5}X\|"), "np"),
        (codes.re_search(r"\|363A[0-9A-Z]{5}X\|"), "pa"),
        (codes.contains("|nurse|") | codes.re_search(r"\|163W[0-9A-Z]{5}X\|"), "nurse"),
        else_=text,
    )


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


# --- the five resource types ----------------------------------------------------------------


def _finish(con, checked, files, rejected, extraction):
    return validate.finish(
        con,
        checked,
        sources=[f.source for f in files],
        stems=[f.stem for f in files],
        rejected=rejected,
        extraction_date=extraction,
    )


def _organizations(con, staged: _Staged, extraction) -> validate.Finished:
    """Organizations are only counted: a malformed line or a wrong type is quarantined."""
    t = staged.table
    reject, value = _format_reject(t, "Organization")
    spec = validate.TableSpec("organizations", ibis.schema({"practice_id": dt.string}), (), "practice_id")
    table = t.select(practice_id=t.id, __file=t.__file, __row=t.__row, __reason=reject, __value=value)
    checked = validate.Checked(spec, table, {"practice_id": "id"}, key_provided=False)
    return _finish(con, checked, staged.files, staged.rejected, extraction)


def _roles(con, staged: _Staged, lookups: Mapping[str, ibis.Table | None], extraction):
    """PractitionerRole rows: counted and checked; returns the accepted roles' facts too."""
    t = _resolve(
        staged.table,
        "practitioner_key",
        lookups["Practitioner"],
        "prac",
        ("Practitioner",),
        unchecked=() if lookups["Practitioner"] is not None else ("Practitioner",),
    )
    t = _resolve(
        t,
        "organization_key",
        lookups["Organization"],
        "org",
        ("Organization",),
        unchecked=() if lookups["Organization"] is not None else ("Organization",),
    )
    reject, value = _format_reject(
        t,
        "PractitionerRole",
        [
            (t.__prac_unknown, "unknown_clinician_reference", t.practitioner_key),
            (t.__org_unknown, "unknown_practice_reference", t.organization_key),
        ],
    )
    raw = t.select(
        __file=t.__file,
        __row=t.__row,
        __reject=reject,
        __reject_value=value,
        clinician_id=t.__prac,
        practice_id=t.__org,
        specialty=t.specialty_text,
        role=_role_label(t.role_codes, t.role_text),
        active_from=t.period_start,
        active_to=t.period_end,
        kind=_care_kind(t.specialty_codes, t.specialty_text),
        id=t.id,
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
            ord=facts.__file.cast("int64") * _ORD + facts.__row,
        ),
        "roles",
    )
    return finished, facts


def _first_role(facts: ibis.Table) -> ibis.Table:
    """Each clinician's first role (file, then line order)."""
    cols = ("practice_id", "specialty", "role", "active_from", "active_to", "kind")
    return facts.group_by("clinician_id").aggregate(**{c: facts[c].argmin(facts.ord) for c in cols})


def _clinician_lookup(con, staged: Mapping[str, _Staged], present: Sequence[str], facts: ibis.Table | None):
    """Performer key → clinician id and the specialty kind to use for the setting.

    Practitioner keys carry the kind of the practitioner's first role;
    PractitionerRole keys resolve to the role's practitioner and carry the
    role's own kind.
    """
    parts = []
    if "Practitioner" in present:
        keys = _keys(staged["Practitioner"])
        if facts is not None:
            first = _first_role(facts).select(__fc="clinician_id", kind="kind")
            keys = keys.left_join(first, keys.target == first.__fc).select("key", "target", "ord", "kind")
        else:
            keys = keys.mutate(kind=ibis.null("string"))
        parts.append(keys)
    if "PractitionerRole" in present and facts is not None:
        keys = _keys(staged["PractitionerRole"])
        role = facts.select(__rid="id", __clin="clinician_id", __kind="kind")
        keys = keys.join(role, keys.target == role.__rid)
        parts.append(keys.select(key=keys.key, target=keys.__clin, ord=keys.ord, kind=keys.__kind))
    if not parts:
        return None
    every = parts[0]
    for more in parts[1:]:
        every = every.union(more)
    return _lookup(con, every, "clinicians")


def _practitioners(con, staged: _Staged, facts: ibis.Table | None, extraction) -> validate.Finished:
    t = staged.table
    reject, value = _format_reject(t, "Practitioner")
    raw = t.select(__file=t.__file, __row=t.__row, __reject=reject, __reject_value=value, clinician_id=t.id)
    columns: dict[str, str | None] = {"clinician_id": "clinician_id"}
    if facts is not None:
        first = _first_role(facts).rename(__rc="clinician_id")
        raw = raw.left_join(first, raw.clinician_id == first.__rc).drop("__rc", "kind")
        columns.update({c: c for c in ("practice_id", "specialty", "role", "active_from", "active_to")})
    checked = validate.check_clinicians(raw, columns, extraction_date=extraction, source="Practitioner")
    return _finish(con, checked, staged.files, staged.rejected, extraction)


def _patients(con, staged: _Staged, extraction) -> validate.Finished:
    t = staged.table
    reject, value = _format_reject(t, "Patient")
    sex = t.gender.substitute({"male": "M", "female": "F"}, else_=t.gender)
    raw = t.select(
        __file=t.__file,
        __row=t.__row,
        __reject=reject,
        __reject_value=value,
        patient_id=t.id,
        sex=sex,
        birth_date=t.birth_text,
        death_date=t.death_text,
    )
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
    t = _resolve(t, "subject_key", ctx.lookups["Patient"], "pat", ("Patient",), unchecked("Patient"))
    t = _resolve(
        t,
        "performer_key",
        ctx.lookups["Practitioner"],
        "clin",
        ("Practitioner", "PractitionerRole"),
        unchecked("Practitioner", "PractitionerRole"),
        carry=("kind",),
    )
    t = _resolve(t, "provider_key", ctx.lookups["Organization"], "org", ("Organization",), unchecked("Organization"))
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
        first = _first_role(ctx.facts).select(__fc="clinician_id", __fk="kind")
        t = t.left_join(first, t.__clin == first.__fc).drop("__fc")
        kind = ibis.coalesce(kind, t.__fk)
    service = _care_kind(t.service_codes, t.service_text)
    urgent = ibis.literal(False)
    for code in URGENT_CARE_CODES:
        urgent = urgent | t.type_codes.contains(f"|{code}|").fill_null(False)
        urgent = urgent | t.service_codes.contains(f"|{code}|").fill_null(False)
    specialty = ibis.coalesce(kind, service)
    ambulatory = ibis.cases(
        (urgent, "urgent_care"),
        (specialty == "primary", "primary_care"),
        (specialty == "specialty", "specialty"),
        else_=ibis.null("string"),
    )
    code = t.class_code.upper()
    mapped = code.substitute({k: v for k, v in SETTING_OF_CLASS.items() if v is not None}, else_=ibis.null("string"))
    setting = ibis.cases((code == "AMB", ambulatory), else_=mapped)
    status = t.status.lower()
    reject, value = _format_reject(
        t,
        "Encounter",
        [
            (status.isin(NOT_HELD).fill_null(False), "encounter_not_held", t.status),
            (t.__pat_unknown, "unknown_patient_reference", t.subject_key),
            (t.__clin_unknown, "unknown_clinician_reference", t.performer_key),
            (t.__org_unknown, "unknown_practice_reference", t.provider_key),
            (code.isnull() | ~code.isin(list(SETTING_OF_CLASS)), "unknown_encounter_class", t.class_code),
            (t.start_text.notnull() & t.start.isnull(), "unparseable_start", t.start_text),
        ],
    )
    raw = t.select(
        __file=t.__file,
        __row=t.__row,
        __reject=reject,
        __reject_value=value,
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
        staged = _stage(con, [file], first=index)
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
    return _finish(con, checked, files, rejected, ctx.extraction)


# --- the reader ---------------------------------------------------------------------------


def _manifest_date(manifest: dict | None) -> _dt.date | None:
    if not manifest or not isinstance(manifest.get("transactionTime"), str):
        return None
    try:
        return _dt.date.fromisoformat(manifest["transactionTime"][:10])
    except ValueError:
        return None


def _count_remarks(export: Export, counts: Sequence[ReadCount]) -> list[str]:
    remarks = []
    for count in counts:
        expected = export.manifest_counts.get(count.source)
        if expected is not None and expected != count.read:
            remarks.append(
                f"manifest.json says {count.source} holds {plural(expected, 'resource')}, but "
                f"{plural(count.read, 'resource line')} {'was' if count.read == 1 else 'were'} read; "
                "the file may be incomplete."
            )
    if export.ignored:
        remarks.append(
            f"{plural(len(export.ignored), 'file')} of other resource types {'was' if len(export.ignored) == 1 else 'were'} "
            "not read (" + ", ".join(sorted(export.ignored)[:5]) + (", ..." if len(export.ignored) > 5 else "") + ")."
        )
    return remarks


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
    export = discover(path)
    given = extraction_date if extraction_date is not None else _manifest_date(export.manifest)
    extraction = _extraction_date(given)
    con = engine.connect() if con is None else con
    engine.require_duckdb(con)

    staged = {r: _stage(con, export.files[r]) for r in RESOURCES[:-1] if r in export.files}
    # A type counts as present (references to it must resolve) when the export
    # holds at least one valid resource of that type.
    present = {r for r, st in staged.items() if st.valid.count().execute() > 0}
    lookups: dict[str, ibis.Table | None] = {
        r: _lookup(con, _keys(staged[r]), r.lower()) if r in present else None
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
    lookups["Practitioner"] = _clinician_lookup(con, staged, present, facts)
    by_practice = False
    if facts is not None:
        kinds = facts.group_by("clinician_id").aggregate(n=facts.kind.nunique())
        by_practice = bool(kinds.n.max().execute() or 0) and kinds.n.max().execute() > 1
    ctx = _Context(lookups, present, facts, by_practice, extraction)
    finished["Encounter"] = _encounters(con, export.files["Encounter"], ctx)

    order = ("Encounter", "Patient", "Practitioner", "PractitionerRole", "Organization")
    counts = [c for r in order if r in finished for c in finished[r].counts]
    remarks = [m for r in order if r in finished for m in finished[r].remarks]
    remarks += _count_remarks(export, counts)
    quarantine = finished["Encounter"].quarantine
    for r in order[1:]:
        if r in finished:
            quarantine = quarantine.union(finished[r].quarantine)
    if "Practitioner" in finished:
        clinicians = finished["Practitioner"].accepted
    elif facts is not None:
        clinicians = (
            _first_role(facts)
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
        patients=finished["Patient"].accepted if "Patient" in finished else None,
        quarantine=quarantine,
        counts=counts,
        remarks=remarks,
        format="fhir",
    )
