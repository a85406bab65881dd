"""Attribution (panel assignment): rules, the auditable ranking, and the summary.

* :mod:`~carethread.measures.attribution.rules` — the four rules, their
  tie-breaks and :func:`attribute`;
* :mod:`~carethread.measures.attribution.ranking` — :func:`attribution_ranking`,
  every clinician of every patient with the reason for their rank;
* :mod:`~carethread.measures.attribution.summary` — :func:`attribution_summary`
  and :func:`attribution_remarks`.

Definitions: docs/definitions.md, *Attribution*.
"""

from carethread.measures.attribution.ranking import RANKING_COLUMNS, attribution_ranking
from carethread.measures.attribution.rules import (
    ATTRIBUTION_COLUMNS,
    PRIMARY_CARE_SPECIALTIES,
    RULES,
    TIER_LABELS,
    attribute,
    attribution_window,
    choose,
    clinician_tiers,
    visit_pairs,
)
from carethread.measures.attribution.summary import SUMMARY_COLUMNS, attribution_remarks, attribution_summary

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "PRIMARY_CARE_SPECIALTIES",
    "RANKING_COLUMNS",
    "RULES",
    "SUMMARY_COLUMNS",
    "TIER_LABELS",
    "attribute",
    "attribution_ranking",
    "attribution_remarks",
    "attribution_summary",
    "attribution_window",
    "choose",
    "clinician_tiers",
    "visit_pairs",
]
