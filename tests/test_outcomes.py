"""Outcome studies: known truth recovered, an independent Poisson fit, E-values, windows, designs, the CLI."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carethread.cli import app
from carethread.errors import OptionError
from carethread.outcomes import e_values, outcomes, study_windows
from carethread.outcomes.clinician import clinician_tenure, tenure_hazards
from carethread.outcomes.models import fit_study, quintiles
from carethread.outcomes.survival import kaplan_meier
from carethread.synth import generate

#: A system small enough to fit fast, with many practices so standard errors cluster.
SMALL = dict(years=3, patients_per_clinician=150)


def _system(seed: int, n: int = 6_000):
    s = generate(n, seed=seed, outcomes=True, **SMALL)
    return s, ibis.memtable(s.encounters), ibis.memtable(s.patients), ibis.memtable(s.clinicians)


def _truth(s, outcome: str) -> float:
    t = s.true_effects.to_pandas()
    return float(t[t.outcome == outcome].effect.iloc[0])


#: Each model against the truth it should recover: options of outcomes(), the true effect's row.
CASES = {
    "poisson": (dict(outcome="ed_visits", model="poisson"), "ed_visits"),
    "negbin": (dict(outcome="ed_visits", model="negbin"), "ed_visits"),
    "cox_death": (dict(outcome="death", model="cox"), "death"),
    "cox_admissions": (dict(exposure="coc", outcome="admissions", model="cox"), "admissions"),
    # Death is rare (a few per cent), so its odds ratio approximates the hazard ratio.
    "logistic": (dict(outcome="death", model="logistic"), "death"),
}


@pytest.fixture(scope="module")
def system():
    return _system(seed=11, n=12_000)


@pytest.mark.parametrize("case", list(CASES))
def test_each_model_recovers_its_true_effect(system, case):
    s, enc, pat, cl = system
    options, truth_row = CASES[case]
    row = outcomes(enc, clinicians=cl, patients=pat, **options).to_pandas().iloc[0]
    truth = _truth(s, truth_row)
    assert row.term == "per_0.1"
    assert row.ci_low <= truth <= row.ci_high, (case, row.estimate, row.ci_low, row.ci_high, truth)
    assert row.clusters >= 20  # 12 000 patients at 150 per clinician: enough practices to cluster by


def test_the_clinician_departure_hazard_is_recovered(system):
    s, enc, _pat, cl = system
    rows = tenure_hazards(enc, clinicians=cl, as_of="2023-01-01").to_pandas()
    low = rows[(rows.exposure == "provider_side_continuity") & (rows.term == "tertile_1")].iloc[0]
    assert low.ci_low <= _truth(s, "clinician_departure") <= low.ci_high
    assert low.events > 0


def test_an_unadjusted_model_is_biased_towards_harm(system):
    """Older patients are more loyal and have more events: without age, continuity looks less protective."""
    _s, enc, pat, cl = system
    adjusted = outcomes(enc, clinicians=cl, patients=pat, outcome="death", model="cox").to_pandas().iloc[0]
    crude = outcomes(enc, clinicians=cl, patients=pat, outcome="death", model="cox", unadjusted=True)
    crude = crude.to_pandas().iloc[0]
    assert crude.design == "default (unadjusted)"
    assert crude.estimate > adjusted.estimate * 1.05


@pytest.mark.slow
def test_intervals_cover_the_truth_in_17_to_20_of_20_seeds():
    """Each model's 95 % interval, over 20 generated systems: one cohort per outcome, every model fitted on it."""
    from carethread.outcomes.cohort import outcome_cohort

    covered = dict.fromkeys([*CASES, "departure"], 0)
    for seed in range(20):
        s, enc, pat, cl = _system(seed=100 + seed, n=3_000)
        windows = study_windows(enc)
        cohorts = {}
        for case, (options, truth_row) in CASES.items():
            exposure, outcome = options.get("exposure", "upc"), options["outcome"]
            if (exposure, outcome) not in cohorts:
                cohort = outcome_cohort(enc, patients=pat, clinicians=cl, windows=windows, exposure=exposure,
                                        outcome=outcome)  # fmt: skip
                cohorts[exposure, outcome] = cohort.to_pandas()
            row = fit_study(cohorts[exposure, outcome], exposure=exposure, model=options["model"])[0]
            covered[case] += bool(row["ci_low"] <= _truth(s, truth_row) <= row["ci_high"])
        rows = tenure_hazards(enc, clinicians=cl, as_of="2023-01-01").to_pandas()
        low = rows[(rows.exposure == "provider_side_continuity") & (rows.term == "tertile_1")].iloc[0]
        covered["departure"] += bool(low.ci_low <= _truth(s, "clinician_departure") <= low.ci_high)
    assert all(17 <= n <= 20 for n in covered.values()), covered


def test_the_generators_exposures_are_carethreads(system):
    """The outcome processes read UPC and COC exactly as patient_continuity computes them."""
    from carethread.measures.continuity import patient_continuity
    from carethread.synth.outcomes import baseline_indices

    s, enc, *_ = system
    e = s.encounters
    index = {name: i for i, name in enumerate(s.patients["patient_id"].to_pylist())}
    clin = {name: i for i, name in enumerate(s.clinicians["clinician_id"].to_pylist())}
    minutes = e["start"].cast("int64").to_numpy() // 60_000_000
    epoch = (dt.date(2022, 1, 1) - dt.date(1970, 1, 1)).days
    from carethread.synth.encounters import SETTING

    arrays = dict(
        patient=np.array([index[p] for p in e["patient_id"].to_pylist()]),
        clin=np.array([clin.get(c, -1) for c in e["clinician_id"].to_pylist()]),
        day=minutes // 1440 - epoch,
        minute=minutes % 1440,
        setting=np.array([SETTING[x] for x in e["setting"].to_pylist()]),
    )
    upc, coc = baseline_indices(arrays, s.patients.num_rows, 0, 365)
    measured = patient_continuity(enc, start="2022-01-01", end="2023-01-01").to_pandas()
    rows = measured.patient_id.map(index).to_numpy()
    assert np.allclose(upc[rows], measured.upc, equal_nan=True)
    assert np.allclose(coc[rows], measured.coc, equal_nan=True)


def test_outcomes_off_leaves_todays_seeds_unchanged():
    plain = generate(300, years=1, seed=5)
    assert plain.true_effects is None
    assert generate(300, years=1, seed=5, outcomes=False).encounters.equals(plain.encounters)


def _irls_poisson(x: np.ndarray, y: np.ndarray, offset: np.ndarray, steps: int = 50) -> np.ndarray:
    """Poisson regression by iteratively reweighted least squares, in plain numpy."""
    beta = np.zeros(x.shape[1])
    for _ in range(steps):
        mu = np.exp(x @ beta + offset)
        z = x @ beta + (y - mu) / mu
        beta = np.linalg.solve(x.T @ (mu[:, None] * x), x.T @ (mu * z))
    return beta


def test_poisson_agrees_with_an_independent_irls_fit():
    """A fixed data set of 16 patients, fitted by statsmodels (fit_study) and by the IRLS above.

    The same numbers in R: ``glm(events ~ I(exposure/0.1) + I(age/10) + male + n_visits +
    baseline_ed_visits + baseline_admissions, family = poisson, offset = log(time_days/365.25))``.
    """
    frame = pd.DataFrame(
        {
            "exposure": [0.3, 0.5, 0.9, 1.0, 0.6, 0.8, 0.4, 1.0, 0.7, 0.55, 0.95, 0.35, 0.5, 0.75, 0.85, 0.45],
            "age": [70, 45, 81, 30, 66, 52, 77, 40, 59, 63, 88, 25, 71, 34, 58, 49],
            "male": [1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1],
            "n_visits": [4, 2, 9, 3, 5, 6, 7, 2, 4, 3, 8, 2, 5, 3, 6, 4],
            "baseline_ed_visits": [1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 1, 0, 2],
            "baseline_admissions": [0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0],
            "events": [3, 1, 2, 0, 2, 1, 5, 0, 1, 1, 2, 1, 2, 0, 1, 2],
            "time_days": [730, 730, 600, 730, 700, 730, 730, 365, 730, 500, 730, 730, 730, 730, 400, 730],
            "event_days": [100, 300, 50, 730, 200, 400, 20, 365, 500, 100, 60, 250, 90, 730, 300, 45],
            "practice_id": list("ABCDEFGHIJKLMNOP"),
        }
    )
    rows = {r["term"]: r for r in fit_study(frame, exposure="upc", model="poisson")}
    x = np.column_stack(
        [
            np.ones(len(frame)),
            frame.exposure / 0.1,
            frame.age / 10,
            frame.male,
            frame.n_visits,
            frame.baseline_ed_visits,
            frame.baseline_admissions,
        ]
    )
    beta = _irls_poisson(x, frame.events.to_numpy(float), np.log(frame.time_days.to_numpy() / 365.25))
    assert rows["per_0.1"]["estimate"] == pytest.approx(math.exp(beta[1]), rel=1e-8)
    assert rows["age_per_10y"]["estimate"] == pytest.approx(math.exp(beta[2]), rel=1e-8)
    assert rows["baseline_admissions"]["estimate"] == pytest.approx(math.exp(beta[6]), rel=1e-8)


def test_e_values_match_vanderweele_and_ding():
    """RR 0.80 (0.70-0.91): 1/0.8 = 1.25, 1.25 + sqrt(1.25 * 0.25) = 1.809; CI 1/0.91 = 1.0989 -> 1.4286."""
    point, limit = e_values(0.80, 0.70, 0.91, "IRR")
    assert point == pytest.approx(1.25 + math.sqrt(1.25 * 0.25))
    assert limit == pytest.approx(1 / 0.91 + math.sqrt(1 / 0.91 * (1 / 0.91 - 1)))
    assert e_values(1.2, 0.9, 1.5, "HR")[1] == 1.0
    # A common outcome's odds ratio is square-rooted first: OR 0.64 -> RR 0.8.
    assert e_values(0.64, 0.5, 0.8, "OR", 0.4)[0] == pytest.approx(1.25 + math.sqrt(1.25 * 0.25))


def test_quintiles_keep_ties_together():
    q = quintiles(pd.Series([0.2] * 3 + [0.5, 0.6, 0.7] + [1.0] * 4))
    # ceil(5 * mean rank / 10): the three 0.2s (mean rank 2) -> 1; 0.5, 0.6, 0.7 (ranks 4, 5, 6) -> 2, 3, 3;
    # the four 1.0s (mean rank 8.5) -> 5, so quintile 4 is empty.
    assert q.tolist() == [1, 1, 1, 2, 3, 3, 5, 5, 5, 5]


def test_kaplan_meier_reference_values():
    """Times 1, 2, 2+, 3+ (events at 1 and 2): S(1) = 3/4, S(2) = 3/4 * 2/3 = 1/2."""
    km = kaplan_meier(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1, 1, 0, 0]))
    assert km.survival.tolist() == pytest.approx([0.75, 0.5])
    assert km.at_risk.tolist() == [4, 3]
    assert (km.ci_low < km.survival).all() and (km.survival < km.ci_high).all()


def test_windows_refuse_an_overlap():
    enc = ibis.memtable({"start": [dt.datetime(2021, 1, 4), dt.datetime(2024, 12, 30)]})
    with pytest.raises(OptionError, match="must start where the baseline ends"):
        study_windows(enc, baseline="2022-01-01:2023-06-01", followup="2023-01-01:2024-01-01")
    w = study_windows(enc, followup="2023-01-01:2024-01-01")
    assert (w.baseline_start, w.followup_end) == (dt.datetime(2022, 1, 1), dt.datetime(2024, 1, 1))


def test_clinician_tenure_departs_by_active_to_or_silence():
    days = [dt.datetime(2022, 1, 3), dt.datetime(2023, 12, 28), dt.datetime(2022, 1, 4), dt.datetime(2023, 6, 1)]
    enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": ["A", "A", "B", "B"], "practice_id": ["X"] * 4,
                         "setting": ["primary_care"] * 4, "start": days})  # fmt: skip
    listed = {"clinician_id": ["A", "B"], "active_to": [dt.date(2023, 9, 30), None]}
    rows = clinician_tenure(enc, clinicians=listed).order_by("clinician_id").to_pyarrow().to_pylist()
    # A: active_to 2023-09-30 is before the end (2023-12-29): departed 2023-10-01, though seen later.
    # B: last seen 2023-06-01, within 12 months of the end: still there.
    assert [(r["clinician_id"], r["departure_date"]) for r in rows] == [("A", dt.date(2023, 10, 1)), ("B", None)]
    assert rows[1]["tenure_years"] == pytest.approx((dt.date(2023, 12, 29) - dt.date(2022, 1, 4)).days / 365.25)


def test_death_cannot_be_estimated_without_death_dates(system):
    _s, enc, pat, cl = system
    alive = pat.mutate(death_date=ibis.null("date"))
    from carethread.outcomes import outcomes_remarks

    table = outcomes(enc, clinicians=cl, patients=alive, outcome="death", model="cox")
    rows = table.to_pandas()
    assert rows.estimate.isna().all() and (rows.events == 0).all()
    assert "death could not be estimated: the patients table has no death date in the follow-up." in (
        outcomes_remarks(enc, table, outcome="death", model="cox")
    )


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(4_000, seed=2, outcomes=True, **SMALL).write(out)
    return out


@pytest.mark.parametrize("design", ["barker2017", "bazemore2018", "nyweide2013", "sandvik2022"])
def test_each_design_runs_on_synthetic_and_synthea_data(synth_folder, design, tmp_path):
    runner = CliRunner()
    for source in (synth_folder, "tests/data/synthea-csv-unmc-111"):
        out = tmp_path / f"{design}.csv"
        result = runner.invoke(app, ["outcomes", str(source), "--design", design, "--out", str(out)])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(out)
        assert set(table.design) == {design}
        assert table.term.iloc[0] in ("per_0.1", "per_year")


def test_cli_events_file_is_read_and_reconciled(synth_folder, tmp_path):
    events = tmp_path / "complaints.csv"
    events.write_text("patient_id,received\nP0000001,2023-05-01\nP0000002,2023-02-30\n,2023-03-01\n")
    result = CliRunner().invoke(
        app,
        ["outcomes", str(synth_folder), "--outcome", "events", "--events", str(events),
         "--events-map", "start=received", "--model", "logistic"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "complaints.csv: 3 rows read = 1 accepted + 2 quarantined" in result.output


def test_cli_rejects_an_unknown_design(synth_folder):
    result = CliRunner().invoke(app, ["outcomes", str(synth_folder), "--design", "smith2020"])
    assert result.exit_code == 2
    assert "--design must be one of barker2017" in result.output


def test_relationship_curve_from_the_command_line_is_the_librarys_in_batches_or_not(synth_folder, tmp_path):
    """`outcomes --side relationships` finds the breaks in patient batches (as `breaks` does) and hands them in."""
    import carethread
    from carethread.outcomes.survival import relationship_survival

    runner = CliRunner()
    curves = []
    for batches in ("1", "3"):
        out = tmp_path / f"curve{batches}.csv"
        result = runner.invoke(
            app, ["--batches", batches, "outcomes", str(synth_folder), "--side", "relationships", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        curves.append(pd.read_csv(out))
    data = carethread.read(synth_folder, con=carethread.connect())
    expected = relationship_survival(data.encounters, clinicians=data.clinicians).reset_index(drop=True)
    assert len(expected) > 20  # steps to compare
    for curve in curves:
        pd.testing.assert_frame_equal(curve, expected, check_dtype=False, check_exact=False, rtol=1e-9)


def test_usual_clinicians_of_the_curve_are_patient_continuitys():
    """The relationship curve's usual clinician is `patient_continuity`'s (min_visits=1), ties included."""
    import ibis

    from carethread.measures.continuity import patient_continuity
    from carethread.outcomes.survival import usual_clinicians

    enc = ibis.memtable(generate(2_000, years=2, seed=5).encounters)
    ours = usual_clinicians(enc).to_pandas().set_index("patient_id").clinician_id.sort_index()
    theirs = patient_continuity(enc, min_visits=1).to_pandas()
    theirs = theirs.dropna(subset=["usual_clinician_id"]).set_index("patient_id").usual_clinician_id.sort_index()
    assert len(ours) > 1_000
    pd.testing.assert_series_equal(ours, theirs, check_names=False, check_dtype=False)
