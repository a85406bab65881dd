"""Exact comparison of two patient tables (carethread vs a reference)."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

INT_COLUMNS = ("n_visits", "n_clinicians")
INDEX_COLUMNS = ("upc", "coc", "secon", "mmci", "hhi", "k_index", "known_provider")


def compare_tables(a: pa.Table, b: pa.Table, *, key="patient_id", tol=1e-9, usual="usual_clinician_id") -> dict:
    """Join ``a`` and ``b`` on ``key``; count rows that differ, column by column.

    Integer columns and the usual clinician must be equal; index columns
    equal to ``tol`` with nulls in the same places. Returns a dict with row
    counts, the number of mismatches per column and the largest absolute
    difference of the index columns.
    """
    a = a.sort_by(key)
    b = b.sort_by(key)
    out = {"rows_a": a.num_rows, "rows_b": b.num_rows, "mismatch": {}, "max_abs_diff": 0.0}
    if a.num_rows != b.num_rows or not pc.all(pc.equal(a[key], b[key])).as_py():
        out["mismatch"][key] = "different patient sets"
        return out
    for col in INT_COLUMNS + ((usual,) if usual else ()):
        x, y = a[col].to_pylist(), b[col].to_pylist()
        bad = sum(1 for u, v in zip(x, y, strict=True) if u != v)
        if bad:
            out["mismatch"][col] = bad
    worst = 0.0
    for col in INDEX_COLUMNS:
        bad = 0
        for u, v in zip(a[col].to_pylist(), b[col].to_pylist(), strict=True):
            if _null(u) or _null(v):
                bad += _null(u) != _null(v)
                continue
            worst = max(worst, abs(u - v))
            bad += abs(u - v) > tol
        if bad:
            out["mismatch"][col] = bad
    out["max_abs_diff"] = worst
    return out


def _null(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def is_equal(result: dict) -> bool:
    return not result["mismatch"]
