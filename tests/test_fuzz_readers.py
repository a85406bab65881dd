"""Fuzzing every reader (issue 17): seeded random inputs; nothing lost, nothing leaked.

Each family writes generated inputs (CSV and TSV with every line ending, quote and
bad byte; Parquet with NaN, infinite and huge ids; side tables; Synthea; FHIR;
OMOP CSV; headerless files; damaged gzip), reads them and counts, per case:

- **tracebacks**: an exception that is not a :class:`~carethread.errors.CarethreadError`;
- **wrong exits**: an error where the input holds a valid row (each generated file
  has one), or success where it must fail (no header row, damaged gzip);
- **rows lost**: a data line that is no row, no continuation of one and not blank
  (:func:`tests.test_reader_lines.check_accounting`), or counts that disagree with
  the tables;
- **leaks**: a value the generator planted (patient and clinician ids, dates,
  numbers) in any message: errors, remarks, reconciliation lines.

All four must be 0. Tiers: ``CARETHREAD_FUZZ_CASES`` cases per family (default
200, the fast tier of ``make test``; ``make fuzz`` runs thousands), seeded by
``CARETHREAD_FUZZ_SEED``. With ``CARETHREAD_FUZZ_REPORT=FILE`` each family appends
its counts as a JSON line (docs/reliability.md has the table).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from carethread import engine, read
from carethread.errors import CarethreadError
from tests.test_reader_lines import blank, check_accounting, model_lines

CASES = int(os.environ.get("CARETHREAD_FUZZ_CASES", "200"))
SEED = int(os.environ.get("CARETHREAD_FUZZ_SEED", "17"))
EXTRACTION = dt.date(2024, 6, 30)
BATCH = 25  # files read together (one glob, one folder of parts)


@dataclass
class Tally:
    """One family's counts; every one but ``cases`` must stay 0."""

    family: str
    cases: int = 0
    tracebacks: int = 0
    wrong_exits: int = 0
    rows_lost: int = 0
    leaks: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.problems) < 8:
            self.problems.append(f"{kind}: {text}")

    def finish(self) -> None:
        report = os.environ.get("CARETHREAD_FUZZ_REPORT")
        if report:
            with open(report, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({k: v for k, v in asdict(self).items() if k != "problems"}) + "\n")
        bad = {k: getattr(self, k) for k in ("tracebacks", "wrong_exits", "rows_lost", "leaks") if getattr(self, k)}
        assert not bad, f"{self.family}: {bad} in {self.cases} cases\n" + "\n".join(self.problems)


class Plant:
    """Values the generator plants, which no message may show."""

    def __init__(self, rng: random.Random):
        self.rng, self.values = rng, set()

    def keep(self, value: str) -> str:
        self.values.add(value)
        return value

    def patient(self) -> str:
        return self.keep(f"PT{self.rng.randrange(10**7, 10**8)}")

    def clinician(self) -> str:
        return self.keep(f"CL{self.rng.randrange(10**6, 10**7)}")

    def number(self) -> str:
        return self.keep(str(self.rng.randrange(10**6, 10**9)))

    def day(self) -> str:
        d = dt.date(1880, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 60_000))
        if d == EXTRACTION:
            d -= dt.timedelta(days=1)
        shapes = [
            d.isoformat(),
            f"{d.isoformat()}T{self.rng.randrange(24):02d}:{self.rng.randrange(60):02d}:00Z",
            f"{d.isoformat()} 10:00:00{self.rng.choice(['+01:00', '-05:30', '+25:00', '+14:00'])}",
            f"{d.month}/{d.day}/{d.year}",
            f"{d.day:02d}.{d.month:02d}.{d.year}",
            f"{d.month}/{d.day}/{d.year} {self.rng.randrange(1, 13)}:05",
        ]
        return self.keep(self.rng.choice(shapes))

    def setting(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            return self.patient()  # a column shifted by mistake: ids where settings belong
        return self.rng.choice(
            [
                "primary_care",
                "virtual",
                "Primary Care",
                " EMERGENCY ",
                "urgent-care",
                "home",
                "ward",
                "Office Visit",
                "ED",
                "",
                "specialty",
                "other",
            ]
        )


HOSTILE = ['"', '""', "a,b", "x\ny", "x\r\ny", "x\ry", ";", "\t", "|", " ", "", "é", "\x00", 'a"b', '"q"']
WORDS = ["epoch", "infinity", "-infinity", "today", "nan", "inf", "1e19", "-1", "1e400", "soon"]


def value(column: str, plant: Plant) -> str:
    rng = plant.rng
    if rng.random() < 0.08:
        return rng.choice(HOSTILE + WORDS)
    if column in ("patient_id",):
        return plant.patient()
    if column in ("clinician_id",):
        return plant.clinician()
    if column in ("practice_id",):
        return f"PR{rng.randrange(10)}"
    if column in ("start", "active_from", "active_to", "birth_date", "death_date"):
        return plant.day()
    if column == "setting":
        return plant.setting()
    if column == "capacity":
        return rng.choice(["12", "1800", "0", "12.0", "12.5", "1e19", "inf", "nan", "-1", "1e400", "9" * 30, "lots"])
    if column == "role":
        return rng.choice(["MD", "np", "nurse", "Physician Assistant", "wizard", ""])
    if column == "sex":
        return rng.choice(["F", "M", "", "X"])
    return rng.choice(["fine", "a note", "two words, a comma", 'say "hi"', "line\nbreak", "ünï"])


TABLE_COLUMNS = {
    "encounters": (["patient_id", "start"], ["clinician_id", "practice_id", "setting", "note"]),
    "clinicians": (["clinician_id"], ["practice_id", "capacity", "role", "active_from", "active_to"]),
    "patients": (["patient_id"], ["birth_date", "sex", "death_date"]),
}


def render(rng: random.Random, columns: list[str], rows: list[list[str]]) -> tuple[bytes, str]:
    """Rows as delimited text with a random delimiter, quoting, line ends and bad bytes."""
    delimiter = rng.choice(",;\t|")
    quoting = rng.choice(["none", "all", "some"])
    endings = rng.choice([["\n"], ["\r\n"], ["\n", "\r\n"]])

    def field_text(text: str) -> str:
        if quoting == "all" or (quoting == "some" and rng.random() < 0.3):
            return '"' + text.replace('"', '""') + '"'
        return text

    out = delimiter.join(columns) + rng.choice(endings)
    for row in rows:
        line = delimiter.join(field_text(v) for v in row)
        if rng.random() < 0.05:
            line += delimiter + "extra"
        if rng.random() < 0.05:
            out += rng.choice(["", "   "]) + rng.choice(endings)  # a blank line
        out += line + rng.choice(endings)
    data = out.encode("utf-8")
    if rng.random() < 0.3:
        data = mutate(rng, data)
    if rng.random() < 0.1:
        data = data.rstrip(b"\r\n")  # no line end after the last line
    if rng.random() < 0.05:
        data = b"\xef\xbb\xbf" + data  # a byte order mark
    return data, delimiter


def csv_file(rng: random.Random, plant: Plant, table: str = "encounters", *, anchor: bool = True):
    """One generated file of a canonical table: ``(bytes, delimiter, columns)``."""
    required, optional = TABLE_COLUMNS[table]
    columns = required + rng.sample(optional, rng.randrange(len(optional) + 1))
    rng.shuffle(columns)
    rows = []
    if anchor:  # one row that is valid whatever else the file holds
        good = {"patient_id": plant.patient(), "start": "2024-01-02", "clinician_id": plant.clinician()}
        rows.append([good.get(c, "") for c in columns])
    rows += [[value(c, plant) for c in columns] for _ in range(rng.randrange(0, 30))]
    rng.shuffle(rows)
    data, delimiter = render(rng, columns, rows)
    return data, delimiter, columns


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Bad bytes after the header: invalid UTF-8, NUL, lone CR or quote, delimiters."""
    start = data.find(b"\n") + 1
    out = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(start, len(out) + 1)
        out[at:at] = rng.choice([b"\xff", b"\x00", b"\r", b'"', b",", b"\t", b"\n", b"\xe9t\xe9"])
    return bytes(out)


@pytest.fixture(scope="module")
def con():
    c = engine.connect()
    yield c
    c.disconnect()


def attempt(tally: Tally, plant: Plant, call, *, must_fail: bool | None = False, what: str = ""):
    """Run one read: count a traceback, a wrong exit, a leak; return the data or None.

    ``must_fail``: True when the input cannot be read, False when it holds a valid
    row that must be read, None when either is right (a valid row may have been
    damaged on purpose).
    """
    try:
        data = call()
    except CarethreadError as exc:
        if must_fail is False:
            tally.note("wrong_exits", f"{what}: {type(exc).__name__}: {exc}")
        leaks(tally, plant, [str(exc)], what)
        return None
    except Exception as exc:  # any other exception is the finding
        tally.note("tracebacks", f"{what}: {type(exc).__name__}: {exc}")
        return None
    if must_fail:
        tally.note("wrong_exits", f"{what}: read although it must fail")
    leaks(tally, plant, [*data.remarks, data.reconciliation()], what)
    return data


def leaks(tally: Tally, plant: Plant, messages, what: str) -> None:
    text = "\n".join(messages)
    found = sorted(v for v in plant.values if v in text)
    if found:
        tally.note("leaks", f"{what}: {found[:3]} in {text[:300]!r}")


def check_counts(tally: Tally, data, what: str) -> None:
    """Counts agree with the tables: accepted rows per table and quarantine rows per source."""
    by_source: dict[str, int] = {}
    for r in data.quarantine.to_pyarrow().to_pylist():
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    for count in data.counts:
        if by_source.get(count.source, 0) != count.quarantined:
            tally.note("rows_lost", f"{what}: {count.source} quarantine holds {by_source.get(count.source, 0)} rows")


def read_folder(tally: Tally, plant: Plant, con, folder: Path, *, must_fail: bool | None = False, **options):
    """:func:`attempt` to read ``folder``; when it reads, check its counts. The data or None."""
    data = attempt(
        tally,
        plant,
        lambda: read(folder, con=con, extraction_date=EXTRACTION, **options),
        must_fail=must_fail,
        what=str(folder),
    )
    if data is not None:
        check_counts(tally, data, str(folder))
    return data


def check_lines(tally: Tally, content: bytes, count, what: str) -> None:
    """A side table or a format reader's CSV file: its lines and rows add up."""
    physical = model_lines(content)[1:]
    nonblank = sum(not blank(line) for line in physical)
    odd = any(line.count(b'"') % 2 for line in physical)
    if count.lines != len(physical) or count.read > nonblank or (not odd and count.read != nonblank):
        tally.note("rows_lost", f"{what}: {count} from {len(physical)} lines, {nonblank} not blank")


def cases(family: str) -> tuple[Tally, random.Random]:
    return Tally(family), random.Random(f"{SEED}-{family}")


def batches(rng: random.Random, tmp_path: Path):
    """Folders for up to :data:`BATCH` cases each, read together: ``(folder, plant, n)``."""
    for batch in range(0, CASES, BATCH):
        folder = tmp_path / f"b{batch}"
        folder.mkdir()
        yield folder, Plant(rng), min(BATCH, CASES - batch)
        shutil.rmtree(folder)


# --- generic CSV and TSV ------------------------------------------------------------------


def test_fuzz_generic_csv(con, tmp_path):
    tally, rng = cases("generic CSV/TSV")
    for folder, plant, n in batches(rng, tmp_path):
        made = {}
        for i in range(n):
            content, delimiter, columns = csv_file(rng, plant)
            name = f"c{i:03d}.{'tsv' if delimiter == chr(9) and rng.random() < 0.5 else 'csv'}"
            (folder / name).write_bytes(content)
            made[name] = (content, delimiter, columns)
        tally.cases += len(made)
        data = read_folder(tally, plant, con, folder)
        if data is None:
            continue
        for name, (content, delimiter, columns) in made.items():
            try:
                check_accounting(content, delimiter, data, name, name.rsplit(".", 1)[0], columns)
            except AssertionError as exc:
                tally.note("rows_lost", f"{folder / name}: {exc}")
    tally.finish()


def test_fuzz_headerless_files_name_no_value(con, tmp_path):
    """First lines that are data, in every reader that reads CSV: positions, never values."""
    tally, rng = cases("headerless CSV (generic, Synthea, OMOP)")
    for i in range(CASES // 4):
        plant = Plant(rng)
        row = [plant.patient(), plant.day(), plant.clinician(), plant.number()][: rng.randrange(2, 5)]
        rng.shuffle(row)
        line = rng.choice(",;\t|").join(row) + "\n"
        kind = rng.choice(["generic", "synthea", "omop"])
        folder = tmp_path / f"h{i}"
        folder.mkdir()
        if kind == "generic":
            (folder / "encounters.csv").write_text(line * 2)
        elif kind == "synthea":
            (folder / "encounters.csv").write_text(line * 2)
            (folder / "providers.csv").write_text("Id,SPECIALITY\nc1,GENERAL PRACTICE\n")
        else:
            (folder / "visit_occurrence.csv").write_text(line * 2)
        tally.cases += 1
        attempt(
            tally,
            plant,
            lambda f=folder, k=kind: read(f, con=con, format=k, extraction_date=EXTRACTION),
            must_fail=True,
            what=f"{kind} {folder}",
        )
    tally.finish()


def test_fuzz_damaged_gzip(con, tmp_path):
    tally, rng = cases("gzip CSV")
    for i in range(CASES // 4):
        plant = Plant(rng)
        content, delimiter, columns = csv_file(rng, plant)
        content = content.rstrip(b"\r\n") + b"\n"
        content += content[content.find(b"\n") + 1 :] * 200  # long enough to damage in the middle
        # The anchor row may have been damaged on purpose (csv_file's bad bytes): one more, last,
        # so that an undamaged stream always holds a valid row.
        good = {"patient_id": plant.patient(), "start": "2024-01-02", "clinician_id": plant.clinician()}
        content += delimiter.join(good.get(c, "") for c in columns).encode() + b"\n"
        packed = gzip.compress(content, compresslevel=1)
        damage = rng.choice(["none", "cut", "flip", "tail"])
        middle = rng.randrange(10, max(len(packed) - 10, 11))
        if damage == "cut":
            packed = packed[:middle]
        elif damage == "flip":
            packed = packed[:middle] + bytes(b ^ 0xA5 for b in packed[middle : middle + 16]) + packed[middle + 16 :]
        elif damage == "tail":
            packed = packed[: -rng.randrange(1, 9)]
        path = tmp_path / f"g{i}.csv.gz"
        path.write_bytes(packed)
        tally.cases += 1
        data = attempt(
            tally,
            plant,
            lambda p=path: read(p, con=con, extraction_date=EXTRACTION),
            must_fail=damage != "none",
            what=f"{damage} {path}",
        )
        if data is not None:
            check_lines(tally, content, data.counts[0], str(path))
    tally.finish()


# --- Parquet -----------------------------------------------------------------------------


def _parquet_column(rng: random.Random, plant: Plant, kind: str, n: int) -> pa.Array:
    if kind == "id":
        choice = rng.choice(["string", "int", "float"])
        if choice == "string":
            return pa.array(
                [
                    rng.choice([plant.patient(), "", "  ", None]) if rng.random() < 0.2 else plant.patient()
                    for _ in range(n)
                ]
            )
        if choice == "int":
            return pa.array([rng.randrange(-5, 10**12) if rng.random() > 0.1 else None for _ in range(n)], pa.int64())
        special = [float("nan"), float("inf"), -float("inf"), 1e20, 2.0**60, 7.5, None]
        return pa.array(
            [rng.choice(special) if rng.random() < 0.3 else float(rng.randrange(10**6)) for _ in range(n)], pa.float64()
        )
    choice = rng.choice(["text", "timestamp", "tz", "date"])
    if choice == "text":
        return pa.array([plant.day() if rng.random() > 0.2 else rng.choice([*WORDS, "", None]) for _ in range(n)])
    base = dt.datetime(1890, 1, 1)
    stamps = [base + dt.timedelta(days=rng.randrange(0, 60_000)) for _ in range(n)]
    if choice == "date":
        return pa.array([s.date() for s in stamps], pa.date32())
    if choice == "tz":
        return pa.array([s.replace(tzinfo=dt.UTC) for s in stamps], pa.timestamp("us", tz="UTC"))
    return pa.array(stamps, pa.timestamp("us"))


def test_fuzz_parquet(con, tmp_path):
    tally, rng = cases("generic Parquet")
    for folder, plant, n_files in batches(rng, tmp_path):
        sizes = {}
        for i in range(n_files):
            n = rng.randrange(1, 40)
            table = pa.table(
                {
                    "patient_id": _parquet_column(rng, plant, "id", n),
                    "start": _parquet_column(rng, plant, "date", n),
                    "clinician_id": _parquet_column(rng, plant, "id", n),
                    "setting": pa.array([plant.setting() for _ in range(n)]),
                }
            )
            pq.write_table(table, folder / f"p{i:03d}.parquet")
            sizes[f"p{i:03d}.parquet"] = n
        # One clean file, so the read as a whole has a valid row.
        pq.write_table(
            pa.table(
                {
                    "patient_id": ["A1"],
                    "start": [dt.datetime(2024, 1, 1)],
                    "clinician_id": ["B1"],
                    "setting": ["virtual"],
                }
            ),
            folder / "zz.parquet",
        )
        tally.cases += len(sizes)
        data = read_folder(tally, plant, con, folder)
        if data is None:
            continue
        for count in data.counts:
            if count.source in sizes and count.read != sizes[count.source]:
                tally.note("rows_lost", f"{folder}: {count} for {sizes[count.source]} rows")
    tally.finish()


# --- side tables -------------------------------------------------------------------------


def test_fuzz_side_tables(con, tmp_path):
    tally, rng = cases("side tables (clinicians, patients)")
    for folder, plant, n in batches(rng, tmp_path):
        for sub in ("clinicians", "patients"):
            (folder / sub).mkdir()
        (folder / "encounters.csv").write_text(f"patient_id,clinician_id,start\n{plant.patient()},C1,2024-01-02\n")
        made = {}
        for i in range(n):
            table = rng.choice(["clinicians", "patients"])
            content, _delimiter, _columns = csv_file(rng, plant, table, anchor=rng.random() < 0.7)
            made[f"{table}/part-{i:03d}.csv"] = content
            (folder / table / f"part-{i:03d}.csv").write_bytes(content)
        for sub in ("clinicians", "patients"):
            if not any((folder / sub).iterdir()):
                (folder / sub).rmdir()
        tally.cases += len(made)
        data = read_folder(tally, plant, con, folder)
        if data is None:
            continue
        for count in data.counts:
            if count.source in made:
                check_lines(tally, made[count.source], count, f"{folder}/{count.source}")
    tally.finish()


# --- Synthea and OMOP CSV ----------------------------------------------------------------


def _maybe(rng: random.Random, good: str) -> str:
    return good if rng.random() > 0.1 else rng.choice(HOSTILE + WORDS)


def synthea_folder(rng: random.Random, plant: Plant, folder: Path) -> dict[str, bytes]:
    providers = [plant.clinician() for _ in range(rng.randrange(1, 6))]
    people = [plant.patient() for _ in range(rng.randrange(1, 8))]
    files = {}
    columns = ["Id", "ORGANIZATION", "NAME", "SPECIALITY"]
    rows = [
        [p, "ORG1", "Dr Who", rng.choice(["GENERAL PRACTICE", "CARDIOLOGY", "NURSE PRACTITIONER", ""])]
        for p in providers
    ]
    files["providers.csv"] = render(rng, columns, [[_maybe(rng, v) for v in r] for r in rows])[0]
    columns = ["Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "ENCOUNTERCLASS", "CODE"]
    rows = [
        [
            plant.keep(f"ENC{rng.randrange(10**8)}"),
            "2023-01-27T16:17:47Z",
            "",
            people[0],
            "ORG1",
            providers[0],
            "wellness",
            "1",
        ]
    ]  # a valid one
    for _ in range(rng.randrange(0, 25)):
        rows.append(
            [
                plant.keep(f"ENC{rng.randrange(10**8)}"),
                _maybe(rng, plant.day()),
                "",
                _maybe(rng, rng.choice(people)),
                "ORG1",
                _maybe(rng, rng.choice([*providers, plant.clinician()])),
                rng.choice(["wellness", "ambulatory", "emergency", "urgentcare", "virtual", "snf", "spa", ""]),
                "1",
            ]
        )
    files["encounters.csv"] = render(rng, columns, rows)[0]
    if rng.random() < 0.7:
        columns = ["Id", "BIRTHDATE", "DEATHDATE", "GENDER", "FIRST"]
        rows = [
            [p, _maybe(rng, plant.day()), rng.choice(["", plant.day()]), rng.choice(["M", "F", ""]), "Ann"]
            for p in people
        ]
        files["patients.csv"] = render(rng, columns, rows)[0]
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return files


def omop_folder(rng: random.Random, plant: Plant, folder: Path) -> dict[str, bytes]:
    people = [plant.number() for _ in range(rng.randrange(1, 8))]
    providers = [plant.number() for _ in range(rng.randrange(1, 5))]
    files = {}
    columns = [
        "visit_occurrence_id",
        "person_id",
        "visit_concept_id",
        "visit_start_date",
        "provider_id",
        "care_site_id",
    ]
    rows = [[plant.number(), people[0], "9202", "2023-03-01", providers[0], "1"]]  # a valid one
    for _ in range(rng.randrange(0, 25)):
        rows.append(
            [
                _maybe(rng, plant.number()),
                _maybe(rng, rng.choice(people)),
                rng.choice(["9201", "9202", "9203", "262", "0", "581477", "", "x"]),
                _maybe(rng, plant.day()),
                _maybe(rng, rng.choice(providers)),
                rng.choice(["1", "", "2"]),
            ]
        )
    files["VISIT_OCCURRENCE.csv"] = render(rng, columns, rows)[0]
    if rng.random() < 0.8:
        columns = ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth"]
        rows = [
            [
                p,
                rng.choice(["8507", "8532", "0", ""]),
                rng.choice(["1950", "99999999999", "0", "-5", "", "19x", "2150", "1e3"]),
                rng.choice(["1", "13", "0", "", "2"]),
                rng.choice(["1", "31", "0", ""]),
            ]
            for p in people
        ]
        files["PERSON.csv"] = render(rng, columns, rows)[0]
    if rng.random() < 0.8:
        columns = ["provider_id", "specialty_concept_id", "care_site_id"]
        rows = [[_maybe(rng, p), rng.choice(["38004446", "38004451", "0", ""]), "1"] for p in providers]
        files["PROVIDER.csv"] = render(rng, columns, rows)[0]
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return files


@pytest.mark.parametrize("fmt", ["synthea", "omop"])
def test_fuzz_synthea_and_omop_csv(con, tmp_path, fmt):
    tally, rng = cases(f"{'Synthea' if fmt == 'synthea' else 'OMOP'} CSV")
    make = synthea_folder if fmt == "synthea" else omop_folder
    for i in range(CASES // 8):
        folder = tmp_path / f"{fmt}{i}"
        folder.mkdir()
        plant = Plant(rng)
        files = make(rng, plant, folder)
        tally.cases += 1
        data = read_folder(tally, plant, con, folder, must_fail=None, format=fmt)
        if data is not None:
            for count in data.counts:
                if count.source in files:
                    check_lines(tally, files[count.source], count, f"{folder}/{count.source}")
        shutil.rmtree(folder)
    tally.finish()


# --- FHIR --------------------------------------------------------------------------------


def fhir_line(rng: random.Random, plant: Plant, resource: str) -> str:
    """One NDJSON line: a resource (sometimes of another type or broken), a blank, or garbage."""
    r = rng.random()
    if r < 0.05:
        return rng.choice(["", "   ", "\t"])
    if r < 0.12:
        return rng.choice(["{", "[1, 2]", "null", '{"resourceType": "Encounter", "id": ', "not json", '"x"'])
    if resource == "Encounter":
        body = {
            "resourceType": rng.choice(["Encounter"] * 9 + ["Patient"]),
            "id": plant.keep(f"enc{rng.randrange(10**8)}"),
            "status": rng.choice(["finished", "planned", "cancelled", "in-progress", None]),
            "class": {"code": rng.choice(["AMB", "EMER", "IMP", "VR", "HH", "XYZ", None])},
            "subject": {"reference": f"Patient/{plant.patient()}"},
            "period": {"start": rng.choice([plant.day(), "2024-01-02T10:00:00+01:00", "2024-13-40", None])},
            "participant": [{"individual": {"reference": f"Practitioner/{plant.clinician()}"}}],
        }
    elif resource == "Patient":
        body = {
            "resourceType": "Patient",
            "id": plant.patient(),
            "birthDate": plant.day(),
            "gender": rng.choice(["male", "female", "other", None]),
        }
    else:
        body = {"resourceType": "Practitioner", "id": plant.clinician()}
    if rng.random() < 0.1:
        body.pop("id", None)
    text = json.dumps({k: v for k, v in body.items() if v is not None})
    if rng.random() < 0.05:
        text = text[: rng.randrange(1, len(text))]  # cut short
    return text


def test_fuzz_fhir(con, tmp_path):
    tally, rng = cases("FHIR NDJSON")
    for i in range(CASES // 8):
        folder = tmp_path / f"f{i}"
        folder.mkdir()
        plant = Plant(rng)
        files = {}
        for n in range(rng.randrange(1, 4)):  # an export split over files
            files[f"Encounter.{n:03d}.ndjson"] = [
                fhir_line(rng, plant, "Encounter") for _ in range(rng.randrange(1, 30))
            ]
        for resource in rng.sample(["Patient", "Practitioner"], rng.randrange(3)):
            files[f"{resource}.ndjson"] = [fhir_line(rng, plant, resource) for _ in range(rng.randrange(0, 10))]
        written = {}
        for name, lines_ in files.items():
            content = "".join(line + rng.choice(["\n", "\r\n"]) for line in lines_).encode()
            if rng.random() < 0.1:
                content += b"\xff\xfe bad bytes\n"
            if rng.random() < 0.2:
                name += ".gz"
                (folder / name).write_bytes(gzip.compress(content))
            else:
                (folder / name).write_bytes(content)
            written[name] = content
        tally.cases += 1
        data = read_folder(tally, plant, con, folder, must_fail=None)
        if data is not None:
            for count in data.counts:
                content = written.get(count.source)
                nonblank = sum(bool(line.strip(b" \t\r")) for line in content.split(b"\n")) if content else None
                if nonblank is not None and count.read != nonblank:
                    tally.note("rows_lost", f"{folder}/{count.source}: {count}, {nonblank} lines not blank")
        shutil.rmtree(folder)
    tally.finish()
