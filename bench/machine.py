"""Facts about the machine and software a benchmark ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from importlib import metadata


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def facts() -> dict:
    import psutil

    blas = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO_"))}
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "duckdb": _version("duckdb"),
        "ibis": _version("ibis-framework"),
        "sqlglot": _version("sqlglot"),
        "pandas": _version("pandas"),
        "pyarrow": _version("pyarrow"),
        "numpy": _version("numpy"),
        "carethread": _version("carethread"),
        "blas_env": blas or "none set (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS unset)",
        "load_average": os.getloadavg(),
    }
