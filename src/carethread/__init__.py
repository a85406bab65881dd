"""carethread: measure, explain and protect the doctor-patient relationship.

The public API, imported lazily so the command line starts fast::

    import carethread
    con = carethread.connect()
    data = carethread.read("encounters.csv", con=con)
    patients = carethread.patient_continuity(data.encounters)

Every measure of :mod:`carethread.measures` is here too (``dir(carethread)``
lists them), beside :func:`run_in_batches`, which runs a per-patient measure
on slices of patients when the input is larger than memory, and
:func:`run_all`, which computes every measure, the answer and the report from
one input read once.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("carethread")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

#: The names of ``carethread.measures.__all__`` (a test keeps the two lists equal).
_MEASURES = (
    "patient_continuity",
    "continuity_summary",
    "attribute",
    "attribution_ranking",
    "attribution_summary",
    "panels",
    "panel_rollup",
    "dyads",
    "relationship_breaks",
    "who_needs_whom",
    "sharing_network",
    "care_density",
    "fragmented_care_density",
    "care_teams",
    "rebalance",
    "what_if",
)

_API = {
    "connect": "carethread.engine",
    "read": "carethread.readers",
    "visits": "carethread.visits",
    **dict.fromkeys(_MEASURES, "carethread.measures"),
    "run_in_batches": "carethread.batches",
    "run_all": "carethread.run",
    **dict.fromkeys(("outcomes", "relationship_duration", "relationship_survival"), "carethread.outcomes"),
    **dict.fromkeys(("clinician_tenure", "tenure_hazards"), "carethread.outcomes"),
    "generate": "carethread.synth",
    "report": "carethread.reporting",
}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'carethread' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
