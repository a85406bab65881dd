"""``run_all``: read once, compute every measure over one staged input, write every table and the report.

Steps, each timed for the manifest:

1. **read** the input and validate it (skipped when given a
   :class:`~carethread.data.CanonicalData`);
2. **stage** the encounters once (:func:`stage`), so no later step re-reads
   or re-validates the input;
3. **windows**: the current picture and over time (:mod:`carethread.windows`);
4. every measure of the registry (:data:`carethread.run.registry.MEASURES`),
   each written to ``<name>.parquet`` (or ``.csv``) with its window in the
   file's metadata and read back from that file for the steps after it;
5. **who needs whom** from those tables, checked against a patient sample
   (:mod:`carethread.measures.dependence.population`), to ``who_needs_whom.csv``;
6. the **report** from the same tables and answer, to ``report.html``;
7. ``manifest.json`` (:mod:`carethread.run.manifest`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ibis

from carethread import engine
from carethread.data import CanonicalData
from carethread.run.registry import MEASURES, RunContext, RunOptions
from carethread.windows import CURRENT, Window, all_data_window, current_window

#: Inputs up to this many encounters are staged in memory; larger ones as one Parquet file in the spill folder.
STAGE_IN_MEMORY = 20_000_000


@dataclass
class RunResult:
    """What :func:`carethread.run_all` wrote and said.

    ``paths``: every file by name; ``headline``: the report's headline (the
    console prints it word for word); ``windows``: the current picture and
    over time; ``manifest``: the contents of ``manifest.json``; ``shown``:
    the report's protected values (what the console may print).
    """

    paths: dict[str, Path]
    headline: str
    windows: dict[str, Window]
    manifest: dict
    shown: object = None
    answer: object = None


@dataclass
class Timings:
    """Wall seconds per step, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str, bar=None) -> Iterator[None]:
        began = time.perf_counter()
        with bar(name) if bar is not None else contextlib.nullcontext():
            yield
        self.seconds[name] = round(time.perf_counter() - began, 3)


def stage(data: CanonicalData, n_encounters: int) -> CanonicalData:
    """``data`` with its tables materialised once: later steps neither re-read nor re-validate the input.

    On the embedded DuckDB an input of up to :data:`STAGE_IN_MEMORY`
    encounters is held in memory; a larger one is written once to a Parquet
    file in the spill folder (compressed, scanned quickly, never all in
    memory), unless it is read from Parquet files already, which scan as
    fast. Other engines cache it their own way (Ibis ``cache``).
    """
    con = data.encounters._find_backend()
    encounters = data.encounters
    if not engine.is_duckdb(con) or n_encounters <= STAGE_IN_MEMORY:
        encounters = encounters.cache()
    elif not all(count.source.endswith(".parquet") for count in data.counts):
        folder = engine.duckdb_resources(con)[1]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{engine.new_name('staged_encounters')}.parquet"
        con.to_parquet(encounters, path)
        encounters = con.read_parquet(path)
    return dataclasses.replace(
        data,
        encounters=encounters,
        clinicians=data.clinicians.cache() if data.clinicians is not None else None,
        patients=data.patients.cache() if data.patients is not None else None,
    )


def _kept(table: ibis.Table, path: Path) -> ibis.Table:
    """The result for the later steps: read back from its Parquet file on DuckDB, cached elsewhere."""
    con = table._find_backend()
    if path.suffix == ".parquet" and engine.is_duckdb(con):
        return con.read_parquet(path)
    return table.cache()


def compute_tables(ctx: RunContext, out: Path, timings: Timings, bar=None) -> dict[str, Path]:
    """Every measure of the registry, written to ``out`` and kept in ``ctx.tables``; their paths."""
    from carethread.output import write_table

    paths = {}
    for measure in MEASURES:
        with timings.step(measure.name, bar), measure.compute(ctx) as table:
            metadata = ctx.window(measure.scope).metadata(**measure.options(ctx.options))
            path = write_table(table, out / f"{measure.name}{measure.suffix}", metadata=metadata)
            ctx.tables[measure.name] = _kept(table, path)
        paths[measure.name] = path
    return paths


def run_all(
    input_or_data,
    *,
    out,
    con=None,
    format: str = "auto",  # noqa: A002  (the CLI option is --format)
    settings=None,
    start=None,
    end=None,
    as_of=None,
    lookback_months: int = 18,
    rule: str = "plurality",
    confirm: int = 1,
    confirm_months: int = 18,
    usual_months: int = 24,
    period: str | None = None,
    min_visits: int = 2,
    known_lookback_days: int = 365,
    population: str | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    trend_years: int | None = 5,
    privacy: bool = True,
    key: str | bytes | None = None,
    title: str | None = None,
    batches: int | None = None,
    source=None,
    progress=None,
) -> RunResult:
    """Read once, compute every measure, write every table, the answer, the report and a manifest.

    Parameters
    ----------
    input_or_data
        A file, glob or folder (read with :func:`carethread.readers.read`), or
        a :class:`~carethread.data.CanonicalData` already read.
    out
        The folder to write into (created): ``patients.parquet``,
        ``continuity_summary.csv``, ``attribution.parquet``,
        ``attribution_ranking.parquet``, ``panels.parquet``,
        ``dyads.parquet``, ``breaks.parquet``, ``who_needs_whom.csv``,
        ``report.html`` and ``manifest.json``, plus a table per measure
        registered (:func:`carethread.run.register`).
    con, format
        Engine connection and input format when reading a path.
    settings, start, end, as_of, lookback_months
        The windows (docs/windows.md): the current picture
        is the attribution window ``[as_of - lookback_months, as_of)``,
        ``start``/``end`` replacing either side; breaks cover all the data,
        ``[start, end)`` when given.
    rule, min_visits, known_lookback_days
        Attribution rule; fewest visits for an index; look-back of
        known-provider continuity.
    confirm, confirm_months, usual_months, period
        The relationship breaks' options (:func:`carethread.relationship_breaks`);
        with ``confirm=0`` (attribution churn) ``period`` and the attribution
        ``lookback_months`` apply.
    population
        ``"sample"``, ``"complete"`` or ``None`` (default: guessed from the
        data; docs/definitions.md, *Who needs whom*).
    bootstrap, seed
        Bootstrap resamples and seed of the who-needs-whom intervals.
    trend_years
        Years of data the report's trends cover (the latest; ``None``: all).
    privacy, key, title
        As for :func:`carethread.reporting.report`.
    batches
        Patient batches of the measures that batch (default: as the memory
        limit needs, :func:`carethread.batches.plan`).
    source
        The input's path when ``input_or_data`` is data read already (for
        the manifest, the report's name and the pseudonym key).
    progress
        A function ``progress(step_name)`` returning a context manager
        (the command line's spinner), or ``None``.

    Returns
    -------
    RunResult
        The paths written, the report's headline, the windows and the manifest.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from carethread.synth import generate
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = generate(300, years=1.5, seed=3).write(folder / "data")
    >>> result = run_all(folder / "data", out=folder / "all", bootstrap=10)  # doctest: +SKIP
    >>> sorted(result.paths)[:3]  # doctest: +SKIP
    ['attribution', 'attribution_ranking', 'breaks']
    """
    from carethread.measures.dependence.population import check_population
    from carethread.run.manifest import manifest, write_manifest

    options = RunOptions(
        settings=settings,
        start=start,
        end=end,
        as_of=as_of,
        lookback_months=lookback_months,
        rule=rule,
        confirm=confirm,
        confirm_months=confirm_months,
        usual_months=usual_months,
        period=period,
        min_visits=min_visits,
        known_lookback_days=known_lookback_days,
        population=check_population(population),
        bootstrap=bootstrap,
        seed=seed,
        trend_years=trend_years,
        privacy=privacy,
        title=title,
        batches=batches,
    )
    _check(options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings = Timings()
    source = Path(source) if source is not None else None
    with timings.step("read", progress):
        if isinstance(input_or_data, CanonicalData):
            data = input_or_data
        else:
            from carethread.readers import read

            source = Path(input_or_data)
            data = read(source, format=format, con=con or engine.connect())
    with timings.step("stage", progress):
        # Every accepted row (encounters and side tables) bounds the encounters from above.
        staged = stage(data, sum(count.accepted for count in data.counts))
        n_encounters = int(staged.encounters.count().execute())
        if data.n_quarantined:
            from carethread.output import write_table

            quarantined = write_table(data.quarantine, out / "quarantine.parquet")
    with timings.step("windows", progress):
        window = dict(settings=settings, start=start, end=end)
        ctx = RunContext(
            data=data,
            encounters=staged.encounters,
            clinicians=staged.clinicians,
            options=options,
            current=current_window(staged.encounters, **window, as_of=as_of, lookback_months=lookback_months),
            over_time=all_data_window(staged.encounters, **window),
            n_encounters=n_encounters,
        )
    paths = compute_tables(ctx, out, timings, progress)
    if data.n_quarantined:
        paths["quarantine"] = quarantined
    with timings.step("who_needs_whom", progress):
        answer, paths["who_needs_whom"] = _answer(ctx, out)
    with timings.step("report", progress):
        shown, paths["report"] = _report(ctx, staged, answer, out, source=source, key=key)
    windows = {CURRENT: ctx.current, "over_time": ctx.over_time}
    record = manifest(ctx, paths, timings.seconds, answer=answer, source=source)
    paths["manifest"] = write_manifest(record, out / "manifest.json")
    return RunResult(paths, shown.who_headline or "", windows, record, shown=shown, answer=answer)


def _check(options: RunOptions) -> None:
    from carethread.measures.attribution import RULES
    from carethread.measures.breaks import check_break_options
    from carethread.options import check_lookback_days, check_months, check_options, check_rule

    check_options(settings=options.settings, start=options.start, end=options.end, min_visits=options.min_visits)
    check_months(options.lookback_months, "lookback-months")
    check_rule(options.rule, RULES)
    check_lookback_days(options.known_lookback_days)
    check_break_options(**options.breaks())


def _answer(ctx: RunContext, out: Path):
    from carethread.measures.dependence import who_needs_whom
    from carethread.output import write_table

    o, t = ctx.options, ctx.tables
    answer = who_needs_whom(
        t["dyads"],
        continuity=t["patients"],
        attribution=t["attribution"],
        breaks=t["breaks"],
        panels=t["panels"],
        population=o.population,
        **ctx.current.bounds(),
        as_of=ctx.current.as_of,
        min_visits=o.min_visits,
        bootstrap=o.bootstrap,
        seed=o.seed,
    )
    path = write_table(ibis.memtable(answer.table), out / "who_needs_whom.csv", metadata=ctx.current.metadata())
    return answer, path


def _report(ctx: RunContext, staged: CanonicalData, answer, out: Path, *, source, key):
    from carethread.reporting import ReportOptions, Tables, write_report

    o, t = ctx.options, ctx.tables
    keep: dict = {}
    tables = Tables(
        patients=t["patients"],
        panels=t["panels"],
        dyads=t["dyads"],
        breaks=t["breaks"],
        attribution=t["attribution"],
        who=answer,
        network=t.get("network"),
        care_density=t.get("care_density"),
    )
    options = ReportOptions(
        settings=o.settings,
        start=o.start,
        end=o.end,
        as_of=o.as_of,
        lookback_months=o.lookback_months,
        min_visits=o.min_visits,
        privacy=o.privacy,
        key=key,
        title=o.title,
        bootstrap=o.bootstrap,
        population=o.population,
        trend_years=o.trend_years,
        rule=o.rule,
        breaks=o.breaks(),
    )
    path = write_report(
        staged, options, out=out / "report.html", tables=tables, source=source, keep=keep, progress=False
    )
    return keep["shown"], path
