"""Resolving FHIR references: every key a resource can be referred to by, and lookups from key to id.

References are resolved, never guessed: literal ``Practitioner/<id>``,
conditional ``Practitioner?identifier=<system>|<value>`` and logical ones (an
``identifier`` without ``reference``) are matched against the ids and
identifiers of the resources in the export (see :mod:`carethread.readers.fhir`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis

from carethread import engine
from carethread.readers.fhir.stage import Staged, position


def reference_keys(staged: Staged, **extra: ibis.Value) -> ibis.Table:
    """Every reference key of a resource type: ``key``, ``target`` (the id), ``ord``, extras.

    ``Type/<id>``, and for each identifier ``Type?identifier=system|value``
    (``|value`` when it has no system) and ``Type?identifier=value`` (a token
    search without a system matches any system).
    """
    resource = staged.files[0].resource
    t = staged.valid
    parts = [t.select(key=ibis.literal(f"{resource}/") + t.id, target=t.id, ord=position(t), **extra)]
    if "identifiers" in t.columns:
        ids = t.select(target=t.id, ord=position(t), ident=t.identifiers.unnest(), **extra)
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


def lookup(con, keys: ibis.Table, name: str) -> ibis.Table:
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


def resolve_reference(
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


def first_role(facts: ibis.Table) -> ibis.Table:
    """Each clinician's first role (file, then line order)."""
    cols = ("practice_id", "specialty", "role", "active_from", "active_to", "kind")
    return facts.group_by("clinician_id").aggregate(**{c: facts[c].argmin(facts.ord) for c in cols})


def clinician_lookup(con, staged: Mapping[str, Staged], present: Sequence[str], facts: ibis.Table | None):
    """Performer key → clinician id and the specialty kind to use for the setting.

    Practitioner keys carry the kind of the practitioner's first role;
    PractitionerRole keys resolve to the role's practitioner and carry the
    role's own kind.
    """
    parts = []
    if "Practitioner" in present:
        keys = reference_keys(staged["Practitioner"])
        if facts is not None:
            first = first_role(facts).select(__fc="clinician_id", kind="kind")
            keys = keys.left_join(first, keys.target == first.__fc).select("key", "target", "ord", "kind")
        else:
            keys = keys.mutate(kind=ibis.null("string"))
        parts.append(keys)
    if "PractitionerRole" in present and facts is not None:
        keys = reference_keys(staged["PractitionerRole"])
        role = facts.select(__rid="id", __clin="clinician_id", __kind="kind")
        keys = keys.join(role, keys.target == role.__rid)
        parts.append(keys.select(key=keys.key, target=keys.__clin, ord=keys.ord, kind=keys.__kind))
    if not parts:
        return None
    every = parts[0]
    for more in parts[1:]:
        every = every.union(more)
    return lookup(con, every, "clinicians")
