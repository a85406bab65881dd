"""The classic continuity indices, each written once as an Ibis expression.

Every function takes integer count expressions of one patient's visits (see
:func:`carethread.measures.continuity.patient_continuity`) and returns a
float64 expression. Counts are exact integers; the division happens last, in
floating point, so results match hand computation to 1e-12, and the result
is kept inside ``[0, 1]``, the range every index has, so floating-point noise
never shows as ``1.0000000000000002`` (:func:`_index`, the one place).

Notation (docs/definitions.md, *Continuity indices*): ``N`` visits, ``M``
distinct clinicians, ``n_j`` visits to clinician ``j``. Indices that divide
by ``N - 1`` are null for ``N < 2``; :func:`patient_continuity` also nulls
every index below ``min_visits``.
"""

from __future__ import annotations

import ibis  # noqa: F401  (the doctests below build their examples with it)
from ibis.expr.types import NumericValue

from carethread.measures.numbers import ratio, within


def _index(numerator: NumericValue, denominator: NumericValue) -> NumericValue:
    """``numerator / denominator`` as float64 within ``[0, 1]``, null where the denominator is 0."""
    return within(ratio(numerator, denominator))


def usual_provider_continuity(n_visits: NumericValue, max_visits_one: NumericValue) -> NumericValue:
    """UPC: the share of visits made to the most-seen clinician.

    ``UPC = max_j n_j / N``, range ``[1/N, 1]``.
    Breslau N, Reeb KG. Continuity of care in a university-based practice.
    J Med Educ 1975;50:965-9.

    For the sequence ``A A B A C``: ``3 / 5 = 0.6``.

    >>> usual_provider_continuity(ibis.literal(5), ibis.literal(3)).execute()
    0.6
    """
    return _index(max_visits_one, n_visits)


def bice_boxerman_coc(n_visits: NumericValue, sum_sq_visits: NumericValue) -> NumericValue:
    """COC, the Bice-Boxerman Continuity of Care index.

    ``COC = (sum_j n_j^2 - N) / (N (N - 1))``, range ``[0, 1]``: the probability
    that two visits drawn without replacement are with the same clinician.
    Null for ``N < 2``. Bice TW, Boxerman SB. A quantitative measure of
    continuity of care. Med Care 1977;15:347-9.

    For the sequence ``A A B A C``: ``(9 + 1 + 1 - 5) / (5 * 4) = 0.3``.

    >>> bice_boxerman_coc(ibis.literal(5), ibis.literal(11)).execute()
    0.3
    """
    return _index(sum_sq_visits - n_visits, n_visits * (n_visits - 1))


def sequential_continuity(n_visits: NumericValue, same_as_previous: NumericValue) -> NumericValue:
    """SECON, Steinwachs' sequential continuity.

    ``SECON = sum_{t<N} 1[v_t = v_{t+1}] / (N - 1)``, range ``[0, 1]``; the only
    order-dependent classic index (visit order: docs/definitions.md, *Visits*). Null for
    ``N < 2``. Steinwachs DM. Measuring provider continuity in ambulatory care.
    Med Care 1979;17:551-65.

    For ``A A B A C``: one of four consecutive pairs repeats, ``0.25``.

    >>> sequential_continuity(ibis.literal(5), ibis.literal(1)).execute()
    0.25
    """
    return _index(same_as_previous, n_visits - 1)


def modified_modified_continuity(n_visits: NumericValue, n_clinicians: NumericValue) -> NumericValue:
    """MMCI, Magill and Senf's modified modified continuity index.

    ``MMCI = (1 - M/(N + 0.1)) / (1 - 1/(N + 0.1)) = (N - M + 0.1) / (N - 0.9)``,
    range ``[0.1/(N - 0.9), 1]``. Magill MK, Senf J. A new method for measuring
    continuity of care in family practice residencies. J Fam Pract 1987;24:165-8.
    Their published table was computed from rounded values; this is the exact
    formula. For ``A A B A C``: ``2.1 / 4.1``; for one visit ``0.1 / 0.1 = 1``
    (which floating point alone would give as ``1.0000000000000002``).

    >>> round(modified_modified_continuity(ibis.literal(5), ibis.literal(3)).execute(), 6)
    0.512195
    >>> modified_modified_continuity(ibis.literal(1), ibis.literal(1)).execute()
    1.0
    """
    return _index((n_visits - n_clinicians).cast("float64") + 0.1, n_visits.cast("float64") - 0.9)


def herfindahl_hirschman(n_visits: NumericValue, sum_sq_visits: NumericValue) -> NumericValue:
    """HHI, the Herfindahl-Hirschman concentration of a patient's visits.

    ``HHI = sum_j (n_j / N)^2`` on the proportion scale, range ``[1/N, 1]``;
    ``COC = (N HHI - 1)/(N - 1)``. Pollack CE et al. Med Care 2016;54:e1-e8.
    For ``A A B A C``: ``(9 + 1 + 1) / 25 = 0.44``.

    >>> herfindahl_hirschman(ibis.literal(5), ibis.literal(11)).execute()
    0.44
    """
    return _index(sum_sq_visits, n_visits * n_visits)


def k_index(n_visits: NumericValue, n_clinicians: NumericValue) -> NumericValue:
    """K index of Ejlertsson and Berg.

    ``K = (N - M) / (N - 1)``, range ``[0, 1]``: the share of visits 2..N made
    to a clinician already seen. Null for ``N < 2``. Ejlertsson G, Berg S.
    Continuity-of-care measures. Med Care 1984;22:231-9.
    For ``A A B A C``: ``2 / 4 = 0.5``.

    >>> k_index(ibis.literal(5), ibis.literal(3)).execute()
    0.5
    """
    return _index(n_visits - n_clinicians, n_visits - 1)


def known_provider_continuity(n_visits: NumericValue, known_visits: NumericValue) -> NumericValue:
    """Known-provider continuity: share of visits 2..N with a clinician seen recently.

    ``known / (N - 1)`` where ``known`` counts visits whose clinician the patient
    had already seen at most ``lookback`` days earlier (by calendar date).
    With an unbounded look-back it equals the K index. Null for ``N < 2``.

    >>> known_provider_continuity(ibis.literal(5), ibis.literal(2)).execute()
    0.5
    """
    return _index(known_visits, n_visits - 1)
