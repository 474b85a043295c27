"""``promote --fold refit``: train a model of an experiment on all its data, as its own run.

The data must be the experiment's own (same fingerprint); the config is the one logged on
the experiment run (``config/experiment.yaml``). The refit run is a nested run of the
experiment (tag ``coco_pipe.role=refit``) holding the model's params, its fit time and the
MLflow Model. It has no held-out score: the experiment's fold-mean is its estimate.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..data import data_fingerprint, validate_inputs
from ..decoding.builders import build_estimator, check_data_info, fit_estimator
from ..decoding.configs import ExperimentConfig
from ..decoding.logged_model.log import upload_model_folder, write_model_folder
from ..decoding.prepare import model_configs
from ..decoding.protocol import collect_reports
from ..tracking.client import MODEL_TAG, ROLE_TAG, Tracker
from ..tracking.store import RunStore


@dataclass
class Refit:
    """The refit run and its logged model."""

    run_id: str
    model_id: str
    n_windows: int
    fit_seconds: float


def experiment_config(store: RunStore, parent_id: str) -> ExperimentConfig:
    """The config logged on the experiment run (``config/experiment.yaml``)."""
    try:
        text = store.read_text(parent_id, "config/experiment.yaml")
    except Exception as exc:
        raise LookupError(f"run {parent_id} holds no config/experiment.yaml: {exc}") from exc
    return ExperimentConfig.model_validate(yaml.safe_load(text))


def refit(store: RunStore, parent_id: str, model: str, X: Any, y: Any = None,
          sample_metadata=None, *, sfreq: float | None = None,
          ch_names: list[str] | None = None) -> Refit:  # fmt: skip
    """Fit ``model`` of the experiment ``parent_id`` on all of ``X`` and log it as a refit run.

    Raises
    ------
    ValueError
        The model is unknown or tuned per fold, or the data are not the experiment's.

    Examples
    --------
    >>> refit(RunStore(uri), parent_id, "logreg", X, y, meta)  # doctest: +SKIP
    """
    parent = store.get_run(parent_id)
    cfg = experiment_config(store, parent_id)
    models = model_configs(cfg)
    if model not in models:
        raise ValueError(f"model {model!r} is not in the experiment's config; models: {sorted(models)}")
    if cfg.tuning.enabled and model in cfg.tuning.search_space:
        raise ValueError(
            f"model {model!r} was tuned inside each fold, so there is no single config to refit; "
            "promote a fold (--fold best or a number), or fix its params in the config and rerun"
        )
    data = validate_inputs(X, y, sample_metadata, task=cfg.task, group_key=cfg.cv.group_key,
                           sfreq=sfreq, ch_names=ch_names)  # fmt: skip
    recorded = parent.data.tags.get("coco_pipe.data_fingerprint")
    found = data_fingerprint(data)
    if recorded and found != recorded:
        raise ValueError(
            f"the data given for the refit have fingerprint {found}, the experiment {parent_id} "
            f"was run on {recorded}: refit on the experiment's own data"
        )
    est = build_estimator(models[model], data.info, cfg.random_state)
    check_data_info(est, data.info)
    tracker = Tracker(store.tracking_uri, store.client.get_experiment(parent.info.experiment_id).name)
    # under the model's run (parent -> model -> fold and refit runs); experiments recorded
    # before the model level existed have their folds, and so the refit, under the parent
    model_run = next((r.info.run_id for r in store.model_runs(parent_id)
                      if r.data.tags.get(MODEL_TAG) == model), parent_id)  # fmt: skip
    run_id = tracker.start_child(model_run, f"{model}/refit", tags={
        ROLE_TAG: "refit", MODEL_TAG: model, "n_train": len(data.y),
        "coco_pipe.model_kind": models[model].kind,
    })  # fmt: skip
    status = "FAILED"
    try:
        t0 = time.perf_counter()
        fit_estimator(est, data.X, data.y, data.groups)
        seconds = time.perf_counter() - t0
        params = {f"model.{k}": v for k, v in models[model].flat_params().items()}
        with tempfile.TemporaryDirectory(prefix="coco-pipe-refit-") as tmp:
            (Path(tmp) / "work").mkdir()
            report = collect_reports(est, Path(tmp) / "work")
            tracker.log_batch(run_id, params={**params, "model.name": model, **report.params},
                              metrics={"fit_seconds": seconds}, tags=report.tags)  # fmt: skip
            folder = Path(tmp) / "model"
            source = {"run_id": run_id, "model": model, "fold": "refit"}
            manifest = write_model_folder(est, folder, data, np.arange(len(data.y)), source)
            model_id = upload_model_folder(tracker, run_id, folder, f"{model}-refit", tags={
                "coco_pipe.model": model, "coco_pipe.fold": "refit", "coco_pipe.kind": manifest["kind"],
            })  # fmt: skip
        status = "FINISHED"
    finally:
        tracker.end(run_id, status)
    return Refit(run_id, model_id, len(data.y), seconds)


__all__ = ["Refit", "experiment_config", "refit"]
