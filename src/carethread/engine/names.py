"""Names in SQL text: fresh names for temporary objects, quoted identifiers and literals.

The other engine modules and a reader's ``sql.py`` build SQL text with these,
so every name and value is quoted the same way.
"""

from __future__ import annotations

import uuid


def new_name(prefix: str) -> str:
    """A fresh name for a temporary view or table (``_ct_<prefix>_<hex>``).

    >>> new_name("csv").startswith("_ct_csv_"), len(new_name("csv"))
    (True, 18)
    """
    return f"_ct_{prefix}_{uuid.uuid4().hex[:10]}"


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier.

    >>> quote_identifier("my table")
    '"my table"'
    """
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal.

    >>> quote_literal("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"
