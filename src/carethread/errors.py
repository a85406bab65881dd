"""carethread's exception hierarchy.

Library code raises these; only the CLI turns them into a one-line message and
exit code 1. Messages never contain a patient or clinician identifier: they
name files, row numbers and columns instead.
"""

from __future__ import annotations


class CarethreadError(Exception):
    """Base class of every error carethread raises on purpose."""


class InputError(CarethreadError):
    """The input cannot be used at all (unreadable, no valid row, ...)."""


class SchemaError(InputError):
    """A required column is missing or a column mapping is wrong."""


class OptionError(CarethreadError, ValueError):
    """An option value is invalid (unknown setting, min_visits < 1, ...)."""


class OutputError(CarethreadError):
    """A result could not be written (a full disk, a folder that stopped accepting files, ...)."""


class MissingDependencyError(CarethreadError, ImportError):
    """An optional backend or format needs an extra that is not installed."""


class CapacityError(CarethreadError):
    """A plan cannot place every patient within the clinicians' capacities (``.plan`` holds the partial plan)."""
