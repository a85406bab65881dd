"""Who is in the synthetic health system: practices, clinicians and patients.

All quantities are integer day offsets from the start of the span (day 0) so
the simulation never touches calendar objects; the tables module turns them
into dates at the end. Days before 0 are the history (emitted, like the past
an extract carries) and, before that, the warm-up (simulated only), so the
relationships in force when the history starts have a past of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from carethread import schema

#: Day value meaning "never" (a clinician who does not leave, a patient not lost).
NEVER = np.int32(2**30)

# Clinician kinds. Only PANEL clinicians hold a panel of patients.
PANEL, NURSE, SPECIALIST, URGENT, ED, HOSPITALIST = range(6)
# Practice kinds.
PRIMARY, SPECIALTY_PRACTICE, URGENT_CARE, HOSPITAL = range(4)

SPECIALTIES: tuple[str, ...] = (
    "family medicine",
    "internal medicine",
    "pediatrics",
    "nursing",
    "urgent care",
    "emergency medicine",
    "hospital medicine",
    "cardiology",
    "dermatology",
    "orthopedics",
    "endocrinology",
    "gastroenterology",
    "neurology",
    "psychiatry",
    "obstetrics and gynecology",
    "pulmonology",
    "ophthalmology",
)
_FIRST_SPECIALIST = SPECIALTIES.index("cardiology")
SEXES: tuple[str, ...] = ("F", "M")

_ROLE = {name: i for i, name in enumerate(schema.ROLES)}

# Age bands (years) and their share of a registered population, roughly a
# Western age pyramid.
_AGE_EDGES = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
_AGE_SHARE = np.array([0.11, 0.12, 0.13, 0.13, 0.12, 0.13, 0.12, 0.08, 0.047, 0.013])


#: Days of an 18-month look-back (the default attribution window).
LOOKBACK_DAYS = 548


@dataclass
class Span:
    """The simulated window around the span ``[0, n_days)``.

    Day 0 is ``epoch_day`` (days since 1970-01-01). Encounters are emitted
    from day ``-history`` (the history an extract carries) to ``n_days``; the
    simulation itself starts ``warmup`` days before day 0, at :attr:`first`.
    """

    epoch_day: int
    n_days: int
    history: int = 0
    warmup: int = 0

    @classmethod
    def of(cls, start: str | date, years: float, history_months: int = 0) -> Span:
        day0 = np.datetime64(start, "D")
        epoch_day = int(day0.astype(np.int64))
        # The history starts on the same day of the month, history_months earlier
        # (clipped to the month's length).
        month = day0.astype("datetime64[M]")
        back = month - np.timedelta64(int(history_months), "M")
        day_of_month = int((day0 - month.astype("datetime64[D]")).astype(np.int64))
        length = int(((back + 1).astype("datetime64[D]") - back.astype("datetime64[D]")).astype(np.int64))
        first_day = back.astype("datetime64[D]") + np.timedelta64(min(day_of_month, length - 1), "D")
        history = int((day0 - first_day).astype(np.int64))
        # At least a look-back and a year of warm-up, so the relationships and
        # the switching process are in their steady state when encounters start.
        warmup = max(history, LOOKBACK_DAYS) + 365
        return cls(epoch_day, max(1, round(years * 365.25)), history, warmup)

    @property
    def first(self) -> int:
        """The first simulated day (negative)."""
        return -self.warmup

    def weekday(self, days: np.ndarray) -> np.ndarray:
        """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
        return (np.asarray(days, dtype=np.int64) + self.epoch_day + 3) % 7

    def week(self, days: np.ndarray) -> np.ndarray:
        """Calendar week (Monday to Sunday) counted from the week of :attr:`first`."""
        days = np.asarray(days, dtype=np.int64)
        return (days - self.first + self.weekday(self.first)) // 7

    @property
    def n_weeks(self) -> int:
        return int(self.week(self.n_days)) + 1


@dataclass
class Practices:
    kind: np.ndarray  # int8, PRIMARY ...
    urgent_care: np.ndarray  # int32, the urgent-care centre serving a primary-care practice
    hospital: np.ndarray  # int32, the hospital serving a primary-care practice


@dataclass
class Clinicians:
    practice: np.ndarray  # int32
    kind: np.ndarray  # int8, PANEL ...
    role: np.ndarray  # int8 index into schema.ROLES
    specialty: np.ndarray  # int16 index into SPECIALTIES
    capacity: np.ndarray  # int64, -1 = no panel
    active_from: np.ndarray  # int32 first working day (negative = before the span)
    leave: np.ndarray  # int32 first day gone (NEVER = stays)
    scatter: np.ndarray  # bool: when leaving, patients scatter instead of being reassigned
    popularity: np.ndarray  # float, how strongly patients are drawn to them
    half: np.ndarray | None = None  # int8 informal half of a split practice (synth.teams); None = no split

    def members(self, kind: int, n_practices: int) -> tuple[np.ndarray, np.ndarray]:
        """CSR (pointer, clinician index) of clinicians of ``kind`` per practice."""
        idx = np.flatnonzero(self.kind == kind)
        idx = idx[np.argsort(self.practice[idx], kind="stable")]
        counts = np.bincount(self.practice[idx], minlength=n_practices)
        ptr = np.zeros(n_practices + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return ptr, idx

    def active(self, who: np.ndarray, day: np.ndarray) -> np.ndarray:
        return (self.active_from[who] <= day) & (day < self.leave[who])


@dataclass
class Patients:
    entry: np.ndarray  # int32 day the patient joins the system (Span.first = registered from the outset)
    age: np.ndarray  # float years at entry
    birth: np.ndarray  # int32 day of birth
    sex: np.ndarray  # int8 index into SEXES
    chronic: np.ndarray  # int16 number of chronic conditions
    stay: np.ndarray  # float, propensity to see the usual clinician
    rate: dict[str, np.ndarray]  # encounters per year by care type

    @property
    def n(self) -> int:
        return self.entry.size


def _roles(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    names = list(shares)
    p = np.array([shares[k] for k in names])
    codes = np.array([_ROLE[k] for k in names], dtype=np.int8)
    return codes[rng.choice(len(names), size=n, p=p / p.sum())]


def build_system(
    rng: np.random.Generator, n_patients: int, span: Span, patients_per_clinician: int
) -> tuple[Practices, Clinicians]:
    """Primary-care practices with panel clinicians and nurses, specialty practices,
    urgent-care centres and hospitals (ED physicians and hospitalists), plus the
    primary-care clinicians who leave or join during the simulation (warm-up,
    history and span alike)."""
    years = (span.n_days + span.warmup) / 365.25
    # Practices of 2-10 panel clinicians until the wanted head count is reached.
    want = max(4, round(n_patients / patients_per_clinician))
    sizes = np.minimum(2 + rng.poisson(2.5, size=want), 10)
    # At least two practices, so patients can always change practice.
    sizes = sizes[: max(2, int(np.searchsorted(np.cumsum(sizes), want)) + 1)]
    n_pc = sizes.size
    n_uc = max(1, round(n_patients / 60_000))
    n_hosp = max(1, round(n_patients / 150_000))
    n_spec = max(2, round(n_patients / 4_000))
    kinds = np.concatenate(
        [
            np.full(n_pc, PRIMARY),
            np.full(n_spec, SPECIALTY_PRACTICE),
            np.full(n_uc, URGENT_CARE),
            np.full(n_hosp, HOSPITAL),
        ]
    ).astype(np.int8)
    practices = Practices(
        kind=kinds,
        urgent_care=(n_pc + n_spec + np.arange(kinds.size) % n_uc).astype(np.int32),
        hospital=(n_pc + n_spec + n_uc + np.arange(kinds.size) % n_hosp).astype(np.int32),
    )

    parts: list[dict[str, np.ndarray]] = []

    def add(practice, kind, role, specialty, capacity=None, active_from=None, leave=None):
        n = practice.size
        parts.append(
            dict(
                practice=practice.astype(np.int32),
                kind=np.full(n, kind, np.int8),
                role=role.astype(np.int8),
                specialty=np.broadcast_to(specialty, n).astype(np.int16),
                capacity=np.full(n, -1, np.int64) if capacity is None else capacity.astype(np.int64),
                active_from=(
                    span.first - rng.integers(0, 24 * 365, size=n) if active_from is None else active_from
                ).astype(np.int32),
                leave=np.full(n, NEVER, np.int32) if leave is None else leave.astype(np.int32),
            )
        )

    def panel(practice, active_from=None, leave=None, lead=False):
        role = _roles(rng, practice.size, {"physician": 0.6, "np": 0.25, "pa": 0.15})
        role = np.where(lead, _ROLE["physician"], role)
        physician = role == _ROLE["physician"]
        specialty = np.where(physician, rng.choice(3, size=practice.size, p=[0.55, 0.3, 0.15]), 0)
        capacity = np.round(
            patients_per_clinician * np.where(physician, 1.15, 0.9) * rng.lognormal(0, 0.12, practice.size)
        )
        add(practice, PANEL, role, specialty, capacity, active_from, leave)

    # Established panel clinicians. Each practice is led by a physician who
    # stays, so no practice ever empties; the others leave at about 6 % a year
    # (at least one during a span long enough to see it), and most who leave
    # get a replacement who starts a few weeks before they go.
    home = np.repeat(np.arange(n_pc), sizes)
    lead = np.zeros(home.size, bool)
    lead[np.r_[0, np.cumsum(sizes)[:-1]]] = True
    leaves = ~lead & (rng.random(home.size) < 1 - np.exp(-0.06 * max(years - 0.5, 0)))
    leave = np.where(leaves, rng.integers(span.first + 180, max(span.n_days, span.first + 181), size=home.size), NEVER)
    if span.n_days > 365 and not ((leave >= 180) & (leave < span.n_days)).any():
        one = rng.choice(np.flatnonzero(~lead))
        leaves[one], leave[one] = True, rng.integers(180, span.n_days)
    panel(home, leave=leave, lead=lead)
    replaced = np.flatnonzero(leaves & (rng.random(home.size) < 0.6))
    if replaced.size:
        panel(home[replaced], active_from=leave[replaced] - rng.integers(1, 31, size=replaced.size))
    # Growth: new clinicians joining practices (at least one during a span of
    # more than a year).
    if span.n_days > 365:
        n_join = rng.poisson(0.02 * home.size * years)
        joined = rng.integers(span.first + 1, span.n_days - 180, size=n_join)
        joined = np.append(joined, rng.integers(1, span.n_days - 180)) if not (joined > 0).any() else joined
        panel(rng.integers(0, n_pc, size=joined.size), active_from=joined)
    # Practice nurses see patients but hold no panel.
    has_nurse = np.flatnonzero(rng.random(n_pc) < 0.6)
    add(has_nurse, NURSE, np.full(has_nurse.size, _ROLE["nurse"]), SPECIALTIES.index("nursing"))
    # Specialists: one specialty per practice, cycling through the list.
    n_special = len(SPECIALTIES) - _FIRST_SPECIALIST
    spec_sizes = 1 + rng.poisson(1.5, size=n_spec)
    spec_home = np.repeat(np.arange(n_spec), spec_sizes)
    add(
        n_pc + spec_home,
        SPECIALIST,
        _roles(rng, spec_home.size, {"physician": 0.85, "np": 0.1, "pa": 0.05}),
        _FIRST_SPECIALIST + (spec_home % n_special),
    )
    served = n_patients / n_uc
    uc_home = np.repeat(np.arange(n_uc), max(3, round(served / 6_000)))
    add(
        n_pc + n_spec + uc_home,
        URGENT,
        _roles(rng, uc_home.size, {"physician": 0.4, "np": 0.35, "pa": 0.25}),
        SPECIALTIES.index("urgent care"),
    )
    served = n_patients / n_hosp
    ed_home = np.repeat(np.arange(n_hosp), max(3, round(served / 5_000)))
    add(
        n_pc + n_spec + n_uc + ed_home,
        ED,
        _roles(rng, ed_home.size, {"physician": 0.8, "pa": 0.2}),
        SPECIALTIES.index("emergency medicine"),
    )
    ward_home = np.repeat(np.arange(n_hosp), max(2, round(served / 8_000)))
    add(
        n_pc + n_spec + n_uc + ward_home,
        HOSPITALIST,
        _roles(rng, ward_home.size, {"physician": 0.8, "np": 0.2}),
        SPECIALTIES.index("hospital medicine"),
    )

    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = cols["practice"].size
    clinicians = Clinicians(
        **cols,
        scatter=rng.random(n) < 0.3,
        popularity=rng.lognormal(0, 0.25, size=n),
    )
    return practices, clinicians


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    band = rng.choice(_AGE_SHARE.size, size=n, p=_AGE_SHARE / _AGE_SHARE.sum())
    return _AGE_EDGES[band] + rng.random(n) * (_AGE_EDGES[band + 1] - _AGE_EDGES[band])


def build_patients(rng: np.random.Generator, n_patients: int, span: Span) -> Patients:
    """The patients: those registered when the simulation starts, then births and
    newcomers who register later (about 4 % of the population a year)."""
    years = (span.n_days + span.warmup) / 365.25
    n_new = round(n_patients * 0.04 * years / (1 + 0.04 * years)) if span.n_days > 30 else 0
    n_old = n_patients - n_new
    # Newcomers register on a weekday: registration is their first clinic visit.
    joined = rng.integers(span.first + 1, max(span.n_days - 3, span.first + 2), size=n_new)
    joined = joined + np.select([span.weekday(joined) == 5, span.weekday(joined) == 6], [2, 1], 0)
    entry = np.concatenate([np.full(n_old, span.first, np.int32), joined.astype(np.int32)])
    age = _ages(rng, n_patients)
    born = np.zeros(n_patients, bool)
    born[n_old:] = rng.random(n_new) < 0.3
    age[born] = 0.0
    birth = (entry - np.round(age * 365.25)).astype(np.int32)
    sex = (rng.random(n_patients) < 0.49).astype(np.int8)
    chronic = rng.poisson(0.15 + 3.0 * (age / 80) ** 2.5).astype(np.int16)
    # Gamma frailty makes visit counts negative binomial: a heavy right tail.
    frailty = rng.gamma(1.5, 1 / 1.5, size=n_patients)
    # Most patients ask for their own clinician whenever they can (mean 0.91,
    # one in ten below 0.8).
    stay = rng.beta(12.0, 1.2, size=n_patients)

    morbid = 1 + 0.25 * chronic
    pc_base = np.select([age < 1, age < 5, age < 18, age < 45, age < 65, age < 75], [8.0, 4.0, 2.4, 3.4, 4.4, 6.0], 7.5)
    # Women of working age consult more than men (sex code 0 is F).
    working = (age >= 16) & (age < 65)
    pc_base = pc_base * np.where(working, np.where(sex == 0, 1.25, 0.8), 1.0)
    rate = {
        "primary_care": pc_base * morbid * frailty,
        "specialty": 0.15 * (1 + 0.5 * chronic) * frailty**0.7 * np.where(age < 18, 0.5, 1.0),
        "urgent_care": 0.3 * frailty**0.5 * np.where((age >= 18) & (age < 45), 1.3, 1.0),
        "emergency": 0.18 * (1 + 0.25 * chronic) * frailty**0.7 * np.where(age >= 75, 1.5, 1.0),
        "inpatient": 0.03 * (1 + 0.5 * chronic) * np.where(age >= 65, 2.0, 1.0),
        # Deaths per year: Gompertz in age, raised by morbidity.
        "death": np.minimum(np.where(age < 1, 0.004, 0.0004 * np.exp(0.085 * (age - 30)) * (1 + 0.15 * chronic)), 0.5),
    }
    return Patients(entry=entry, age=age, birth=birth, sex=sex, chronic=chronic, stay=stay, rate=rate)
