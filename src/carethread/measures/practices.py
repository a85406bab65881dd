"""Each clinician's practice, decided one way for every measure.

Panels report it, relationship breaks compare two clinicians' practices
(``partner`` or ``other_practice``), and practice roll-ups group by it.
"""

from __future__ import annotations

import ibis

from carethread.measures.keys import COUNT_WIDTH, most_frequent_key
from carethread.options import Clinicians, DateLike, Settings, clinicians_table, normalize_settings
from carethread.visits import encounters_in_window


def clinician_practice(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
) -> ibis.Table:
    """``clinician_id, practice_id``: each clinician's practice.

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Optional canonical clinicians table; the practice it lists for a
        clinician wins (the smallest id when it lists several; a blank one
        does not count).
    settings
        Settings whose encounters name a clinician's practice when the
        clinicians table does not (default ``primary_care`` and ``virtual``;
        ``carethread.schema.SETTINGS`` for every encounter).
    start, end
        Window ``[start, end)`` of those encounters.

    Returns
    -------
    ibis.Table
        One row per clinician of either source: the listed practice, else the
        practice most of their encounters in the window and settings name
        (ties to the smallest practice id), else null.

    Examples
    --------
    A's encounters name X twice and Y once; the clinicians table lists B in Z.

    >>> import ibis, datetime as dt
    >>> enc = ibis.memtable({"patient_id": ["p"] * 4, "clinician_id": ["A", "A", "A", "B"],
    ...     "practice_id": ["X", "Y", "X", "X"], "setting": ["primary_care"] * 4,
    ...     "start": [dt.datetime(2024, 1, d) for d in (1, 2, 3, 4)]})
    >>> clin = ibis.memtable({"clinician_id": ["B"], "practice_id": ["Z"]})
    >>> t = clinician_practice(enc, clinicians=clin).order_by("clinician_id").to_pyarrow()
    >>> t.to_pylist()
    [{'clinician_id': 'A', 'practice_id': 'X'}, {'clinician_id': 'B', 'practice_id': 'Z'}]
    """
    e = encounters_in_window(encounters, start=start, end=end)
    e = e.filter(e.setting.isin(normalize_settings(settings)), e.clinician_id.notnull(), e.practice_id.notnull())
    counts = e.group_by("clinician_id", "practice_id").aggregate(n=e.count())
    derived = counts.group_by("clinician_id").aggregate(
        derived=most_frequent_key(counts.n, counts.practice_id).min().substr(COUNT_WIDTH)
    )
    clinicians = clinicians_table(clinicians)
    if clinicians is None or "practice_id" not in clinicians.columns:
        return derived.select("clinician_id", practice_id=derived.derived)
    c = clinicians.select(
        clinician_id=clinicians.clinician_id.cast("string"), practice_id=clinicians.practice_id.cast("string")
    )
    listed = c.group_by("clinician_id").aggregate(listed=c.practice_id.min())
    j = derived.outer_join(listed, "clinician_id")
    return j.select(
        clinician_id=j.clinician_id.fill_null(j.clinician_id_right),
        practice_id=j.listed.fill_null(j.derived),
    )
