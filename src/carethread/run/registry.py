"""The measures :func:`carethread.run_all` computes, in order: a registry new measures join.

Each :class:`Measure` names its table (the file stem and the manifest key),
the window it describes (the current picture or over time, see
:mod:`carethread.windows`), and how to compute it from a
:class:`RunContext`: the staged encounters, the windows, the options and
the tables computed before it. A measure that follows each patient through
time runs through :func:`carethread.batches.run_in_batches`, so an input
larger than memory is computed on slices of patients.

A new measure plugs in with :func:`register`::

    from carethread.run import Measure, register

    register(Measure("outcomes", CURRENT, lambda ctx: table_of(outcomes(ctx.encounters, **ctx.current.bounds()))))

and :func:`carethread.run_all` then computes it, writes ``outcomes.parquet``
with its window in the file's metadata, and lists it in ``manifest.json``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis

from carethread.windows import CURRENT, OVER_TIME, Window

if TYPE_CHECKING:
    from carethread.data import CanonicalData


@dataclass(frozen=True)
class RunOptions:
    """Every option of one :func:`carethread.run_all` (recorded in the manifest as given)."""

    settings: str | tuple[str, ...] | None = None
    start: object = None
    end: object = None
    as_of: object = None
    lookback_months: int = 18
    rule: str = "plurality"
    confirm: int = 1
    confirm_months: int = 18
    usual_months: int = 24
    period: str | None = None
    min_visits: int = 2
    known_lookback_days: int = 365
    population: str | None = None
    bootstrap: int = 200
    seed: int = 0
    trend_years: int | None = 5
    privacy: bool = True
    title: str | None = None
    batches: int | None = None

    def breaks(self) -> dict:
        """The options of :func:`carethread.relationship_breaks`; attribution churn (``confirm`` 0) also takes
        the attribution look-back."""
        options = dict(
            confirm=self.confirm, confirm_months=self.confirm_months, usual_months=self.usual_months, period=self.period
        )
        return options | ({"lookback_months": self.lookback_months} if self.confirm == 0 else {})


@dataclass
class RunContext:
    """What a measure of the registry computes from."""

    data: CanonicalData
    encounters: ibis.Table  # read, validated and staged once
    clinicians: ibis.Table | None
    options: RunOptions
    current: Window
    over_time: Window
    n_encounters: int
    tables: dict[str, ibis.Table] = field(default_factory=dict)  # earlier results, read back from their files

    def window(self, scope: str) -> Window:
        return self.current if scope == CURRENT else self.over_time


@dataclass(frozen=True)
class Measure:
    """One table :func:`carethread.run_all` writes.

    ``compute(ctx)`` returns a context manager that yields the lazy result
    (valid inside the block, where it is written); :func:`table_of` wraps a
    plain table, :func:`batched` runs a per-patient measure in patient
    batches. ``suffix`` is the file type. ``options(run_options)`` gives
    the measure's own options, written beside its window in the file's
    metadata and the manifest.
    """

    name: str
    scope: str
    compute: Callable[[RunContext], AbstractContextManager[ibis.Table]]
    suffix: str = ".parquet"
    order_by: tuple[str, ...] = ()
    options: Callable[[RunOptions], dict] = lambda _options: {}


def table_of(table: ibis.Table) -> AbstractContextManager[ibis.Table]:
    """A computed table as :attr:`Measure.compute` returns it."""
    return contextlib.nullcontext(table)


@contextlib.contextmanager
def batched(ctx: RunContext, measure: Callable[..., ibis.Table], **options) -> Iterator[ibis.Table]:
    """``measure`` of the staged encounters, in as many patient batches as the memory limit needs."""
    from carethread.batches import run_in_batches

    with run_in_batches(
        measure, ctx.encounters, batches=ctx.options.batches, n_encounters=ctx.n_encounters, **options
    ) as result:
        yield result


def _patients(ctx: RunContext):
    from carethread.measures.continuity import patient_continuity

    o = ctx.options
    return batched(
        ctx,
        patient_continuity,
        settings=o.settings,
        **ctx.current.bounds(),
        min_visits=o.min_visits,
        known_lookback_days=o.known_lookback_days,
    )


def _continuity_summary(ctx: RunContext):
    from carethread.measures.continuity import continuity_summary

    return table_of(continuity_summary(ctx.tables["patients"]))


def _attribution_options(ctx: RunContext) -> dict:
    o = ctx.options
    return dict(
        clinicians=ctx.clinicians,
        settings=o.settings,
        as_of=ctx.current.as_of,
        rule=o.rule,
        lookback_months=o.lookback_months,
    )


def _attribution(ctx: RunContext):
    from carethread.measures.attribution import attribute

    return table_of(attribute(ctx.encounters, **_attribution_options(ctx)))


def _ranking(ctx: RunContext):
    from carethread.measures.attribution import attribution_ranking

    return table_of(attribution_ranking(ctx.encounters, **_attribution_options(ctx)))


def _panels(ctx: RunContext):
    from carethread.measures.panels import panels

    options = _attribution_options(ctx)
    return table_of(panels(ctx.encounters, **options, **ctx.current.bounds()))


def _dyads(ctx: RunContext):
    from carethread.measures.dyads import dyads

    return batched(ctx, dyads, settings=ctx.options.settings, **ctx.current.bounds())


def _breaks(ctx: RunContext):
    from carethread.measures.breaks import relationship_breaks

    o = ctx.options
    return batched(
        ctx, relationship_breaks, clinicians=ctx.clinicians, settings=o.settings, **ctx.over_time.bounds(), **o.breaks()
    )


def _network(ctx: RunContext):
    from carethread.measures.network.edges import sharing_network

    # Every setting with a clinician (the measure's own default): hand-offs to specialists and the ED are the point.
    return batched(ctx, sharing_network, **ctx.over_time.bounds())


def _care_density(ctx: RunContext):
    from carethread.measures.network.density import care_density

    return batched(ctx, care_density, **ctx.over_time.bounds(), network=ctx.tables["network"])


def _every_setting(_options: RunOptions) -> dict:
    """The network's settings, written over the run's in its files' metadata, and its pair floor."""
    from carethread.options import normalize_settings
    from carethread.schema import SETTINGS

    return {"settings": ",".join(normalize_settings(SETTINGS)), "min_shared": 1}


#: The measures :func:`carethread.run_all` computes, in order (a measure may read the tables before it).
MEASURES: list[Measure] = [
    Measure("patients", CURRENT, _patients),
    Measure("continuity_summary", CURRENT, _continuity_summary, suffix=".csv"),
    Measure("attribution", CURRENT, _attribution),
    Measure("attribution_ranking", CURRENT, _ranking),
    Measure("panels", CURRENT, _panels),
    Measure("dyads", CURRENT, _dyads),
    Measure("breaks", OVER_TIME, _breaks, options=RunOptions.breaks),
    Measure("network", OVER_TIME, _network, options=_every_setting),
    Measure("care_density", OVER_TIME, _care_density, options=_every_setting),
]


def register(measure: Measure, *, before: str | None = None) -> None:
    """Add ``measure`` to :data:`MEASURES` (at the end, or before the measure named ``before``).

    A measure of the same name is replaced, so registering twice is harmless.
    """
    names = [m.name for m in MEASURES]
    if measure.name in names:
        MEASURES[names.index(measure.name)] = measure
        return
    MEASURES.insert(names.index(before) if before in names else len(MEASURES), measure)
