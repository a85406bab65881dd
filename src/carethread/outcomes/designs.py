"""Design presets: four published studies of continuity and outcomes, one name each.

A preset fixes what its paper fixed -- exposure, windows, cohort, outcomes and
model -- so that ``--design nyweide2013`` reruns that study's design on the
data at hand. Options given alongside a preset override it. docs/outcomes.md
explains each design and its limits in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from carethread.errors import OptionError


@dataclass(frozen=True)
class Design:
    """What a study fixes. ``None`` leaves an option to its default."""

    name: str
    citation: str
    fixes: str
    exposure: str = "upc"
    outcomes: tuple[str, ...] = ("ed_visits",)
    model: str = "poisson"
    baseline_months: int = 12
    followup_months: int = 24
    min_visits: int = 2
    min_age: float | None = None
    max_age: float | None = None
    exposure_level: str = "patient"
    headline: str = "per_unit"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def override(self, **given) -> Design:
        """This design with the options given (not ``None``) in place of its own."""
        return replace(self, **{k: v for k, v in given.items() if v is not None})


#: The study a plain call runs: UPC, emergency visits, Poisson, one year of baseline and two of follow-up.
DEFAULT = Design(
    name="default",
    citation="",
    fixes="UPC over one year, emergency visits over the next two, Poisson rate ratios per +0.1 and by quintile.",
)

DESIGNS: dict[str, Design] = {
    "barker2017": Design(
        name="barker2017",
        citation=(
            "Barker I, Steventon A, Deeny SR. Association between continuity of care in general practice and "
            "hospital admissions for ambulatory care sensitive conditions: cross sectional study of routinely "
            "collected, person level data. BMJ 2017;356:j84."
        ),
        fixes=(
            "UPC over two years; patients aged 62-82 with at least two visits; admissions (ambulatory care "
            "sensitive ones when --events lists them) counted in the year after; negative binomial rate ratios. "
            "The paper counted admissions in the same two years (a cross-sectional design); the preset counts "
            "them in the year after, so that the admissions cannot cause the continuity."
        ),
        exposure="upc",
        outcomes=("admissions",),
        model="negbin",
        baseline_months=24,
        followup_months=12,
        min_visits=2,
        min_age=62,
        max_age=82,
        notes=("The paper reported -6.22 % admissions per +0.2 UPC: compare exp(2 log IRR per 0.1).",),
    ),
    "bazemore2018": Design(
        name="bazemore2018",
        citation=(
            "Bazemore A, Petterson S, Peterson LE, Bruno R, Chung Y, Phillips RL Jr. Higher primary care "
            "physician continuity is associated with lower costs and hospitalizations. Ann Fam Med "
            "2018;16(6):492-497."
        ),
        fixes=(
            "Bice-Boxerman COC averaged over each usual clinician's patients (a physician-level score given to "
            "their patients) and grouped in quintiles, the lowest the reference; patients aged 65 or more; any "
            "admission in the year after a one-year baseline; logistic odds ratios. The paper used one year of "
            "Medicare claims for both; the preset separates them."
        ),
        exposure="coc",
        outcomes=("admissions",),
        model="logistic",
        baseline_months=12,
        followup_months=12,
        min_visits=2,
        min_age=65,
        exposure_level="clinician",
        headline="top_group",
    ),
    "nyweide2013": Design(
        name="nyweide2013",
        citation=(
            "Nyweide DJ, Anthony DL, Bynum JPW, Strawderman RL, Weeks WB, Casalino LP, Fisher ES. Continuity "
            "of care and the risk of preventable hospitalization in older adults. JAMA Intern Med "
            "2013;173(20):1879-1885."
        ),
        fixes=(
            "COC over a one-year baseline; patients older than 65 with at least four visits in it; time to the "
            "first admission (a preventable one when --events lists them) over two years, censored at death; "
            "Cox hazard ratios per +0.1. The paper let continuity vary over the follow-up (a time-dependent "
            "covariate); the preset keeps the baseline value."
        ),
        exposure="coc",
        outcomes=("admissions",),
        model="cox",
        baseline_months=12,
        followup_months=24,
        min_visits=4,
        min_age=66,
    ),
    "sandvik2022": Design(
        name="sandvik2022",
        citation=(
            "Sandvik H, Hetlevik Ø, Blinkenberg J, Hunskaar S. Continuity in general practice as predictor of "
            "mortality, acute hospitalisation, and use of out-of-hours care: a registry-based observational "
            "study in Norway. Br J Gen Pract 2022;72(715):e84-e90."
        ),
        fixes=(
            "Years since the first visit with the current usual clinician, in bands of 1, 2-3, 4-5, 6-10, 11-15 "
            "and more than 15 years (the first year the reference); everyone with a visit; death, admissions "
            "and emergency visits (the out-of-hours care of the paper) in the year after; logistic odds ratios."
        ),
        exposure="duration",
        outcomes=("death", "admissions", "ed_visits"),
        model="logistic",
        baseline_months=12,
        followup_months=12,
        min_visits=1,
        headline="top_group",
        notes=(
            "Durations are counted from the first visit in the data: on a short extract the long bands stay empty.",
        ),
    ),
}


def design(name: str | None) -> Design:
    """The preset called ``name`` (``None``: :data:`DEFAULT`).

    >>> design("nyweide2013").model
    'cox'
    >>> design("smith2020")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: --design must be one of barker2017, bazemore2018, nyweide2013, ...
    """
    if name is None:
        return DEFAULT
    key = str(name).strip().lower()
    if key not in DESIGNS:
        raise OptionError(f"--design must be one of {', '.join(DESIGNS)}, not {name!r}.")
    return DESIGNS[key]
