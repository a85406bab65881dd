"""Finishing a checked table: duplicates flagged, rows counted per file, accepted rows
and the quarantine split apart, and the remarks that explain them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
from ibis import _

from carethread import engine, schema
from carethread.data import ReadCount, format_count, plural
from carethread.errors import InputError
from carethread.validate.checks import Checked
from carethread.validate.hints import date_hints, unknown_settings
from carethread.validate.reasons import REASONS, column_of, describe_reasons
from carethread.validate.typed import TableSpec, key_is_unique

#: The longest value the quarantine shows; a longer one (a whole line of a
#: malformed row, say) is cut there, ends in "…", and a remark says so.
SHOWN_CHARS = 10_000


@dataclass
class Finished:
    """The outcome of :func:`finish` for one canonical table.

    ``usable`` is False for an optional table with no valid row: its rows are
    counted and quarantined, but the reader leaves the table out.
    """

    accepted: ibis.Table
    quarantine: ibis.Table
    counts: list[ReadCount]
    remarks: list[str]
    usable: bool = True


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
    numbering: str = "row",
    optional: bool = False,
    hints: bool = True,
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
    numbering
        How the sources number rows, for messages: ``row``, ``data_row``
        (CSV) or ``line`` (NDJSON); see :func:`~carethread.validate.reasons.where_row`.
    optional
        A side table (clinicians, patients) the measures can do without: with
        no row, or no valid row, it is set aside with a remark
        (``usable=False``) instead of failing the read.
    hints
        Whether remarks name the ``--date-format`` that would read unparseable
        dates and the unknown setting codes (:mod:`carethread.validate.hints`);
        off for formats that take neither option.

    Raises
    ------
    InputError
        If a table that is not ``optional`` has no row at all, or no row
        survives validation.
    """
    spec = checked.spec
    t = _flag_duplicates(con, checked) if checked.key_provided else checked.table
    flags = list(checked.flags)
    summary = (
        t.group_by("__file", "__reason")
        .aggregate(
            n=_.count(),
            first=_.__row.min(),
            cut=(_.__value.length() > SHOWN_CHARS).sum(),
            **{f: t[f].sum() for f in flags},
        )
        .to_pyarrow()
        .to_pylist()
    )
    per_file = {i: {"accepted": 0, "quarantined": 0} for i in range(len(sources))}
    by_reason: dict[str, list[int]] = {}
    first_at: dict[str, tuple[int, int]] = {}
    flag_totals = dict.fromkeys(flags, 0)
    cut = sum(len(v or "") > SHOWN_CHARS for *_rest, v in rejected)
    for row in summary:
        file, reason, n = row["__file"], row["__reason"], row["n"]
        if reason is None:
            per_file[file]["accepted"] += n
            for f in flags:
                flag_totals[f] += row[f] or 0
        else:
            per_file[file]["quarantined"] += n
            cut += row["cut"] or 0
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
    described = describe_reasons(reasons, first_at, sources, extraction_date, numbering=numbering)
    dates = date_hints(t, reasons) if hints else []
    if total_read == 0 or total_accepted == 0:
        if total_read == 0:
            problem = f"{label} has column names but no data rows"
        else:
            problem = f"{label} has no valid row: {_all(total_read)} rejected ({described})"
        if not optional:
            fix = (
                "Check that the right file was given, or export the data again."
                if total_read == 0
                else "Fix the file, or pass --map / --date-format if columns or dates were misread; "
                "--quarantine PATH writes the rejected rows."
            )
            raise InputError(" ".join([f"{problem}.", *dates, fix]))
        nothing = t.filter(ibis.literal(False))
        return Finished(
            nothing.select(**{n: nothing[n].cast(d) for n, d in spec.schema.items()}),
            _quarantine(t, checked, sources, rejected),
            counts,
            [f"{problem}. The {spec.name} table was set aside: every measure runs without it.", *dates],
            usable=False,
        )

    remarks = list(checked.notes)
    if spec.key == "encounter_id" and not checked.key_provided:
        remarks.append(
            f"{label} has no encounter_id column; ids were made from the file name and row "
            f"number ({(stems or sources)[0]}:1, {(stems or sources)[0]}:2, ...)."
        )
    if reasons:
        remarks.append(
            " ".join(
                [
                    f"{label}: {format_count(sum(reasons.values()))} of {plural(total_read, 'row')} quarantined "
                    f"({described}).",
                    *dates,
                ]
            )
        )
    settings = unknown_settings(t, label) if hints and "unknown_setting" in reasons else None
    if settings:
        remarks.append(settings)
    if cut:
        remarks.append(
            f"{label}: {plural(cut, 'quarantined value')} longer than {format_count(SHOWN_CHARS)} characters "
            f"{'is' if cut == 1 else 'are'} cut there in the quarantine (ending in …)."
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

    return Finished(accepted, _quarantine(t, checked, sources, rejected), counts, remarks)


def _all(n: int) -> str:
    return "its 1 row was" if n == 1 else f"all {plural(n, 'row')} were"


def _shown(value: ibis.StringValue) -> ibis.StringValue:
    return ibis.cases((value.length() > SHOWN_CHARS, value.left(SHOWN_CHARS) + "…"), else_=value)


def _quarantine(t: ibis.Table, checked: Checked, sources: Sequence[str], rejected) -> ibis.Table:
    """The rejected rows of ``t`` (and ``rejected``) in the quarantine's columns."""
    source_col = {code: checked.columns.get(column_of(code)) for code in REASONS}
    bad = t.filter(t.__reason.notnull())
    quarantine = bad.select(
        source=_source_names(bad, sources),
        row=bad.__row.cast("string"),
        column=bad.__reason.substitute(
            {k: v for k, v in source_col.items() if v is not None}, else_=ibis.null("string")
        ),
        value=_shown(bad.__value),
        reason=bad.__reason,
    )
    if rejected:
        unparsed = ibis.memtable(
            {
                "source": [sources[f] for f, *_rest in rejected],
                "row": [str(r) for _f, r, *_rest in rejected],
                "column": [c for *_rest, c, _v in rejected],
                "value": [v[:SHOWN_CHARS] + "…" if v and len(v) > SHOWN_CHARS else v for *_rest, v in rejected],
                "reason": [code for _f, _r, code, *_rest in rejected],
            },
            schema=schema.QUARANTINE,
        )
        quarantine = quarantine.union(unparsed)
    return quarantine.cast(schema.QUARANTINE)
