"""What a reader hands to the measures: canonical tables plus their audit trail.

Every reader returns a :class:`CanonicalData`. Its tables are lazy Ibis
expressions on one connection; its :attr:`~CanonicalData.counts` prove that no
row went missing (``read == accepted + quarantined`` for every source) and its
:attr:`~CanonicalData.remarks` say, in plain language and without identifiers,
what was wrong with the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis

# format_count and plural moved to carethread.wording; importing them from here still works.
from carethread.wording import format_count, plural


@dataclass
class ReadCount:
    """How many rows one source (a file or a table) gave, and where they went.

    ``read == accepted + quarantined`` always holds; constructing a count that
    breaks it raises ``ValueError`` (that would be a bug in a reader). For a
    CSV file, ``lines`` counts its data lines (the header excluded); it exceeds
    ``read`` by the blank lines (no row) and the lines that continue a quoted
    value begun on an earlier line (such a row counts once). ``None`` for other
    sources.
    """

    source: str
    read: int
    accepted: int
    quarantined: int
    lines: int | None = None

    def __post_init__(self) -> None:
        if self.read != self.accepted + self.quarantined:
            raise ValueError(
                f"{self.source}: {self.read} rows read but {self.accepted} accepted "
                f"+ {self.quarantined} quarantined; a reader lost rows"
            )
        if self.lines is not None and self.lines < self.read:
            raise ValueError(f"{self.source}: {self.read} rows read from {self.lines} lines; a reader made rows up")

    def __str__(self) -> str:
        return (
            f"{self.source}: {plural(self.read, 'row')} read = "
            f"{format_count(self.accepted)} accepted + {format_count(self.quarantined)} quarantined"
        )


@dataclass
class CanonicalData:
    """Canonical tables read from one input, with their quarantine and counts.

    Attributes
    ----------
    encounters
        Exactly the columns and types of :data:`carethread.schema.ENCOUNTERS`;
        every row passed validation.
    clinicians, patients
        :data:`carethread.schema.CLINICIANS` / :data:`carethread.schema.PATIENTS`,
        or ``None`` when the input has no such table.
    quarantine
        Every rejected row: :data:`carethread.schema.QUARANTINE` columns
        ``source, row, column, value, reason``. This is an analyst output, so
        ``value`` holds the offending value as found in the file.
    counts
        One :class:`ReadCount` per source file or table.
    remarks
        Plain-language data-quality notes. They never contain an identifier or
        a value from the data.
    format
        The reader that produced the data (``'generic'``, ...).
    """

    encounters: ibis.Table
    clinicians: ibis.Table | None
    patients: ibis.Table | None
    quarantine: ibis.Table
    counts: list[ReadCount] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    format: str = "generic"

    def reconciliation(self) -> str:
        """One line per source: rows read = accepted + quarantined.

        >>> import ibis
        >>> empty = ibis.memtable({"x": [1]})
        >>> data = CanonicalData(empty, None, None, empty,
        ...                      counts=[ReadCount("encounters.csv", 1000, 997, 3)])
        >>> print(data.reconciliation())
        encounters.csv: 1 000 rows read = 997 accepted + 3 quarantined
        """
        return "\n".join(str(count) for count in self.counts)

    @property
    def n_quarantined(self) -> int:
        """Rows quarantined over all sources."""
        return sum(count.quarantined for count in self.counts)
