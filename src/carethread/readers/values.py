"""Options about values rather than columns: ``--setting-map`` and ``--date-format auto``.

Real extracts name settings in their own words (``Office Visit``, ``ED``) and
write dates in their own way (``08/14/2024``); these options say how to read
them, and nothing is guessed silently: a setting map is the user's, and an
automatic date format is used only when one pattern reads every sampled value
the same way (see :mod:`carethread.validate.dates`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from carethread import engine
from carethread.errors import OptionError
from carethread.readers import lines
from carethread.readers.files import SourceFile
from carethread.schema import SETTINGS, normalize_label
from carethread.validate.dates import guess_date_format

#: Rows sampled per file for ``--date-format auto``.
SAMPLE_ROWS = 2_000

#: The date columns of each canonical table.
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "encounters": ("start",),
    "clinicians": ("active_from", "active_to"),
    "patients": ("birth_date", "death_date"),
}


def option_pairs(
    value, option: str, pair: str, example: str, *, csv_header: Sequence[str] | None = None
) -> list[tuple]:
    """``key=value`` pairs of an option given as a dict, a text or a file (``pair`` names
    them in messages: ``concept=setting``).

    Text is ``"key=value,key=value"``; a path (or text without ``=``) names a
    file of ``key=value`` lines (``#`` starts a comment), or, with
    ``csv_header``, a CSV table with those two columns.
    """
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.items())
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if isinstance(value, os.PathLike) or "=" not in text:
        return _pairs_from_file(Path(text).expanduser(), option, pair, example, csv_header)
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, target = (s.strip() for s in item.rpartition("="))
        if not sep:
            raise OptionError(f"{option}: `{item}` has no `=`; write {pair} pairs separated by commas, e.g. {example}.")
        pairs.append((key, target))
    return pairs


def _pairs_from_file(path: Path, option: str, pair: str, example: str, csv_header) -> list[tuple[str, str]]:
    if not path.is_file():
        raise OptionError(
            f"{option}: {path} is neither {pair} pairs nor an existing file. Write e.g. {example}, "
            "or give a file of such lines."
        )
    text = path.read_text(encoding="utf-8-sig")
    first = next((line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    if "=" not in first and csv_header is not None:
        rows = list(csv.reader(io.StringIO(text)))
        header = [h.strip().lower() for h in rows[0]] if rows else []
        if header[:2] != list(csv_header):
            raise OptionError(
                f"{option}: {path.name} must hold {pair} lines or a CSV table with columns {','.join(csv_header)}."
            )
        return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2 and r[0].strip()]
    pairs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _sep, target = line.rpartition("=")
            pairs.append((key, target))
    return pairs


def parse_setting_map(value) -> dict[str, str]:
    """``--setting-map``: source setting values → canonical settings, before settings are checked.

    Given as ``"Office Visit=primary_care,ED=emergency"``, a file of such lines
    (one pair a line, so values may hold commas), or a dict. Source values are
    matched like settings are (case, spaces and hyphens do not matter), so the
    keys come back normalised (:func:`carethread.schema.normalize_label`).

    >>> parse_setting_map("Office Visit=primary_care, ED=Emergency")
    {'office_visit': 'primary_care', 'ed': 'emergency'}
    >>> parse_setting_map("ED=ward")
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --setting-map: `ward` (for ED) is not a setting; use one of primary_care, ...
    """
    out: dict[str, str] = {}
    pairs = option_pairs(
        value, "--setting-map", "VALUE=SETTING", '--setting-map "Office Visit=primary_care,ED=emergency"'
    )
    for key, target in pairs:
        label = normalize_label(str(key)) if key is not None else None
        setting = normalize_label(str(target)) if target is not None else None
        if label is None:
            raise OptionError(f"--setting-map: `={target}` names no source value; write VALUE=SETTING.")
        if setting not in SETTINGS:
            raise OptionError(
                f"--setting-map: `{target}` (for {key}) is not a setting; use one of {', '.join(SETTINGS)}."
            )
        if out.get(label, setting) != setting:
            raise OptionError(f"--setting-map: `{key}` is mapped twice, to {out[label]} and {setting}; keep one.")
        out[label] = setting
    return out


# --- --date-format auto -----------------------------------------------------------


def _csv_sample(file: SourceFile, column: str) -> list[str | None]:
    position = file.columns.index(column)
    reader = lines.row_batches(file.path, file.delimiter, len(file.columns), lines.LineCount(file.source))
    try:
        batch = reader.read_next_batch().slice(0, SAMPLE_ROWS)
    except StopIteration:
        return []
    finally:
        reader.close()
    values = []
    for text in batch["__line"].to_pylist():
        fields = lines.split_record(text or "", file.delimiter)
        if fields is not None and len(fields) == len(file.columns):
            values.append(fields[position])
    return values


def _sample(con, files: Sequence[SourceFile], column: str) -> list[str | None]:
    values: list[str | None] = []
    for file in files:
        if column not in file.columns:
            continue
        if file.kind == "csv":
            values += _csv_sample(file, column)
            continue
        col = engine.parquet_table(con, [str(file.path)])[column]
        if col.type().is_string():
            values += col.name("v").as_table().limit(SAMPLE_ROWS).to_pyarrow()["v"].to_pylist()
    return values


def auto_date_formats(
    con, table: str, files: Sequence[SourceFile], columns: Mapping[str, str | None]
) -> tuple[dict[str, str | None], list[str]]:
    """``--date-format auto``: for each date column of ``table``, the pattern that reads its
    values (None when they are ISO dates, or when no one pattern fits), and remarks.

    Raises
    ------
    OptionError
        When the values fit patterns that read them differently (day or month first).
    """
    found: dict[str, str | None] = {}
    remarks = []
    label = files[0].source if len(files) == 1 else table
    for name in DATE_COLUMNS[table]:
        source = columns.get(name)
        if source is None:
            continue
        guess = guess_date_format(_sample(con, files, source))
        if guess.ambiguous:
            raise OptionError(
                f"--date-format auto: the {name} values of {label} fit {' and '.join(guess.ambiguous[:3])}, "
                "which read them differently (day or month first). Pass the --date-format your data uses."
            )
        found[name] = guess.pattern
        if guess.pattern is not None:
            remarks.append(f"{label}: --date-format auto read {name} with the pattern {guess.pattern}.")
    return found, remarks
