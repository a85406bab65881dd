"""E-values: how strong an unmeasured confounder would have to be to explain an estimate away.

VanderWeele TJ, Ding P. Sensitivity analysis in observational research:
introducing the E-value. Ann Intern Med 2017;167(4):268-274.
"""

from __future__ import annotations

import math

#: Above this share of patients with the outcome, an odds or hazard ratio is
#: first turned into an approximate risk ratio (VanderWeele & Ding 2017, Table).
COMMON_OUTCOME = 0.15


def risk_ratio(estimate: float, kind: str, outcome_share: float = 0.0) -> float:
    """The risk ratio an estimate stands for, for the E-value.

    Rate ratios count as risk ratios. An odds ratio of a common outcome
    (``outcome_share`` above :data:`COMMON_OUTCOME`) becomes ``sqrt(OR)``; a
    hazard ratio of a common outcome ``(1 - 0.5**sqrt(HR)) / (1 - 0.5**sqrt(1/HR))``.
    A rare outcome's odds and hazard ratios approximate the risk ratio as
    they are.

    >>> risk_ratio(0.64, "OR", 0.3)
    0.8
    >>> round(risk_ratio(0.8, "HR", 0.3), 4)
    0.8568
    """
    if outcome_share <= COMMON_OUTCOME or kind in ("IRR", "RR"):
        return estimate
    if kind == "OR":
        return math.sqrt(estimate)
    if kind == "HR":
        return (1 - 0.5 ** math.sqrt(estimate)) / (1 - 0.5 ** math.sqrt(1 / estimate))
    raise ValueError(f"unknown ratio {kind!r}")


def e_value(ratio: float | None) -> float | None:
    """The E-value of a risk ratio: ``RR + sqrt(RR (RR - 1))``, with ``RR`` taken above 1.

    A protective ratio is inverted first; a ratio of 1 has E-value 1; ``None``
    (or a ratio that is not positive) gives ``None``.

    >>> round(e_value(0.8), 3)
    1.809
    >>> e_value(1.0), e_value(None)
    (1.0, None)
    """
    if ratio is None or not ratio > 0 or math.isnan(ratio):
        return None
    rr = ratio if ratio >= 1 else 1 / ratio
    return rr + math.sqrt(rr * (rr - 1))


def e_values(
    estimate: float | None, ci_low: float | None, ci_high: float | None, kind: str, outcome_share: float = 0.0
) -> tuple[float | None, float | None]:
    """``(e_value, e_value_ci)``: the E-value of the estimate and of its interval limit nearer 1.

    The interval's E-value is 1 when the interval contains 1: no confounding
    at all is needed to move it to the null.

    Parameters
    ----------
    estimate, ci_low, ci_high
        A ratio and its 95 % interval.
    kind
        ``"IRR"``, ``"RR"``, ``"OR"`` or ``"HR"``.
    outcome_share
        Share of patients with the outcome (decides whether an odds or hazard
        ratio is converted, :func:`risk_ratio`).

    Examples
    --------
    A rate ratio of 0.80 (0.70 to 0.91):

    >>> [round(v, 3) for v in e_values(0.80, 0.70, 0.91, "IRR")]
    [1.809, 1.429]
    >>> e_values(0.95, 0.85, 1.06, "IRR")[1]
    1.0
    """
    if estimate is None or ci_low is None or ci_high is None:
        return None, None
    point = e_value(risk_ratio(estimate, kind, outcome_share))
    if ci_low <= 1 <= ci_high:
        return point, 1.0
    near = ci_high if estimate < 1 else ci_low
    return point, e_value(risk_ratio(near, kind, outcome_share))
