"""The synthetic health system: canonical output, realism, and ground truth."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carethread import schema
from carethread.errors import OptionError
from carethread.synth import SyntheticSystem, generate, write_chunked

TABLES = ("encounters", "clinicians", "patients", "true_usual", "true_switches")


@pytest.fixture(scope="module")
def system() -> SyntheticSystem:
    return generate(5_000, years=3, seed=7, patients_per_clinician=500)


@pytest.fixture(scope="module")
def db(system):
    con = duckdb.connect()
    for name in TABLES:
        con.register(name, getattr(system, name))
    yield con
    con.close()


def one(con, sql):
    return con.execute(sql).fetchone()


def test_tables_have_exactly_the_canonical_schema(system):
    assert system.encounters.schema == schema.ENCOUNTERS.to_pyarrow()
    assert system.clinicians.schema == schema.CLINICIANS.to_pyarrow()
    assert system.patients.schema == schema.PATIENTS.to_pyarrow()
    assert system.true_usual.schema == pa.schema(
        [
            pa.field("patient_id", pa.string(), nullable=False),
            pa.field("quarter_start", pa.date32(), nullable=False),
            pa.field("clinician_id", pa.string()),
        ]
    )
    assert system.true_switches.schema.names == [
        "patient_id",
        "from_clinician_id",
        "to_clinician_id",
        "switch_date",
        "kind",
        "cause",
        "event_date",
        "observable",
    ]
    assert system.encounters.schema.field("start").type == pa.timestamp("us")
    assert system.true_switches.schema.field("switch_date").type == pa.date32()
    assert system.true_switches.schema.field("event_date").type == pa.date32()
    assert system.true_switches.schema.field("observable").type == pa.bool_()


def test_same_seed_same_tables_other_seed_other_tables():
    a, b, c = generate(300, years=1, seed=5), generate(300, years=1, seed=5), generate(300, years=1, seed=6)
    for name in TABLES:
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.encounters.equals(c.encounters)


def test_ids_are_zero_padded_strings_and_encounter_ids_unique(system):
    enc = system.encounters
    assert pc.count_distinct(enc["encounter_id"]).as_py() == enc.num_rows
    patterns = {
        "encounter_id": r"E\d{9}",
        "patient_id": r"P\d{7}",
        "clinician_id": r"C\d{5}",
        "practice_id": r"PR\d{3}",
    }
    for col, pattern in patterns.items():
        values = pc.unique(enc[col].drop_null()).to_pylist()
        assert all(re.fullmatch(pattern, v) for v in values), col
    assert system.patients["patient_id"].to_pylist() == [f"P{i:07d}" for i in range(1, 5_001)]


def test_settings_and_roles_come_from_the_vocabulary(system, db):
    settings_seen = set(pc.unique(system.encounters["setting"]).to_pylist())
    assert settings_seen <= set(schema.SETTINGS)
    assert {"primary_care", "virtual", "specialty", "urgent_care", "emergency", "inpatient"} <= settings_seen
    assert set(pc.unique(system.clinicians["role"]).to_pylist()) <= set(schema.ROLES)
    # Primary-care practices have several panel clinicians of mixed roles.
    sizes = db.execute(
        "select practice_id, count(*) n from clinicians where capacity is not null group by 1"
    ).fetchall()
    assert min(n for _, n in sizes) >= 2
    roles = {r for (r,) in db.execute("select distinct role from clinicians where capacity is not null").fetchall()}
    assert "physician" in roles and roles & {"np", "pa"}
    # Urgent care, ED and hospital clinicians work in practices of their own.
    assert one(
        db,
        """select count(*) from (select practice_id from encounters
           group by 1 having count(distinct setting) filter (where setting in ('primary_care','virtual')) > 0
           and count(*) filter (where setting in ('urgent_care','emergency','inpatient','specialty')) > 0)""",
    ) == (0,)


def test_about_one_percent_null_clinicians(system):
    share = system.encounters["clinician_id"].null_count / system.encounters.num_rows
    assert 0.005 < share < 0.02


def test_same_day_repeats_with_the_same_clinician_exist(db):
    (n,) = one(
        db,
        """select count(*) from (select patient_id, clinician_id, start::date from encounters
           where clinician_id is not null and setting in ('primary_care', 'virtual')
           group by all having count(*) > 1)""",
    )
    assert n > 0


def test_clinic_encounters_fall_in_clinic_hours_on_weekdays_at_whole_minutes(db):
    bad = one(
        db,
        """select count(*) filter (where hour(start) < 8 or hour(start) >= 18 or isodow(start) > 5),
                  count(*) filter (where second(start) <> 0 or microsecond(start) <> 0)
           from encounters where setting in ('primary_care', 'virtual', 'specialty')""",
    )
    assert bad == (0, 0)
    assert one(db, "select count(*) from encounters where second(start) <> 0") == (0,)


def test_encounters_cover_the_history_and_the_span_and_reference_known_entities(db):
    # 18 months of history before the span (2020-07-01), then the span itself.
    assert one(
        db,
        """select min(start) >= '2020-07-01', min(start) < '2020-07-15',
                  max(start) < date '2022-01-01' + interval 1096 day from encounters""",
    ) == (True, True, True)
    assert one(db, "select count(*) from encounters anti join patients using (patient_id)") == (0,)
    assert one(
        db,
        "select count(*) from encounters e anti join clinicians c using (clinician_id) where e.clinician_id is not null",
    ) == (0,)


def test_clinicians_see_patients_only_while_active(db):
    assert one(
        db,
        """select count(*) from encounters e join clinicians c using (clinician_id)
           where e.start::date < c.active_from or e.start::date > c.active_to""",
    ) == (0,)
    # Some leave and some join during the span.
    left, joined = one(
        db,
        """select count(*) filter (where active_to between '2022-01-01' and '2024-12-31'),
                  count(*) filter (where active_from between '2022-01-01' and '2024-12-31') from clinicians""",
    )
    assert left > 0 and joined > 0


def test_every_kind_and_cause_of_switch_occurs(system):
    pairs = set(zip(system.true_switches["kind"].to_pylist(), system.true_switches["cause"].to_pylist(), strict=True))
    assert pairs >= {
        ("partner", "patient_choice"),
        ("other_practice", "patient_choice"),
        ("partner", "clinician_left"),
        ("emergency_only", "disengaged"),
        ("lost", "moved_away"),
        ("lost", "died"),
    }
    assert {k for k, _ in pairs} == {"partner", "other_practice", "emergency_only", "lost"}


def test_switch_targets_are_consistent_with_kind(db):
    rows = db.execute(
        """select s.kind, s.to_clinician_id is null, f.practice_id = t.practice_id, t.clinician_id is null
           from true_switches s join clinicians f on f.clinician_id = s.from_clinician_id
           left join clinicians t on t.clinician_id = s.to_clinician_id"""
    ).fetchall()
    assert rows
    for kind, to_null, same_practice, to_unknown in rows:
        if kind in ("partner", "other_practice"):
            assert not to_null and not to_unknown
            assert same_practice == (kind == "partner")
        else:
            assert to_null


def test_true_usual_is_consistent_with_switches(system, db):
    n_quarters = 12
    assert system.true_usual.num_rows == system.patients.num_rows * n_quarters
    # The quarter of a switch ends with the new clinician (unless the patient moves away
    # or dies later that quarter), the one before with the old; a lost patient's clinician
    # changes on the day of the move or death (event_date), not on the day after their
    # last encounter (switch_date).
    changed = "case when s.kind = 'lost' then s.event_date else s.switch_date end"
    assert one(
        db,
        f"""select count(*) from true_switches s join true_usual u
           on u.patient_id = s.patient_id and u.quarter_start = date_trunc('quarter', {changed})
           where u.clinician_id is distinct from s.to_clinician_id
           and not exists (select 1 from true_switches l where l.patient_id = s.patient_id and l.kind = 'lost'
                           and l.event_date > s.switch_date
                           and date_trunc('quarter', l.event_date) = date_trunc('quarter', s.switch_date))""",
    ) == (0,)
    assert one(
        db,
        f"""select count(*) from true_switches s join true_usual u
           on u.patient_id = s.patient_id
           and u.quarter_start = date_trunc('quarter', {changed}) - interval 3 month
           where u.clinician_id is distinct from s.from_clinician_id and s.kind <> 'lost'""",
    ) == (0,)
    # Patients registering during the span have no clinician before they do.
    assert one(db, "select count(*) from true_usual where clinician_id is null and quarter_start = '2022-01-01'")[0] > 0


def test_switches_are_about_a_year_apart(db):
    """Changes of usual clinician (and disengaging) are a year apart; moving away and dying
    are not tied to them."""
    (closest,) = one(
        db,
        """select min(gap) from (select switch_date - lag(switch_date) over (partition by patient_id
           order by switch_date) gap from true_switches where kind <> 'lost')""",
    )
    assert closest >= 300


def test_switch_dates_follow_their_events(db):
    """A switch shows at (or after) the event; lost is dated the day after the last encounter."""
    assert one(
        db,
        """select count(*) filter (where kind <> 'lost' and switch_date < event_date),
                  count(*) filter (where kind in ('partner', 'other_practice')
                                   and switch_date > event_date + interval 60 day)
           from true_switches""",
    ) == (0, 0)
    bad, n = one(
        db,
        """with last_seen as (select patient_id, max(start::date) d from encounters group by 1)
           select count(*) filter (where s.switch_date <> least(l.d + 1, s.event_date)), count(*)
           from true_switches s join last_seen l using (patient_id) where s.kind = 'lost'""",
    )
    assert n > 50 and bad == 0
    # Deaths are dated in the patients table by the event.
    assert one(
        db,
        """select count(*) from true_switches s join patients p using (patient_id)
           where s.cause = 'died' and p.death_date is distinct from s.event_date""",
    ) == (0,)


def test_observable_flag_follows_its_definition(system, db):
    """Recomputed in SQL from the encounters: old clinician seen in the 548 days before the
    switch; new clinician on two or more days to the end of the span (switches), or a span
    running 365 days past the switch (lapses)."""
    mismatched, n, n_observable = one(
        db,
        """with v as (select distinct patient_id, clinician_id, start::date d from encounters
                      where setting in ('primary_care', 'virtual') and clinician_id is not null),
           f as (select s.*,
                   exists (select 1 from v where v.patient_id = s.patient_id and v.clinician_id = s.from_clinician_id
                           and v.d >= s.switch_date - 548 and v.d < s.switch_date) old_seen,
                   (select count(*) from v where v.patient_id = s.patient_id and v.clinician_id = s.to_clinician_id
                    and v.d >= s.switch_date) new_days
                 from true_switches s)
           select count(*) filter (where observable <> (old_seen and case when kind in ('partner', 'other_practice')
                                   then new_days >= 2 else switch_date + 365 <= date '2024-12-31' + 1 end)),
                  count(*), count(*) filter (where observable) from f""",
    )
    assert mismatched == 0
    assert 0.5 * n < n_observable < n


def test_switch_is_dated_by_first_visit_with_the_new_clinician(db):
    # Switches before the last weeks of the span have that visit on the switch date.
    missing = one(
        db,
        """select count(*) from true_switches s where kind in ('partner', 'other_practice')
           and switch_date < '2024-11-01' and not exists (select 1 from encounters e
           where e.patient_id = s.patient_id and e.clinician_id = s.to_clinician_id
           and e.start::date = s.switch_date)""",
    )
    assert missing == (0,)


def test_new_clinician_is_the_plurality_clinician_after_a_switch(db):
    """Ties count as failures, so break detection can find the switch."""
    total, ok = one(
        db,
        """with sw as (select * from true_switches where kind in ('partner', 'other_practice')
                       and switch_date < '2024-01-01'),
           v as (select distinct patient_id, clinician_id, start::date d from encounters
                 where setting in ('primary_care', 'virtual') and clinician_id is not null),
           c as (select sw.patient_id, sw.switch_date, v.clinician_id = sw.to_clinician_id is_new, count(*) n
                 from sw join v on v.patient_id = sw.patient_id
                 and v.d >= sw.switch_date and v.d < sw.switch_date + interval 365 day group by all),
           r as (select patient_id, switch_date, max(n) filter (where is_new) new_n,
                 max(n) filter (where not is_new) other_n from c group by all)
           select count(*), count(*) filter (where new_n > coalesce(other_n, 0)) from r""",
    )
    assert total > 100
    assert ok / total >= 0.9


def test_nobody_is_seen_after_death_or_moving_away(db):
    assert one(
        db,
        """select count(*) from encounters e join patients p using (patient_id)
           where e.start::date > p.death_date""",
    ) == (0,)
    assert one(
        db,
        """select count(*) from encounters e join true_switches s using (patient_id)
           where s.kind = 'lost' and e.start::date > s.switch_date""",
    ) == (0,)
    (dead,) = one(db, "select count(*) from patients where death_date is not null")
    assert dead > 0


def test_emergency_only_patients_use_only_ed_and_urgent_care_afterwards(db):
    assert one(
        db,
        """select count(*) from encounters e join true_switches s using (patient_id)
           where s.kind = 'emergency_only' and e.start::date >= s.switch_date
           and e.setting not in ('emergency', 'urgent_care')""",
    ) == (0,)


def test_visit_counts_are_heavy_tailed_and_grow_with_age(db):
    mean, var, top_share = one(
        db,
        """with n as (select p.patient_id, count(e.patient_id) n from patients p
                      left join encounters e using (patient_id) group by 1)
           select avg(n), var_samp(n),
                  (select sum(n) from (select n from n order by n desc limit (select count(*) // 10 from n)))
                  / sum(n) from n""",
    )
    assert var / mean > 3  # overdispersed: far from Poisson
    assert top_share > 0.3
    young, old = one(
        db,
        """with n as (select p.patient_id, date_diff('year', p.birth_date, date '2022-01-01') age,
                      count(e.patient_id) n from patients p left join encounters e using (patient_id)
                      where p.death_date is null group by all)
           select avg(n) filter (where age between 18 and 44), avg(n) filter (where age >= 65) from n""",
    )
    assert old > 1.3 * young


def test_write_round_trips(tmp_path, system):
    paths = system.write(tmp_path / "out")
    assert set(paths) == set(TABLES)
    for name, path in paths.items():
        assert path.name == f"{name}.parquet"
        assert pq.read_table(path).equals(getattr(system, name))


def test_write_chunked_makes_parts_with_unique_ids(tmp_path):
    paths = write_chunked(tmp_path / "a", 900, years=1, seed=3, chunk_patients=300)
    parts = sorted(paths["encounters"].glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(3)]
    enc = pa.concat_tables(pq.read_table(p) for p in parts)
    assert enc.schema == schema.ENCOUNTERS.to_pyarrow()
    assert pc.count_distinct(enc["encounter_id"]).as_py() == enc.num_rows
    patients = pq.read_table(paths["patients"])
    clinicians = pq.read_table(paths["clinicians"])
    assert patients.num_rows == 900 == pc.count_distinct(patients["patient_id"]).as_py()
    assert pc.count_distinct(clinicians["clinician_id"]).as_py() == clinicians.num_rows
    # Chunks are independent systems: no clinician or practice is shared between parts.
    seen: set[str] = set()
    for p in parts:
        own = set(pc.unique(pq.read_table(p)["practice_id"]).to_pylist())
        assert not own & seen
        seen |= own
    assert pq.read_table(paths["true_usual"]).num_rows == 900 * 4
    again = write_chunked(tmp_path / "b", 900, years=1, seed=3, chunk_patients=300)
    for name in TABLES[1:]:
        assert pq.read_table(again[name]).equals(pq.read_table(paths[name]))
    assert pa.concat_tables(pq.read_table(p) for p in sorted(again["encounters"].iterdir())).equals(enc)


def test_write_chunked_reports_progress_and_replaces_stale_parts(tmp_path):
    calls = []
    write_chunked(tmp_path, 400, years=0.5, chunk_patients=100, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(100, 400), (200, 400), (300, 400), (400, 400)]
    write_chunked(tmp_path, 150, years=0.5, chunk_patients=100)
    assert len(list((tmp_path / "encounters").iterdir())) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_patients=0),
        dict(n_patients=10, years=0),
        dict(n_patients=10, patients_per_clinician=0),
        dict(n_patients=10, null_clinician_share=1.5),
        dict(n_patients=10, history_months=-1),
        dict(n_patients=10, history_months=1.5),
        dict(n_patients=10, away_share=1.0),
        dict(n_patients=10, away_share=-0.1),
        dict(n_patients=10, primary_care_rate=0),
    ],
)
def test_bad_arguments_raise_option_error(kwargs):
    with pytest.raises(OptionError):
        generate(**kwargs)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 400),
    years=st.sampled_from([0.05, 0.4, 1.0, 2.5]),
    seed=st.integers(0, 2**32 - 1),
    start=st.dates(date(1990, 1, 1), date(2030, 12, 31)),
)
def test_invariants_hold_for_any_size_span_and_seed(n, years, seed, start):
    s = generate(n, years=years, seed=seed, start=start)
    enc = s.encounters
    assert enc.schema == schema.ENCOUNTERS.to_pyarrow()
    assert s.patients.num_rows == n
    assert pc.count_distinct(enc["encounter_id"]).as_py() == enc.num_rows
    assert set(pc.unique(enc["setting"]).to_pylist()) <= set(schema.SETTINGS)
    assert set(pc.unique(enc["patient_id"]).to_pylist()) <= set(s.patients["patient_id"].to_pylist())
    known = set(s.clinicians["clinician_id"].to_pylist())
    assert set(pc.unique(enc["clinician_id"].drop_null()).to_pylist()) <= known
    assert set(s.true_switches["to_clinician_id"].drop_null().to_pylist()) <= known
    if enc.num_rows:
        # Up to 18 months of history before the span (a calendar-month step back).
        y, m = divmod(start.year * 12 + start.month - 1 - 18, 12)
        first = date(y, m + 1, 1)
        assert pc.min(enc["start"]).as_py().date() >= first
    if s.true_switches.num_rows:
        assert pc.min(s.true_switches["switch_date"]).as_py() >= start
    assert pc.min(s.true_usual["quarter_start"]).as_py() <= start


def test_visit_rates_and_continuity_are_realistic(db):
    """Registered adults: median 3-5 primary-care visits a year, heavy-tailed; about nine
    in ten visits with the usual clinician, at most 15 % with partners; regular attenders'
    UPC in the range of practices with named clinicians."""
    median, mean, p90 = one(
        db,
        """with v as (select patient_id, count(*) n from encounters
                      where setting in ('primary_care', 'virtual') and start >= '2022-01-01' group by 1)
           select median(coalesce(n, 0)) / 3, avg(coalesce(n, 0)) / 3, quantile_cont(coalesce(n, 0), 0.9) / 3
           from patients p left join v using (patient_id)
           where p.death_date is null and date_diff('year', p.birth_date, date '2022-01-01') >= 18
           and patient_id not in (select patient_id from true_switches where kind in ('lost', 'emergency_only'))""",
    )
    assert 3 <= median <= 5 and mean > median and p90 > 2 * median
    usual, partner = one(
        db,
        """select avg((e.clinician_id = u.clinician_id)::int),
                  avg((e.clinician_id <> u.clinician_id and c.specialty <> 'nursing')::int)
           from encounters e join true_usual u on u.patient_id = e.patient_id
           and u.quarter_start = date_trunc('quarter', e.start)
           join clinicians c on c.clinician_id = e.clinician_id
           where e.setting in ('primary_care', 'virtual') and u.clinician_id is not null""",
    )
    assert 0.8 <= usual <= 0.92 and 0.05 <= partner <= 0.15
    (upc,) = one(
        db,
        """with v as (select patient_id, clinician_id, count(*) n from encounters
                      where setting in ('primary_care', 'virtual') and clinician_id is not null
                      and start >= '2022-01-01' group by 1, 2),
           p as (select patient_id, max(n) / sum(n) upc, sum(n) n from v
                 where patient_id not in (select patient_id from true_switches) group by 1)
           select median(upc) from p where n >= 9""",
    )
    assert 0.75 <= upc <= 0.92


def test_relationships_at_the_start_have_a_history(db):
    """The warm-up and the emitted history: most patients with a clinician at the start
    of the span have already seen them in the 18 months before it."""
    (share,) = one(
        db,
        """with u as (select patient_id, clinician_id from true_usual
                      where quarter_start = '2022-01-01' and clinician_id is not null)
           select avg((exists (select 1 from encounters e where e.patient_id = u.patient_id
                       and e.clinician_id = u.clinician_id and e.start < '2022-01-01'))::int) from u""",
    )
    assert share > 0.75


def test_without_history_encounters_start_with_the_span():
    s = generate(500, years=1, seed=2, history_months=0)
    assert pc.min(s.encounters["start"]).as_py().date() >= date(2022, 1, 1)
    # The warm-up still ran: patients start the span with a clinician.
    first_quarter = s.true_usual.filter(pc.equal(s.true_usual["quarter_start"], pa.scalar(date(2022, 1, 1))))
    assert first_quarter["clinician_id"].null_count < 0.2 * first_quarter.num_rows
    with_history = generate(500, years=1, seed=2)
    assert s.patients.num_rows == with_history.patients.num_rows == 500


def _away_share_and_rate(system) -> tuple[float, float]:
    """Share of primary-care visits with someone other than the true usual clinician of the
    quarter, and mean primary-care visit days per patient."""
    con = duckdb.connect()
    for name in ("encounters", "true_usual"):
        con.register(name, getattr(system, name))
    away, visits = con.execute(
        """select avg((e.clinician_id <> u.clinician_id)::int), count(*) / count(distinct e.patient_id)
           from (select distinct patient_id, clinician_id, start::date d from encounters
                 where setting in ('primary_care', 'virtual') and clinician_id is not null) e
           join true_usual u on u.patient_id = e.patient_id and u.quarter_start = date_trunc('quarter', e.d)
           where u.clinician_id is not null"""
    ).fetchone()
    return away, visits


def test_away_share_and_visit_rate_are_met_and_the_defaults_are_unchanged():
    base = generate(2_000, years=2, seed=4)
    assert base.encounters.equals(generate(2_000, years=2, seed=4, away_share=None, primary_care_rate=1.0).encounters)
    default_away, default_visits = _away_share_and_rate(base)
    assert 0.1 <= default_away <= 0.17
    for share in (0.05, 0.25, 0.4):
        away, _ = _away_share_and_rate(generate(2_000, years=2, seed=4, away_share=share))
        # Measured against the quarter's usual clinician, so switches add a little.
        assert share - 0.01 <= away <= share + 0.02, (share, away)
    _, doubled = _away_share_and_rate(generate(2_000, years=2, seed=4, primary_care_rate=2.0))
    assert 1.8 <= doubled / default_visits <= 2.2

    # The options change how visits are drawn, never who switches to whom when (a lapse's date
    # follows the patient's last encounter, so only switches are compared).
    def switches(s):
        t = s.true_switches
        return t.filter(pc.is_in(t["kind"], pa.array(["partner", "other_practice"]))).drop(["observable"])

    other = generate(2_000, years=2, seed=4, away_share=0.3, primary_care_rate=0.5)
    assert switches(other).equals(switches(base))
