"""Privacy for shared outputs: small-count suppression and keyed pseudonyms (docs/definitions.md, *Privacy*).

Analyst outputs (the measure tables) keep real identifiers. Anything meant to
leave the analyst's hands — the HTML report above all — goes through this
module:

* **Small counts.** Every count from 1 to 10 is shown as ``<11`` (the
  CMS / ResDAC cell-size policy). :func:`suppress` formats one count.
* **Counts derivable by subtraction.** When a group of counts is shown with
  its total (the bins of a histogram and the number of patients, the kinds of
  break and their sum), hiding one small cell is not enough: total minus the
  shown cells gives it back. :func:`suppress_group` and
  :func:`suppress_table` apply *complementary suppression*:

  1. every cell from 1 to 10 is hidden (primary suppression, shown ``<11``);
  2. in every line (row or column) whose total is shown, while a hidden
     cell could be worked out — a single hidden cell, hidden cells adding up
     to 1-10, or bounds that pin one down (a reader knows ``<11`` means 1-10
     and ``hidden`` at least 11: ``<11`` + ``hidden`` = 12 forces 1 and 11) —
     the smallest non-zero cell still shown is hidden too (complementary
     suppression);
  3. if a line's total is itself 1-10 it is shown ``<11`` as well; if no cell
     is left to hide and one could still be worked out (``1`` and ``11``
     summing to a shown 12), every non-zero cell of the line is *withheld*:
     shown as ``hidden`` without saying which were small;
  4. for a table with both row and column totals shown, step 2 repeats over
     rows and columns until nothing changes.

  Zero cells are never hidden: an empty category reveals no one. This is the
  usual heuristic of statistical agencies, not a proof against every linear
  attack on many overlapping tables; the report shows few overlapping totals
  so it holds there.
* **Percentages and statistics.** A share is shown only when its count and
  the count's complement (total minus count) are both 0 or at least 11
  (:func:`share_is_safe`); a mean or median of a group is shown only when the
  group has at least 11 members (:func:`group_is_safe`).
* **Pseudonyms.** Clinicians and practices appear as ``Clinician 7f3a9c``:
  the first hex digits of HMAC-SHA256(key, kind + id). The key is given, or
  is the user's own, generated once and kept in the user's configuration
  folder (:mod:`carethread.pseudonym_key` says where and why), so labels are
  stable between reports and cannot be recomputed by someone who only has
  the ids (a plain hash could: ids are few and guessable).
  :class:`Pseudonymizer` lengthens the labels of ids whose short labels
  collide.
* **Counts in free text.** Remarks are written by readers and measures for
  analysts; :func:`redact_text` rewrites "3 rows" as "<11 rows" before a remark
  goes into a shared output.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Where the key is kept moved to carethread.pseudonym_key; these names stay importable from here.
from carethread.pseudonym_key import KEY_FILE as KEY_FILE
from carethread.pseudonym_key import load_or_create_key as load_or_create_key
from carethread.pseudonym_key import stored_key as stored_key
from carethread.wording import format_count

#: Smallest count shown as it is; 1 to ``THRESHOLD - 1`` are suppressed.
THRESHOLD = 11

#: How a suppressed small count is written.
SMALL = "<11"

#: How a cell hidden by complementary suppression is written in tables.
HIDDEN = "hidden"

#: Hex digits in a pseudonym (lengthened only where two labels would collide).
LABEL_DIGITS = 6

#: Cell states returned by :func:`suppress_group` and :func:`suppress_table`.
SHOWN, SMALL_CELL, COMPLEMENTARY, WITHHELD = "shown", "small", "complementary", "withheld"


def is_small(n) -> bool:
    """Whether ``n`` is a count that must not be shown (1 to 10).

    >>> [is_small(n) for n in (0, 1, 10, 11, None)]
    [False, True, True, False, False]
    """
    return n is not None and 1 <= n < THRESHOLD


def suppress(n, *, privacy: bool = True) -> str:
    """Format one count for a shared output: ``<11`` for 1-10, else the number.

    >>> suppress(0), suppress(7), suppress(11), suppress(12345), suppress(7, privacy=False)
    ('0', '<11', '11', '12 345', '7')
    >>> suppress(None)
    ''
    """
    if n is None:
        return ""
    if privacy and is_small(n):
        return SMALL
    return format_count(n)


def _line_is_safe(values: Sequence[int], states: Sequence[str], members: Sequence[int]) -> bool:
    """Whether no hidden cell of one line (whose total is shown) can be worked out.

    The reader is assumed to know the rule: a ``<11`` cell is 1-10, a
    ``hidden`` cell is at least 11 (zeros are never hidden), and the hidden
    cells add up to the total minus the shown cells. The line is safe when
    nothing is hidden; or when the hidden cells are every non-zero cell and
    their sum (the total) is itself 1-10 (so the total shows as ``<11`` too);
    or when the hidden sum is at least 11 and every hidden cell can still take
    at least two values.
    """
    hidden = [i for i in members if states[i] != SHOWN]
    if not hidden:
        return True
    total = sum(values[i] for i in hidden)
    if is_small(total):
        return all(states[i] != SHOWN for i in members if values[i] > 0)
    low = {i: THRESHOLD if states[i] == COMPLEMENTARY else 1 for i in hidden}
    high = {i: THRESHOLD - 1 if states[i] == SMALL_CELL else total for i in hidden}
    sum_low, sum_high = sum(low.values()), sum(high.values())
    for i in hidden:
        lo = max(low[i], total - (sum_high - high[i]))
        hi = min(high[i], total - (sum_low - low[i]))
        if lo >= hi:
            return False
    return True


def _hide_next(values: Sequence[int], states: list[str], members: Sequence[int]) -> bool:
    """Complementary step on one line; returns whether a cell was hidden."""
    if _line_is_safe(values, states, members):
        return False
    candidates = [i for i in members if states[i] == SHOWN and values[i] > 0]
    if not candidates:
        # Nothing left to hide and the kinds of hidden cell still give a count away
        # (``<11`` + ``hidden`` = 12): withhold every non-zero cell without saying which
        # were small.
        for i in members:
            if values[i] > 0:
                states[i] = WITHHELD
        return False
    pick = min(candidates, key=lambda i: (values[i], i))
    states[pick] = COMPLEMENTARY
    return True


def suppress_group(values: Sequence[int], *, total_shown: bool = True, hidden: Iterable[int] = ()) -> list[str]:
    """Suppression states of one line of counts (see the module docstring).

    Returns one state per cell: ``"shown"``, ``"small"`` (1-10, shown ``<11``),
    ``"complementary"`` (hidden so that a small cell cannot be worked out from
    the total) or ``"withheld"`` (see the module docstring, step 3). Without a
    shown total only primary suppression applies. ``hidden`` lists positions
    that must be hidden whatever their value (they start ``"withheld"``).
    Check :func:`total_is_safe` before showing the total.

    >>> suppress_group([120, 3, 40, 0])
    ['shown', 'small', 'complementary', 'shown']
    >>> suppress_group([120, 3, 4, 0])          # 3 + 4 = 7 would be derivable
    ['complementary', 'small', 'small', 'shown']
    >>> suppress_group([120, 3, 9, 0])          # 3 + 9 = 12: either could be 2-10
    ['shown', 'small', 'small', 'shown']
    >>> suppress_group([50, 1, 11])             # 1 + 11 = 12 would pin both down
    ['complementary', 'small', 'complementary']
    >>> suppress_group([0, 1, 11])              # nothing else to hide
    ['shown', 'withheld', 'withheld']
    >>> suppress_group([120, 3, 40], total_shown=False)
    ['shown', 'small', 'shown']
    """
    values = [int(v or 0) for v in values]
    states = [SMALL_CELL if is_small(v) else SHOWN for v in values]
    for i in hidden:
        if values[i] > 0:
            states[i] = WITHHELD
    if total_shown:
        members = range(len(values))
        while _hide_next(values, states, members):
            pass
    return states


def total_is_safe(values: Sequence[int], states: Sequence[str]) -> bool:
    """Whether the total of a suppressed line may be shown (no hidden cell follows from it).

    A total of 1-10 is itself written ``<11`` and so is always "safe" here.

    >>> total_is_safe([120, 3, 40], suppress_group([120, 3, 40]))
    True
    >>> total_is_safe([1] * 11, ["withheld"] * 11)  # eleven cells of at least 1 summing to 11
    False
    """
    values = [int(v or 0) for v in values]
    return _line_is_safe(values, list(states), range(len(values)))


def suppress_table(
    matrix: Sequence[Sequence[int]], *, row_totals: bool = True, column_totals: bool = True
) -> list[list[str]]:
    """Suppression states of a two-way table whose row and/or column totals are shown.

    Applies the rule of :func:`suppress_group` to every row and column with a
    shown total, repeatedly, until nothing changes. Lines that are still not
    safe (tiny tables) must not show their totals: see :func:`unsafe_totals`.

    >>> suppress_table([[50, 2], [40, 30]])
    [['complementary', 'small'], ['complementary', 'complementary']]
    >>> suppress_table([[50, 2], [40, 30]], column_totals=False)
    [['complementary', 'small'], ['shown', 'shown']]
    """
    rows = [[int(v or 0) for v in row] for row in matrix]
    if not rows:
        return []
    width = len(rows[0])
    flat = [v for row in rows for v in row]
    states = [SMALL_CELL if is_small(v) else SHOWN for v in flat]
    lines = _lines(len(rows), width, row_totals, column_totals)
    changed = True
    while changed:
        before = list(states)
        for line in lines:
            while _hide_next(flat, states, line):
                pass
        changed = states != before
    return [states[r * width : (r + 1) * width] for r in range(len(rows))]


def _lines(n_rows: int, width: int, row_totals: bool, column_totals: bool) -> list[range]:
    lines = []
    if row_totals:
        lines += [range(r * width, (r + 1) * width) for r in range(n_rows)]
    if column_totals:
        lines += [range(c, n_rows * width, width) for c in range(width)]
    return lines


def unsafe_totals(
    matrix: Sequence[Sequence[int]],
    states: Sequence[Sequence[str]],
    *,
    row_totals: bool = True,
    column_totals: bool = True,
) -> tuple[list[bool], list[bool]]:
    """Which row and column totals must be hidden after :func:`suppress_table`.

    >>> unsafe_totals([[0, 1, 11]], suppress_table([[0, 1, 11]]))
    ([False], [False, False, True])
    """
    rows = [[int(v or 0) for v in row] for row in matrix]
    if not rows:
        return [], []
    width = len(rows[0])
    flat = [v for row in rows for v in row]
    flat_states = [s for row in states for s in row]
    bad_rows = [
        row_totals and not _line_is_safe(flat, flat_states, range(r * width, (r + 1) * width)) for r in range(len(rows))
    ]
    bad_columns = [
        column_totals and not _line_is_safe(flat, flat_states, range(c, len(flat), width)) for c in range(width)
    ]
    return bad_rows, bad_columns


def format_cell(n, state: str, *, privacy: bool = True) -> str:
    """Text of one table cell given its suppression state.

    >>> format_cell(3, "small"), format_cell(40, "complementary"), format_cell(40, "shown")
    ('<11', 'hidden', '40')
    """
    if not privacy:
        return format_count(n) if n is not None else ""
    if state == SMALL_CELL:
        return SMALL
    if state in (COMPLEMENTARY, WITHHELD):
        return HIDDEN
    return suppress(n)


def share_is_safe(count: int, total: int, *, privacy: bool = True) -> bool:
    """Whether ``count / total`` may be shown: the count and its complement are 0 or >= 11.

    >>> share_is_safe(500, 1000), share_is_safe(5, 1000), share_is_safe(995, 1000), share_is_safe(0, 30)
    (True, False, False, True)
    """
    if not privacy:
        return total > 0
    return total > 0 and not is_small(count) and not is_small(total - count)


def group_is_safe(size: int | None, *, privacy: bool = True) -> bool:
    """Whether a statistic (mean, median, share) of a group of ``size`` members may be shown.

    >>> group_is_safe(11), group_is_safe(10), group_is_safe(3, privacy=False)
    (True, False, True)
    """
    if not size:
        return False
    return not privacy or size >= THRESHOLD


# --- counts in free text ----------------------------------------------------------

_NOUNS = (
    "row|rows|encounter|encounters|patient|patients|clinician|clinicians|visit|visits|"
    "practice|practices|relationship|relationships|break|breaks|dyad|dyads|person|people|"
    "value|values|file|files|record|records|resource|resources|id|ids|date|dates|day|days"
)
_NUMBER = r"\d{1,3}(?:[ \u00a0,]\d{3})*(?!\d)"
_COUNT_IN_TEXT = re.compile(
    rf"(?<![\w.<>≤≥=/-])(?P<n>{_NUMBER})(?: of (?P<of>{_NUMBER}))?(?P<rest>\s+(?:[^\W\d]+\s+)?(?:{_NOUNS})\b)"
)
_LIMIT_WORDS = re.compile(r"(?:than|least|most|under|over|within|every|per|first|last|to|after|before)\s*$")


def _number(text: str) -> int:
    return int(re.sub(r"[ \u00a0,]", "", text))


def redact_text(text: str, *, privacy: bool = True) -> str:
    """Replace counts from 1 to 10 in a sentence by ``<11``.

    A number counts when a counted noun (rows, patients, visits, ...) follows
    it, possibly after one adjective or "of N" (N is then a count too);
    numbers after "than", "at least", "every" and the like are thresholds or
    parameters and stay.

    >>> redact_text("visits.csv: 3 of 1 000 rows quarantined (start is missing: 3 rows, first at row 5).")
    'visits.csv: <11 of 1 000 rows quarantined (start is missing: <11 rows, first at row 5).'
    >>> redact_text("412 of 9 000 patients had fewer than 2 visits; 1 encounter had no clinician.")
    '412 of 9 000 patients had fewer than 2 visits; <11 encounter had no clinician.'
    >>> redact_text("3 of 5 rows quarantined")
    '<11 of <11 rows quarantined'
    >>> redact_text("7 distinct patients", privacy=False)
    '7 distinct patients'
    """
    if not privacy:
        return text

    def replace(match: re.Match) -> str:
        if _LIMIT_WORDS.search(text[: match.start()]):
            return match[0]
        n = SMALL if is_small(_number(match["n"])) else match["n"]
        of = ""
        if match["of"] is not None:
            of = " of " + (SMALL if is_small(_number(match["of"])) else match["of"])
        return n + of + match["rest"]

    return _COUNT_IN_TEXT.sub(replace, text)


# --- pseudonyms ---------------------------------------------------------------------


def pseudonym_digest(value: str, key: bytes, kind: str) -> str:
    """Full hex HMAC-SHA256 of ``kind`` and ``value`` under ``key``.

    The kind is part of the message so a clinician and a practice with the
    same id get unrelated labels.
    """
    message = f"{kind}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass
class Pseudonymizer:
    """Stable keyed labels (``Clinician 7f3a9c``) for a set of ids of one kind.

    Labels have :data:`LABEL_DIGITS` hex digits; ids whose labels would collide
    get more digits (only those ids), so every label is unique and every other
    label stays what it was.

    >>> p = Pseudonymizer(b"k" * 32, "Clinician", ["C1", "C2"])
    >>> p("C1") == p("C1"), p("C1") != p("C2"), p("C1").startswith("Clinician ")
    (True, True, True)
    >>> Pseudonymizer(b"k" * 32, "Clinician", ["C1"], enabled=False)("C1")
    'C1'
    """

    key: bytes
    kind: str
    ids: Iterable[str] = ()
    enabled: bool = True

    def __post_init__(self) -> None:
        self._labels: dict[str, str] = {}
        ids = sorted({str(i) for i in self.ids if i is not None})
        digests = {i: pseudonym_digest(i, self.key, self.kind) for i in ids}
        for i, digest in digests.items():
            width = LABEL_DIGITS
            while any(j != i and other[:width] == digest[:width] for j, other in digests.items()):
                width += 2
            self._labels[i] = f"{self.kind} {digest[:width]}"

    def __call__(self, value) -> str | None:
        if value is None:
            return None
        value = str(value)
        if not self.enabled:
            return value
        if value not in self._labels:
            self._labels[value] = f"{self.kind} {pseudonym_digest(value, self.key, self.kind)[:LABEL_DIGITS]}"
        return self._labels[value]
