"""Resuming an experiment: which parent run to continue, which folds to reuse.

``Experiment(cfg).run(..., resume=True)`` continues the most recent unfinished (RUNNING,
FAILED or KILLED) parent run of the same MLflow experiment whose config digest and data
fingerprint match this run's (``resume="<run id>"`` names the parent). A fold run is
reused when it is FINISHED with the same model config, data fingerprint and split indices
(the digests of :mod:`coco_pipe.decoding.planning`); every other fold is run again, its
older runs marked superseded (and KILLED when they were left RUNNING).

Examples
--------
>>> plan = ResumePlan()
>>> plan.parent_id is None and plan.reused == {}
True
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from ..tracking import FOLD_TAG, MODEL_TAG, ROLE_TAG, RunStore, Tracker
from ..tracking.store import SUPERSEDED_TAG
from .fold import FoldOutcome
from .planning import (
    CONFIG_DIGEST_TAG,
    DATA_TAG,
    MODEL_DIGEST_TAG,
    PARENT_METRICS_TAG,
    SECTION_DIGESTS_TAG,
    SPLIT_DIGEST_TAG,
    FoldTask,
    config_digest,
    differences,
)

logger = logging.getLogger(__name__)

class ResumeMismatchError(ValueError):
    """The run to resume was made with other data or another config."""


@dataclass
class ResumePlan:
    """What a resumed experiment continues.

    Attributes
    ----------
    parent_id : str or None
        The parent run to continue (None: start a new one).
    model_runs : dict
        Model name -> existing model run id.
    reused : dict
        ``(model, fold)`` -> the outcome read back from a FINISHED fold run.
    superseded : list of (run id, status)
        Older fold runs of the folds to run again.
    """

    parent_id: str | None = None
    model_runs: dict[str, str] = field(default_factory=dict)
    reused: dict[tuple[str, int], FoldOutcome] = field(default_factory=dict)
    superseded: list[tuple[str, str]] = field(default_factory=list)


def _mismatch(run, sections: dict[str, str], fingerprint: str) -> list[str]:
    tags = run.data.tags
    what = []
    theirs = json.loads(tags.get(SECTION_DIGESTS_TAG, "{}") or "{}")
    if tags.get(CONFIG_DIGEST_TAG) != config_digest(sections):
        diff = differences(sections, theirs) or ["(config digest)"]
        what.append("the config differs in " + ", ".join(diff))
    if tags.get(DATA_TAG) != fingerprint:
        what.append(f"the data differ (fingerprint {tags.get(DATA_TAG)} there, {fingerprint} here)")
    return what


def find_parent(
    store: RunStore, experiment_id: str, resume: bool | str, sections: dict[str, str],
    fingerprint: str,
):  # fmt: skip
    """The parent run to continue, or None (nothing unfinished: start a new one).

    Raises :class:`ResumeMismatchError` naming what differs when the named run, or every
    unfinished parent run of the experiment, was made with other data or another config.
    """
    if isinstance(resume, str):
        run = store.get_run(resume)
        if run.data.tags.get(ROLE_TAG) != "experiment":
            raise ResumeMismatchError(
                f"resume={resume!r} is not the parent run of an experiment (its tag "
                f"{ROLE_TAG} is {run.data.tags.get(ROLE_TAG)!r}); give the parent run id"
            )
        what = _mismatch(run, sections, fingerprint)
        if what:
            raise ResumeMismatchError(f"cannot resume run {resume}: " + "; ".join(what)
                                      + ". Run without resume to start a new experiment run.")  # fmt: skip
        return run
    runs = store.search([experiment_id], f"tags.`{ROLE_TAG}` = 'experiment'",
                        order_by=["attributes.start_time DESC"])  # fmt: skip
    unfinished = [r for r in runs if r.info.status != "FINISHED"]
    for run in unfinished:
        if not _mismatch(run, sections, fingerprint):
            return run
    if unfinished:
        latest = unfinished[0]
        raise ResumeMismatchError(
            f"resume=True found no unfinished run of this experiment made with this config and "
            f"data; the most recent one, {latest.info.run_id}: "
            + "; ".join(_mismatch(latest, sections, fingerprint))
            + ". Run without resume to start a new experiment run, or resume='<run id>'."
        )
    logger.info("resume: no unfinished run of this experiment; starting a new one")
    return None


def plan_resume(
    store: RunStore, parent, tasks: list[FoldTask], fingerprint: str, metric_names: list[str],
    read_predictions: bool,
) -> ResumePlan:  # fmt: skip
    """Which folds of ``parent`` to reuse and which of its fold runs are superseded."""
    plan = ResumePlan(parent_id=parent.info.run_id)
    for run in store.model_runs(parent.info.run_id):
        plan.model_runs.setdefault(run.data.tags.get(MODEL_TAG, ""), run.info.run_id)
    by_key: dict[tuple[str, int], list] = {}
    for run in store.fold_runs(parent.info.run_id):
        key = (run.data.tags.get(MODEL_TAG, ""), int(run.data.tags.get(FOLD_TAG, -1)))
        by_key.setdefault(key, []).append(run)
    for task in tasks:
        runs = sorted(by_key.pop(task.key, []), key=lambda r: r.info.start_time, reverse=True)
        keep = next((r for r in runs if _reusable(r, task, fingerprint)), None)
        if keep is not None:
            plan.reused[task.key] = reused_outcome(store, keep, metric_names, read_predictions)
        plan.superseded += [(r.info.run_id, r.info.status) for r in runs if r is not keep]
    for runs in by_key.values():  # folds this config no longer has
        plan.superseded += [(r.info.run_id, r.info.status) for r in runs]
    return plan


def _reusable(run, task: FoldTask, fingerprint: str) -> bool:
    tags = run.data.tags
    return (
        run.info.status == "FINISHED"
        and tags.get(MODEL_DIGEST_TAG) == task.model_digest
        and tags.get(SPLIT_DIGEST_TAG) == task.split_digest
        and tags.get(DATA_TAG) == fingerprint
    )


def reused_outcome(store: RunStore, run, metric_names: list[str], read_predictions: bool) -> FoldOutcome:
    """The outcome of a FINISHED fold run, read back from the store."""
    tags, metrics = run.data.tags, run.data.metrics
    predictions = None
    if read_predictions:
        try:
            predictions = store.read_table(run.info.run_id, "predictions/predictions.csv")
        except Exception:  # a fold logged without predictions
            predictions = None
    return FoldOutcome(
        tags.get(MODEL_TAG, ""), int(tags.get(FOLD_TAG, -1)), run.info.run_id,
        {m: float(metrics[m]) for m in metric_names if m in metrics}, predictions, False,
        int(tags.get("n_train", 0)), int(tags.get("n_test", 0)),
        parent_metrics=json.loads(tags.get(PARENT_METRICS_TAG, "{}") or "{}"), reused=True,
    )  # fmt: skip


def supersede(tracker: Tracker, superseded: list[tuple[str, str]]) -> None:
    """Tag older fold runs as superseded; stale RUNNING ones become KILLED."""
    for run_id, status in superseded:
        tracker.log_batch(run_id, tags={SUPERSEDED_TAG: "true"})
        if status in ("RUNNING", "SCHEDULED"):
            tracker.end(run_id, "KILLED")


def describe(plan: ResumePlan, n_tasks: int) -> dict[str, Any]:
    """Counts for the log line of a resumed experiment."""
    return {"parent": plan.parent_id, "reused": len(plan.reused), "to_run": n_tasks - len(plan.reused),
            "superseded": len(plan.superseded)}  # fmt: skip


__all__ = [
    "ResumeMismatchError",
    "ResumePlan",
    "describe",
    "find_parent",
    "plan_resume",
    "reused_outcome",
    "supersede",
]
