"""What a value looks like: an identifier, a number or a date, so messages can leave it out.

Column names in a file without a header row are values; setting codes a remark
lists may be identifiers when a column was mapped wrongly. Both pass through
:func:`value_kind` first, and what looks like data is named by position or
counted, never shown.
"""

from __future__ import annotations

import re

#: Numbers, dates and times in any order of parts (``12``, ``-3.5e2``, ``3/12/2024 9:05 PM``,
#: ``2024.08.14``, ``14:30``, ``2024-01-02T10:00:00+01:00``), and non-finite numbers.
_NUMBER_OR_DATE = re.compile(
    r"[-+]?(?:inf(?:inity)?|nan)|[\d\s.,:/+\-]*\d[\d\s.,:/+\-]*(?:[eE][-+]?\d+)?(?:\s*[aApP][mM])?"
    r"|\d{2,4}[-/.]\d{1,2}[-/.]\d{1,4}T[\d:.,]+(?:Z|[+-]\d\d:?\d\d)?",
    re.IGNORECASE,
)


def value_kind(text: str) -> str | None:
    """What a text (a header name, a code) looks like when it looks like a value: ``'number'``, ``'date'``,
    ``'identifier'``; None when it looks like a column name.

    A value is a number or a date or time in any format, or text with three or
    more digits or an ``@`` (identifiers such as ``P0001``, ``MRN123456``, UUIDs,
    e-mail addresses).

    >>> [value_kind(t) for t in ("patient_id", "PatientID", "icd10", "P0001", "2024-01-02", "3/12/2024 9:05")]
    [None, None, None, 'identifier', 'date', 'date']
    >>> [value_kind(t) for t in ("1e19", "nan", "007", "a@b.org", "9:05")]
    ['number', 'number', 'number', 'identifier', 'date']
    """
    name = text.strip()
    if not name:
        return None
    if _NUMBER_OR_DATE.fullmatch(name):
        digits = sum(c.isdigit() for c in name)
        if re.search(r"\d[-/.:T ]\d|[aApP][mM]$", name) and not re.fullmatch(
            r"[-+]?\d*[.,]?\d+(e[-+]?\d+)?", name, re.I
        ):
            return "date"
        return "number" if digits or name.lower().lstrip("+-") in ("inf", "infinity", "nan") else None
    if "@" in name or sum(c.isdigit() for c in name) >= 3:
        return "identifier"
    return None
