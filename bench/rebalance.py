"""Rebalancing at scale: 100 000 orphaned patients over 500 clinicians (issue 16: solved in ≤ 60 s).

    python bench/rebalance.py                       # 100 000 orphans, 500 receiving clinicians, 3 repetitions
    python bench/rebalance.py --orphans 20000 --reps 1

Builds encounters in which ``--departing`` clinicians leave (one per practice
of ``--practice-size`` receiving clinicians) with ``--orphans`` patients
between them, beside the receiving clinicians' own panels, then times, in
one process on one DuckDB connection and with the encounters cached:

* **prepare**: the roster, strengths and bounded candidates in the engine
  and their arrays in Python (:func:`carethread.measures.rebalance.prepare.prepare`);
* **solve**: the HiGHS model (:func:`carethread.measures.rebalance.model.solve`);
* **outputs**: the moves, per-clinician summary and explanations (:func:`plan_from`);
* **patients**: :func:`carethread.patient_continuity` on the same encounters, for the ratio.

Each orphan saw their departing clinician 4–8 times, each colleague of
their practice with probability 0.45 (1–3 visits) and one clinician of
another practice with probability 0.1; each receiving clinician holds
``--panel`` patients of their own (2 visits each). Receiving clinicians have
places for 1.15 × the orphans in all, split at random, so the places with
the clinicians the orphans know are contested. Prints a Markdown table:
medians and every repetition, the problem's size and the gap.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

import numpy as np
import pyarrow as pa

import carethread
from carethread.measures.rebalance.model import solve
from carethread.measures.rebalance.plan import plan_from
from carethread.measures.rebalance.prepare import PlanOptions, prepare

AS_OF = dt.datetime(2024, 7, 1)


def system(orphans: int, departing: int, practice_size: int, panel: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Encounters and clinicians of the benchmark (module docstring), built with numpy."""
    rng = np.random.default_rng(seed)
    receivers = departing * practice_size
    n_clin = departing + receivers
    practice = np.concatenate([np.arange(departing), np.repeat(np.arange(departing), practice_size)])
    home = rng.integers(0, departing, orphans)  # the departing clinician (and practice) of each orphan
    parts = []

    def visit(patient, clinician, times):
        parts.append((np.repeat(patient, times), np.repeat(clinician, times)))

    visit(np.arange(orphans), home, rng.integers(4, 9, orphans))  # more than any colleague: attributed there
    for k in range(practice_size):
        seen = rng.random(orphans) < 0.45
        colleague = departing + home * practice_size + k
        visit(np.flatnonzero(seen), colleague[seen], rng.integers(1, 4, int(seen.sum())))
    far = np.flatnonzero(rng.random(orphans) < 0.1)
    visit(far, departing + rng.integers(0, receivers, far.size), 1)
    own = orphans + np.arange(receivers * panel)
    visit(own, departing + own % receivers, 2)
    patient = np.concatenate([p for p, _ in parts])
    clin = np.concatenate([c for _, c in parts])
    day = rng.integers(1, 540, patient.size)
    ids = np.char.add("C", np.arange(n_clin).astype(str))
    encounters = pa.table(
        {
            "encounter_id": pa.array(np.char.add("E", np.arange(patient.size).astype(str))),
            "patient_id": pa.array(np.char.add("P", patient.astype(str))),
            "clinician_id": pa.array(ids[clin]),
            "practice_id": pa.array(np.char.add("X", practice[clin].astype(str))),
            "start": pa.array(np.datetime64(AS_OF, "D") - day.astype("timedelta64[D]")).cast(pa.timestamp("us")),
            "setting": pa.array(np.full(patient.size, "primary_care")),
        }
    )
    room = np.floor(rng.dirichlet(np.ones(receivers)) * 1.15 * orphans).astype(np.int64) + 1
    capacity = np.concatenate([np.full(departing, panel), panel + room])
    clinicians = pa.table(
        {
            "clinician_id": pa.array(ids),
            "practice_id": pa.array(np.char.add("X", practice.astype(str))),
            "capacity": pa.array(capacity),
        }
    )
    return encounters, clinicians


def timed(run):
    """``run()``, its wall time and the process's CPU time (all threads) while it ran."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orphans", type=int, default=100_000)
    parser.add_argument("--departing", type=int, default=100)
    parser.add_argument("--practice-size", type=int, default=5)
    parser.add_argument("--panel", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    encounters, clinicians = system(args.orphans, args.departing, args.practice_size, args.panel, args.seed)
    con = carethread.connect()
    enc = con.create_table("encounters", encounters)
    clin = con.create_table("clinicians", clinicians)
    leave = clinicians["clinician_id"].to_pylist()[: args.departing]
    options = PlanOptions.of(leave=leave, allow_unplaced=True)
    times: dict[str, list[tuple[float, float]]] = {"prepare": [], "solve": [], "outputs": [], "patients": []}
    for _ in range(args.reps):
        prep, seconds = timed(lambda: prepare(enc, clinicians=clin, settings=None, as_of=AS_OF, options=options))
        times["prepare"].append(seconds)
        solution, seconds = timed(lambda prep=prep: solve(prep.problem))
        times["solve"].append(seconds)
        plan, seconds = timed(lambda prep=prep, solution=solution: plan_from(prep, solution))
        times["outputs"].append(seconds)
        _, seconds = timed(lambda: carethread.patient_continuity(enc).to_pyarrow())
        times["patients"].append(seconds)
    problem = prep.problem
    patients = statistics.median(wall for wall, _ in times["patients"])
    print(f"Encounters: {encounters.num_rows:,}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"Problem: {problem.n_patients:,} orphans, {problem.n_clinicians:,} receiving clinicians, "
        f"{problem.strength.size:,} candidate pairs ({problem.strength.size / problem.n_patients:.1f} a patient); "
        f"{solution.method} ({solution.reason}), {solution.status}, gap {solution.gap:g}, "
        f"{solution.variables:,} variables, "
        f"{solution.constraints:,} constraints; placed {problem.n_patients - plan.unplaced:,}, "
        f"known clinician kept for {plan.kept_known:,}"
    )
    print("\n| step | median wall (s) | runs: wall / CPU (s) | × patients |\n|---|---:|---|---:|")
    for name, values in times.items():
        median = statistics.median(wall for wall, _ in values)
        runs = ", ".join(f"{wall:.2f} / {cpu:.2f}" for wall, cpu in values)
        print(f"| {name} | {median:.2f} | {runs} | {median / patients:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
