"""The joblib backend: folds in local worker processes (joblib's loky process pool).

A worker process that dies (killed, out of memory) breaks a loky pool, and every job in
flight is lost with it, without saying whose worker died. So:

- when one job was in flight, its worker died: it is retried (``max_retries``) or
  recorded FAILED;
- when several were, they are run again one at a time (not counted as attempts), so that
  a worker that dies again is known to be that job's.

A job's retries log into the same fold run; jobs that finished are never lost.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait

from ..fold import FoldOutcome
from ..planning import FoldTask
from .base import FoldJob, execute_with_threads

logger = logging.getLogger(__name__)


class JoblibExecutor:
    """Run jobs in ``n_jobs`` local processes (``backend: joblib``).

    Parameters
    ----------
    n_jobs : int
        Worker processes.
    max_retries : int
        Times a job whose worker died is run again before it is recorded FAILED.

    Examples
    --------
    >>> JoblibExecutor(n_jobs=2).abort()
    []
    """

    def __init__(self, n_jobs: int, max_retries: int = 0):
        self.n_jobs, self.max_retries = int(n_jobs), int(max_retries)
        self.threads = max(1, (os.cpu_count() or 1) // self.n_jobs)
        self._pool = None
        self._inflight: dict[Future, FoldJob] = {}

    def _executor(self):
        from joblib.externals.loky import get_reusable_executor

        self._pool = get_reusable_executor(max_workers=self.n_jobs, timeout=60)
        return self._pool

    def run(
        self,
        tasks: Iterable[FoldTask],
        submit: Callable[[FoldTask], FoldJob],
        on_done: Callable[[FoldOutcome], None],
        on_crash: Callable[[FoldJob, str], FoldOutcome],
    ) -> None:
        """Run the jobs, ``n_jobs`` at a time; see the module docstring for dead workers."""
        queue: deque = deque(tasks)
        isolate: deque[FoldJob] = deque()
        inflight = self._inflight
        while queue or isolate or inflight:
            source, limit = (isolate, 1) if isolate else (queue, self.n_jobs)
            while source and len(inflight) < limit:
                item = source.popleft()
                job = item if isinstance(item, FoldJob) else submit(item)
                inflight[self._executor().submit(execute_with_threads, job, self.threads)] = job
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            lost = []
            for fut in done:
                job = inflight.pop(fut)
                try:
                    outcome = fut.result()
                except BrokenExecutor as exc:
                    lost.append((job, exc))
                    continue
                on_done(outcome)
            if not lost:
                continue
            wait(list(inflight))  # the broken pool settles every job it held
            for fut, job in list(inflight.items()):
                try:
                    on_done(fut.result())
                except BrokenExecutor as exc:
                    lost.append((job, exc))
            inflight.clear()
            if len(lost) > 1:
                logger.warning("a worker process died with %d folds in flight; running them again "
                               "one at a time to find whose it was", len(lost))  # fmt: skip
                isolate.extend(job for job, _ in lost)
                continue
            job, exc = lost[0]
            reason = f"the worker process died ({type(exc).__name__}: {str(exc)[:500]})"
            if job.attempt < self.max_retries:
                logger.warning("%s fold %d: %s; retrying", job.task.model, job.task.fold, reason)
                job.attempt += 1
                queue.appendleft(job)
            else:
                on_done(on_crash(job, reason))

    def abort(self) -> list[FoldJob]:
        """Kill the workers; return the jobs that were in flight."""
        jobs = list(self._inflight.values())
        self._inflight.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, kill_workers=True)
        return jobs
