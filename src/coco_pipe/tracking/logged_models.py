"""MLflow logged models (MLflow 3's model entities) through one client: create one for a run,
upload its folder, link it to the run, find a run's models, download one.

The experiment's fold models and the registry's promoted versions go through these verbs;
the MLflow Model *format* (MLmodel, signature, flavours) is written by
:mod:`coco_pipe.decoding.logged_model`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def create_logged_model(
    client, run_id: str, name: str, *, params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None, model_type: str = "coco-pipe-decoder",
):  # fmt: skip
    """A new logged model (status PENDING) produced by ``run_id``, in the run's experiment.

    Examples
    --------
    >>> model = create_logged_model(client, run_id, "logreg-fold-0")  # doctest: +SKIP
    >>> model.model_id  # doctest: +SKIP
    'm-...'
    """
    experiment_id = client.get_run(run_id).info.experiment_id
    return client.create_logged_model(
        experiment_id, name=name, source_run_id=run_id, model_type=model_type,
        params={k: str(v)[:6000] for k, v in (params or {}).items()},
        tags={k: str(v)[:8000] for k, v in (tags or {}).items()},
    )  # fmt: skip


def finish_logged_model(
    client, model_id: str, run_id: str, local_dir: str | Path, *,
    metrics: dict[str, float] | None = None,
) -> None:  # fmt: skip
    """Upload ``local_dir`` (an MLflow Model folder) as the model's artifacts, mark it READY,
    list it among the run's outputs (the UI's Models column) and log ``metrics`` for it."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client.log_model_artifacts(model_id, str(local_dir))
    client.finalize_logged_model(model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)])
    if metrics:
        now = int(time.time() * 1000)
        batch = [
            Metric(k, float(v), now, 0, model_id=model_id, run_id=run_id)
            for k, v in metrics.items()
            if v is not None and float(v) == float(v)
        ]
        if batch:
            client.log_batch(run_id, metrics=batch)


def fail_logged_model(client, model_id: str) -> None:
    """Mark a logged model FAILED (its folder could not be written or uploaded)."""
    from mlflow.entities import LoggedModelStatus

    client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)


def run_logged_models(client, run_id: str) -> list:
    """The READY logged models produced by ``run_id`` (newest first)."""
    run = client.get_run(run_id)
    page = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'",
        order_by=[{"field_name": "creation_time", "ascending": False}],
    )  # fmt: skip
    return [m for m in page if str(getattr(m.status, "name", m.status)).endswith("READY")]


def download_logged_model(client, model_id: str, dst: str | Path) -> Path:
    """Download every file of a logged model into the new folder ``dst``; return it."""
    from mlflow.artifacts import download_artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    model = client.get_logged_model(model_id)
    local = download_artifacts(
        artifact_uri=model.artifact_location, dst_path=str(dst), tracking_uri=client.tracking_uri
    )
    return Path(local)


__all__ = [
    "create_logged_model", "download_logged_model", "fail_logged_model", "finish_logged_model",
    "run_logged_models",
]
