"""The linear-time clustered Cox fit gives statsmodels' own numbers (carethread.outcomes.cox)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.duration.hazard_regression import PHReg

from carethread.outcomes.cox import ClusteredPHReg


def _data(seed: int, n: int = 300, p: int = 3, days: int = 40, clusters: int = 25):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    x[:, 0] = rng.integers(0, 2, size=n)  # a binary covariate, like a quintile indicator
    time = rng.integers(1, days, size=n).astype(float)  # integer days: many ties
    status = (rng.random(n) < 0.35).astype(float)
    status[time == time.min()] = 1.0  # nobody is censored before the first event time
    groups = rng.integers(0, clusters, size=n)
    return time, x, status, groups


@pytest.mark.parametrize("seed", range(5))
def test_covariance_and_residuals_are_statsmodels(seed):
    time, x, status, groups = _data(seed)
    fast = ClusteredPHReg(time, x, status=status, ties="breslow")
    slow = PHReg(time, x, status=status, ties="breslow")
    ours, theirs = fast.fit(groups=groups), slow.fit(groups=groups)
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-12)
    np.testing.assert_allclose(fast.score_residuals(ours.params), slow.score_residuals(theirs.params), atol=1e-12)
    np.testing.assert_allclose(ours.cov_params(), theirs.cov_params(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours.conf_int(), theirs.conf_int(), rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 40),
    days=st.integers(1, 8),
    p=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_residuals_match_statsmodels_where_it_defines_them(n, days, p, seed):
    """Any sizes, ties and censoring: equal where statsmodels defines a residual, 0 where it writes NaN."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    time = rng.integers(1, days + 1, size=n).astype(float)
    status = (rng.random(n) < 0.5).astype(float)
    params = rng.normal(scale=0.5, size=p)
    ours = ClusteredPHReg(time, x, status=status).score_residuals(params)
    if status.sum() == 0:
        assert (ours == 0).all()
        return
    theirs = PHReg(time, x, status=status, ties="breslow").score_residuals(params)
    undefined = np.isnan(theirs).all(axis=1)
    np.testing.assert_allclose(ours[~undefined], theirs[~undefined], atol=1e-10)
    assert (ours[undefined] == 0).all()
    # Censored before the first event time: never at risk at an event, so no score.
    assert (undefined == (time < time[status > 0].min())).all()
    # The residuals of a Cox model sum to its score, which is 0 at the estimate; here at any
    # params they sum to the score statsmodels computes.
    np.testing.assert_allclose(ours.sum(axis=0), PHReg(time, x, status=status).score(params), atol=1e-9)


def test_early_censoring_keeps_the_intervals():
    """statsmodels loses every interval when one patient is censored before the first event; we do not."""
    time, x, status, groups = _data(7)
    time[0], status[0] = 0.5, 0.0
    ours = ClusteredPHReg(time, x, status=status).fit(groups=groups)
    assert np.isfinite(ours.conf_int()).all()
    theirs = PHReg(time, x, status=status, ties="breslow").fit(groups=groups)
    assert np.isnan(theirs.conf_int()).all()
    np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-10)


@pytest.mark.parametrize(
    "option", [{"entry": np.zeros(10)}, {"strata": np.zeros(10)}, {"offset": np.zeros(10)}, {"ties": "efron"}]
)
def test_refuses_what_it_does_not_compute(option):
    time, x, status, _ = _data(0, n=10)
    with pytest.raises(ValueError, match="PHReg"):
        ClusteredPHReg(time, x, status=status, **option)
