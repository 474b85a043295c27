"""Log fold models as MLflow logged models, per ``tracking.log_models``.

``all``
    every successful fold's model is logged as it finishes.
``best``
    each fold's model is written to a local folder; after the loop,
    :func:`log_best_fold_models` logs, per model, only the fold with the best first metric
    (highest, or lowest for metrics where lower is better; ties: the lowest fold number;
    failed folds never count) and removes the others. The same rule picks the fold of
    ``coco-pipe promote --fold best``.
``none``
    nothing.

A model that cannot be logged (for instance an estimator holding a type the safe loader
would refuse) is reported with a warning; the fold itself still counts.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .files import combined_digest, folder_digests

logger = logging.getLogger(__name__)

#: Tags set on the logged model (and the fold run) for the registry and the safe loader.
MODEL_ID_TAG = "coco_pipe.logged_model_id"
DIGEST_TAG = "coco_pipe.model_digest"
FILES_TAG = "coco_pipe.model_files"


def best_fold_index(scores: Iterable[tuple[int, float]], greater_is_better: bool = True) -> int | None:
    """The fold with the best score (ties: the lowest fold); None when no score is finite.

    Examples
    --------
    >>> best_fold_index([(0, 0.6), (1, 0.8), (2, 0.8)])
    1
    >>> best_fold_index([(0, 0.6), (1, 0.8)], greater_is_better=False)
    0
    """
    finite = [(int(k), float(v)) for k, v in scores if v is not None and math.isfinite(float(v))]
    if not finite:
        return None
    sign = -1.0 if greater_is_better else 1.0
    return min(finite, key=lambda kv: (sign * kv[1], kv[0]))[0]


def _input_info(data) -> dict[str, Any]:
    return {
        "n_channels": int(data.X.shape[1]), "n_times": int(data.X.shape[2]),
        "sfreq": None if data.sfreq is None else float(data.sfreq),
        "ch_names": list(data.ch_names) if data.ch_names is not None else None,
    }  # fmt: skip


def _pending_dir(fold_run_id: str) -> Path:
    return Path(tempfile.gettempdir()) / f"coco-pipe-pending-model-{fold_run_id}"


def write_model_folder(estimator, path: Path, data, train, source: dict) -> dict:
    """Write the MLflow Model of a fitted estimator for ``data`` at ``path`` (example: the
    first window of ``train``); return its manifest."""
    from .pyfunc import save_mlflow_model

    example = data.X[train[:1]]
    return save_mlflow_model(
        estimator, path, input_info=_input_info(data), task=data.task, example=example,
        source=source,
    )  # fmt: skip


def upload_model_folder(tracker, run_id: str, folder: Path, name: str, *, tags: dict[str, Any],
                        metrics: dict[str, float] | None = None) -> str:  # fmt: skip
    """Log the MLflow Model folder ``folder`` (written by :func:`.pyfunc.save_mlflow_model`)
    as a logged model of ``run_id``; record its file digests on the model and the run.

    The folder's ``MLmodel`` is rewritten to carry the new model's id and run id, as
    ``mlflow.<flavor>.log_model`` writes them.
    """
    from mlflow.models import Model

    from ...tracking.logged_models import (
        create_logged_model,
        fail_logged_model,
        finish_logged_model,
    )

    client = tracker.client
    model = create_logged_model(client, run_id, name, tags=tags)
    try:
        mlmodel = Model.load(str(folder / "MLmodel"))
        mlmodel.artifact_path, mlmodel.run_id = model.artifact_location, run_id
        mlmodel.model_id = mlmodel.model_uuid = model.model_id
        mlmodel.save(str(folder / "MLmodel"))
        files = folder_digests(folder)
        digest = combined_digest(files)
        client.set_logged_model_tags(model.model_id, {FILES_TAG: json.dumps(files), DIGEST_TAG: digest})
        finish_logged_model(client, model.model_id, run_id, folder, metrics=metrics)
    except BaseException:
        fail_logged_model(client, model.model_id)
        raise
    tracker.log_batch(run_id, tags={MODEL_ID_TAG: model.model_id, DIGEST_TAG: digest})
    return model.model_id


def log_fold_model(recorder, run_id: str, estimator, data, *, model: str, fold: int, train,
                   scores: dict[str, float], mode: str = "all") -> None:  # fmt: skip
    """Record (``mode="all"``) or set aside (``"best"``) the fitted model of one fold.

    ``all``: the MLflow Model folder goes into the fold's spool record (``recorder``, a
    :class:`~coco_pipe.tracking.spool.RunRecorder`) and becomes a logged model of the fold
    run when the record is sent, so a tracking outage loses the model no more than the
    scores (``coco-pipe sync`` logs it later). Never raises: a model that cannot be written
    is reported with a warning naming the reason.

    Examples
    --------
    >>> log_fold_model(recorder, fold_run_id, est, data, model="logreg", fold=0,
    ...                train=train_idx, scores={"balanced_accuracy": 0.8})  # doctest: +SKIP
    """
    if mode == "none":
        return None
    if data.X.ndim != 3:
        logger.info("fold models of %r are not logged: MLflow Models take 3-D windows", model)
        return None
    source = {"run_id": run_id, "model": model, "fold": int(fold)}
    try:
        if mode == "best":
            pending = _pending_dir(run_id)
            shutil.rmtree(pending, ignore_errors=True)
            write_model_folder(estimator, pending / "model", data, train, source)
            (pending / "scores.json").write_text(json.dumps(scores))
            return None
        with tempfile.TemporaryDirectory(prefix="coco-pipe-model-") as tmp:
            folder = Path(tmp) / "model"
            manifest = write_model_folder(estimator, folder, data, train, source)
            recorder.log_model_folder(
                run_id, folder, f"{model}-fold{fold}", metrics=scores,
                tags={"coco_pipe.model": model, "coco_pipe.fold": fold, "coco_pipe.kind": manifest["kind"]},
            )  # fmt: skip
            return None
    except Exception as exc:  # a model that cannot be logged never fails the fold
        logger.warning("the model of %r fold %d was not logged as an MLflow Model: %s: %s",
                       model, fold, type(exc).__name__, exc)  # fmt: skip
        return None


def log_best_fold_models(tracker, outcomes: Sequence, metric: str, greater_is_better: bool = True) -> dict[str, str]:
    """After the loop (``tracking.log_models="best"``): log each model's best fold, set aside
    by :func:`log_fold_model`, and remove the folders of the others.

    Returns ``{model name: logged model id}``.
    """
    logged: dict[str, str] = {}
    try:
        by_model: dict[str, list] = {}
        for o in outcomes:
            if not o.failed and _pending_dir(o.run_id).exists():
                by_model.setdefault(o.model, []).append(o)
        for name, runs in by_model.items():
            k = best_fold_index([(o.fold, o.scores.get(metric)) for o in runs], greater_is_better)
            best = next((o for o in runs if o.fold == k), None)
            if best is None:
                continue
            folder = _pending_dir(best.run_id) / "model"
            try:
                kind = json.loads((folder / "data" / "coco_pipe" / "manifest.json").read_text())["kind"]
                logged[name] = upload_model_folder(
                    tracker, best.run_id, folder, f"{name}-fold{best.fold}", metrics=best.scores,
                    tags={"coco_pipe.model": name, "coco_pipe.fold": best.fold, "coco_pipe.kind": kind,
                          "coco_pipe.chosen": f"best fold by {metric}"},
                )  # fmt: skip
            except Exception as exc:
                logger.warning("the best fold model of %r was not logged: %s: %s", name,
                               type(exc).__name__, exc)  # fmt: skip
    finally:
        for o in outcomes:
            shutil.rmtree(_pending_dir(o.run_id), ignore_errors=True)
    return logged


__all__ = [
    "DIGEST_TAG", "FILES_TAG", "MODEL_ID_TAG", "best_fold_index", "log_best_fold_models",
    "write_model_folder",
    "log_fold_model", "upload_model_folder",
]
