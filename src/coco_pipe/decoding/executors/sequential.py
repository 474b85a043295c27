"""The sequential backend: one fold after the other, in the driver's own process."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...tracking import Tracker
from ..fold import FoldOutcome
from ..planning import FoldTask
from .base import FoldJob, execute


class SequentialExecutor:
    """Run every job in this process with the driver's tracker (``backend: sequential``).

    Examples
    --------
    >>> SequentialExecutor(tracker=None).abort()
    []
    """

    def __init__(self, tracker: Tracker | None):
        self.tracker = tracker
        self._current: FoldJob | None = None

    def run(
        self,
        tasks: Iterable[FoldTask],
        submit: Callable[[FoldTask], FoldJob],
        on_done: Callable[[FoldOutcome], None],
        on_crash: Callable[[FoldJob, str], FoldOutcome],
    ) -> None:
        """Run the jobs one by one (a crash of this process ends the experiment itself)."""
        for task in tasks:
            self._current = submit(task)
            outcome = execute(self._current, tracker=self.tracker)
            self._current = None
            on_done(outcome)

    def abort(self) -> list[FoldJob]:
        """The job in flight, if any (it stops with the exception that interrupts it)."""
        return [self._current] if self._current is not None else []
