"""Result tables on screen: the first rows, fitted to the terminal, numbers written for people.

Files keep the raw values; the screen shows counts as whole numbers with
spaced thousands (``1 632``) and shares as per cent (``91 %``, as the report
writes them: :func:`carethread.wording.percent`). Identifiers and numbers are
never cut: a header wraps at its underscores, a free-text column (words with
spaces, such as a description) wraps at its spaces, and a column that still
does not fit is left out, with a line naming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table as RichTable

from carethread.wording import format_count, percent

#: Continuity indices: shares or probabilities from 0 to 1, shown as per cent like the report shows them.
INDEX_COLUMNS = frozenset({"upc", "coc", "secon", "mmci", "hhi", "k_index", "known_provider"})

#: Columns of a long table (one measure per row, named in ``name``) whose kind the row's name decides.
MEASURE_VALUES = ("value", "ci_low", "ci_high")

#: A free-text column narrower than this is not worth showing wrapped.
MIN_TEXT_WIDTH = 20

#: Where the full table is: said under a table that shows only part of it.
WRITE_ALL = "write them all with --out FILE.csv|.parquet"

#: Rich's box adds one border character per column plus one, and one space of padding on each side.
_BORDER, _PADDING = 1, 2


def is_share(name: str) -> bool:
    """Whether a numeric column (or a measure of that name) holds a share from 0 to 1.

    >>> [is_share(n) for n in ("upc", "share", "patient_dependence", "patients_per_clinician", "visits")]
    [True, True, True, False, False]
    """
    words = name.split("_")
    return name in INDEX_COLUMNS or "share" in words or words[-1] in ("dependence", "continuity")


def _decimal(value: float) -> str:
    if abs(value) >= 1000:
        return format_count(round(value))
    return f"{value:.4g}"


def _count(value: float) -> str:
    """A count, or a median or bound of counts: whole when it is, else one decimal."""
    rounded = round(value, 1)
    return format_count(int(rounded)) if rounded.is_integer() else f"{rounded:.1f}"


def cell_text(column: str, value, row: dict | None = None) -> str:
    """How one value of ``column`` is written on screen (``row``: the whole row, for long tables).

    >>> cell_text("upc", 0.9091), cell_text("n_visits", 1832), cell_text("visits_per_day", 1.64081)
    ('91 %', '1 832', '1.641')
    >>> cell_text("value", 41.0, {"name": "patients_per_clinician"}), cell_text("value", 0.022, {"name": "x_share"})
    ('41', '2.2 %')
    >>> cell_text("upc", None), cell_text("tie_broken", False)
    ('', 'False')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return format_count(value)
    if isinstance(value, float):
        measure = row.get("name") if row is not None and column in MEASURE_VALUES else None
        if isinstance(measure, str):
            return percent(value) if is_share(measure) else _count(value)
        return percent(value) if is_share(column) else _decimal(value)
    return str(value)


def _header_lines(name: str, width: int) -> str:
    """``name`` wrapped after underscores to lines of at most ``width`` cells (a part never breaks)."""
    parts = [p + "_" for p in name.split("_")]
    parts[-1] = parts[-1][:-1]
    lines = [""]
    for part in parts:
        if lines[-1] and cell_len(lines[-1] + part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


@dataclass
class _Column:
    name: str
    cells: list[str]
    text: bool  # free text: may wrap at its spaces

    @property
    def natural(self) -> int:
        return max([cell_len(self.name), *(cell_len(c) for c in self.cells)])

    @property
    def compact(self) -> int:
        """Narrowest without cutting a value or a header part."""
        parts = self.name.replace("_", "_ ").split()
        values = [MIN_TEXT_WIDTH] if self.text else [cell_len(c) for c in self.cells]
        return min(self.natural, max([*(cell_len(p) for p in parts), *values]))


def _is_text(name: str, cells: list[str]) -> bool:
    return not name.endswith("_id") and any(len(c.split()) > 3 for c in cells)


def fit(columns: list[_Column], width: int) -> list[tuple[_Column, int]]:
    """The columns shown and their widths: all at full width if they fit, else compact, else the first that fit.

    The first column (the identifier) is always shown.
    """

    def total(widths: Sequence[int]) -> int:
        return sum(widths) + (_BORDER + _PADDING) * len(widths) + _BORDER

    natural = [c.natural for c in columns]
    if total(natural) <= width:
        return list(zip(columns, natural, strict=True))
    shown: list[tuple[_Column, int]] = []
    for column in columns:
        used = total([w for _c, w in shown] + [column.compact])
        if used <= width or not shown:
            shown.append((column, column.compact))
    spare = width - total([w for _c, w in shown])
    widths = [w for _c, w in shown]
    # What is left widens free text first, then headers that had to wrap.
    for text_first in (True, False):
        for i, (column, _w) in enumerate(shown):
            if column.text == text_first:
                extra = max(0, min(column.natural - widths[i], spare))
                widths[i] += extra
                spare -= extra
    return [(column, w) for (column, _w), w in zip(shown, widths, strict=True)]


def print_table(
    table: ibis.Table,
    console: Console,
    *,
    limit: int = 20,
    title: str | None = None,
    order_by: Sequence[str] | None = None,
    width: int = 80,
) -> int:
    """Print up to ``limit`` rows of ``table`` in ``width`` columns; return the row count.

    The preview is ordered by ``order_by``, by default every column from the
    first (the identifier) to the last: a total order, so the preview is the
    same every run. ``order_by=()`` keeps the table's own order. Columns that
    do not fit are named under the table.
    """
    total = int(table.count().execute())
    order = table.columns if order_by is None else tuple(order_by)
    preview = table.order_by(*order) if order else table
    rows = preview.limit(limit).to_pyarrow().to_pylist() if limit else []
    columns = []
    for name in table.columns:
        cells = [cell_text(name, row[name], row) for row in rows]
        columns.append(_Column(name, cells, _is_text(name, cells)))
    shown = fit(columns, width)
    view = RichTable(title=title, show_lines=False, header_style="bold")
    for column, w in shown:
        view.add_column(
            _header_lines(column.name, w), justify="left", width=w, no_wrap=not column.text, overflow="fold"
        )
    for i in range(len(rows)):
        view.add_row(*(column.cells[i] for column, _w in shown))
    # A console of exactly ``width`` on the same stream: ``print(width=...)`` cannot go past the console's own.
    Console(
        file=console.file,
        width=width,
        color_system=console.color_system,
        force_terminal=console.is_terminal,
        highlight=False,
    ).print(view)
    names_shown = {column.name for column, _w in shown}
    left_out = [c.name for c in columns if c.name not in names_shown]
    if left_out:
        console.print(f"Not shown, too wide for {width} columns: {', '.join(left_out)}; {WRITE_ALL}.")
    if total > len(rows):
        console.print(f"… {format_count(total - len(rows))} more rows; {WRITE_ALL}")
    return total
