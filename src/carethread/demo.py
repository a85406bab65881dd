"""``carethread demo``: the whole product, end to end, on a synthetic health system.

A synthetic system is generated and written to ``data/``, then
:func:`carethread.run_all` computes every table, the who-needs-whom answer
and the report from it, exactly as ``carethread all data/`` would, and the
console prints what ``carethread all`` prints (:mod:`carethread.run.story`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from rich.console import Console

from carethread.wording import format_count


def run_demo(
    out_dir: str | Path = "carethread-demo",
    *,
    n_patients: int = 20_000,
    years: float = 3,
    seed: int = 0,
    bootstrap: int = 200,
    console: Console | None = None,
    step=None,
):
    """Generate a synthetic system into ``out_dir/data``, then run everything on it into ``out_dir``.

    Returns the :class:`~carethread.run.pipeline.RunResult` of
    :func:`carethread.run_all` (its ``paths`` name every file written).
    """
    from carethread.engine import connect
    from carethread.privacy import load_or_create_key
    from carethread.readers import read
    from carethread.run.pipeline import run_all
    from carethread.run.story import console_lines
    from carethread.synth import generate

    console = console or Console()
    step = step or (lambda message: contextlib.nullcontext())
    out = Path(out_dir)
    with step(f"Generating a synthetic health system of {format_count(n_patients)} patients"):
        generate(n_patients, years=years, seed=seed, outcomes=True).write(out / "data")
    with step("Reading and validating"):
        data = read(out / "data", con=connect())
    result = run_all(
        data,
        out=out,
        source=out / "data",
        seed=seed,
        bootstrap=bootstrap,
        key=load_or_create_key(out / "data"),
        title="Care relationships: synthetic demo health system",
        progress=step,
    )
    for line in console_lines(result):
        console.print(line)
    console.print(data.reconciliation())
    for i, remark in enumerate(result.shown.remarks, 1):
        console.print(f"  {i}. {remark}")
    console.print(f"Report: {result.paths['report']} (open it in a browser)")
    return result
