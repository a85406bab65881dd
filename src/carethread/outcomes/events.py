"""The user's outcome events (complaints, ambulatory-care-sensitive admissions, claims, lawsuits).

A file of dated events per patient is read by the generic reader
(:func:`carethread.readers.read`), with the same checks, quarantine and
reconciliation as any input: each row is an event with ``patient_id`` and a
date in ``start`` (or the column ``--events-map start=<column>`` names).
Rows without a patient or with a date that does not parse, lies before 1900
or after the extraction date go to the quarantine with their reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import ibis

from carethread.data import CanonicalData


def read_events(
    path: str | os.PathLike,
    *,
    con=None,
    mapping: Mapping[str, str] | str | None = None,
    extraction_date=None,
    date_format: str | None = None,
) -> tuple[ibis.Table, CanonicalData]:
    """Read a CSV or Parquet file of events: ``(events, data)``.

    Parameters
    ----------
    path
        The file (or a glob of files) of events, one row each.
    con, extraction_date, date_format
        As for :func:`carethread.readers.read`.
    mapping
        Column names, as ``--map``: ``"start=event_date,patient_id=MRN"``.

    Returns
    -------
    tuple
        ``events`` (``patient_id, event_date``, lazy) and the reader's
        :class:`~carethread.data.CanonicalData`, whose quarantine, counts and
        remarks report the file like any input.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "complaints.csv"
    >>> _ = path.write_text("patient_id,received\\n007,2024-01-02\\n008,2024-02-30\\n")
    >>> events, data = read_events(path, mapping="start=received", extraction_date="2024-06-30")
    >>> print(data.reconciliation())
    complaints.csv: 2 rows read = 1 accepted + 1 quarantined
    >>> events.to_pyarrow().to_pylist()
    [{'patient_id': '007', 'event_date': datetime.date(2024, 1, 2)}]
    """
    from carethread.readers import read

    data = read(
        path, format="generic", con=con, mapping=mapping, extraction_date=extraction_date, date_format=date_format
    )
    e = data.encounters
    return e.select("patient_id", event_date=e.start.cast("date")), data
