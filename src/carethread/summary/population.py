"""Does the extract hold every patient of its clinicians, or a sample of patients?

The clinician side of a relationship — how much of a clinician's work one
patient is, how many patients a clinician sees, how much of their work goes
to their own panel — needs each clinician's whole workload. An extract that
holds a sample of patients (a research sample, a cohort, the public
Synthea samples) holds only the visits of the sampled patients, so each
patient looks like a large part of their clinician's work and the answer to
"who needs whom" comes out backwards.

The rule (docs/definitions.md, *Who needs whom*): over the clinicians with a
visit in the window, take each one's visits per working day (visits divided
by the days on which they had at least one, ``visits_per_day`` of
:func:`~carethread.measures.panels.panels`) and their median. A clinic day
holds many visits — 10 to 30 in primary care — so a median below
:data:`SAMPLE_BELOW_VISITS_PER_DAY` means most of each clinician's day is
missing: the extract is taken for a sample of patients. In a sample of a
fraction ``f`` of the patients of a clinician with ``λ`` visits a day, the
days that hold a sampled visit hold ``fλ / (1 − e^(−fλ))`` of them: about 1
for small samples. Calibration (docs/definitions.md): 27.5 on the 20 000-patient
demo system, 1.0 to 1.1 on its 0.5 % and 1 % samples, 1.7 on its 5 % sample,
2.5 to 2.9 on its 10 % samples, 5 and more from 20 %; 1.0 on every vendored
public sample. Samples of more than about a sixth of the patients are not
detected; their clinician side overstates each patient's share of the
clinician's work by about the inverse of the sampling fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis

from carethread.errors import OptionError

SAMPLE, COMPLETE = "sample", "complete"
POPULATIONS: tuple[str, ...] = (SAMPLE, COMPLETE)

#: Below this median of visits per working day over clinicians, the extract is taken for a sample of patients.
SAMPLE_BELOW_VISITS_PER_DAY = 3.0

#: What a clinician-side number says instead of a value on a patient sample.
NOT_MEASURABLE = "not measurable from a patient sample"


def check_population(population: str | None) -> str | None:
    """``"sample"``, ``"complete"`` or ``None`` (guess from the data); anything else is an error.

    >>> check_population(" Sample "), check_population(None)
    ('sample', None)
    """
    if population is None:
        return None
    value = str(population).strip().lower()
    if value not in POPULATIONS:
        raise OptionError(f"--population must be sample or complete (or left out to guess), not {population!r}.")
    return value


@dataclass(frozen=True)
class Population:
    """Whether an extract is a sample of patients, and the numbers that say so.

    ``kind`` is ``sample`` or ``complete``; ``guessed`` is ``False`` when the
    user said so; ``clinicians`` are those with a visit in the window, and
    ``visits_per_day`` and ``patients_per_clinician`` the medians over them.
    """

    kind: str
    guessed: bool
    clinicians: int = 0
    visits_per_day: float | None = None
    patients_per_clinician: float | None = None

    @property
    def is_sample(self) -> bool:
        return self.kind == SAMPLE

    def evidence(self) -> str:
        """The numbers, in words: ``the median clinician has 1.0 visit per working day in this extract``."""
        if self.visits_per_day is None:
            return "no clinician has a visit in the window"
        return (
            f"the median clinician has {self.visits_per_day:.1f} visits per working day in this extract, "
            "where a clinic day usually holds 10 to 30"
        )

    def reason(self) -> str:
        """Why the clinician side is (not) measured, in plain words."""
        if self.is_sample:
            why = (
                "This extract seems to hold a sample of patients: " + self.evidence()
                if self.guessed
                else "This extract was declared a sample of patients (--population sample)"
            )
            return (
                f"{why}. Each clinician's work with the patients left out is missing, so how much of a "
                "clinician's work one patient is, how many patients a clinician sees and clinician-side "
                "continuity cannot be measured; the patient side can."
            )
        if not self.guessed:
            return (
                "This extract was declared complete (--population complete): every clinician's whole workload is in it."
            )
        return f"Clinicians' workloads look complete: {self.evidence()}."

    def to_dict(self) -> dict:
        return {
            "population": self.kind,
            "guessed": self.guessed,
            "clinicians": self.clinicians,
            "median_visits_per_working_day": self.visits_per_day,
            "median_patients_per_clinician": self.patients_per_clinician,
            "sample_below_visits_per_working_day": SAMPLE_BELOW_VISITS_PER_DAY,
            "reason": self.reason(),
        }


def detect_population(panels: ibis.Table | None, *, population: str | None = None) -> Population:
    """The :class:`Population` of an extract, from its :func:`~carethread.measures.panels.panels` table.

    Parameters
    ----------
    panels
        Panels over the window the summary describes (its ``visits``,
        ``visits_per_day`` and ``patients_seen``); ``None`` when only the
        user's ``population`` is known.
    population
        ``"sample"`` or ``"complete"`` overrides the guess; ``None`` guesses
        (module docstring). With no clinician visit at all the guess is
        ``complete``: there is no clinician side to get wrong.

    Examples
    --------
    Two clinicians who each see one patient a day look like a sample:

    >>> import ibis
    >>> p = ibis.memtable({"visits": [40, 30], "visits_per_day": [1.0, 1.2], "patients_seen": [3, 2]})
    >>> found = detect_population(p)
    >>> found.kind, found.visits_per_day, found.patients_per_clinician
    ('sample', 1.1, 2.5)
    >>> detect_population(p, population="complete").kind
    'complete'
    """
    told = check_population(population)
    if panels is None:
        return Population(told or COMPLETE, guessed=told is None)
    seen = panels.filter(panels.visits > 0)
    row = (
        seen.aggregate(
            clinicians=seen.count(),
            visits_per_day=seen.visits_per_day.median(),
            patients=seen.patients_seen.median(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    per_day = _number(row["visits_per_day"])
    patients = _number(row["patients"])
    if told is not None:
        kind = told
    else:
        kind = SAMPLE if per_day is not None and per_day < SAMPLE_BELOW_VISITS_PER_DAY else COMPLETE
    return Population(kind, told is None, int(row["clinicians"] or 0), per_day, patients)


def _number(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 6)


def no_verdict(population: Population, patient_share: float | None, per_patient: float | None) -> str:
    """The headline on a patient sample: no verdict, the reason, and what the patient side says.

    >>> print(no_verdict(Population(SAMPLE, True, 9, 1.0, 1.0), 0.75, 2))  # doctest: +NORMALIZE_WHITESPACE
    No verdict on who needs whom: this extract seems to hold a sample of patients (the median clinician has 1.0
    visits per working day in this extract, where a clinic day usually holds 10 to 30), so each clinician's whole
    workload is missing and the clinician side cannot be measured. A typical patient gets 75 % of their care
    from one clinician; clinicians per patient: about 2.
    """
    from carethread.wording import about, percent

    if population.guessed:
        why = f"this extract seems to hold a sample of patients ({population.evidence()})"
    else:
        why = "this extract was declared a sample of patients"
    text = (
        f"No verdict on who needs whom: {why}, so each clinician's whole workload is missing and the clinician "
        "side cannot be measured."
    )
    if patient_share is not None:
        text += f" A typical patient gets {percent(patient_share)} of their care from one clinician"
        text += f"; clinicians per patient: about {about(per_patient)}." if per_patient is not None else "."
    return text
