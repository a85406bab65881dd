"""Deprecated alias: who-needs-whom moved to :mod:`carethread.measures.dependence` (it is a measure of
the other measures' results); this module goes in the next release."""

from carethread.deprecation import warn_renamed
from carethread.measures.dependence import (
    BREAK_KINDS,
    MEASURES,
    WhoNeedsWhom,
    who_needs_whom,
    who_needs_whom_from_encounters,
)

__all__ = ["BREAK_KINDS", "MEASURES", "WhoNeedsWhom", "who_needs_whom", "who_needs_whom_from_encounters"]

warn_renamed("carethread.summary", "carethread.measures.dependence", stacklevel=2)
