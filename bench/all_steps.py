"""Where one ``run_all`` spends its time and memory: its own steps, and the report's inside the ``report`` step.

    python bench/all_steps.py bench/data/10m/encounters [--out bench/out/all_steps] [--memory-limit 6GB]

Runs :func:`carethread.run_all` in this process once, with the report's
progress steps (:data:`carethread.reporting.progress.STEPS`) timed too, and
prints one Markdown table: wall and CPU seconds per step, their share, and
the process's peak resident memory during the step (sampled every 0.1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import threading
import time

import psutil


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PeakMemory:
    """The largest resident set seen since the last :meth:`reset`, sampled on a thread."""

    def __init__(self, every: float = 0.1) -> None:
        self.peak = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self, every: float) -> None:
        while not self._stop.wait(every):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def reset(self) -> int:
        peak, self.peak = max(self.peak, self._process.memory_info().rss), 0
        return peak

    def close(self) -> None:
        self._stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("--out", default="bench/out/all_steps")
    parser.add_argument("--memory-limit", default=None, help="DuckDB's memory limit (default: carethread's)")
    args = parser.parse_args()

    import carethread
    from carethread import engine
    from carethread.reporting import progress
    from carethread.run import pipeline

    seen: list[tuple[str, float, float, int]] = []
    memory = PeakMemory()

    @contextlib.contextmanager
    def timed(name: str):
        memory.reset()
        wall, used = time.perf_counter(), cpu()
        yield
        seen.append((name, time.perf_counter() - wall, cpu() - used, memory.reset()))
        print(f"{name}: {seen[-1][1]:.1f} s, {seen[-1][3] / 2**30:.2f} GiB", file=sys.stderr, flush=True)

    progress.Progress.step = lambda self, name: timed(f"report: {name}")
    con = engine.connect(memory_limit=args.memory_limit)
    began, began_cpu = time.perf_counter(), cpu()
    pipeline.run_all(args.input, out=args.out, key="ab" * 16, progress=timed, con=con)
    total, total_cpu = time.perf_counter() - began, cpu() - began_cpu
    memory.close()
    limit = engine.duckdb_resources(con)[0] / 2**30
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"DuckDB memory limit {limit:.1f} GiB; process peak RSS {peak:.2f} GiB")
    print("| step | wall | CPU | share of CPU | peak RSS |\n|---|---:|---:|---:|---:|")
    for name, wall, used, peak in seen:
        if name != "report":  # its parts are listed instead
            print(f"| {name} | {wall:.1f} s | {used:.1f} s | {100 * used / total_cpu:.0f} % | {peak / 2**30:.2f} GiB |")
    print(f"| all (version {carethread.__version__}) | {total:.1f} s | {total_cpu:.1f} s | 100 % | |")


if __name__ == "__main__":
    main()
