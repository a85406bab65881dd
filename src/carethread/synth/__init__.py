"""A synthetic health system with known ground truth.

Public data sets such as Synthea give every organisation a single clinician, so
they cannot exercise continuity of care. This generator builds primary-care
practices with several clinicians, specialists, urgent care and a hospital;
patients with a usual clinician who switch, move, die, register, or drift to
emergency-only care; and clinicians who leave and join. Besides the canonical
``encounters``, ``clinicians`` and ``patients`` tables it returns the truth the
measures should recover: each patient's usual clinician per quarter and every
relationship switch.

The simulation starts well before the span (a warm-up of at least the
18-month attribution look-back plus a year), so relationships in force at the
start have a past, and by default the encounters include 18 months of that
past (``history_months``), as a real extract carries history before the period
studied. The ground truth covers the span.

Modules: :mod:`.population` (who exists), :mod:`.events` (what happens to
them), :mod:`.encounters` (the encounters that follow), :mod:`.truth` (what
the measures should find), :mod:`.tables` (Arrow output).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from carethread import schema
from carethread.errors import OptionError
from carethread.output import replacing
from carethread.synth import tables as tb
from carethread.synth.encounters import assemble, other_care, primary_care, same_day_repeats
from carethread.synth.events import simulate
from carethread.synth.outcomes import (
    OutcomeEffects,
    clinician_departures,
    confound,
    hold_departures,
    patient_outcomes,
)
from carethread.synth.population import NEVER, SEXES, SPECIALTIES, Span, build_patients, build_system
from carethread.synth.teams import informal_halves, true_halves
from carethread.synth.truth import true_switches, true_usual

__all__ = ["SyntheticSystem", "generate", "write_chunked"]

TABLES: tuple[str, ...] = ("encounters", "clinicians", "patients", "true_usual", "true_switches")
SCHEMAS: dict[str, pa.Schema] = {
    "encounters": tb.ENCOUNTERS,
    "clinicians": tb.CLINICIANS,
    "patients": tb.PATIENTS,
    "true_usual": tb.TRUE_USUAL,
    "true_switches": tb.TRUE_SWITCHES,
}


@dataclass(frozen=True)
class SyntheticSystem:
    """The generated tables.

    Attributes
    ----------
    encounters, clinicians, patients : pyarrow.Table
        Canonical tables (docs/definitions.md, *Canonical tables*), ids as strings. Encounters
        cover the history before the span and the span; patients are everyone
        registered at some time in that window (some move away or die during
        the history).
    true_usual : pyarrow.Table
        ``patient_id, quarter_start, clinician_id``: the clinician the patient
        belongs to at the end of each calendar quarter of the span (null
        before registration, after moving away or dying, and when
        emergency-only).
    true_switches : pyarrow.Table
        ``patient_id, from_clinician_id, to_clinician_id, switch_date, kind,
        cause, event_date, observable``: every switch whose ``switch_date``
        falls in the span. ``kind`` is ``partner``, ``other_practice``,
        ``emergency_only`` or ``lost``; ``cause`` is ``patient_choice``,
        ``clinician_left``, ``moved_away``, ``died`` or ``disengaged``.
        ``event_date`` is when it happened (the decision, departure, move or
        death); ``switch_date`` is when the encounters show it: the first
        visit with the new clinician (the first ED or urgent-care encounter
        for ``emergency_only``; the day after the last encounter of any kind
        for ``lost``), or the event itself when that falls after the span (or,
        for ``lost``, when the patient has no encounter at all).
        ``observable`` says the encounters can show the switch: the old
        clinician was seen (a primary-care or virtual visit) in the 18 months
        (548 days) before ``switch_date``; and for ``partner`` and
        ``other_practice`` the new clinician was seen on at least two days
        from ``switch_date`` to the end of the span, for ``emergency_only``
        and ``lost`` the span runs at least 12 months past ``switch_date``.
    true_halves : pyarrow.Table or None
        ``clinician_id, practice_id, half``: the informal half (1 or 2) of
        each panel clinician of a split practice (``split_practices``,
        :mod:`.teams`); ``None`` when no practice is split.
    """

    encounters: pa.Table
    clinicians: pa.Table
    patients: pa.Table
    true_usual: pa.Table
    true_switches: pa.Table
    #: The outcome processes' true effects and windows (:mod:`.outcomes`), or ``None`` without them.
    true_effects: pa.Table | None = None
    #: The truth of split practices' informal halves (:mod:`.teams`), or ``None`` without a split.
    true_halves: pa.Table | None = None
    #: The simulation's own arrays, for :func:`carethread.synth.continuation.continue_system`
    #: (a :class:`~carethread.synth.continuation.SimulationState`); not a table, never written.
    state: object = field(default=None, repr=False, compare=False)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write each table to ``out_dir/<name>.parquet``; returns the paths by name."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        optional = tuple(name for name in ("true_effects", "true_halves") if getattr(self, name) is not None)
        for name in TABLES + optional:
            paths[name] = out / f"{name}.parquet"
            with replacing(paths[name]) as tmp:  # whole or not at all
                pq.write_table(getattr(self, name), tmp, compression="zstd")
        return paths


@dataclass
class _Ids:
    """Where a chunk's ids start, and their fixed widths for the whole run."""

    patient: int = 0
    clinician: int = 0
    practice: int = 0
    encounter: int = 0
    widths: tuple[int, int, int, int] = (7, 5, 3, 9)

    @classmethod
    def for_run(cls, n_patients: int, years: float, patients_per_clinician: int, history_months: int = 0) -> _Ids:
        clinicians = 3 * n_patients / patients_per_clinician + n_patients / 1_000 + 50
        practices = n_patients / patients_per_clinician + n_patients / 2_000 + 50
        return cls(
            widths=(
                tb.id_width(7, n_patients),
                tb.id_width(5, clinicians),
                tb.id_width(3, practices),
                tb.id_width(9, n_patients * (max(years, 1) + history_months / 12) * 60),
            )
        )


def _check(n_patients, years, patients_per_clinician, shares, history_months=0) -> None:
    if int(history_months) != history_months or history_months < 0:
        raise OptionError(f"history_months must be a whole number of months, 0 or more, got {history_months!r}")
    if int(n_patients) != n_patients or n_patients < 1:
        raise OptionError(f"n_patients must be a positive whole number, got {n_patients!r}")
    if not years > 0:
        raise OptionError(f"years must be positive, got {years!r}")
    if patients_per_clinician < 1:
        raise OptionError(f"patients_per_clinician must be at least 1, got {patients_per_clinician!r}")
    if shares.get("primary_care_rate", 1.0) <= 0:
        raise OptionError(f"primary_care_rate must be positive, got {shares['primary_care_rate']!r}")
    for name, value in shares.items():
        if name == "primary_care_rate" or value is None:
            continue
        if not 0 <= value < 1:
            raise OptionError(f"{name} must be in [0, 1), got {value!r}")


def _build(
    n_patients, years, seed, start, patients_per_clinician, ids: _Ids, shares, history_months, effects=None, halves=0
) -> tuple[SyntheticSystem, int]:
    """One independent system; also returns its number of practices."""
    rng = np.random.default_rng(seed)
    span = Span.of(start, years, history_months)
    practices, cl = build_system(rng, n_patients, span, patients_per_clinician)
    cl.half = informal_halves(practices, cl, halves)
    patients = build_patients(rng, n_patients, span)
    followup = None
    if effects is not None:  # the outcome processes decide deaths in the follow-up (synth.outcomes)
        confound(patients, effects)
        hold_departures(cl, span, effects)
        followup = effects.windows(span)[1]
    hist = simulate(rng, span, practices, cl, patients, deaths_before=followup)
    pc = primary_care(
        rng,
        span,
        practices,
        cl,
        patients,
        hist,
        shares["virtual_share"],
        away_share=shares.get("away_share"),
        rate_scale=shares.get("primary_care_rate", 1.0),
    )
    parts = [pc, same_day_repeats(rng, pc, shares["same_day_repeat_share"])]
    parts += other_care(rng, span, practices, cl, patients, hist)
    enc = assemble(rng, parts, n_patients, shares["null_clinician_share"])
    if effects is not None:
        enc = patient_outcomes(rng, span, effects, practices, cl, patients, hist, enc)
        enc = clinician_departures(rng, span, effects, cl, hist, enc)

    w_pat, w_cl, w_pr, w_enc = ids.widths
    pat_ids = tb.format_ids("P", ids.patient + 1 + np.arange(n_patients), w_pat)
    cl_ids = tb.format_ids("C", ids.clinician + 1 + np.arange(cl.kind.size), w_cl)
    pr_ids = tb.format_ids("PR", ids.practice + 1 + np.arange(practices.kind.size), w_pr)
    epoch = span.epoch_day

    encounters = pa.table(
        [
            tb.format_ids("E", ids.encounter + 1 + np.arange(enc["day"].size), w_enc),
            tb.lookup(pat_ids, enc["patient"]),
            tb.lookup(cl_ids, enc["clin"]),
            tb.lookup(pr_ids, enc["practice"]),
            tb.timestamps(epoch, enc["day"], enc["minute"]),
            tb.vocabulary(schema.SETTINGS, enc["setting"]),
        ],
        schema=tb.ENCOUNTERS,
    )
    clinicians = pa.table(
        [
            cl_ids,
            tb.lookup(pr_ids, cl.practice),
            tb.vocabulary(SPECIALTIES, cl.specialty),
            tb.vocabulary(schema.ROLES, cl.role),
            pa.array(cl.capacity, mask=cl.capacity < 0),
            tb.dates(epoch, cl.active_from),
            tb.dates(epoch, cl.leave - 1, missing=cl.leave == NEVER),
        ],
        schema=tb.CLINICIANS,
    )
    patients_t = pa.table(
        [
            pat_ids,
            tb.dates(epoch, patients.birth),
            tb.vocabulary(SEXES, patients.sex),
            tb.dates(epoch, hist.death, missing=hist.death == NEVER),
        ],
        schema=tb.PATIENTS,
    )

    usual, switches = tb.truth_tables(
        epoch,
        pat_ids,
        cl_ids,
        true_usual(span, n_patients, hist.changes),
        true_switches(span, hist, enc, n_patients, cl.kind.size),
    )
    from carethread.synth.continuation import SimulationState

    state = SimulationState(span, practices, cl, patients, hist, enc, pat_ids, cl_ids, pr_ids, w_enc)
    truth = effects.table(span) if effects is not None else None
    halves = true_halves(cl, cl_ids, pr_ids)
    system = SyntheticSystem(
        encounters, clinicians, patients_t, usual, switches, true_effects=truth, true_halves=halves, state=state
    )
    return system, practices.kind.size


def generate(
    n_patients: int = 20_000,
    *,
    years: float = 3,
    seed: int = 0,
    start: str | date = "2022-01-01",
    patients_per_clinician: int = 1_500,
    null_clinician_share: float = 0.01,
    same_day_repeat_share: float = 0.01,
    virtual_share: float = 0.12,
    history_months: int = 18,
    away_share: float | None = None,
    primary_care_rate: float = 1.0,
    outcomes: bool | OutcomeEffects = False,
    split_practices: int = 0,
) -> SyntheticSystem:
    """Generate a synthetic health system with ground truth.

    Parameters
    ----------
    n_patients
        Patients in the ``patients`` table, including those who register
        (newborns and newcomers) during the history or the span, and those
        who move away or die during the history.
    years
        Length of the span, ``[start, start + years)``, that the ground truth
        covers.
    seed
        Seed of the numpy random generator; the same arguments give identical
        tables.
    start
        First day of the span (ISO date string or :class:`datetime.date`).
    patients_per_clinician
        Sets the number of primary-care clinicians (about ``n_patients /
        patients_per_clinician``) and their panel capacities.
    null_clinician_share
        Share of encounters whose clinician is unknown (null).
    same_day_repeat_share
        Share of primary-care encounters followed by a second one with the
        same clinician on the same day.
    virtual_share
        Share of primary-care encounters that are ``virtual``.
    history_months
        Months of encounters emitted before ``start`` (default 18, the
        attribution look-back), so attribution at the start of the span sees
        a full window. 0 emits the span only; the simulation warms up before
        the span either way.
    away_share
        Share of primary-care visits (other than those that open a
        relationship) with someone other than the usual clinician: partners
        and practice nurses. Default ``None``: as each patient's loyalty and
        their clinician's absences and list size have it (about 0.13); a
        number moves visits to or from partners at random to meet it.
    primary_care_rate
        Multiplies every patient's primary-care visit rate (default 1: adults'
        median about 3.3 visits a year).
    outcomes
        ``True`` (or an :class:`~carethread.synth.outcomes.OutcomeEffects`
        with the effects wanted) runs the outcome processes of known effect
        in a follow-up window at the end of the span and adds the
        ``true_effects`` table (:mod:`carethread.synth.outcomes`). Off by
        default, which leaves the tables of a seed as they always were.
    split_practices
        Split the primary-care practices with the most panel clinicians, this
        many, into two informal halves whose clinicians cover only for each
        other (:mod:`.teams`; the truth is ``true_halves``). Default 0: no
        split, and the data are those of earlier versions.

    Returns
    -------
    SyntheticSystem

    Raises
    ------
    OptionError
        If an argument is out of range.

    Examples
    --------
    >>> s = generate(200, years=1, seed=1)
    >>> s.encounters.column_names
    ['encounter_id', 'patient_id', 'clinician_id', 'practice_id', 'start', 'setting']
    >>> s.patients.num_rows
    200
    >>> s.encounters.num_rows == generate(200, years=1, seed=1).encounters.num_rows
    True
    >>> sorted(set(s.true_switches["kind"].to_pylist()) - {"partner", "other_practice", "emergency_only", "lost"})
    []

    Encounters start 18 months before ``start``; the truth covers the span:

    >>> import pyarrow.compute as pc
    >>> str(pc.min(s.encounters["start"]).as_py().date()) >= "2020-07-01"
    True
    >>> str(pc.min(s.true_switches["switch_date"]).as_py()) >= "2022-01-01"
    True
    """
    shares = dict(
        null_clinician_share=null_clinician_share,
        same_day_repeat_share=same_day_repeat_share,
        virtual_share=virtual_share,
        away_share=away_share,
        primary_care_rate=primary_care_rate,
    )
    _check(n_patients, years, patients_per_clinician, shares, history_months)
    ids = _Ids.for_run(n_patients, years, patients_per_clinician, history_months)
    system, _ = _build(
        int(n_patients),
        years,
        np.random.SeedSequence(seed),
        start,
        patients_per_clinician,
        ids,
        shares,
        int(history_months),
        _effects(outcomes),
        int(split_practices),
    )
    return system


def _effects(outcomes: bool | OutcomeEffects) -> OutcomeEffects | None:
    """The outcome processes' effects (checked), or ``None`` when they are off."""
    if isinstance(outcomes, OutcomeEffects):
        return outcomes.check()
    return OutcomeEffects() if outcomes else None


def write_chunked(
    out_dir: str | Path,
    n_patients: int,
    *,
    years: float = 3,
    seed: int = 0,
    start: str | date = "2022-01-01",
    chunk_patients: int = 200_000,
    patients_per_clinician: int = 1_500,
    progress: Callable[[int, int], None] | None = None,
    history_months: int = 18,
    outcomes: bool | OutcomeEffects = False,
) -> dict[str, Path]:
    """Generate a large system chunk by chunk straight to Parquet.

    Each chunk is an independent group of practices (with its own clinicians,
    urgent care and hospital) serving about ``chunk_patients`` patients, drawn
    from its own seed derived from ``seed``; ids continue across chunks, so they
    are unique in the whole output. Only one chunk is in memory at a time.

    Parameters
    ----------
    out_dir
        Output folder. Encounters go to ``encounters/part-00000.parquet``,
        ``part-00001.parquet``, ... (stale ``part-*.parquet`` files there are
        removed first); the other tables to one Parquet file each.
    n_patients, years, seed, start, patients_per_clinician, history_months, outcomes
        As in :func:`generate`; with ``outcomes`` every chunk runs the outcome
        processes, and ``true_effects.parquet`` is written once.
    chunk_patients
        Patients per chunk (chunks are made equal in size). The same ``seed``
        and ``chunk_patients`` give identical output.
    progress
        Called after each chunk with ``(patients_done, n_patients)``.

    Returns
    -------
    dict
        Path by table name: the ``encounters`` folder and the other files.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_chunked(d, 300, years=1, chunk_patients=100)
    ...     sorted(p.name for p in paths["encounters"].iterdir())
    ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
    """
    shares = dict(null_clinician_share=0.01, same_day_repeat_share=0.01, virtual_share=0.12)
    _check(n_patients, years, patients_per_clinician, shares, history_months)
    if chunk_patients < 1:
        raise OptionError(f"chunk_patients must be at least 1, got {chunk_patients!r}")
    n_patients = int(n_patients)
    n_chunks = math.ceil(n_patients / chunk_patients)
    sizes = np.full(n_chunks, n_patients // n_chunks)
    sizes[: n_patients % n_chunks] += 1
    seeds = np.random.SeedSequence(seed).spawn(n_chunks)

    out = Path(out_dir)
    enc_dir = out / "encounters"
    enc_dir.mkdir(parents=True, exist_ok=True)
    for stale in enc_dir.glob("part-*.parquet"):
        stale.unlink()
    paths: dict[str, Path] = {"encounters": enc_dir}
    paths.update({name: out / f"{name}.parquet" for name in TABLES[1:]})
    ids = _Ids.for_run(n_patients, years, patients_per_clinician, history_months)
    effects = _effects(outcomes)
    done = 0
    # Each file is written under a temporary name and renamed once complete (carethread.output.replacing).
    with contextlib.ExitStack() as files:
        tmps = {name: files.enter_context(replacing(paths[name])) for name in TABLES[1:]}
        writers = {name: pq.ParquetWriter(tmps[name], SCHEMAS[name], compression="zstd") for name in TABLES[1:]}
        for writer in writers.values():  # closed (footers written) before the files are renamed: last in, first out
            files.callback(writer.close)
        for k, (size, chunk_seed) in enumerate(zip(sizes, seeds, strict=True)):
            part, n_practices = _build(
                int(size), years, chunk_seed, start, patients_per_clinician, ids, shares, int(history_months), effects
            )
            with replacing(enc_dir / f"part-{k:05d}.parquet") as tmp:
                pq.write_table(part.encounters, tmp, compression="zstd")
            if k == 0 and part.true_effects is not None:
                paths["true_effects"] = out / "true_effects.parquet"
                with replacing(paths["true_effects"]) as tmp:
                    pq.write_table(part.true_effects, tmp)
            for name in TABLES[1:]:
                writers[name].write_table(getattr(part, name))
            ids.patient += int(size)
            ids.clinician += part.clinicians.num_rows
            ids.practice += n_practices
            ids.encounter += part.encounters.num_rows
            done += int(size)
            del part
            if progress is not None:
                progress(done, n_patients)
    return paths
