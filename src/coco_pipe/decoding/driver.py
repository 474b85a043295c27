"""The driver side of an experiment's folds: it creates each fold run just before its job
is dispatched, collects the outcomes, records the folds whose worker died, closes each
model run once its folds are done, and stops cleanly.

Clean stops: SIGINT (Ctrl-C) and SIGTERM (``kill``, a cluster's scheduler) raise
:class:`ExperimentStopped` in the driver (:func:`clean_stops`); the driver then ends the
fold runs in flight, the unfinished model runs and the parent run as KILLED, and a later
``resume=True`` continues the experiment.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..data import EpochsData
from ..tracking import Tracker
from ..tracking.spool import Spool
from .configs import ExperimentConfig
from .executors import Executor, FoldJob, SharedData, forwarded_env
from .fold import FoldOutcome, fold_run_tags
from .planning import FoldTask
from .progress import FoldProgress
from .summary import fold_scores, model_metrics

logger = logging.getLogger(__name__)

#: Tag of a fold run whose worker process died.
WORKER_DIED_TAG = "coco_pipe.worker_died"


class ExperimentStopped(KeyboardInterrupt):
    """The experiment was stopped by SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


@contextmanager
def clean_stops() -> Iterator[None]:
    """Turn SIGTERM into :class:`ExperimentStopped` while the experiment runs (SIGINT
    raises KeyboardInterrupt already); only in the main thread, where signals arrive.

    Examples
    --------
    >>> with clean_stops():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise ExperimentStopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class FoldDriver:
    """Runs the tasks of one experiment run through an executor.

    Parameters
    ----------
    cfg : ExperimentConfig
    tracker : Tracker
        The driver's tracker (parent and model runs, fold runs' creation).
    spool : Spool
        Where the folds record their results first.
    data : EpochsData
        The validated data (for the fold runs' tags).
    shared : SharedData
        The data as workers receive them.
    model_runs : dict
        Model name -> model run id.
    fingerprint : str
        The data fingerprint.
    reused : dict
        ``(model, fold)`` -> outcomes reused from the store (a resumed experiment).
    progress : FoldProgress
    """

    def __init__(
        self, cfg: ExperimentConfig, tracker: Tracker, spool: Spool, data: EpochsData,
        shared: SharedData, model_runs: dict[str, str], fingerprint: str,
        reused: dict[tuple[str, int], FoldOutcome], progress: FoldProgress,
    ):  # fmt: skip
        self.cfg, self.tracker, self.spool, self.data = cfg, tracker, spool, data
        self.shared, self.model_runs, self.fingerprint = shared, model_runs, fingerprint
        self.progress = progress
        self.outcomes: dict[tuple[str, int], FoldOutcome] = dict(reused)
        self.running: dict[tuple[str, int], FoldJob] = {}
        self.finished_models: set[str] = set()
        self._expected: dict[str, int] = {}
        self._env = forwarded_env()

    # ------------------------------------------------------------- callbacks
    def submit(self, task: FoldTask) -> FoldJob:
        """Create the fold run of ``task`` under its model run and make its job."""
        run_id = self.tracker.start_child(
            self.model_runs[task.model], f"{task.model}/fold-{task.fold}",
            tags=fold_run_tags(self.cfg, self.data, task, self.fingerprint),
        )  # fmt: skip
        job = FoldJob(self.cfg, task, run_id, self.shared, self.tracker.tracking_uri,
                      str(self.spool.root), self._env)  # fmt: skip
        self.running[task.key] = job
        return job

    def on_done(self, outcome: FoldOutcome) -> None:
        """Keep an outcome, report progress, close the model run once its folds are done."""
        key = (outcome.model, outcome.fold)
        self.running.pop(key, None)
        self.outcomes[key] = outcome
        self.progress.update(outcome.model, outcome.fold, outcome.scores, outcome.seconds,
                             outcome.failed)  # fmt: skip
        self._maybe_finish(outcome.model)

    def on_crash(self, job: FoldJob, reason: str) -> FoldOutcome:
        """Record a fold whose worker died as FAILED (never silently missing)."""
        task = job.task
        logger.warning("model %r fold %d FAILED: %s", task.model, task.fold, reason)
        self.tracker.log_batch(job.run_id, tags={"coco_pipe.failure": reason, WORKER_DIED_TAG: "true",
                                                 "coco_pipe.attempts": job.attempt + 1})  # fmt: skip
        self.tracker.end(job.run_id, "FAILED")
        return FoldOutcome(task.model, task.fold, job.run_id, {}, None, True, len(task.train),
                           len(task.test), error=reason)  # fmt: skip

    # ------------------------------------------------------------------ run
    def run(self, executor: Executor, tasks: list[FoldTask]) -> list[FoldOutcome]:
        """Run the tasks not reused yet; returns every outcome in task order."""
        for task in tasks:
            self._expected[task.model] = self._expected.get(task.model, 0) + 1
        self.progress.skip(len(self.outcomes))
        for model in self._expected:
            self._maybe_finish(model)
        todo = [t for t in tasks if t.key not in self.outcomes]
        executor.run(todo, self.submit, self.on_done, self.on_crash)
        return [self.outcomes[t.key] for t in tasks]

    def stop(self, executor: Executor, model_status: str) -> None:
        """After an interruption: the fold runs still RUNNING (in flight, or created just
        before the stop) become KILLED, the unfinished model runs ``model_status``."""
        executor.abort()
        self.running.clear()
        for model, run_id in self.model_runs.items():
            self._quietly(self._kill_running_children, run_id)
            if model not in self.finished_models:
                self._quietly(self.tracker.end, run_id, model_status)

    def _kill_running_children(self, run_id: str) -> None:
        """KILLED for the fold runs of a model run that are still RUNNING (a fold that
        raised is FAILED already, a finished one FINISHED)."""
        client = self.tracker.client
        exp = client.get_run(run_id).info.experiment_id
        flt = f"tags.`mlflow.parentRunId` = '{run_id}' and attributes.status = 'RUNNING'"
        for run in client.search_runs([exp], filter_string=flt, max_results=1000):
            self.tracker.end(run.info.run_id, "KILLED")

    @staticmethod
    def _quietly(fn, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - best effort while stopping
            logger.warning("could not update run %s while stopping: %s", args[0], exc)

    def _maybe_finish(self, model: str) -> None:
        mine = [o for (m, _), o in self.outcomes.items() if m == model]
        if model in self.finished_models or len(mine) < self._expected.get(model, 0):
            return
        metrics = model_metrics(fold_scores(mine), model, mine)
        run_id = self.model_runs[model]
        self.tracker.log_batch(run_id, metrics=metrics)
        self.tracker.end(run_id, "FINISHED" if metrics["n_folds"] > 0 else "FAILED")
        self.finished_models.add(model)


__all__ = ["WORKER_DIED_TAG", "ExperimentStopped", "FoldDriver", "clean_stops"]
