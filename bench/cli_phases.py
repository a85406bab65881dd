"""Where ``carethread patients`` spends its time: the real CLI, with timestamps.

    python bench/cli_phases.py INPUT OUT.parquet

Runs ``carethread.cli.app(["patients", INPUT, "--out", OUT])`` in this
process with the CLI's steps wrapped, and prints (as JSON, from an exit
handler) the seconds since interpreter start-up at which each step ended.
The caller measures the process's total wall time; what remains after the
exit handler is interpreter and DuckDB tear-down.
"""

from __future__ import annotations

import atexit
import json
import sys
import time

T0 = time.perf_counter()
marks: dict[str, float] = {}


def mark(name: str) -> None:
    marks[name] = time.perf_counter() - T0


def wrap(module, name: str, label: str) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        mark(f"{label}:start")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"{label}:end")

    setattr(module, name, wrapper)


def main() -> None:
    import carethread.cli as cli
    from carethread.cli import measures
    from carethread.cli.data_options import DataOptions

    mark("import_cli")
    wrap(DataOptions, "read", "read")  # connect + read + validate + reconciliation
    wrap(measures, "emit", "write")
    wrap(measures, "print_remarks", "print_remarks")
    import carethread.measures.continuity as continuity

    mark("import_measure")
    wrap(continuity, "patient_continuity_remarks", "remarks")
    atexit.register(
        lambda: print(json.dumps({**marks, "atexit": time.perf_counter() - T0}), file=sys.__stdout__, flush=True)
    )
    try:
        cli.app(["patients", sys.argv[1], "--out", sys.argv[2]])
    except SystemExit as exc:
        mark("exit")
        if exc.code not in (0, None):
            raise


if __name__ == "__main__":
    main()
