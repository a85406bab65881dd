"""Input files: which names the readers understand, and how messages name a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: File name endings the readers understand, and how they read them.
SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".tsv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class SourceFile:
    """One input file: where it is, how messages name it, what it holds."""

    path: Path
    source: str
    kind: str
    columns: list[str] = field(default_factory=list)
    delimiter: str = ","
    header_looks_like_data: bool = False

    @property
    def stem(self) -> str:
        """The source name without its suffix (``encounters/part-0``)."""
        for suffix in SUFFIXES:
            if self.source.lower().endswith(suffix):
                return self.source[: -len(suffix)]
        return self.source


def file_kind(path: Path) -> str | None:
    """``'csv'`` or ``'parquet'`` by the file name's ending (:data:`SUFFIXES`), else None.

    >>> file_kind(Path("Encounters.CSV.gz")), file_kind(Path("notes.txt"))
    ('csv', None)
    """
    name = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def data_files(folder: Path, *, recursive: bool) -> list[Path]:
    """The CSV and Parquet files in ``folder`` (and below it when ``recursive``),
    sorted; hidden names (``.x``, ``_x``) are left out."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and file_kind(p) and not p.name.startswith((".", "_")))


def norm_stem(path: Path) -> str:
    """The file name in lower case without its :data:`SUFFIXES` ending.

    >>> norm_stem(Path("data/VISIT_OCCURRENCE.tsv.gz"))
    'visit_occurrence'
    """
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
