"""Run a command as a child process; measure wall time, CPU time and peak memory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Run:
    wall: float  # seconds, from spawn to exit
    cpu: float  # user + system seconds of the child (and its waited-for children)
    peak_rss: int  # bytes: max over polls of the summed RSS of the process tree, or the kernel's maxrss
    returncode: int
    stdout: str
    stderr: str


def _poll_tree(pid: int, stop: threading.Event, out: dict, interval: float = 0.02) -> None:
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        out["peak"] = max(out.get("peak", 0), total)
        stop.wait(interval)


def run_measured(cmd: list[str], *, env: dict | None = None, cwd: str | None = None) -> Run:
    """Run ``cmd``; its RSS is polled every 20 ms and checked against ``wait4``'s maxrss.

    The reported peak is the larger of the two: polling sees the whole
    process tree, the kernel's maxrss (``ru_maxrss``) sees a peak shorter
    than the polling interval.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    stop, seen = threading.Event(), {}
    poller = threading.Thread(target=_poll_tree, args=(proc.pid, stop, seen), daemon=True)
    poller.start()
    # Read the pipes in threads so a chatty child never blocks on a full pipe.
    chunks = {"out": [], "err": []}
    readers = [
        threading.Thread(target=lambda s=proc.stdout, k="out": chunks[k].append(s.read()), daemon=True),
        threading.Thread(target=lambda s=proc.stderr, k="err": chunks[k].append(s.read()), daemon=True),
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    poller.join()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss=max(seen.get("peak", 0), usage.ru_maxrss * 1024),
        returncode=proc.returncode,
        stdout="".join(chunks["out"]),
        stderr="".join(chunks["err"]),
    )
