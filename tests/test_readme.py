"""The README's commands keep working: every command and the Python tour run here."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CARETHREAD = Path(sys.executable).parent / "carethread"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def shell_commands() -> list[str]:
    commands, current = [], ""
    for line in "\n".join(blocks("sh")).splitlines():
        line = line.split("  #")[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not line:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


def test_readme_opens_with_the_two_make_commands():
    first = blocks("sh")[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)


@pytest.mark.slow  # the demo's 20 000 patients
def test_every_readme_cli_command_runs(tmp_path):
    # The tour's own extract, with the column names its --map mentions.
    (tmp_path / "visits.csv").write_text(
        "PAT_ID,PROV_NPI,VISIT_DT\n0001,1234567890,2023-01-05\n0001,1234567890,2023-03-05\n0002,,2023-02-01\n"
    )
    commands = [c for c in shell_commands() if c.startswith("carethread ")]
    # One command per README line that starts one (continuation lines joined).
    starts = [line for block in blocks("sh") for line in block.splitlines() if line.startswith("carethread ")]
    assert len(commands) == len(starts)
    for command in commands:
        args = shlex.split(command)
        res = subprocess.run([str(CARETHREAD), *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"{command}\n{res.stderr}"
        assert "Traceback" not in res.stderr


def test_readme_python_tour_runs(tmp_path):
    subprocess.run(
        [str(CARETHREAD), "synth", "--patients", "500", "--years", "1", "--out", "synth/"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    code = blocks("python")[0]
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


@pytest.mark.slow  # the demo's 20 000 patients
def test_make_demo_command_runs(tmp_path):
    """The command `make demo` runs, on the embedded default, in a scratch folder."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(.*)$", makefile, flags=re.M).group(1)
    args = shlex.split(recipe.replace("$(BIN)/", ""))
    assert args[:2] == ["carethread", "demo"]
    res = subprocess.run([str(CARETHREAD), *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    demo = tmp_path / "carethread-demo"
    # The demo is synth + all: every table, the answer, the report and the manifest.
    manifest = json.loads((demo / "manifest.json").read_text())
    for name in ("patients", "attribution", "panels", "dyads", "breaks", "who_needs_whom", "report"):
        assert (demo / manifest["outputs"][name]["file"]).is_file(), name
    patients = pq.read_table(demo / "patients.parquet")
    # The console's summary counts the patients the file holds a UPC for.
    upc_line = next(line for line in res.stdout.splitlines() if line.startswith("Median UPC "))
    scored = int(re.search(r" over ([\d ]+) patients", upc_line)[1].replace(" ", ""))
    assert scored == patients.num_rows - patients["upc"].null_count
