"""Finding a FHIR Bulk Data export's files: which file holds which resource type,
what its ``manifest.json`` says, and what was left out.

See the package docstring (:mod:`carethread.readers.fhir`) for the layout read.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from carethread.data import ReadCount, plural
from carethread.errors import InputError

#: The resource types the reader uses, in the order they are read.
RESOURCES: tuple[str, ...] = ("Practitioner", "Organization", "Patient", "PractitionerRole", "Encounter")


_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
_TYPE_OF_NAME = re.compile(r"^([A-Za-z]+)")


@dataclass
class ExportFile:
    """One NDJSON file of the export."""

    path: Path
    source: str
    resource: str

    @property
    def stem(self) -> str:
        name = self.source
        for suffix in sorted(_SUFFIXES, key=len, reverse=True):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


@dataclass
class Export:
    """What :func:`discover_export` found: files by type, what was left out, the manifest."""

    files: dict[str, list[ExportFile]]
    ignored: list[str]
    manifest: dict | None
    manifest_counts: dict[str, int]


def _is_ndjson(path: Path) -> bool:
    return path.name.lower().endswith(_SUFFIXES)


def _type_of_name(name: str) -> str | None:
    """``Encounter.000.ndjson`` → ``Encounter`` (case-insensitive against :data:`RESOURCES`)."""
    match = _TYPE_OF_NAME.match(name)
    if not match:
        return None
    token = match.group(1).lower()
    return next((r for r in RESOURCES if r.lower() == token), None)


def _read_manifest(path: Path) -> dict | None:
    """The manifest's content if ``path`` is a Bulk Data manifest, else None."""
    try:
        if path.stat().st_size > 50 * 1024 * 1024:
            return None
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(content, dict) and isinstance(content.get("output"), list):
        return content
    return None


def looks_like_fhir(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a FHIR Bulk export (names only, plus a manifest).

    True for a ``.ndjson``/``.ndjson.gz`` file, a Bulk Data ``manifest.json``,
    or a folder holding either a manifest or a ``<Type>*.ndjson[.gz]`` file of
    a type the reader uses.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> looks_like_fhir(folder)
    False
    >>> _ = (folder / "Encounter.000.ndjson.gz").write_bytes(b"")
    >>> looks_like_fhir(folder)
    True
    """
    target = Path(path).expanduser()
    try:
        if target.is_file():
            return _is_ndjson(target) or (target.suffix.lower() == ".json" and _read_manifest(target) is not None)
        if not target.is_dir():
            return False
        for child in target.iterdir():
            if child.is_file() and _is_ndjson(child) and _type_of_name(child.name) is not None:
                return True
        manifest = target / "manifest.json"
        return manifest.is_file() and _read_manifest(manifest) is not None
    except OSError:
        return False


def discover_export(path: str | os.PathLike) -> Export:
    """The export's files by resource type (see :mod:`carethread.readers.fhir`).

    Raises
    ------
    InputError
        ``path`` does not exist, is a file of no known type, a file the
        manifest lists is missing, or there is no Encounter file.
    """
    target = Path(path).expanduser()
    if not target.exists():
        raise InputError(
            f"{target} does not exist. Pass the folder of a FHIR Bulk Data export "
            "(Encounter.ndjson, Patient.ndjson, ...) or one .ndjson file."
        )
    manifest_path = None
    if target.is_file():
        if _is_ndjson(target):
            resource = _type_of_name(target.name)
            if resource is None:
                raise InputError(
                    f"{target.name}: the resource type cannot be told from the file name. Name it "
                    "after its type (Encounter.ndjson), or pass the export's folder."
                )
            return Export({resource: [ExportFile(target, target.name, resource)]}, [], None, {})
        if _read_manifest(target) is None:
            raise InputError(
                f"{target.name} is neither NDJSON (.ndjson, .ndjson.gz) nor a Bulk Data manifest. "
                "Pass the export's folder."
            )
        manifest_path, target = target, target.parent
    elif (target / "manifest.json").is_file():
        manifest_path = target / "manifest.json"

    files: dict[str, list[ExportFile]] = {}
    ignored: list[str] = []
    manifest, listed, counts = None, {}, {}
    if manifest_path is not None:
        manifest, listed, counts = _manifest_listing(manifest_path, target)
    candidates = sorted({p for p in target.iterdir() if p.is_file() and _is_ndjson(p)} | set(listed))
    for p in candidates:
        given = listed.get(p)
        resource = next((r for r in RESOURCES if r == given), None) if given is not None else _type_of_name(p.name)
        if resource is None:
            ignored.append(p.name)
            continue
        files.setdefault(resource, []).append(ExportFile(p, p.name, resource))
    if "Encounter" not in files:
        raise InputError(
            f"{target} holds no Encounter NDJSON file (Encounter.ndjson, Encounter.000.ndjson, ...). "
            "Export Encounter resources (e.g. _type=Encounter,Patient,Practitioner,PractitionerRole,"
            "Organization), or pass the folder that holds them."
        )
    return Export(files, ignored, manifest, counts)


def _manifest_listing(manifest_path: Path, folder: Path) -> tuple[dict, dict[Path, str], dict[str, int]]:
    """The manifest, the type of each file it lists (error files as ``OperationOutcome``),
    and the resource count it gives per file name."""
    manifest = _read_manifest(manifest_path)
    if manifest is None:
        raise InputError(
            f"{manifest_path.name} is not a Bulk Data manifest (a JSON object with an `output` "
            "list). Fix it or remove it to read the NDJSON files by name."
        )
    listed: dict[Path, str] = {}
    counts: dict[str, int] = {}
    for entry in manifest["output"]:
        if not isinstance(entry, dict) or not entry.get("url"):
            continue
        local = _local_file(folder, str(entry["url"]), manifest_path.name)
        if local is None:
            raise InputError(
                f"{manifest_path.name} lists {Path(urllib.parse.urlparse(str(entry['url'])).path).name}, "
                f"which is not in {folder}. Download the missing file, or remove {manifest_path.name} "
                "to read only the files present."
            )
        listed[local] = str(entry.get("type") or "")
        if isinstance(entry.get("count"), int):
            counts[local.name] = entry["count"]
    for entry in manifest.get("error") or []:
        if isinstance(entry, dict) and entry.get("url"):
            local = _local_file(folder, str(entry["url"]), manifest_path.name)
            if local is not None:
                listed[local] = "OperationOutcome"
    return manifest, listed, counts


def _local_file(folder: Path, url: str, manifest: str) -> Path | None:
    """The file a manifest ``url`` names inside the export ``folder``, or None when absent.

    A URL with a host (``https://server/files/Encounter.ndjson``) names the
    downloaded file by its last segment; a relative path is taken from the
    folder. Whatever the URL says, the file read must lie inside the folder once
    ``..`` and symbolic links are resolved: an absolute path, or a path or link
    leading out, is an :class:`InputError`.
    """
    parsed = urllib.parse.urlparse(url)
    path = urllib.parse.unquote(parsed.path)
    if parsed.scheme and parsed.netloc and parsed.scheme.lower() != "file":
        name = path.rsplit("/", 1)[-1]
        candidate = folder / name if name not in ("", ".", "..") else None
    elif (
        parsed.scheme.lower() == "file"
        or path.startswith(("/", "\\"))
        or Path(path).is_absolute()
        or re.match(r"^[A-Za-z]:", url)
    ):
        raise InputError(_outside(manifest, url, folder, "an absolute path"))
    else:
        candidate = folder / path
    if candidate is None:
        return None
    try:
        inside = candidate.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symbolic link loop
        inside = False
    if not inside:
        raise InputError(_outside(manifest, url, folder, "a path that leads out of the export folder"))
    if candidate.is_file():
        return candidate
    # A relative path that is not there: the file may sit in the folder under its last segment.
    name = Path(path).name
    fallback = folder / name
    return (
        fallback
        if name not in ("", ".", "..") and fallback.is_file() and fallback.resolve().is_relative_to(folder.resolve())
        else None
    )


def _outside(manifest: str, url: str, folder: Path, what: str) -> str:
    return (
        f"{manifest} lists `{url}`, {what}: carethread reads only files inside the export's folder "
        f"({folder}). Copy the file into that folder and list it by its name, or remove {manifest} "
        "to read the NDJSON files present by name."
    )


def manifest_date(manifest: dict | None) -> _dt.date | None:
    """The day of the manifest's ``transactionTime`` (the default extraction date), if it has one.

    >>> manifest_date({"transactionTime": "2024-06-30T08:00:00Z", "output": []})
    datetime.date(2024, 6, 30)
    """
    if not manifest or not isinstance(manifest.get("transactionTime"), str):
        return None
    try:
        return _dt.date.fromisoformat(manifest["transactionTime"][:10])
    except ValueError:
        return None


def manifest_remarks(export: Export, counts: Sequence[ReadCount]) -> list[str]:
    """Remarks on files whose line count differs from the manifest's, and on files not read."""
    remarks = []
    for count in counts:
        expected = export.manifest_counts.get(count.source)
        if expected is not None and expected != count.read:
            remarks.append(
                f"manifest.json says {count.source} holds {plural(expected, 'resource')}, but "
                f"{plural(count.read, 'resource line')} {'was' if count.read == 1 else 'were'} read; "
                "the file may be incomplete."
            )
    if export.ignored:
        n = len(export.ignored)
        remarks.append(
            f"{plural(n, 'file')} of other resource types {'was' if n == 1 else 'were'} "
            "not read (" + ", ".join(sorted(export.ignored)[:5]) + (", ..." if n > 5 else "") + ")."
        )
    return remarks
