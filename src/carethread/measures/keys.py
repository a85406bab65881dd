"""Best-of keys: one string that sorts a group's candidates best-first.

Several measures pick the best of a patient's clinicians (the usual clinician,
plurality and tiered attribution, the attribution at each period boundary of
relationship breaks, the usual dyad of who-needs-whom) or of a clinician's
practices (the one most of their encounters name). Ranking every candidate
takes a window, a sort of every group. Instead each candidate gets one string
key, fixed-width numbers followed by its id, and a single ``MIN`` per group
picks the winner; :func:`decode_usual_key` reads the winner's numbers and id
back from the key, so no second pass is needed.

Each number is offset so that its decimal form has a fixed width (a cast of
an integer, not ``lpad``, which Ibis spells for DuckDB as a ``CASE`` with
three casts), and the id comes last, so equal numbers end in plain id order:

* a count takes :data:`COUNT_WIDTH` digits (counts below ``10**12``);
* a moment takes :data:`TIME_WIDTH` digits: whole microseconds since
  1900-01-01 (moments before the year 2216), one exact integer on every
  engine.

The usual-clinician order (docs/definitions.md, *Usual clinician*): most
visits; then the most recent visit, the last in visit order, i.e. the latest
*start* of the candidates' last visits (a visit starts at the earliest start
of its day); then the smallest id, which decides only when both last visits
start at the very same instant.
"""

from __future__ import annotations

import datetime

import ibis

#: Digits of a count in a key.
COUNT_WIDTH = 13
#: Digits of a moment in a key.
TIME_WIDTH = 17
#: Characters of :func:`usual_key` before the id.
USUAL_PREFIX = COUNT_WIDTH + TIME_WIDTH

_COUNT_BASE = 10**12
_TIME_BASE = 10**16
_MICROS_PER_DAY = 86_400_000_000
_EPOCH = datetime.datetime(1900, 1, 1)


def micros(moment: ibis.Value) -> ibis.IntegerValue:
    """Whole microseconds from 1900-01-01 to ``moment`` (Spark cannot extract a
    timestamp's microsecond field, but every engine takes this difference)."""
    return moment.delta(ibis.literal(_EPOCH), unit="microsecond")


def more_first(n: ibis.IntegerValue) -> ibis.StringValue:
    """A count as :data:`COUNT_WIDTH` digits that sort larger counts first."""
    return (2 * _COUNT_BASE - n).cast("string")


def fewer_first(n: ibis.IntegerValue) -> ibis.StringValue:
    """A count as :data:`COUNT_WIDTH` digits that sort smaller counts first."""
    return (_COUNT_BASE + n).cast("string")


def later_first(moment: ibis.Value) -> ibis.StringValue:
    """A moment as :data:`TIME_WIDTH` digits that sort later moments first."""
    return (2 * _TIME_BASE - 1 - micros(moment)).cast("string")


def earlier_first(moment: ibis.Value) -> ibis.StringValue:
    """A moment as :data:`TIME_WIDTH` digits that sort earlier moments first."""
    return (_TIME_BASE + micros(moment)).cast("string")


def usual_key(n: ibis.IntegerValue, last_start: ibis.Value, candidate_id: ibis.StringValue) -> ibis.StringValue:
    """The usual-clinician key: the smallest is the candidate with the most visits,
    then the latest last-visit start, then the smallest id.

    ``n`` is the candidate's number of visits and ``last_start`` the start of
    their last visit (a timestamp: visits on one day are ordered by time).

    Examples
    --------
    Equal visits, last visits on the same day: the one seen at 17:15 wins.

    >>> import ibis, datetime as dt
    >>> pairs = ibis.memtable({"clinician_id": ["A", "B"], "n": [2, 2],
    ...     "last_start": [dt.datetime(2024, 3, 1, 17, 15), dt.datetime(2024, 3, 1, 16, 15)]})
    >>> key = usual_key(pairs.n, pairs.last_start, pairs.clinician_id)
    >>> pairs.aggregate(best=key.min()).best.execute()[0][USUAL_PREFIX:]
    'A'
    """
    return more_first(n).concat(later_first(last_start), candidate_id)


def usual_rank_key(pairs: ibis.Table, provider: str = "clinician_id") -> ibis.StringValue:
    """:func:`usual_key` of a table with ``n``, ``last_start`` and the ``provider`` column."""
    return usual_key(pairs.n, pairs.last_start, pairs[provider])


def most_frequent_key(n: ibis.IntegerValue, candidate_id: ibis.StringValue) -> ibis.StringValue:
    """The smallest is the candidate counted most often, then the smallest id;
    the id starts at :data:`COUNT_WIDTH`."""
    return more_first(n).concat(candidate_id)


def decode_usual_key(key: ibis.StringValue, offset: int = 0) -> dict[str, ibis.Value]:
    """``n``, ``last_visit`` (the date of the last visit) and ``id`` read back from
    a :func:`usual_key` that starts ``offset`` characters into ``key``.

    >>> import ibis, datetime as dt
    >>> key = usual_key(ibis.literal(5), ibis.literal(dt.datetime(2024, 3, 1, 9, 30)), ibis.literal("C-07"))
    >>> {name: value.to_pyarrow().as_py() for name, value in decode_usual_key(key).items()}
    {'n': 5, 'last_visit': datetime.date(2024, 3, 1), 'id': 'C-07'}
    """
    n = 2 * _COUNT_BASE - key.substr(offset, COUNT_WIDTH).cast("int64")
    since = 2 * _TIME_BASE - 1 - key.substr(offset + COUNT_WIDTH, TIME_WIDTH).cast("int64")
    day = (ibis.date(1900, 1, 1) + (since // _MICROS_PER_DAY).as_interval("D")).cast("date")
    return {"n": n, "last_visit": day, "id": key.substr(offset + USUAL_PREFIX)}
