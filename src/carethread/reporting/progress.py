"""The report's progress bar: one step per stage, shown only on a terminal."""

from __future__ import annotations

import contextlib

#: The steps a report goes through, for the progress bar.
STEPS: tuple[str, ...] = (
    "Reading and validating",
    "Computing the measures",
    "Patients, panels and pairs",
    "Trends",
    "Relationship breaks",
    "Who needs whom",
    "If a clinician leaves",
    "Drawing charts",
    "Writing the report",
)


class Progress:
    """A rich progress bar over :data:`STEPS` on a terminal; nothing otherwise.

    >>> with Progress(False) as bar, bar.step(STEPS[0]):
    ...     bar.enabled
    False
    """

    def __init__(self, enabled: bool | None):
        from rich.console import Console

        console = Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else bool(enabled)
        self._bar = None
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._task = self._bar.add_task("Report", total=len(STEPS))

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()

    @contextlib.contextmanager
    def step(self, name: str):
        """One step: its name on the bar while it runs, one tick when it ends."""
        if self._bar is not None:
            self._bar.update(self._task, description=name)
        yield
        if self._bar is not None:
            self._bar.advance(self._task)
