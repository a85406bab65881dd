"""The FHIR reader's SQL text: one parse of each NDJSON line into the fields it needs.

A FHIR Bulk Data export is read line by line (:func:`carethread.engine.ndjson_lines`)
and each line is parsed once with DuckDB's ``json_extract_string`` over a list
of paths (:data:`FHIR_PATHS`). Nothing but the extracted fields leaves the
scan, so an export of any size streams through in DuckDB's vector-sized
chunks, on every thread. Encounters with identifier-only references or
several participants take a second parse of their line.

This is the only SQL of the reader; :func:`fhir_resources` runs it as a
temporary view through :func:`carethread.engine.create_view`.
"""

from __future__ import annotations

import ibis
from ibis.backends import BaseBackend

from carethread.engine import create_view, new_name, quote_identifier, quote_literal


def _fhir_key(ref: str, rtype: str, system: str, value: str, default_type: str) -> str:
    """SQL: the lookup key of a FHIR Reference given its four parts.

    Keys are ``Type/id`` for literal references and ``Type?identifier=token``
    for conditional ones (``token`` = ``system|value``, ``value`` or
    ``|value``), so the common relative reference is its own key. Absolute
    URLs, ``/_history/`` versions, percent-encoded bars and extra search
    parameters take the slow path; a logical reference (identifier only) is
    keyed as the conditional reference it stands for. A reference that is not
    of either shape gets a NULL key.
    """
    tail = r"([A-Za-z]+)(/[^/?]+|\?.*)$"
    plain = f"regexp_replace({ref}, '/_history/[^?]*', '')"
    slow = (
        f"CASE WHEN regexp_extract({plain}, '{tail}', 2) LIKE '?%' "
        f"THEN regexp_extract({plain}, '{tail}', 1) || '?identifier=' || "
        f"replace(replace(regexp_extract(regexp_extract({plain}, '{tail}', 2), '[?&]identifier=([^&]*)', 1), "
        "'%7C', '|'), '%7c', '|') "
        f"ELSE nullif(regexp_extract({plain}, '{tail}', 0), '') END"
    )
    fast = (
        f"substr({ref}, 1, 1) BETWEEN 'A' AND 'Z' AND NOT contains({ref}, '/_history/') "
        f"AND NOT contains({ref}, '%') AND NOT contains({ref}, '&')"
    )
    logical_type = f"coalesce(nullif(regexp_extract({rtype}, '([A-Za-z]+)$', 1), ''), {quote_literal(default_type)})"
    logical = (
        f"{logical_type} || '?identifier=' || "
        f"CASE WHEN {system} IS NULL THEN {value} ELSE {system} || '|' || {value} END"
    )
    return (
        f"CASE WHEN {ref} IS NOT NULL THEN (CASE WHEN {fast} THEN {ref} ELSE {slow} END) "
        f"WHEN {value} IS NOT NULL THEN {logical} END"
    )


def _codes(fragment: str, path: str) -> str:
    """SQL: the codes found at ``path`` in a JSON fragment, as ``'|c1|c2|'`` (NULL: none)."""
    return (
        f"CASE WHEN {fragment} IS NOT NULL THEN nullif('|' || array_to_string("
        f"try(json_extract_string({fragment}, {quote_literal(path)})), '|') || '|', '||') END"
    )


def _first_text(fragment: str, element: str) -> str:
    """SQL: the text of a CodeableConcept (or of the first of a list), else its first display."""
    return (
        f"CASE WHEN {fragment} IS NOT NULL THEN coalesce("
        f"try(json_extract_string({fragment}, '{element}.text')), "
        f"try(json_extract_string({fragment}, '{element}.coding[0].display')), "
        f"try(json_extract_string({fragment}, '{element}.coding[0].code'))) END"
    )


def _utc(text: str) -> str:
    """SQL: a FHIR dateTime as a TIMESTAMP in UTC wall time; NULL when unparseable.

    An explicit offset (``-05:00``) converts to UTC; ``Z`` is UTC already; a
    date alone is midnight. ``YYYY`` and ``YYYY-MM`` do not parse.
    """
    offset = f"length({text}) > 10 AND substr({text}, length({text}) - 5, 1) IN ('+', '-')"
    return (
        f"CASE WHEN {offset} THEN timezone('UTC', try_cast({text} AS TIMESTAMPTZ)) "
        f"ELSE try_cast({text} AS TIMESTAMP) END"
    )


def _reference_paths(name: str, path: str) -> dict[str, str]:
    return {
        f"{name}_ref": f"{path}.reference",
        f"{name}_type": f"{path}.type",
        f"{name}_system": f"{path}.identifier.system",
        f"{name}_value": f"{path}.identifier.value",
    }


def _reference_key(at: dict[str, str], name: str, default_type: str) -> str:
    """SQL: the lookup key of the reference whose parts :func:`_reference_paths` extracted as ``name``."""
    return _fhir_key(at[f"{name}_ref"], at[f"{name}_type"], at[f"{name}_system"], at[f"{name}_value"], default_type)


#: JSON paths extracted from each resource type in the one parse of a line.
FHIR_PATHS: dict[str, dict[str, str]] = {
    "Encounter": {
        # Only what almost every line needs: every path costs on every line.
        # Identifier-only references and encounters with several participants
        # are read by a second parse of their line (see fhir_resources).
        "resource_type": "$.resourceType",
        "id": "$.id",
        "status": "$.status",
        "class_code": "$.class.code",
        "start_text": "$.period.start",
        "type_json": "$.type",
        "service_json": "$.serviceType",
        "subject_ref": "$.subject.reference",
        "subject_value": "$.subject.identifier.value",
        "provider_ref": "$.serviceProvider.reference",
        "provider_value": "$.serviceProvider.identifier.value",
        "p0_ref": "$.participant[0].individual.reference",
        "p0_value": "$.participant[0].individual.identifier.value",
        "p1": "$.participant[1]",
    },
    "Patient": {
        "resource_type": "$.resourceType",
        "id": "$.id",
        "identifier_json": "$.identifier",
        "gender": "$.gender",
        "birth_text": "$.birthDate",
        "death_text": "$.deceasedDateTime",
    },
    "Practitioner": {"resource_type": "$.resourceType", "id": "$.id", "identifier_json": "$.identifier"},
    "Organization": {"resource_type": "$.resourceType", "id": "$.id", "identifier_json": "$.identifier"},
    "PractitionerRole": {
        "resource_type": "$.resourceType",
        "id": "$.id",
        "identifier_json": "$.identifier",
        **_reference_paths("practitioner", "$.practitioner"),
        **_reference_paths("organization", "$.organization"),
        "code_json": "$.code",
        "specialty_json": "$.specialty",
        "period_start": "$.period.start",
        "period_end": "$.period.end",
    },
}

_REF_STRUCT = '{"reference": "VARCHAR", "type": "VARCHAR", "identifier": {"system": "VARCHAR", "value": "VARCHAR"}}'
_IDENTIFIERS = '[{"system": "VARCHAR", "value": "VARCHAR"}]'
_PARTICIPANTS = '[{"type": [{"coding": [{"code": "VARCHAR"}]}], "individual": ' + _REF_STRUCT + "}]"


def _is_clinician(ref: str, rtype: str, value: str) -> str:
    """SQL: whether a participant's individual is a Practitioner or PractitionerRole."""
    return (
        f"CASE WHEN {ref} IS NOT NULL THEN starts_with({ref}, 'Practitioner') OR contains({ref}, '/Practitioner') "
        f"ELSE {value} IS NOT NULL AND coalesce({rtype}, 'Practitioner') LIKE '%Practitioner%' END"
    )


def _performer(parts: str) -> str:
    """SQL: the primary performer among participants (a list of structs): the
    first clinician participant typed PPRF, else ATND, else the first clinician."""
    is_clinician = _is_clinician("x.individual.reference", "x.individual.type", "x.individual.identifier.value")
    clinicians = f"list_filter({parts}, lambda x: {is_clinician})"

    def typed(code: str) -> str:
        return (
            f"list_filter(__clin, lambda y: list_contains(flatten(list_transform(y.type, "
            f"lambda t: list_transform(t.coding, lambda c: c.code))), {quote_literal(code)}))[1]"
        )

    # A lambda over a one-element list binds the clinicians once.
    return (
        f"list_transform([{clinicians}], lambda __clin: "
        f"coalesce({typed('PPRF')}, {typed('ATND')}, __clin[1]).individual)[1]"
    )


#: Participants read by the second parse; more take a third (``json_transform``).
_FAST_PARTICIPANTS = 3
_PARTICIPANT_PATHS = [
    f"$.participant[{i}].{field}"
    for i in range(_FAST_PARTICIPANTS)
    for field in (
        "individual.reference",
        "individual.type",
        "individual.identifier.system",
        "individual.identifier.value",
        "type",
    )
] + [f"$.participant[{_FAST_PARTICIPANTS}]"]


def _first_participants(pp: str) -> str:
    """SQL: the primary performer among the first participants, from ``pp`` (the
    list :data:`_PARTICIPANT_PATHS` extracted), as a struct ``ref, type, system,
    value``, by the rule of :func:`_performer`.

    The participant's ``type`` comes as JSON text, which DuckDB writes
    compactly, so ``"code":"PPRF"`` appears in it exactly when one of its
    codings has that code (a string value cannot hold an unescaped quote).
    """
    n = _FAST_PARTICIPANTS

    def at(i: int, k: int) -> str:
        return f"{pp}[{5 * i + k + 1}]"

    clinician = [_is_clinician(at(i, 0), at(i, 1), at(i, 3)) for i in range(n)]

    def typed(i: int, code: str) -> str:
        return f'(({clinician[i]}) AND coalesce(contains({at(i, 4)}, \'"code":"{code}"\'), false))'

    order = (
        [typed(i, "PPRF") for i in range(n)]
        + [typed(i, "ATND") for i in range(n)]
        + [f"coalesce({c}, false)" for c in clinician]
    )
    pick = "CASE " + " ".join(f"WHEN {cond} THEN {i % n}" for i, cond in enumerate(order)) + " END"

    def field(k: int) -> str:
        return "CASE __i " + " ".join(f"WHEN {i} THEN {at(i, k)}" for i in range(n)) + " END"

    return (
        f"list_transform([{pick}], lambda __i: struct_pack(ref := {field(0)}, type := {field(1)}, "
        f"system := {field(2)}, value := {field(3)}))[1]"
    )


def fhir_resources(con: BaseBackend, lines: ibis.Table, resource: str) -> ibis.Table:
    """Flat fields of the FHIR resources in an :func:`ndjson_lines` view.

    One row per line, with ``__file``, ``__row``, ``__state`` (``'ok'``;
    ``'blank'`` for a line of white space, which holds no resource;
    ``'malformed'`` when the line is not a complete JSON object), ``__text``
    (the first 1 000 characters of a malformed line), ``resource_type``,
    ``id`` and the fields the reader needs for ``resource`` (``Encounter``,
    ``Patient``, ``Practitioner``, ``PractitionerRole`` or ``Organization``):

    - references as lookup keys (``subject_key``, ``performer_key``,
      ``provider_key``, ``practitioner_key``, ``organization_key``; see
      :func:`_fhir_key`);
    - coded fields as ``'|code1|code2|'`` strings (``type_codes``,
      ``service_codes``, ``role_codes``, ``specialty_codes``) with their text
      (``service_text``, ``role_text``, ``specialty_text``);
    - dates as text (``birth_text``, ...), and ``start`` as a TIMESTAMP in
      UTC wall time (``start_text`` keeps the text only when it does not parse);
    - ``identifiers`` (a list of ``{system, value}``) for the resources that
      references point at.

    The Encounter's performer is chosen here: among the participants whose
    individual is a Practitioner or PractitionerRole, the first typed
    ``PPRF``, else the first typed ``ATND``, else the first.
    """
    paths = FHIR_PATHS[resource]
    at = {n: f"v[{i + 1}]" for i, n in enumerate(paths)}
    listed = ", ".join(quote_literal(p) for p in paths.values())
    source = quote_identifier(lines.get_name())
    # Cheap tests first: trimming copies the line, so only lines that do not
    # start with '{' pay for it (CASE and OR evaluate lazily per row).
    space = "e' \\t\\r'"
    parsed = (
        "SELECT __file, __row, line, CASE WHEN starts_with(line, '{') THEN false WHEN line IS NULL THEN true "
        f"ELSE trim(line, {space}) = '' END AS __blank, "
        "try(json_extract_string(line, [" + listed + f"])) AS v FROM {source}"
    )
    state = (
        "CASE WHEN __blank THEN 'blank' WHEN v IS NULL THEN 'malformed' WHEN starts_with(line, '{') THEN 'ok' "
        f"WHEN starts_with(ltrim(line, {space}), '{{') THEN 'ok' ELSE 'malformed' END"
    )
    checked = f"SELECT * EXCLUDE (__blank), {state} AS __state FROM ({parsed})"
    cols = [
        "__file",
        "__row",
        "__state",
        "CASE WHEN __state = 'malformed' THEN left(line, 1000) END AS __text",
        f"{at['resource_type']} AS resource_type",
        f"{at['id']} AS id",
    ]
    if "identifier_json" in paths:
        cols.append(
            f"CASE WHEN {at['identifier_json']} IS NOT NULL THEN "
            f"try(json_transform({at['identifier_json']}, {quote_literal(_IDENTIFIERS)})) END AS identifiers"
        )
    if resource == "Encounter":

        def second(ref: str, value: str, path: str) -> str:
            # An identifier-only reference: its type and system need a second parse.
            return (
                f"CASE WHEN {ref} IS NULL AND {value} IS NOT NULL THEN json_extract_string(line, "
                f"['{path}.type', '{path}.identifier.system']) END"
            )

        many = f"{at['p1']} IS NOT NULL OR ({at['p0_ref']} IS NULL AND {at['p0_value']} IS NOT NULL)"
        listed_pp = ", ".join(quote_literal(p) for p in _PARTICIPANT_PATHS)
        cols += [
            f"{at['status']} AS status",
            f"{at['class_code']} AS class_code",
            f"{at['start_text']} AS start_text",
            f"{_utc(at['start_text'])} AS start",
            f"{_codes(at['type_json'], '$[*].coding[*].code')} AS type_codes",
            f"{_codes(at['service_json'], '$.coding[*].code')} AS service_codes",
            f"{_first_text(at['service_json'], '$')} AS service_text",
            f"{at['subject_ref']} AS __s_ref",
            f"{at['subject_value']} AS __s_value",
            f"{second(at['subject_ref'], at['subject_value'], '$.subject')} AS __s2",
            f"{at['provider_ref']} AS __o_ref",
            f"{at['provider_value']} AS __o_value",
            f"{second(at['provider_ref'], at['provider_value'], '$.serviceProvider')} AS __o2",
            f"CASE WHEN {many} THEN json_extract_string(line, [{listed_pp}]) END AS __pp",
            f"CASE WHEN {_is_clinician(at['p0_ref'], 'NULL', 'NULL')} THEN {at['p0_ref']} END AS __p0",
            "line",
        ]
        layer1 = f"SELECT {', '.join(cols)} FROM ({checked})"
        layer2 = (
            "SELECT * EXCLUDE (line), CASE WHEN __pp IS NULL THEN NULL "
            f"WHEN __pp[{len(_PARTICIPANT_PATHS)}] IS NOT NULL THEN "
            f"try(json_transform(json_extract(line, '$.participant'), {quote_literal(_PARTICIPANTS)})) END AS __parts "
            f"FROM ({layer1})"
        )
        chosen = (
            "CASE WHEN __parts IS NOT NULL THEN struct_pack(ref := __c.reference, type := __c.type, "
            "system := __c.identifier.system, value := __c.identifier.value) "
            f"WHEN __pp IS NOT NULL THEN {_first_participants('__pp')} "
            "ELSE struct_pack(ref := __p0, type := NULL::VARCHAR, system := NULL::VARCHAR, value := NULL::VARCHAR) END"
        )
        layer3 = f"SELECT *, CASE WHEN __parts IS NOT NULL THEN {_performer('__parts')} END AS __c FROM ({layer2})"
        layer4 = f"SELECT *, {chosen} AS __pick FROM ({layer3})"
        subject = _fhir_key("__s_ref", "__s2[1]", "__s2[2]", "__s_value", "Patient")
        provider = _fhir_key("__o_ref", "__o2[1]", "__o2[2]", "__o_value", "Organization")
        performer = _fhir_key("__pick.ref", "__pick.type", "__pick.system", "__pick.value", "Practitioner")
        sql = (
            "SELECT * EXCLUDE (__s_ref, __s_value, __s2, __o_ref, __o_value, __o2, __pp, __p0, __parts, __c, "
            f"__pick, start_text), {subject} AS subject_key, {provider} AS provider_key, "
            f"{performer} AS performer_key, CASE WHEN start IS NULL THEN start_text END AS start_text "
            f"FROM ({layer4})"
        )
    else:
        if resource == "Patient":
            cols += [
                f"{at['gender']} AS gender",
                f"{at['birth_text']} AS birth_text",
                f"{at['death_text']} AS death_text",
            ]
        if resource == "PractitionerRole":
            cols += [
                f"{_reference_key(at, 'practitioner', 'Practitioner')} AS practitioner_key",
                f"{_reference_key(at, 'organization', 'Organization')} AS organization_key",
                f"{_codes(at['code_json'], '$[*].coding[*].code')} AS role_codes",
                f"{_first_text(at['code_json'], '$[0]')} AS role_text",
                f"{_codes(at['specialty_json'], '$[*].coding[*].code')} AS specialty_codes",
                f"{_first_text(at['specialty_json'], '$[0]')} AS specialty_text",
                f"{at['period_start']} AS period_start",
                f"{at['period_end']} AS period_end",
            ]
        sql = f"SELECT {', '.join(cols)} FROM ({checked})"
    return create_view(con, new_name(f"fhir_{resource.lower()}"), sql)
