"""Everything from one input in one run: :func:`run_all` (the command line's ``carethread all``).

:func:`run_all` reads and validates the input once, stages it, computes every
measure of the registry over it, writes each table with the window it
describes, then the who-needs-whom answer, the report and ``manifest.json``.
Modules: :mod:`.windows` (the one window story every command tells),
:mod:`.registry` (the measures, and :func:`register` for new ones),
:mod:`.pipeline` (the run), :mod:`.manifest` (what it records) and
:mod:`.story` (what it prints). Names are imported when first used, so the
command line can read :mod:`.windows` without loading the engine.
"""

from importlib import import_module

_NAMES = {
    "RunResult": "pipeline",
    "run_all": "pipeline",
    "MEASURES": "registry",
    "Measure": "registry",
    "RunContext": "registry",
    "RunOptions": "registry",
    "batched": "registry",
    "register": "registry",
    "table_of": "registry",
    "CURRENT": "windows",
    "OVER_TIME": "windows",
    "TREND_YEARS": "windows",
    "Window": "windows",
    "all_data_window": "windows",
    "current_window": "windows",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(import_module(f"carethread.run.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'carethread.run' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
