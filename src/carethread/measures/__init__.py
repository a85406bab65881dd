"""Every measure of carethread, one module per concept.

Each measure takes the canonical encounters and keyword-only options in one
grammar (:mod:`carethread.options`) and returns a lazy Ibis table:

* :func:`patient_continuity` (:mod:`~carethread.measures.continuity`) and its
  :func:`continuity_summary`;
* :func:`attribute`, :func:`attribution_ranking` and :func:`attribution_summary`
  (:mod:`~carethread.measures.attribution`);
* :func:`panels` and :func:`panel_rollup` (:mod:`~carethread.measures.panels`);
* :func:`dyads` (:mod:`~carethread.measures.dyads`);
* :func:`rebalance` and :func:`what_if` (:mod:`~carethread.measures.rebalance`),
  which plan a clinician's departure and return their plan computed;
* :func:`relationship_breaks` (:mod:`~carethread.measures.breaks`);
* :func:`sharing_network`, :func:`care_density`,
  :func:`fragmented_care_density` and :func:`care_teams`
  (:mod:`~carethread.measures.network`);
* :func:`who_needs_whom` (:mod:`carethread.summary`, imported when first
  used), which returns its answer computed, with bootstrap intervals.

The functions are imported here, not on first use, because two of them share
their module's name (``panels``, ``dyads``): importing a module binds its name
in the package, and only a binding made after it can name the function.

Definitions: docs/definitions.md.
"""

from carethread.measures.attribution import attribute, attribution_ranking, attribution_summary
from carethread.measures.breaks import relationship_breaks
from carethread.measures.continuity import continuity_summary, patient_continuity
from carethread.measures.dyads import dyads
from carethread.measures.network import care_density, care_teams, fragmented_care_density, sharing_network
from carethread.measures.panels import panel_rollup, panels
from carethread.measures.rebalance import rebalance, what_if

__all__ = [
    "attribute",
    "attribution_ranking",
    "attribution_summary",
    "care_density",
    "care_teams",
    "continuity_summary",
    "dyads",
    "fragmented_care_density",
    "panel_rollup",
    "panels",
    "patient_continuity",
    "rebalance",
    "relationship_breaks",
    "sharing_network",
    "what_if",
    "who_needs_whom",
]


def __getattr__(name: str):
    # carethread.summary imports the measures, so it is imported when first asked for.
    if name == "who_needs_whom":
        from carethread.summary import who_needs_whom

        return who_needs_whom
    raise AttributeError(f"module 'carethread.measures' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
