"""Cox regression with practice-clustered errors in linear time: statsmodels' ``PHReg``, score residuals vectorised.

statsmodels computes the cluster-robust ("sandwich") covariance of a Cox
model from each patient's score residual, but it builds those residuals by
walking every distinct event time and touching every patient still at risk
there, in Python sets: time proportional to patients × event times. On a
cohort of 250 000 patients followed for two years (730 distinct days) that
took 113 s of the 149 s of the whole outcome study (bench/RESULTS.md,
*Outcomes inside carethread all*), and ten times the patients take ten times
as long again.

:class:`ClusteredPHReg` is ``PHReg`` with two methods replaced by the same
formulas written as cumulative sums over the time-sorted patients (Lin & Wei
1989, with Breslow's handling of ties, which is how the study fits):

.. math::

    L_j = \\delta_j \\,(x_j - \\bar x(t_j)) - r_j \\,(x_j H(t_j) - B(t_j)),

where :math:`r_j = \\exp(x_j\\beta)`, :math:`\\bar x(u) = S_1(u)/S_0(u)` is the
risk-weighted mean of the covariates of the patients at risk at event time
:math:`u`, :math:`H(t) = \\sum_{u \\le t} d_u / S_0(u)` the Breslow cumulative
hazard and :math:`B(t) = \\sum_{u \\le t} d_u \\bar x(u) / S_0(u)`. The
cluster sums of :math:`L_j` then make the sandwich
:math:`H^{-1} (\\sum_g L_g L_g^\\top) H^{-1}` exactly as statsmodels does
(``tests/test_outcomes_cox.py`` checks both against statsmodels' own to
1e-9). One difference, on purpose: a patient censored before the first event
time has a score residual of 0 (they are never at risk at an event), where
statsmodels writes NaN and so loses every interval of the model.

Only what the study fits is supported: one stratum, no entry times, no
offset; anything else is refused rather than silently mis-computed.
"""

from __future__ import annotations

import numpy as np
from statsmodels.duration.hazard_regression import PHReg


class ClusteredPHReg(PHReg):
    """``PHReg`` whose cluster-robust covariance takes O(n log n) time (module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2))
    >>> days = rng.integers(1, 60, size=400).astype(float)
    >>> status = (rng.random(400) < 0.4).astype(float)
    >>> groups = rng.integers(0, 25, size=400)
    >>> fast = ClusteredPHReg(days, x, status=status, ties="breslow").fit(groups=groups)
    >>> slow = PHReg(days, x, status=status, ties="breslow").fit(groups=groups)
    >>> bool(np.allclose(fast.cov_params(), slow.cov_params(), rtol=1e-9, atol=1e-12))
    True
    """

    def __init__(self, endog, exog, status=None, **kwargs):
        for unsupported in ("entry", "strata", "offset"):
            if kwargs.get(unsupported) is not None:
                raise ValueError(f"ClusteredPHReg supports no {unsupported!r}; use statsmodels' PHReg")
        if kwargs.get("ties", "breslow") != "breslow":
            raise ValueError("ClusteredPHReg supports Breslow ties only; use statsmodels' PHReg")
        super().__init__(endog, exog, status=status, **kwargs)

    def score_residuals(self, params: np.ndarray) -> np.ndarray:
        """Each patient's score residual :math:`L_j` at ``params`` (one row per patient, in input order)."""
        time = np.asarray(self.endog, dtype=float)
        event = np.asarray(self.status) > 0
        x = np.asarray(self.exog, dtype=float)
        linear = x @ params
        risk = np.exp(linear - linear.max())  # the shift cancels between r_j and 1/S0
        n, p = x.shape
        if not event.any():
            return np.zeros((n, p))

        latest_first = np.argsort(-time, kind="stable")
        s0_upto = np.cumsum(risk[latest_first])
        s1_upto = np.cumsum(risk[latest_first, None] * x[latest_first], axis=0)
        event_times = np.unique(time[event])  # ascending
        # At risk at u: every patient whose time is >= u, i.e. the first `at_risk` in latest-first order.
        at_risk = np.searchsorted(-time[latest_first], -event_times, side="right")
        s0 = s0_upto[at_risk - 1]
        xbar = s1_upto[at_risk - 1] / s0[:, None]
        deaths = np.bincount(np.searchsorted(event_times, time[event]), minlength=event_times.size)
        hazard = deaths / s0
        cum_hazard = np.cumsum(hazard)
        cum_weighted = np.cumsum(hazard[:, None] * xbar, axis=0)

        last_event = np.searchsorted(event_times, time, side="right") - 1  # -1: censored before any event
        seen = last_event >= 0
        h = np.where(seen, cum_hazard[np.maximum(last_event, 0)], 0.0)
        b = np.where(seen[:, None], cum_weighted[np.maximum(last_event, 0)], 0.0)
        residuals = -risk[:, None] * (x * h[:, None] - b)
        residuals[event] += x[event] - xbar[last_event[event]]
        return residuals

    def robust_covariance(self, params: np.ndarray) -> np.ndarray:
        """The cluster-robust sandwich :math:`H^{-1} (\\sum_g L_g L_g^\\top) H^{-1}` over ``self.groups``."""
        if self.groups is None:
            raise ValueError("`groups` must be specified to calculate the robust covariance matrix")
        _, cluster = np.unique(self.groups, return_inverse=True)
        scores = self.score_residuals(params)
        per_cluster = np.zeros((cluster.max() + 1, scores.shape[1]))
        np.add.at(per_cluster, cluster, scores)
        meat = per_cluster.T @ per_cluster
        bread = np.linalg.inv(self.hessian(params))
        return bread @ meat @ bread
