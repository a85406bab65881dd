"""What the relationship is worth: outcomes by continuity, relationship survival, the clinician's side.

Modules by concept: :mod:`.windows` (baseline and follow-up), :mod:`.cohort`
(one row per patient, in the engine), :mod:`.duration` (years with the usual
clinician), :mod:`.models` (statsmodels fits), :mod:`.evalue` (E-values),
:mod:`.designs` (four published designs), :mod:`.study` (:func:`outcomes`),
:mod:`.events` (the user's events file), :mod:`.survival` (Kaplan-Meier of
relationships) and :mod:`.clinician` (tenure and departure). docs/outcomes.md
explains the designs; docs/definitions.md, *Outcome windows*, *Relationship
duration* and *Clinician tenure*, define the measures.
"""

from carethread.outcomes.clinician import clinician_tenure, tenure_hazards
from carethread.outcomes.designs import DESIGNS
from carethread.outcomes.duration import relationship_duration
from carethread.outcomes.evalue import e_value, e_values
from carethread.outcomes.events import read_events
from carethread.outcomes.remarks import outcomes_remarks
from carethread.outcomes.study import OUTCOME_COLUMNS, outcomes
from carethread.outcomes.survival import relationship_survival
from carethread.outcomes.windows import StudyWindows, study_windows

__all__ = [
    "DESIGNS",
    "OUTCOME_COLUMNS",
    "StudyWindows",
    "clinician_tenure",
    "e_value",
    "e_values",
    "outcomes",
    "outcomes_remarks",
    "read_events",
    "relationship_duration",
    "relationship_survival",
    "study_windows",
    "tenure_hazards",
]
