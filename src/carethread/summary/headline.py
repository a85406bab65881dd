"""The who-needs-whom answer in one or two sentences a practice manager can quote."""

from __future__ import annotations

from collections.abc import Mapping

from carethread.wording import about, percent

#: The headline when there is no visit to describe.
NO_VISITS = "No visits in the window, so there is no relationship to describe."


def about_count(n: float | None, word: str) -> str:
    """``about 2 clinicians``, ``about 1 clinician``: a rounded typical number and its noun.

    >>> about_count(1437, "relationship"), about_count(1, "clinician"), about_count(1.5, "clinician")
    ('about 1 400 relationships', 'about 1 clinician', 'about 1.5 clinicians')
    """
    text = about(n)
    return f"about {text} {word}" + ("" if text == "1" else "s")


def headline(values: Mapping[str, float | None]) -> str:
    """Which side needs the relationship more, with the key numbers.

    ``values`` maps measure names (see :data:`carethread.summary.MEASURES`)
    to their estimates, ``None`` where undefined. The lead clause compares
    the two sides of the same relationships: "far more" when the patient's
    share from their usual clinician is at least ten times the share of that
    clinician's work the patient is.

    >>> print(headline({"patient_share_from_usual_clinician": 0.8, "patient_share_of_usual_clinicians_work": 0.001,
    ...                 "patients_per_clinician": 1437, "clinicians_per_patient": 2}))  # doctest: +NORMALIZE_WHITESPACE
    Patients need the relationship far more than clinicians do: a typical patient gets 80 % of their care from
    one clinician, while a typical patient is 0.10 % of that clinician's work. Each clinician holds about
    1 400 relationships; each patient about 2.
    >>> headline({}) == NO_VISITS
    True
    """
    pt = values.get("patient_share_from_usual_clinician")
    cl = values.get("patient_share_of_usual_clinicians_work")
    per_c, per_p = values.get("patients_per_clinician"), values.get("clinicians_per_patient")
    if pt is None or cl is None:
        if per_c is None:
            return NO_VISITS
        return (
            f"Too few patients had repeat visits to compare the two sides. Each clinician holds "
            f"{about_count(per_c, 'relationship')}; each patient {about(per_p)}."
        )
    if cl > 0 and pt >= 10 * cl:
        lead = "Patients need the relationship far more than clinicians do"
    elif pt > cl:
        lead = "Patients need the relationship more than clinicians do"
    elif pt == cl:
        lead = "Patients and clinicians need the relationship equally"
    else:
        lead = "Clinicians need the relationship more than patients do"
    return (
        f"{lead}: a typical patient gets {percent(pt)} of their care from one clinician, while a typical "
        f"patient is {percent(cl)} of that clinician's work. Each clinician holds "
        f"{about_count(per_c, 'relationship')}; each patient about {about(per_p)}."
    )
