"""Accuracy of ``relationship_breaks`` on the synthetic health system: the tables in docs/breaks.md.

    python bench/breaks_accuracy.py [--patients 20000] [--seeds 0,1,2,3]

For each seed on its own: the generator's default system (20 000 patients, three
years plus 18 months of history), breaks detected on all encounters and scored
when dated in the span, matched to the true switches as tests/breaks_reference.py
does (same patient and kind, dates within 180 days; recall over the switches the
truth marks observable). Prints Markdown:

* precision and recall per seed for every kind, and of ``cause = clinician_left``;
* how the detected cause agrees with the true one, per true cause;
* the precision-recall curve over ``confirm`` (0 = attribution churn);
* partner precision and recall against the share of visits away from the usual
  clinician and against visits per year (generator options ``away_share`` and
  ``primary_care_rate``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from carethread import engine  # noqa: E402
from carethread.measures.breaks import KINDS, relationship_breaks  # noqa: E402
from carethread.synth import generate  # noqa: E402
from tests.breaks_reference import match_breaks, scores  # noqa: E402

SPAN_START = date(2022, 1, 1)
SWITCHES = ("partner", "other_practice")


def run(con, system, **options) -> tuple[list[dict], list[dict]]:
    """Detected breaks dated in the span, and the true switches."""
    enc = con.create_table("encounters", system.encounters, overwrite=True)
    clin = con.create_table("clinicians", system.clinicians, overwrite=True)
    got = relationship_breaks(enc, clinicians=clin, **options).to_pyarrow().to_pylist()
    return [d for d in got if d["break_date"] >= SPAN_START], system.true_switches.to_pylist()


def away_share_and_rate(system) -> tuple[float, float]:
    """Share of primary-care visits in the span with someone other than the true usual clinician
    of that quarter, and the median primary-care visit days per patient-year."""
    import duckdb

    con = duckdb.connect()
    con.register("enc", system.encounters)
    con.register("usual", system.true_usual)
    away = con.sql(
        """
        select avg((v.clinician_id <> u.clinician_id)::int) from (
          select distinct patient_id, clinician_id, start::date as d from enc
          where setting in ('primary_care', 'virtual') and clinician_id is not null and start >= '2022-01-01') v
        join usual u on u.patient_id = v.patient_id and u.quarter_start = date_trunc('quarter', v.d)::date
        where u.clinician_id is not null"""
    ).fetchall()[0][0]
    rate = con.sql(
        """
        select median(n / 4.5) from (select patient_id, count(distinct start::date) n from enc
        where setting in ('primary_care', 'virtual') and clinician_id is not null group by 1)"""
    ).fetchall()[0][0]
    return away, rate


def f3(x: float) -> str:
    return f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--seeds", default="0,1,2,3")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    con = engine.connect()
    systems = {s: generate(args.patients, years=3, seed=s) for s in seeds}

    print("### Precision and recall per seed\n")
    print("| seed | " + " | ".join(f"{k} P | {k} R" for k in KINDS) + " | clinician_left P |")
    print("|---|" + "---:|" * (2 * len(KINDS) + 1))
    agreement: Counter = Counter()
    for s in seeds:
        detected, true = run(con, systems[s])
        sc = scores(detected, true)
        cells = [f"{f3(sc[k]['precision'])} | {f3(sc[k]['recall'])}" for k in KINDS]
        print(f"| {s} | " + " | ".join(cells) + f" | {f3(sc['clinician_left']['precision'])} |")
        for j, i in match_breaks(detected, true):
            agreement[true[i]["cause"], detected[j]["cause"]] += 1
    print()

    print("### Detected cause against the true cause (matched breaks, all seeds)\n")
    print("| true cause | clinician_left | patient_moved_on | agreement |\n|---|---:|---:|---:|")
    for cause in sorted({c for c, _ in agreement}):
        left, moved = agreement[cause, "clinician_left"], agreement[cause, "patient_moved_on"]
        right = left if cause == "clinician_left" else moved
        print(f"| {cause} | {left} | {moved} | {f3(right / max(left + moved, 1))} |")

    print("\n### Precision and recall over `confirm` (mean of the seeds; min in brackets)\n")
    print("| confirm | partner P | partner R | other_practice P | other_practice R |\n|---|---:|---:|---:|---:|")
    for confirm in (0, 1, 2, 3, 4):
        per = [scores(*run(con, systems[s], confirm=confirm)) for s in seeds]
        cells = []
        for k in SWITCHES:
            for m in ("precision", "recall"):
                xs = [p[k][m] for p in per]
                cells.append(f"{f3(statistics.mean(xs))} ({f3(min(xs))})")
        label = "0 (attribution churn)" if confirm == 0 else str(confirm) + (" (default)" if confirm == 1 else "")
        print(f"| {label} | " + " | ".join(cells) + " |")

    def sensitivity(title: str, header: str, settings: list[tuple[str, dict]]) -> None:
        print(f"\n### Partner breaks against {title} (mean of the seeds; min in brackets)\n")
        print(f"| {header} | away share | median visits a year | partner P | partner R |\n|---|---:|---:|---:|---:|")
        for label, options in settings:
            per, aways, rates = [], [], []
            for s in seeds:
                system = systems[s] if not options else generate(args.patients, years=3, seed=s, **options)
                away, rate = away_share_and_rate(system)
                aways.append(away)
                rates.append(rate)
                per.append(scores(*run(con, system))["partner"])
            p, r = [x["precision"] for x in per], [x["recall"] for x in per]
            print(
                f"| {label} | {statistics.mean(aways):.1%} | {statistics.mean(rates):.1f} | "
                f"{f3(statistics.mean(p))} ({f3(min(p))}) | {f3(statistics.mean(r))} ({f3(min(r))}) |"
            )

    sensitivity(
        "the share of visits away from the usual clinician",
        "`away_share`",
        [
            ("0.05", {"away_share": 0.05}),
            ("0.12", {"away_share": 0.12}),
            ("default", {}),
            ("0.25", {"away_share": 0.25}),
            ("0.40", {"away_share": 0.40}),
        ],
    )
    sensitivity(
        "visits per year",
        "`primary_care_rate`",
        [("0.5", {"primary_care_rate": 0.5}), ("1 (default)", {}), ("2", {"primary_care_rate": 2.0})],
    )


if __name__ == "__main__":
    main()
