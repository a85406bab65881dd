"""Where one ``run_all`` spends its time: its own steps, and the report's inside the ``report`` step.

    python bench/all_steps.py bench/data/10m/encounters [--out bench/out/all_steps]

Runs :func:`carethread.run_all` in this process once, with the report's
progress steps (:data:`carethread.reporting.progress.STEPS`) timed too, and
prints one Markdown table: wall and CPU seconds per step and their share.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("--out", default="bench/out/all_steps")
    args = parser.parse_args()

    import carethread
    from carethread.reporting import progress
    from carethread.run import pipeline

    seen: list[tuple[str, float, float]] = []

    @contextlib.contextmanager
    def timed(name: str):
        wall, used = time.perf_counter(), cpu()
        yield
        seen.append((name, time.perf_counter() - wall, cpu() - used))

    progress.Progress.step = lambda self, name: timed(f"report: {name}")
    began, began_cpu = time.perf_counter(), cpu()
    pipeline.run_all(args.input, out=args.out, key="ab" * 16, progress=timed)
    total, total_cpu = time.perf_counter() - began, cpu() - began_cpu
    print("| step | wall | CPU | share of CPU |\n|---|---:|---:|---:|")
    for name, wall, used in seen:
        if name != "report":  # its parts are listed instead
            print(f"| {name} | {wall:.1f} s | {used:.1f} s | {100 * used / total_cpu:.0f} % |")
    print(f"| all (version {carethread.__version__}) | {total:.1f} s | {total_cpu:.1f} s | 100 % |", file=sys.stdout)


if __name__ == "__main__":
    main()
