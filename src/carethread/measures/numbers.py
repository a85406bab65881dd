"""Arithmetic every measure shares: guarded ratios, ranges and exact integer types.

* :func:`ratio` divides counts in floating point, null where the denominator
  is 0 or null (never NaN or infinity).
* :func:`within` keeps a value inside its documented range: an index that is
  1 by its formula may come out as ``1.0000000000000002`` in floating point
  (MMCI of one visit: ``0.1 / (1 - 0.9)``), and a range is a promise.
* :func:`exact_int64` makes the engine's type of a count what the result's
  schema says. Ibis types a sum of integers as ``int64`` and skips a cast to
  the type it already has, while DuckDB sums into a 128-bit ``HUGEINT``,
  which reaches Parquet as a double when the engine writes a file itself.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
from ibis.expr.types import NumericValue


def ratio(numerator: NumericValue, denominator: NumericValue) -> NumericValue:
    """``numerator / denominator`` as float64, null where the denominator is 0 or null.

    >>> [ratio(ibis.literal(3), ibis.literal(d)).to_pyarrow().as_py() for d in (4, 0)]
    [0.75, None]
    """
    return ibis.ifelse(denominator > 0, numerator.cast("float64") / denominator.cast("float64"), ibis.null("float64"))


def within(value: NumericValue, low: float = 0.0, high: float = 1.0) -> NumericValue:
    """``value`` kept inside ``[low, high]``; null stays null.

    Written as a ``CASE`` rather than ``clip``: DuckDB's ``greatest`` and
    ``least`` skip nulls, so a clipped null would become a bound.

    >>> within(ibis.literal(0.1) / (ibis.literal(1.0) - 0.9)).execute()
    1.0
    """
    return ibis.cases((value > high, high), (value < low, low), else_=value)


def exact_int64(value: NumericValue) -> NumericValue:
    """``value`` cast to ``int64`` in the engine too (a sum of counts, say); nullability kept.

    >>> t = ibis.memtable({"n": [1, 2]})
    >>> "AS BIGINT" in ibis.to_sql(t.aggregate(total=exact_int64(t.n.sum())))
    True
    """
    return ops.Cast(value, to=dt.Int64(nullable=value.type().nullable)).to_expr()
