"""The HTML report: one self-contained file for people who will never open a terminal.

:func:`report` (also ``carethread.report``) writes it; :func:`build` returns
it as a string. The package is named ``reporting``, not ``report``, so that
importing it never hides the function ``carethread.report``.

Modules, in the order a report goes through them: :mod:`.steps` (read, then
compute each section's values with :mod:`.compute`, aggregates in Ibis),
:mod:`.values` (the values, exact then protected), :mod:`.protect`
(suppression and pseudonyms), :mod:`.sections` and :mod:`.methods` (HTML,
with :mod:`.html` and :mod:`.charts`, Altair to SVG through :mod:`.render`),
:mod:`.pipeline` (the steps end to end) and :mod:`.progress` (the bar).
"""

from carethread.reporting.pipeline import STEPS, ReportOptions, Tables, build, report, write_report

__all__ = ["STEPS", "ReportOptions", "Tables", "build", "report", "write_report"]
