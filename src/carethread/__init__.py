"""carethread: measure, explain and protect the doctor-patient relationship.

The public API, imported lazily so the command line starts fast::

    import carethread
    con = carethread.connect()
    data = carethread.read("encounters.csv", con=con)
    patients = carethread.patient_continuity(data.encounters)
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("carethread")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

_API = {
    "connect": "carethread.engine",
    "read": "carethread.readers",
    "visits": "carethread.visits",
    "patient_continuity": "carethread.measures.continuity",
    "continuity_summary": "carethread.measures.continuity",
    "generate": "carethread.synth",
    "report": "carethread.reporting",
}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'carethread' has no attribute {name!r}")
