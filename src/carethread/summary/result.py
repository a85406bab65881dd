"""The result of who-needs-whom: its measures, their descriptions and the result object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from carethread.measures.break_causes import CAUSES as BREAK_CAUSES
from carethread.measures.breaks import KINDS as BREAK_KINDS
from carethread.summary.population import NOT_MEASURABLE, Population

__all__ = ["BREAK_CAUSES", "BREAK_KINDS", "CLINICIAN_SIDE", "MEASURES", "WhoNeedsWhom", "result_table"]

#: (name, description) of every measure, in table order.
MEASURES: tuple[tuple[str, str], ...] = (
    (
        "patient_share_from_usual_clinician",
        "Median share of a patient's visits made to their usual clinician (UPC), patients with enough visits.",
    ),
    (
        "patient_share_of_usual_clinicians_work",
        "Median share of the usual clinician's visits that one of their patients makes, same patients.",
    ),
    (
        "patient_share_of_clinicians_work_all_dyads",
        "Median share of a clinician's visits made by one patient, over every patient-clinician pair.",
    ),
    ("patients_per_clinician", "Median number of distinct patients a clinician saw."),
    ("clinicians_per_patient", "Median number of distinct clinicians a patient saw."),
    ("provider_side_continuity", "Visits clinicians gave to their own panel / all visits clinicians gave (pooled)."),
    (
        "patient_side_continuity",
        "Visits of attributed patients with their own clinician / all visits of attributed patients (pooled).",
    ),
)

#: The measures that need each clinician's whole workload: null on a sample of patients
#: (:mod:`carethread.summary.population`).
CLINICIAN_SIDE: tuple[str, ...] = (
    "patient_share_of_usual_clinicians_work",
    "patient_share_of_clinicians_work_all_dyads",
    "patients_per_clinician",
    "provider_side_continuity",
)

#: (name, description) of the break measures, in table order, after :data:`MEASURES`.
BREAK_MEASURES: tuple[tuple[str, str], ...] = (
    ("breaks_partner", "Relationship breaks to a clinician in the same practice."),
    ("breaks_other_practice", "Relationship breaks to a clinician in another practice."),
    ("breaks_emergency_only", "Relationship breaks with only emergency or urgent care since."),
    ("breaks_lost", "Relationship breaks with no encounter in the next 12 months."),
    ("breaks_total", "All relationship breaks."),
    ("breaks_clinician_left", "Relationship breaks after which the clinician had no encounter at all."),
    ("breaks_patient_moved_on", "Relationship breaks while the clinician went on working."),
)


@dataclass(frozen=True)
class WhoNeedsWhom:
    """The result of :func:`~carethread.summary.who_needs_whom`.

    Attributes
    ----------
    table
        ``pyarrow.Table`` with ``name, value, ci_low, ci_high, description,
        note``, one row per measure (see :mod:`carethread.summary.dependence`);
        values and bounds are float64, null when undefined; ``note`` says
        why a value is missing on purpose (``not measurable from a patient
        sample``), else null.
    headline
        One or two plain sentences with the key numbers.
    window
        ``{"start", "end", "as_of"}`` as ISO dates (``end`` and ``as_of``
        exclusive).
    counts
        Sizes behind the medians: patients, clinicians, dyads, visits,
        patients with enough visits.
    bootstrap, seed
        Replicates and seed of the intervals.
    remarks
        Caveats that do not block the result.
    population
        The :class:`~carethread.summary.population.Population` the answer
        assumed: a sample of patients or a complete extract, and why.
    """

    table: pa.Table
    headline: str
    window: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    bootstrap: int = 0
    seed: int = 0
    remarks: tuple[str, ...] = ()
    population: Population | None = None

    def value(self, name: str) -> float | None:
        """The estimate of one measure by name."""
        return self.to_dict()["measures"][name]["value"]

    def to_dict(self) -> dict:
        """Plain Python: ``headline``, ``measures`` (name -> value, ci_low, ci_high, description), and the rest."""
        measures = {
            r["name"]: {k: r[k] for k in ("value", "ci_low", "ci_high", "description")} for r in self.table.to_pylist()
        }
        return {
            "headline": self.headline,
            "measures": measures,
            "window": dict(self.window),
            "counts": dict(self.counts),
            "bootstrap": {"replicates": self.bootstrap, "seed": self.seed, "interval": "95% percentile"},
            "remarks": list(self.remarks),
            "population": self.population.to_dict() if self.population is not None else None,
        }


def result_table(
    values: Mapping[str, float | None],
    intervals: Mapping[str, tuple[float, float]],
    *,
    with_breaks: bool,
    sample: bool = False,
) -> pa.Table:
    """``name, value, ci_low, ci_high, description, note``: one row per measure, in :data:`MEASURES` order.

    Measures missing from ``values`` or ``intervals`` are null. With
    ``sample`` the :data:`CLINICIAN_SIDE` measures are noted as not
    measurable from a patient sample.

    >>> t = result_table({"patients_per_clinician": 6.0}, {"patients_per_clinician": (5.0, 7.0)}, with_breaks=False)
    >>> t.num_rows, t.to_pylist()[3]["value"], t.to_pylist()[3]["ci_high"], t.to_pylist()[0]["value"]
    (7, 6.0, 7.0, None)
    >>> result_table({}, {}, with_breaks=False, sample=True).to_pylist()[3]["note"]
    'not measurable from a patient sample'
    """
    described = MEASURES + (BREAK_MEASURES if with_breaks else ())
    names = [name for name, _description in described]
    return pa.table(
        {
            "name": pa.array(names, pa.string()),
            "value": pa.array([values.get(n) for n in names], pa.float64()),
            "ci_low": pa.array([intervals.get(n, (None, None))[0] for n in names], pa.float64()),
            "ci_high": pa.array([intervals.get(n, (None, None))[1] for n in names], pa.float64()),
            "description": pa.array([description for _name, description in described], pa.string()),
            "note": pa.array([NOT_MEASURABLE if sample and n in CLINICIAN_SIDE else None for n in names], pa.string()),
        }
    )
