"""Who needs whom: the doctor-patient relationship summarised from both sides.

:func:`who_needs_whom` summarises the results of the measures (dyads, the
usual clinician, the attribution, relationship breaks) over one window;
:func:`who_needs_whom_from_encounters` computes those results once from the
encounters and summarises them. Modules: :mod:`.dependence` (the measures and
what they compute), :mod:`.encounters` (the tables of the encounters),
:mod:`.bootstrap` (intervals), :mod:`.headline` (the sentence), :mod:`.result`
(the result object). Definitions: docs/definitions.md,
*Who needs whom*.
"""

from carethread.measures.dependence.dependence import who_needs_whom
from carethread.measures.dependence.encounters import who_needs_whom_from_encounters
from carethread.measures.dependence.result import BREAK_KINDS, MEASURES, WhoNeedsWhom

__all__ = [
    "BREAK_KINDS",
    "MEASURES",
    "WhoNeedsWhom",
    "who_needs_whom",
    "who_needs_whom_from_encounters",
]
