"""How a measure's result looks in a notebook: a preview of its rows and its schema.

Ibis shows an expression as its query tree unless ``ibis.options.interactive``
is on, a global switch that changes how every Ibis expression prints, in
every library of the session. carethread leaves that switch alone: a
measure returns a :class:`Result`, an ordinary :class:`ibis.Table` whose
rich rendering (what Jupyter's ``_repr_mimebundle_`` and ``rich.print``
use) is the first rows, as :meth:`ibis.Table.preview` gives them, and a line
with every column and its type. Showing it runs the query with a ``LIMIT``.
``repr()`` and ``print()`` stay Ibis' own, and any operation on a result
(``filter``, ``select``, ...) returns a plain Ibis table.
"""

from __future__ import annotations

import ibis
from ibis.expr.types import Table


class Result(Table):
    """A measure's result: a lazy :class:`ibis.Table` that previews itself in notebooks."""

    __slots__ = ()

    def __rich_console__(self, console, options):
        from rich.console import Group
        from rich.text import Text

        if console.is_jupyter:  # notebooks scroll sideways: show every column
            options = options.update(max_width=1_000_000)
            width = None
        else:
            width = options.max_width
        try:
            preview = self.preview(console_width=width)
        except Exception:  # a query that cannot run still shows what it is
            return super().__rich_console__(console, options)
        columns = ", ".join(f"{name} {dtype}" for name, dtype in self.schema().items())
        return console.render(Group(preview, Text(f"{len(self.columns)} columns: {columns}")), options=options)


def as_result(table: ibis.Table) -> Result:
    """``table`` as a :class:`Result` (the same expression).

    >>> import ibis
    >>> t = as_result(ibis.memtable({"patient_id": ["p"], "upc": [0.5]}))
    >>> text = t._repr_mimebundle_(include=None, exclude=None)["text/plain"]
    >>> "0.5" in text and "2 columns: patient_id string, upc float64" in text
    True
    """
    return Result(table.op())
