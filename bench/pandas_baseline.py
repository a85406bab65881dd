"""Baseline (a): how a researcher would typically compute the indices with pandas.

Read the Parquet files with pandas, keep primary-care and virtual encounters
with a clinician, collapse same-day encounters into visits, then
``groupby('patient_id').apply(f)`` with ``f`` computing all seven indices
(and the visit count, clinician count and usual clinician) for one patient.
Same definitions as carethread (DESIGN.md section 3, INDICES.md), so its
output can be checked against ``carethread patients`` before timing them.

    python bench/pandas_baseline.py bench/data/1m/encounters --out bench/out/pandas_1m.parquet
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SETTINGS = ["primary_care", "virtual"]
MIN_VISITS = 2
LOOKBACK_DAYS = 365


def patient_indices(g: pd.DataFrame) -> pd.Series:
    """Every index for one patient's visits (rows of ``visits``)."""
    g = g.sort_values(["first_start", "clinician_id"])
    seq = g["clinician_id"].tolist()
    days = g["visit_date"].tolist()
    n = len(seq)
    counts = g["clinician_id"].value_counts()
    m = len(counts)
    last_seen = g.groupby("clinician_id")["visit_date"].max()
    # Usual clinician: most visits, then most recent visit, then smallest id.
    usual = sorted(counts.index, key=lambda c: (-counts[c], -last_seen[c].value, c))[0]

    out = {"n_visits": n, "n_clinicians": m, "usual_clinician_id": usual}
    if n < MIN_VISITS:
        return pd.Series(
            {**out, **dict.fromkeys(["upc", "coc", "secon", "mmci", "hhi", "k_index", "known_provider"], np.nan)}
        )
    sum_sq = int((counts**2).sum())
    same = sum(seq[t] == seq[t + 1] for t in range(n - 1))
    known = 0
    previous = {}
    for clinician, day in zip(seq, days, strict=True):
        if clinician in previous and (day - previous[clinician]).days <= LOOKBACK_DAYS:
            known += 1
        previous[clinician] = day
    out.update(
        upc=counts.max() / n,
        coc=(sum_sq - n) / (n * (n - 1)),
        secon=same / (n - 1),
        mmci=(n - m + 0.1) / (n - 0.9),
        hhi=sum_sq / (n * n),
        k_index=(n - m) / (n - 1),
        known_provider=known / (n - 1),
    )
    return pd.Series(out)


def patient_table(path: str | Path) -> pd.DataFrame:
    """One row per patient with an encounter, as ``carethread patients`` writes it."""
    enc = pd.read_parquet(path)
    everyone = pd.DataFrame({"patient_id": enc["patient_id"].unique()})
    enc = enc[enc["setting"].isin(SETTINGS) & enc["clinician_id"].notna()].copy()
    enc["visit_date"] = enc["start"].dt.normalize()
    visits = enc.groupby(["patient_id", "clinician_id", "visit_date"], as_index=False).agg(first_start=("start", "min"))
    per_patient = visits.groupby("patient_id").apply(patient_indices, include_groups=False).reset_index()
    out = everyone.merge(per_patient, on="patient_id", how="left")
    out["n_visits"] = out["n_visits"].fillna(0).astype("int64")
    out["n_clinicians"] = out["n_clinicians"].fillna(0).astype("int64")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input")
    parser.add_argument("--out")
    args = parser.parse_args()
    t0 = time.perf_counter()
    table = patient_table(args.input)
    seconds = time.perf_counter() - t0
    if args.out:
        table.to_parquet(args.out, index=False)
    print(json.dumps({"seconds": seconds, "patients": len(table)}))


if __name__ == "__main__":
    main()
