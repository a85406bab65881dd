"""A nonparametric bootstrap over patients, with patient weights instead of copies.

Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall,
1993. Each replicate draws ``n`` patients with replacement out of ``n``; a
patient drawn ``k`` times counts ``k`` times. Instead of copying rows, a
replicate is a vector of integer weights (how often each patient was drawn),
and every statistic is computed from the fixed rows under those weights:
sums become weighted sums and medians become :class:`WeightedMedian`.

Intervals are 95 % percentile intervals (the 2.5th and 97.5th percentiles of
the replicates, as ``numpy.percentile``) from
``numpy.random.default_rng(seed)``: the same rows, in the same order, and the
same seed give the same intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

#: Percentiles of the replicates that bound an interval.
INTERVAL_PERCENTILES: tuple[float, float] = (2.5, 97.5)


class WeightedMedian:
    """Median of fixed values under integer weights, with the values ranked once.

    ``values[i]`` is counted ``weights[i]`` times. Each call only sums weights
    per distinct value (one ``bincount``) and walks the cumulative counts, so
    it needs no sort. The median of an even total averages the two middle
    values, as ``numpy.median`` does on the repeated values; with no weight
    at all it is NaN.

    >>> import numpy as np
    >>> median = WeightedMedian(np.array([1.0, 2.0, 4.0]))
    >>> median(np.array([1, 1, 1])), median(np.array([0, 1, 1])), median(np.array([3, 0, 1]))
    (2.0, 3.0, 1.0)
    """

    def __init__(self, values: np.ndarray):
        self.distinct, self.code = np.unique(values, return_inverse=True)

    def __call__(self, weights: np.ndarray) -> float:
        if self.code.size == 0:
            return math.nan
        cum = np.cumsum(np.bincount(self.code, weights=weights, minlength=self.distinct.size))
        total = cum[-1]
        if total < 0.5:
            return math.nan
        total = round(total)
        lo = self.distinct[np.searchsorted(cum, (total - 1) // 2 + 0.5)]
        hi = self.distinct[np.searchsorted(cum, total // 2 + 0.5)]
        return float((lo + hi) / 2)


def bootstrap_intervals(
    statistics: Callable[[np.ndarray], Mapping[str, float]],
    n_patients: int,
    *,
    replicates: int,
    seed: int,
    estimate: Mapping[str, float | None],
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every statistic that has an estimate.

    Parameters
    ----------
    statistics
        Every statistic by name for one weight vector (``n_patients`` integer
        weights; all ones give the estimate). NaN marks an undefined value.
    n_patients
        Patients to resample.
    replicates, seed
        Bootstrap replicates and the seed of ``numpy.random.default_rng``.
    estimate
        The statistics on the data (``None`` = undefined): statistics without
        an estimate get no interval.

    Returns
    -------
    dict
        ``name -> (low, high)``, the 2.5th and 97.5th percentiles of the
        replicates where the statistic is defined; names whose replicates are
        never defined are left out.

    Examples
    --------
    The mean of ten values: the interval lies around the estimate.

    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> mean = lambda w: {"mean": float(w @ x / w.sum())}
    >>> low, high = bootstrap_intervals(mean, 10, replicates=200, seed=0, estimate={"mean": 4.5})["mean"]
    >>> bool(2 < low < 4.5 < high < 7)
    True
    """
    intervals: dict[str, tuple[float, float]] = {}
    if not replicates or not n_patients:
        return intervals
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(replicates):
        weights = np.bincount(rng.integers(0, n_patients, n_patients), minlength=n_patients)
        for name, value in statistics(weights).items():
            draws.setdefault(name, []).append(value)
    for name, values in draws.items():
        replicated = np.asarray(values, dtype=np.float64)
        finite = replicated[np.isfinite(replicated)]
        if estimate.get(name) is not None and finite.size:
            low, high = np.percentile(finite, list(INTERVAL_PERCENTILES))
            intervals[name] = (float(low), float(high))
    return intervals
