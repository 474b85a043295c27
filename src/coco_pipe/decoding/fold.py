"""One (model, outer fold) task: [tune,] fit on the training partition, score the test
partition, log the fold run, and clean up its temporary folder.

Each fold gets a temporary working folder ``coco-pipe-<model>-<k>-*`` in the temp dir,
handed to the estimators' ``tracking_report(workdir)`` hook (training history, model card,
checkpoints or adapters). It is removed once the fold's artifacts are logged, also when
the fold fails. Set the environment variable ``COCO_PIPE_KEEP_WORKDIRS=1`` to keep these
folders for debugging; each kept path is logged (INFO).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from ..data import EpochsData
from ..tracking import FOLD_TAG, MODEL_TAG, ROLE_TAG, FoldReport, Tracker
from .builders import build_estimator
from .configs import ExperimentConfig, TuningConfig
from .logged_model import log_fold_model
from .metrics import Metric, score_all
from .protocol import collect_reports, predict_scores
from .splits import fitting_view, fold_tags
from .streaming import fit_streamed, scoring_split_streamed
from .tuning import tune_model

logger = logging.getLogger(__name__)

#: Environment variable that keeps the folds' temporary folders (``1``, ``true``, ``yes``).
KEEP_WORKDIRS_ENV = "COCO_PIPE_KEEP_WORKDIRS"
#: Artifact folders of a failed fold that are still logged (they explain the failure).
FAILURE_ARTIFACTS = ("diagnostics", "training_history", "model_card")


@dataclass
class FoldTask:
    """What one (model, outer fold) task needs besides the data."""

    model: str
    config: Any
    prototype: BaseEstimator
    fold: int
    train: np.ndarray
    test: np.ndarray


@dataclass
class FoldOutcome:
    """What a finished (or failed) fold gives back to the loop."""

    model: str
    fold: int
    run_id: str
    scores: dict[str, float]
    predictions: pd.DataFrame | None
    failed: bool
    n_train: int
    n_test: int


class ControlledFailure(RuntimeError):
    """An estimator reported a failed fit (e.g. diverged training)."""


def keep_workdirs() -> bool:
    """Whether ``COCO_PIPE_KEEP_WORKDIRS`` asks to keep the folds' temporary folders."""
    return os.environ.get(KEEP_WORKDIRS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def fold_workdir(model: str, fold: int) -> Iterator[Path]:
    """A fresh ``coco-pipe-<model>-<fold>-*`` temporary folder, removed on exit (also on
    error) unless :func:`keep_workdirs`.

    Examples
    --------
    >>> with fold_workdir("lr", 0) as workdir:
    ...     _ = (workdir / "note.txt").write_text("x")
    >>> workdir.exists()
    False
    """
    path = Path(tempfile.mkdtemp(prefix=f"coco-pipe-{model}-{fold}-"))
    try:
        yield path
    finally:
        if keep_workdirs():
            logger.info("kept the working folder of %s fold %d: %s", model, fold, path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def stage_parent_artifacts(report: FoldReport, staging: Path) -> None:
    """Copy a fold's parent-run artifacts to ``staging/<type>/<name>`` before its folder
    goes (a later fold's file of the same name replaces it)."""
    for artifact_type, path in report.parent_artifacts:
        src = Path(path)
        if not src.exists():
            continue
        dst = staging / artifact_type / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir():
            shutil.rmtree(dst)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)


def prediction_table(
    model: str, fold: int, test: np.ndarray, data: EpochsData, y_pred, y_score, classes
) -> pd.DataFrame:
    """Test predictions of one fold: Model, Fold, SampleIndex, y_true, y_pred
    (+ Group, ``proba_<class>`` or ``decision``)."""
    table = pd.DataFrame(
        {"Model": model, "Fold": fold, "SampleIndex": test, "y_true": data.y[test], "y_pred": y_pred}
    )
    if data.groups is not None:
        table["Group"] = data.groups[test]
    if y_score is not None and classes is not None:
        y_score = np.asarray(y_score)
        if y_score.ndim == 2 and y_score.shape[1] == len(classes):
            for j, c in enumerate(classes):
                table[f"proba_{c}"] = y_score[:, j]
        elif y_score.ndim == 1:
            table["decision"] = y_score
    return table


def _artifact_path(artifact_type: str, path: Path) -> str:
    return f"{artifact_type}/{Path(path).name}" if Path(path).is_dir() else artifact_type


def run_fold(
    cfg: ExperimentConfig,
    tracker: Tracker,
    parent: str,
    data: EpochsData,
    task: FoldTask,
    metrics: list[Metric],
    tuner: TuningConfig | None,
    staging: Path,
) -> tuple[FoldOutcome, FoldReport]:
    """Run one fold as a nested run of ``parent`` and return its outcome and report.

    An exception inside the fold is recorded on its run (FAILED, ``coco_pipe.failure``
    tag, traceback artifact) and re-raised only with ``on_error="raise"``.
    """
    name, k, train, test = task.model, task.fold, task.train, task.test
    groups_test = sorted(map(str, np.unique(data.groups[test]))) if data.groups is not None else []
    run_id = tracker.start_child(
        parent,
        f"{name}/fold-{k}",
        tags={
            ROLE_TAG: "fold", MODEL_TAG: name, FOLD_TAG: k, "n_train": len(train),
            "n_test": len(test), "test_groups": ",".join(groups_test),
            "coco_pipe.model_kind": task.config.kind, **fold_tags(cfg.cv, data, test),
        },
    )  # fmt: skip
    done = _Progress()
    failed = False
    with fold_workdir(name, k) as workdir:
        try:
            _fit_score_log(cfg, tracker, run_id, data, task, metrics, tuner, workdir, done)
            stage_parent_artifacts(done.report, staging)
            tracker.end(run_id, "FINISHED")
        except Exception as exc:  # one failing fold does not stop the experiment
            failed = True
            report = done.report
            msg = f"{type(exc).__name__}: {exc}"
            logger.warning("model %r fold %d failed: %s", name, k, msg)
            try:
                tracker.log_batch(
                    run_id,
                    params={"model.name": name, **report.params},
                    metrics=report.metrics,
                    step_metrics=report.step_metrics,
                    tags={**report.tags, "coco_pipe.failure": msg[:5000]},
                )
                tracker.log_text(run_id, traceback.format_exc(), "diagnostics/traceback.txt")
                for artifact_type, path in report.artifacts:
                    if artifact_type in FAILURE_ARTIFACTS:
                        tracker.log_artifact(run_id, path, artifact_type)
            finally:
                tracker.end(run_id, "FAILED")
            if cfg.on_error == "raise" and not isinstance(exc, ControlledFailure):
                raise
    outcome = FoldOutcome(
        name, k, run_id, done.scores, done.predictions, failed, len(train), len(test)
    )
    return outcome, done.report


@dataclass
class _Progress:
    """What a fold has gathered so far (a failure is logged with the report up to there)."""

    report: FoldReport = field(default_factory=FoldReport)
    scores: dict[str, float] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None


def _fit_score_log(cfg, tracker, run_id, data, task, metrics, tuner, workdir, done: _Progress):
    """The body of a fold: [tune,] fit, report, score, log; fills ``done`` as it goes."""
    name, k, train, test = task.model, task.fold, task.train, task.test
    t0 = time.perf_counter()
    fit_data = fitting_view(cfg.cv, data)  # no subject groups inside one subject
    fold_cfg = task.config
    if tuner is not None and name in tuner.search_space:
        outcome = tune_model(
            name, task.config, tuner.search_space[name], data=fit_data, train_idx=train,
            tuning=tuner, metrics=metrics, task=cfg.task, tracker=tracker,
            fold_run_id=run_id, random_state=cfg.random_state + k, info=data.info,
            fold=k, verbose=cfg.verbose, workdir=workdir,
        )  # fmt: skip
        fold_cfg = outcome.best_config
        done.report = done.report.merge(outcome.report)
        est = build_estimator(fold_cfg, data.info, cfg.random_state)
        t0 = time.perf_counter()  # fit_seconds: the refit only
    else:
        est = clone(task.prototype)
    groups = fit_data.groups[train] if fit_data.groups is not None else None
    fit_streamed(est, data.windows(train), data.y[train], groups)  # read a chunk at a time
    fit_seconds = time.perf_counter() - t0
    done.report = report = done.report.merge(collect_reports(est, workdir))
    if report.failed:
        raise ControlledFailure(report.failure_reason or "estimator reported a failed fit")
    scorer, X_test = scoring_split_streamed(est, data.windows(test))
    y_pred = scorer.predict(X_test)
    y_score = predict_scores(scorer, X_test) if cfg.task == "classification" else None
    classes = getattr(scorer, "classes_", None) if cfg.task == "classification" else None
    done.scores = scores = score_all(metrics, data.y[test], y_pred, y_score)
    done.predictions = preds = prediction_table(name, k, test, data, y_pred, y_score, classes)
    params = {f"model.{key}": v for key, v in fold_cfg.flat_params().items()}
    params.update({"model.name": name, **report.params})
    tracker.log_batch(
        run_id,
        params=params,
        metrics={
            **scores, **report.metrics, "fit_seconds": fit_seconds,
            "predict_seconds": time.perf_counter() - t0 - fit_seconds,
        },
        tags=report.tags,
        step_metrics=report.step_metrics,
    )  # fmt: skip
    if cfg.tracking.log_predictions:
        tracker.log_table(run_id, preds, "predictions/predictions.csv")
    for artifact_type, path in report.artifacts:
        tracker.log_artifact(run_id, path, _artifact_path(artifact_type, path))
    if cfg.tracking.log_models != "none":  # the fitted model as an MLflow Model
        log_fold_model(tracker, run_id, est, data, model=name, fold=k, train=train,
                       scores=scores, mode=cfg.tracking.log_models)  # fmt: skip


__all__ = [
    "KEEP_WORKDIRS_ENV",
    "ControlledFailure",
    "FoldOutcome",
    "FoldTask",
    "fold_workdir",
    "keep_workdirs",
    "prediction_table",
    "run_fold",
    "stage_parent_artifacts",
]
