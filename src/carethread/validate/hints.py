"""What a remark can add to a count of rejected rows without showing data: the date pattern
that would read unparseable dates, and the setting codes that are no care setting.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis

from carethread import schema
from carethread.data import plural
from carethread.validate.dates import date_hint, guess_date_format
from carethread.validate.values import value_kind

#: How many unknown setting codes a remark names, and how long one may be.
SHOWN_SETTINGS, SETTING_CHARS = 5, 40


def date_hints(t: ibis.Table, reasons: Mapping[str, int]) -> list[str]:
    """For each ``unparseable_<column>`` among ``reasons``: the one pattern its values fit, if any."""
    hints = []
    for code in reasons:
        if not code.startswith("unparseable_"):
            continue
        bad = t.filter(t.__reason == code)
        values = bad.select(v=bad.__value).distinct().limit(1000).to_pyarrow()["v"].to_pylist()
        hint = date_hint(code[len("unparseable_") :], guess_date_format(values))
        if hint:
            hints.append(hint)
    return hints


def unknown_settings(t: ibis.Table, label: str) -> str | None:
    """The most frequent setting codes that are no care setting, with their counts.

    Setting codes are vocabulary, not identifiers, but a column mapped by
    mistake may hold ids or dates: such values (:func:`value_kind`) and long
    ones are counted, never shown.
    """
    bad = t.filter(t.__reason == "unknown_setting")
    found = (
        bad.group_by(value=bad.__value)
        .aggregate(n=ibis._.count())
        .order_by([ibis.desc("n"), "value"])
        .limit(200)
        .to_pyarrow()
        .to_pylist()
    )
    shown = [r for r in found if r["value"] and len(r["value"]) <= SETTING_CHARS and not value_kind(r["value"])]
    if not shown:
        return None
    parts = [f"`{r['value'].strip()}` ({plural(r['n'], 'row')})" for r in shown[:SHOWN_SETTINGS]]
    more = len(found) - len(parts)
    others = f", and {plural(more, 'other value')}" if more else ""
    if len(found) == 200:
        others = ", and more"
    return (
        f"{label}: setting values that are no care setting: {', '.join(parts)}{others}. Map them to one of "
        f'{", ".join(schema.SETTINGS)} with --setting-map "VALUE=SETTING,..." (or a file of such lines).'
    )
