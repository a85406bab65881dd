"""Patient batches: a per-patient measure on more encounters than memory holds.

The measures that follow each patient through time hold every visit of the
input at once, in window sorts and hash tables (:data:`WORKING_BYTES` per
encounter on DuckDB). DuckDB spills what does not fit to disk, but its
out-of-core windows slow down many-fold (``bench/RESULTS.md``).

These measures are separable by patient: a patient's rows depend on that
patient's encounters and on parameters that are fixed for the whole input
(the window, and for relationship breaks the end of the data and each
clinician's practice and last encounter), and so are the per-pair counts of
:func:`~carethread.measures.dyads.dyads`, whose clinician totals are added
once every batch is done. :func:`run_in_batches` therefore fixes those
parameters from the whole input first, cuts the input into slices of
patients, ``hash(patient_id) % batches``, and runs the *same* Ibis
expression on each slice; the union of the slices' results is the result of
one run, row for row, with the same column types (``tests/test_batches.py``
checks both). Nothing is computed twice and no second implementation
exists: batching is only how the expression is executed. Use it from
Python as the command line does::

    from carethread import patient_continuity, run_in_batches

    with run_in_batches(patient_continuity, encounters, min_visits=1) as patients:
        patients.to_parquet("patients.parquet")

How: each batch runs the measure on its patients and writes its rows to a
Parquet file in the spill folder, with the column types the measure's
schema declares (an engine may compute a sum as a wider integer, or a date
plus an interval as a timestamp, where Ibis declares ``int64`` or ``date``);
the caller gets a lazy table over those files, valid inside the ``with``
block, so a large result goes straight from Parquet to Parquet. A batch
finds its patients by filtering the input, one more scan of it per batch;
from :data:`STAGE_FROM` batches on, the encounters are instead written once,
one hive partition per batch, and each batch reads only its own. The folder
is removed when the block ends. Only the embedded DuckDB engine batches;
Spark and SQL warehouses distribute the work themselves, so there the
measure runs once.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.operations as ops

from carethread import engine
from carethread.deprecation import warn_renamed
from carethread.schema import ENCOUNTERS

#: Working memory per encounter (bytes) of the measures that batch, by the
#: name the command line gives them: peak RSS over encounters per batch on
#: DuckDB, measured on 10^8 synthetic encounters and rounded up
#: (``bench/RESULTS.md``).
WORKING_BYTES: dict[str, int] = {
    "patients": 135,
    "dyads": 110,
    "breaks": 150,
    "network": 130,
    "care_density": 160,
    "trends": 100,  # the report's continuity per quarter (carethread.reporting.compute.trends)
}

#: Share of DuckDB's memory limit one batch may plan to fill; the rest is room
#: for estimates that run high (more visits per patient than the benchmark's)
#: and for what DuckDB holds outside its limit.
FILL = 0.4

#: From this many batches on, slicing the input once beats one filtered scan per batch.
STAGE_FROM = 9

_BATCH = "__batch"


@dataclass(frozen=True)
class _Batching:
    """How one measure runs in batches."""

    name: str  # its key in WORKING_BYTES
    per_batch: Callable[..., ibis.Table]  # (encounters, **options), separable by patient
    order_by: tuple[str, ...] = ()
    fixed: Callable[[ibis.Table, dict], dict] | None = None  # options fixed from the whole input
    finish: Callable[[ibis.Table, dict], ibis.Table] | None = None  # (union of the batches, options) -> the result


def _breaks_fixed(encounters: ibis.Table, options: dict) -> dict:
    from carethread.measures.breaks import whole_input_parameters

    return whole_input_parameters(
        encounters, clinicians=options.get("clinicians"), start=options.get("start"), end=options.get("end")
    )


def _dyads_from_pairs(pairs: ibis.Table, options: dict) -> ibis.Table:
    from carethread.measures.dyads import dyads_from_counts

    return dyads_from_counts(pairs.cache())  # three reads of the pairs: once from Parquet is enough


def _network_partials(encounters: ibis.Table, **options) -> ibis.Table:
    """A batch's network, every pair kept: a pair's count in one batch says nothing about its total."""
    from carethread.measures.network.edges import sharing_network

    return sharing_network(encounters, **{**options, "min_shared": 1})


def _network_from_partials(partials: ibis.Table, options: dict) -> ibis.Table:
    from carethread.measures.network.edges import merge_partials, sharing_network_filter

    return sharing_network_filter(merge_partials(partials), options.get("min_shared", 1))


def _network_fixed(encounters: ibis.Table, options: dict) -> dict:
    """The network whose weights every batch's care densities use, from the whole input (in batches too)."""
    from carethread.measures.network.edges import sharing_network

    if options.get("network") is not None:
        return {}
    window = {name: options.get(name) for name in ("settings", "start", "end")}
    with run_in_batches(sharing_network, encounters, **window) as network:
        return {"network": network.cache()}


def _batching(measure: Callable[..., ibis.Table]) -> _Batching:
    """The batching of a measure of carethread, or of any other separable one."""
    from carethread.measures.breaks import BREAK_ORDER, relationship_breaks
    from carethread.measures.continuity import patient_continuity
    from carethread.measures.dyads import dyad_counts, dyads
    from carethread.measures.network.density import care_density
    from carethread.measures.network.edges import sharing_network

    known = {
        patient_continuity: _Batching("patients", patient_continuity, ("patient_id",)),
        dyads: _Batching("dyads", dyad_counts, finish=_dyads_from_pairs),
        relationship_breaks: _Batching("breaks", relationship_breaks, BREAK_ORDER, fixed=_breaks_fixed),
        sharing_network: _Batching("network", _network_partials, finish=_network_from_partials),
        care_density: _Batching("care_density", care_density, ("patient_id",), fixed=_network_fixed),
    }
    return known.get(measure) or _Batching("", measure)


def batches_needed(n_encounters: int, working_bytes: int, memory_limit: int) -> int:
    """How many patient batches keep one batch's working set within ``FILL`` of the limit.

    ``ceil(n_encounters * working_bytes / (FILL * memory_limit))``, at least 1.

    >>> batches_needed(100_000_000, WORKING_BYTES["breaks"], 6 * 10**9)
    7
    >>> batches_needed(1_000_000, WORKING_BYTES["patients"], 6 * 10**9)
    1
    """
    if n_encounters <= 0 or working_bytes <= 0 or memory_limit <= 0:
        return 1
    return max(1, math.ceil(n_encounters * working_bytes / (FILL * memory_limit)))


def plan(con, n_encounters: int, measure: str | Callable[..., ibis.Table], *, forced: int | None = None) -> int:
    """Batches for ``measure`` on ``con``: 1 unless it is embedded DuckDB and the input is large.

    ``measure`` is a measure function or its name in :data:`WORKING_BYTES`
    (another name plans 1 batch; a function carethread does not know is
    planned with the largest working set). ``forced`` (``carethread
    --batches``) overrides the estimate, on DuckDB and for the measures that
    batch.
    """
    name = measure if isinstance(measure, str) else _batching(measure).name
    if not engine.is_duckdb(con) or (isinstance(measure, str) and name not in WORKING_BYTES):
        return 1
    if forced is not None:
        return max(1, int(forced))
    limit, _ = engine.duckdb_resources(con)
    return batches_needed(n_encounters, WORKING_BYTES.get(name, max(WORKING_BYTES.values())), limit)


def patient_batch(encounters: ibis.Table, batch: int, batches: int) -> ibis.Table:
    """The encounters of the patients in ``batch`` (``0 <= batch < batches``).

    >>> import ibis
    >>> enc = ibis.memtable({"patient_id": ["a", "b", "c", "d"]})
    >>> sum(patient_batch(enc, i, 3).count().execute() for i in range(3))
    4
    """
    return encounters.filter(_batch_of(encounters.patient_id, batches) == batch)


def _batch_of(patient_id: ibis.Value, batches: int) -> ibis.Value:
    # hash() is signed on some engines: fold it into 0 .. batches-1.
    return ((patient_id.hash() % batches) + batches) % batches


def _in_declared_types(table: ibis.Table) -> ibis.Table:
    """``table`` with every column cast, in the engine too, to the type its schema declares.

    ``ops.Cast`` directly: ``Value.cast`` skips a cast to the declared type,
    which is the one the engine may not have used (module docstring).
    """
    return table.select(**{name: ops.Cast(table[name], to=dtype).to_expr() for name, dtype in table.schema().items()})


@contextlib.contextmanager
def _slices(
    encounters: ibis.Table,
    measure: Callable[[ibis.Table], ibis.Table],
    *,
    batches: int,
    folder: str | Path | None = None,
) -> Iterator[ibis.Table]:
    """``measure`` on each slice of patients, its results written to Parquet; yields their union."""
    con = encounters._find_backend()
    engine.require_duckdb(con)
    root = Path(folder) if folder is not None else engine.duckdb_resources(con)[1] / f"batches-{uuid.uuid4().hex[:10]}"
    slices, results = root / "encounters", root / "results"
    results.mkdir(parents=True, mode=0o700)
    try:
        staged = batches >= STAGE_FROM
        if staged:
            tagged = encounters.select(*ENCOUNTERS.names).mutate(**{_BATCH: _batch_of(encounters.patient_id, batches)})
            con.to_parquet(tagged, slices, partition_by=_BATCH)
        written = 0
        for batch in range(batches):
            if staged:
                part = slices / f"{_BATCH}={batch}"
                if not part.exists():  # no patient hashed here
                    continue
                sliced = con.read_parquet(str(part / "*.parquet"), hive_partitioning=False).select(*ENCOUNTERS.names)
            else:
                sliced = patient_batch(encounters, batch, batches)
            con.to_parquet(_in_declared_types(measure(sliced)), results / f"part-{batch:05d}.parquet")
            written += 1
        whole = measure(encounters)
        union = con.read_parquet(str(results / "*.parquet")).cast(whole.schema()) if written else whole
        yield union
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def run_in_batches(
    measure: Callable[..., ibis.Table],
    encounters: ibis.Table,
    *,
    batches: int | None = None,
    order_by: Sequence[str] | None = None,
    n_encounters: int | None = None,
    folder: str | Path | None = None,
    **options,
) -> Iterator[ibis.Table]:
    """Run a per-patient measure on slices of patients, one at a time; yield its result.

    Parameters
    ----------
    measure
        :func:`~carethread.measures.continuity.patient_continuity`,
        :func:`~carethread.measures.dyads.dyads`,
        :func:`~carethread.measures.breaks.relationship_breaks`, or any
        function ``measure(encounters, **options) -> ibis.Table`` whose rows
        for a patient depend only on that patient's encounters.
    encounters
        Canonical encounters.
    batches
        Number of slices; default: as many as the embedded DuckDB's memory
        limit needs for this input (:func:`plan`). 1, or an engine other
        than the embedded DuckDB, runs the measure once.
    order_by
        Columns the result is ordered by (default: the measure's own order,
        ``patient_id`` for patients, the break order for breaks).
    n_encounters
        The number of encounters, when known, to plan without counting them.
    folder
        Where the slices and results are written (default: a new folder in
        DuckDB's spill folder, private to this user); removed on exit.
    **options
        The measure's keyword options (``min_visits=1``, ``clinicians=...``).

    Yields
    ------
    ibis.Table
        The measure's result, equal in rows and column types to one run;
        lazy, read from the result files, valid inside the ``with`` block
        (``.cache()`` or write it there to keep it).

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> from carethread.engine import connect
    >>> from carethread.measures.continuity import patient_continuity
    >>> con = connect()
    >>> enc = con.create_table("enc", ibis.memtable({"encounter_id": ["1", "2", "3"],
    ...     "patient_id": ["p", "p", "q"], "clinician_id": ["A", "A", "B"], "practice_id": ["X"] * 3,
    ...     "start": [dt.datetime(2024, 1, d) for d in (1, 5, 9)], "setting": ["primary_care"] * 3}))
    >>> with run_in_batches(patient_continuity, enc, batches=2, min_visits=1) as t:
    ...     t.select("patient_id", "n_visits", "upc").to_pyarrow().to_pylist()
    [{'patient_id': 'p', 'n_visits': 2, 'upc': 1.0}, {'patient_id': 'q', 'n_visits': 1, 'upc': 1.0}]
    """
    from carethread.measures.display import as_result

    how = _batching(measure)
    order = list(how.order_by if order_by is None else order_by)
    con = encounters._find_backend()
    if not engine.is_duckdb(con):
        batches = 1
    elif batches is None:
        n = n_encounters if n_encounters is not None else int(encounters.count().execute())
        batches = plan(con, n, measure)
    batches = max(1, int(batches))
    if batches > 1 and how.fixed is not None:
        options.update(how.fixed(encounters, options))
    whole = measure(encounters, **options)
    if batches <= 1:
        yield as_result(whole.order_by(order) if order else whole)
        return
    with _slices(encounters, lambda e: how.per_batch(e, **options), batches=batches, folder=folder) as union:
        result = (how.finish(union, options) if how.finish else union).cast(whole.schema())
        yield as_result(result.order_by(order) if order else result)


@contextlib.contextmanager
def in_patient_batches(
    encounters: ibis.Table,
    measure: Callable[[ibis.Table], ibis.Table],
    *,
    batches: int,
    order_by: Sequence[str] = (),
    folder: str | Path | None = None,
) -> Iterator[ibis.Table]:
    """Deprecated: :func:`run_in_batches` plans, fixes and finishes each measure itself."""
    warn_renamed(
        "carethread.batches.in_patient_batches(encounters, measure, ...)",
        "carethread.batches.run_in_batches(measure, encounters, ...)",
        stacklevel=4,  # the caller's `with` line, past the generator and contextlib
    )
    with run_in_batches(measure, encounters, batches=batches, order_by=order_by, folder=folder) as result:
        yield result
