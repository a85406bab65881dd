"""Patient batches: a per-patient measure on more encounters than memory holds.

The measures that follow each patient through time hold every visit of the
input at once, in window sorts and hash tables: on DuckDB about 125 bytes per
encounter for :func:`~carethread.measures.continuity.patient_continuity` and
130 for :func:`~carethread.measures.breaks.relationship_breaks`, 12-13 GB
at 10^8 encounters. DuckDB spills what does not fit to disk, but its
out-of-core windows slow down many-fold: the earlier ``breaks`` (attribution
at every quarter, about 350 bytes per encounter) on 10^8 encounters under a
6 GB limit had spilled 13-17 GB and was still running after 8 minutes
(``bench/RESULTS.md``).

Both measures are separable by patient: a patient's rows depend on that
patient's encounters and on parameters that are fixed for the whole input
(the window, the end of the data, each clinician's practice and last
encounter), and so are the per-pair counts of :func:`~carethread.measures.dyads.dyads`, whose
clinician totals are added once every batch is done. The input is therefore
cut into slices of patients, ``hash(patient_id) % batches``, and the *same*
Ibis expression runs on each slice with those parameters fixed from the
whole input first; the union of the slices' results is the result of one
run, row for row (``tests/test_batches.py`` checks this). Nothing is
computed twice and no second implementation exists: batching is only how
the expression is executed.

How: each batch runs the measure on its patients and writes its rows to a
Parquet file in the spill folder; the caller gets a lazy table over those
files, so the final output goes straight from Parquet to Parquet. A batch
finds its patients by filtering the input, which costs one more scan of it
per batch (6 s for 10^8 encounters on 2 cores); from ``STAGE_FROM`` batches on,
the validated encounters are instead written once, one hive partition per
batch (45-50 s for 10^8), and each batch reads only its own. The folder is
removed afterwards. Only the embedded DuckDB engine batches; Spark and SQL
warehouses distribute the work themselves.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import ibis

from carethread import engine
from carethread.schema import ENCOUNTERS

#: Working memory per encounter (bytes) of the measures that batch: peak RSS
#: over encounters per batch on DuckDB 2.0, measured on 10^8 synthetic
#: encounters in 3 batches (patients 124, dyads 96, breaks 129 since the
#: confirmed-switch rule; bench/RESULTS.md), rounded up.
WORKING_BYTES: dict[str, int] = {"patients": 135, "dyads": 110, "breaks": 150}

#: Share of DuckDB's memory limit one batch may plan to fill; the rest is room
#: for estimates that run high (more visits per patient than the benchmark's)
#: and for what DuckDB holds outside its limit.
FILL = 0.4

#: From this many batches on, slicing the input once beats one filtered scan per batch.
STAGE_FROM = 9

_BATCH = "__batch"


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


def plan(con, n_encounters: int, measure: str, *, forced: int | None = None) -> int:
    """Batches for ``measure`` on ``con``: 1 unless it is embedded DuckDB and the input is large.

    ``forced`` (``carethread --batches``) overrides the estimate, on DuckDB
    and for the measures that batch.
    """
    if not engine.is_duckdb(con) or measure not in WORKING_BYTES:
        return 1
    if forced is not None:
        return max(1, int(forced))
    limit, _ = engine.duckdb_resources(con)
    return batches_needed(n_encounters, WORKING_BYTES[measure], limit)


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


@contextlib.contextmanager
def in_patient_batches(
    encounters: ibis.Table,
    measure: Callable[[ibis.Table], ibis.Table],
    *,
    batches: int,
    order_by: Sequence[str] = (),
    folder: str | Path | None = None,
) -> Iterator[ibis.Table]:
    """Run ``measure`` on each slice of patients; yield the union of the results.

    Parameters
    ----------
    encounters
        Canonical encounters on an embedded DuckDB connection.
    measure
        Builds the measure's table from (a slice of) the encounters. It must
        be separable by patient: every parameter that depends on the whole
        input is fixed before, outside ``measure``.
    batches
        Number of slices; 1 runs ``measure`` on everything, with no files.
    order_by
        Columns the union is ordered by (the order one run would give).
    folder
        Where the slices and results are written (default: a new folder in
        DuckDB's spill folder, private to this user); removed on exit.

    Yields
    ------
    ibis.Table
        Lazy: read from the result files, valid inside the ``with`` block.

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> from carethread.engine import connect
    >>> from carethread.measures.continuity import patient_continuity
    >>> con = connect()
    >>> enc = con.create_table("enc", ibis.memtable({"encounter_id": ["1", "2", "3"],
    ...     "patient_id": ["p", "p", "q"], "clinician_id": ["A", "A", "B"], "practice_id": ["X"] * 3,
    ...     "start": [dt.datetime(2024, 1, d) for d in (1, 5, 9)], "setting": ["primary_care"] * 3}))
    >>> with in_patient_batches(enc, patient_continuity, batches=2, order_by=["patient_id"]) as t:
    ...     t.select("patient_id", "n_visits").to_pyarrow().to_pylist()
    [{'patient_id': 'p', 'n_visits': 2}, {'patient_id': 'q', 'n_visits': 1}]
    """
    if batches <= 1:
        result = measure(encounters)
        yield result.order_by(list(order_by)) if order_by else result
        return
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
            con.to_parquet(measure(sliced), results / f"part-{batch:05d}.parquet")
            written += 1
        union = con.read_parquet(str(results / "*.parquet")) if written else measure(encounters)
        yield union.order_by(list(order_by)) if order_by else union
    finally:
        shutil.rmtree(root, ignore_errors=True)
