"""One (model, outer fold) task: [tune,] fit on the training partition, score the test
partition, record the fold run (spooled first, then sent) and clean up its temporary folder.

The fold's run is created by the driver before the task starts (so a worker that dies
leaves a run the driver can mark FAILED); :func:`run_fold` fills it, in this process or in
a worker. Everything the fold logs is written to the local spool
(:class:`~coco_pipe.tracking.spool.Spool`) and only then sent to the tracking store, so an
outage of the tracking server costs nothing computed.

Each fold gets a temporary working folder ``coco-pipe-<model>-<k>-*`` in the temp dir,
handed to the estimators' ``tracking_report(workdir)`` hook (training history, model card,
checkpoints or adapters). It is removed once the fold's artifacts are logged, also when
the fold fails. Set the environment variable ``COCO_PIPE_KEEP_WORKDIRS=1`` to keep these
folders for debugging; each kept path is logged (INFO).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
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
from sklearn.base import clone

from ..data import EpochsData
from ..tracking import FOLD_TAG, MODEL_TAG, ROLE_TAG, FoldReport, Tracker
from ..tracking.outage import is_unavailable, outage_error
from ..tracking.spool import RunRecorder, Spool
from .builders import build_estimator
from .configs import ExperimentConfig, TuningConfig
from .logged_model import log_fold_model
from .metrics import Metric, score_all
from .planning import DATA_TAG, MODEL_DIGEST_TAG, PARENT_METRICS_TAG, SPLIT_DIGEST_TAG, FoldTask
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
class FoldOutcome:
    """What a finished (or failed) fold gives back to the driver (it pickles).

    ``parent_files`` are the fold's parent-run artifacts as ``(artifact_type, relative
    path, bytes)``, read before its working folder went; ``reused`` marks a fold taken
    from the store by a resumed experiment.
    """

    model: str
    fold: int
    run_id: str
    scores: dict[str, float]
    predictions: pd.DataFrame | None
    failed: bool
    n_train: int
    n_test: int
    seconds: float = 0.0
    error: str = ""
    parent_metrics: dict[str, float] = field(default_factory=dict)
    parent_files: list[tuple[str, str, bytes]] = field(default_factory=list)
    deferred_parent_artifacts: list[Any] = field(default_factory=list)
    reused: bool = False


class ControlledFailure(RuntimeError):
    """An estimator reported a failed fit (e.g. diverged training)."""


def keep_workdirs() -> bool:
    """Whether ``COCO_PIPE_KEEP_WORKDIRS`` asks to keep the folds' temporary folders."""
    return os.environ.get(KEEP_WORKDIRS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def workdir_prefix(label: str) -> str:
    """``coco-pipe-<label>-pid<this process>-``: the prefix of a temporary folder this
    process owns, so :func:`sweep_stale_workdirs` can tell when its owner is gone.

    Examples
    --------
    >>> workdir_prefix("lr-0") == f"coco-pipe-lr-0-pid{os.getpid()}-"
    True
    """
    return f"coco-pipe-{label}-pid{os.getpid()}-"


_OWNER = re.compile(r"^coco-pipe-.+-pid(\d+)-[^-]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_stale_workdirs(root: str | Path | None = None) -> list[Path]:
    """Remove the temporary folders (:func:`workdir_prefix`) of processes that no longer
    run: a fold or an experiment killed with SIGKILL (the OOM killer, ``kill -9``, a dead
    worker) cannot remove its own. Called when an experiment starts; folders of live
    processes, and any kept with ``COCO_PIPE_KEEP_WORKDIRS``, stay.

    Examples
    --------
    >>> sweep_stale_workdirs()  # doctest: +SKIP
    [PosixPath('/tmp/coco-pipe-logreg-0-pid4242-x1y2z3')]
    """
    if keep_workdirs():
        return []
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob("coco-pipe-*-pid*-*"):
        owner = _OWNER.match(path.name)
        if owner and path.is_dir() and not _alive(int(owner.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.info("removed %d working folder(s) left by killed processes", len(removed))
    return removed


@contextmanager
def fold_workdir(model: str, fold: int) -> Iterator[Path]:
    """A fresh ``coco-pipe-<model>-<fold>-pid<pid>-*`` temporary folder, removed on exit
    (also on error) unless :func:`keep_workdirs`; a killed process's folder is removed by
    the next experiment (:func:`sweep_stale_workdirs`).

    Examples
    --------
    >>> with fold_workdir("lr", 0) as workdir:
    ...     _ = (workdir / "note.txt").write_text("x")
    >>> workdir.exists()
    False
    """
    path = Path(tempfile.mkdtemp(prefix=workdir_prefix(f"{model}-{fold}")))
    try:
        yield path
    finally:
        if keep_workdirs():
            logger.info("kept the working folder of %s fold %d: %s", model, fold, path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def read_parent_files(report: FoldReport) -> list[tuple[str, str, bytes]]:
    """The fold's parent-run artifacts as ``(artifact_type, relative path, bytes)``, read
    before its folder goes (they travel back from a worker with the outcome)."""
    out = []
    for artifact_type, path in report.parent_artifacts:
        src = Path(path)
        files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for f in files:
            if f.is_file():
                rel = f.relative_to(src.parent).as_posix()
                out.append((artifact_type, rel, f.read_bytes()))
    return out


def stage_parent_artifacts(files: list[tuple[str, str, bytes]], staging: Path) -> None:
    """Write parent-run artifacts to ``staging/<type>/<path>`` (a later fold's file of the
    same name replaces it)."""
    for artifact_type, rel, content in files:
        dst = staging / artifact_type / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(content)


def seed_globals(seed: int) -> None:
    """Seed the global random generators (Python's, NumPy's and, when imported, torch's) at
    the start of a fold, so that what an estimator draws from them (a shuffle, an init)
    depends on the fold alone, not on which folds ran before it in the same process: the
    scores of a fold are the same on every backend. (coco-pipe's own torch models seed
    themselves: a random-init backbone from its identity, a fine-tuned one from its seed.)

    Examples
    --------
    >>> seed_globals(3); a = np.random.rand()
    >>> seed_globals(3); bool(a == np.random.rand())
    True
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch = sys.modules.get("torch")  # never imported for this (seconds in a fresh worker)
    if torch is not None:
        torch.manual_seed(seed)


def fold_seed(random_state: int, model: str, fold: int) -> int:
    """The seed of one (model, fold): stable across processes (no Python ``hash``).

    Examples
    --------
    >>> fold_seed(42, "lr", 0) == fold_seed(42, "lr", 0)
    True
    """
    text = f"{random_state}|{model}|{fold}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


def fold_run_tags(
    cfg: ExperimentConfig, data: EpochsData, task: FoldTask, fingerprint: str
) -> dict[str, Any]:
    """Tags of a fold run, set when the driver creates it: role, model, fold, sizes, test
    groups (and sessions, :func:`~coco_pipe.decoding.splits.fold_tags`), model kind and the
    digests a resume matches on."""
    groups_test = (
        sorted(map(str, np.unique(data.groups[task.test]))) if data.groups is not None else []
    )
    return {
        ROLE_TAG: "fold", MODEL_TAG: task.model, FOLD_TAG: task.fold,
        "n_train": len(task.train), "n_test": len(task.test), "test_groups": ",".join(groups_test),
        "coco_pipe.model_kind": task.config.kind, MODEL_DIGEST_TAG: task.model_digest,
        SPLIT_DIGEST_TAG: task.split_digest, DATA_TAG: fingerprint,
        **fold_tags(cfg.cv, data, task.test),
    }  # fmt: skip


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
    run_id: str,
    data: EpochsData,
    task: FoldTask,
    metrics: list[Metric],
    tuner: TuningConfig | None,
    spool: Spool,
) -> FoldOutcome:
    """Run one fold into its (already created) run ``run_id`` and return its outcome.

    An exception inside the fold is recorded on its run (FAILED, ``coco_pipe.failure``
    tag, traceback artifact) and re-raised only with ``on_error="raise"``. The fold's
    records go to ``spool`` first; if the tracking server then does not answer, a
    :class:`~coco_pipe.tracking.TrackingUnavailableError` names the URI and the spool.
    """
    name, k = task.model, task.fold
    t_start = time.perf_counter()
    seed_globals(fold_seed(cfg.random_state, name, k))
    rec = spool.recorder(run_id, tracker.tracking_uri, label=f"{name} fold {k}")
    done = _Progress()
    failed, error, pending = False, "", None
    try:
        with fold_workdir(name, k) as workdir:
            try:
                _fit_score_log(cfg, tracker, rec, run_id, data, task, metrics, tuner, workdir, done)
                rec.end(run_id, "FINISHED")
            except Exception as exc:  # one failing fold does not stop the experiment
                failed, error = True, f"{type(exc).__name__}: {exc}"
                logger.warning("model %r fold %d failed: %s", name, k, error)
                _record_failure(rec, run_id, name, done.report, error)
                if cfg.on_error == "raise" and not isinstance(exc, ControlledFailure):
                    pending = exc
            parent_files = read_parent_files(done.report)
        path = rec.commit()
    finally:
        rec.discard()  # a no-op once committed
    try:
        spool.send(path, tracker)
    except Exception as exc:
        if is_unavailable(exc):
            raise outage_error(tracker.tracking_uri, exc, spool.root, tracker.timeout_s,
                               f" while logging {name} fold {k}") from exc  # fmt: skip
        raise
    if pending is not None:
        raise pending
    return FoldOutcome(
        name, k, run_id, done.scores, done.predictions, failed, len(task.train), len(task.test),
        seconds=time.perf_counter() - t_start, error=error,
        parent_metrics=dict(done.report.parent_metrics), parent_files=parent_files,
        deferred_parent_artifacts=list(getattr(done.report, "deferred_parent_artifacts", [])),
    )  # fmt: skip


def _record_failure(rec: RunRecorder, run_id: str, name: str, report: FoldReport, msg: str) -> None:
    rec.log_batch(
        run_id,
        params={"model.name": name, **report.params},
        metrics=report.metrics,
        step_metrics=report.step_metrics,
        tags={**report.tags, "coco_pipe.failure": msg[:5000]},
    )
    rec.log_text(run_id, traceback.format_exc(), "diagnostics/traceback.txt")
    for artifact_type, path in report.artifacts:
        if artifact_type in FAILURE_ARTIFACTS and Path(path).exists():
            rec.log_artifact(run_id, path, artifact_type)
    rec.end(run_id, "FAILED")


@dataclass
class _Progress:
    """What a fold has gathered so far (a failure is logged with the report up to there)."""

    report: FoldReport = field(default_factory=FoldReport)
    scores: dict[str, float] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None


def _fit_score_log(cfg, tracker, rec, run_id, data, task, metrics, tuner, workdir, done: _Progress):
    """The body of a fold: [tune,] fit, report, score, record into ``rec``; fills ``done``
    as it goes (tuning trials are logged through ``tracker`` as they run)."""
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
    tags = dict(report.tags)
    if report.parent_metrics:  # so that a resumed experiment sums them again
        tags[PARENT_METRICS_TAG] = json.dumps(report.parent_metrics)
    rec.log_batch(
        run_id,
        params=params,
        metrics={
            **scores, **report.metrics, "fit_seconds": fit_seconds,
            "predict_seconds": time.perf_counter() - t0 - fit_seconds,
        },
        tags=tags,
        step_metrics=report.step_metrics,
    )  # fmt: skip
    if cfg.tracking.log_predictions:
        rec.log_table(run_id, preds, "predictions/predictions.csv")
    for artifact_type, path in report.artifacts:
        rec.log_artifact(run_id, path, _artifact_path(artifact_type, path))
    if cfg.tracking.log_models != "none":  # the fitted model as an MLflow Model
        log_fold_model(rec, run_id, est, data, model=name, fold=k, train=train,
                       scores=scores, mode=cfg.tracking.log_models)  # fmt: skip


__all__ = [
    "KEEP_WORKDIRS_ENV",
    "ControlledFailure",
    "FoldOutcome",
    "FoldTask",
    "fold_run_tags",
    "fold_seed",
    "seed_globals",
    "fold_workdir",
    "keep_workdirs",
    "prediction_table",
    "read_parent_files",
    "run_fold",
    "stage_parent_artifacts",
    "sweep_stale_workdirs",
    "workdir_prefix",
]
