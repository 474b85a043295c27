"""Experiment: validate once, plan the (model, fold) tasks, run them on the configured
executor, and record everything in MLflow as a run tree::

    experiment (parent run: config, data set, statistics, headline plots, cache manifest)
      +-- <model> (one run per model: its config as params, the mean of each metric over
      |     |      folds under the metric's plain name, <metric>_std, n_folds, n_failed_folds)
      |     +-- <model>/fold-<k> (one run per outer fold: params, metrics, predictions, ...)

The loop drives every estimator through the protocol of :mod:`coco_pipe.decoding.protocol`
and never names a model kind. One fold is :func:`coco_pipe.decoding.fold.run_fold`; the
tasks are planned by :mod:`.planning`, run by :mod:`.executors`, collected by
:mod:`.driver`; a resumed experiment reuses its finished folds (:mod:`.resume`); the
parent's summary is :mod:`.summary`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..data import data_fingerprint
from ..tracking import MODEL_TAG, ROLE_TAG, RunStore, Tracker
from ..tracking.lineage import dataset_input
from ..tracking.outage import is_unavailable, outage_error
from ..tracking.report import write_deferred_artifacts
from ..tracking.spool import Spool
from .builders import build_estimator, check_data_info
from .configs import ExperimentConfig
from .driver import FoldDriver, clean_stops
from .executors import SharedData, make_executor
from .fold import FoldOutcome, stage_parent_artifacts, sweep_stale_workdirs, workdir_prefix
from .logged_model import log_best_fold_models, upload_model_folder
from .planning import (
    CONFIG_DIGEST_TAG,
    DATA_TAG,
    MODEL_DIGEST_TAG,
    SECTION_DIGESTS_TAG,
    config_digest,
    model_digest,
    plan_tasks,
    section_digests,
)
from .prepare import CHANCE_MODEL, as_experiment_config, model_configs, prepare_inputs
from .progress import FoldProgress
from .result import ExperimentResult
from .resume import ResumePlan, describe, find_parent, plan_resume, supersede
from .summary import fold_scores, log_plots, log_staged_artifacts, log_statistics
from .tuning import check_tuning

logger = logging.getLogger(__name__)

__all__ = ["CHANCE_MODEL", "Experiment", "prepare_inputs"]


class Experiment:
    """Cross-validate every configured model and track each fold in MLflow.

    Parameters
    ----------
    config : ExperimentConfig | dict | str | Path
        The experiment; a dict is validated, a path is read as YAML.

    Examples
    --------
    >>> from coco_pipe.datasets import make_motor_imagery
    >>> from coco_pipe.decoding.configs import ExperimentConfig, CVConfig, ClassicalModelConfig
    >>> epochs = make_motor_imagery(n_subjects=5)                       # doctest: +SKIP
    >>> cfg = ExperimentConfig(models={"logreg": ClassicalModelConfig()},
    ...                        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
    ...                        execution={"backend": "joblib", "n_jobs": 2})
    >>> result = Experiment(cfg).run(epochs)                           # doctest: +SKIP
    >>> result.summary()                                               # doctest: +SKIP
    >>> Experiment(cfg).run(epochs, resume=True)  # after a kill: only unfinished folds  # doctest: +SKIP
    """

    def __init__(self, config: ExperimentConfig | dict | str | Path):
        self.config = as_experiment_config(config)

    # ------------------------------------------------------------------ run
    def run(
        self,
        X: Any,
        y: Any = None,
        sample_metadata: pd.DataFrame | None = None,
        *,
        sfreq: float | None = None,
        ch_names: list[str] | None = None,
        resume: bool | str = False,
        unit: str | None = None,
    ) -> ExperimentResult:
        """Run the experiment and return its :class:`ExperimentResult` (read back from
        the tracking store).

        Parameters
        ----------
        X : mne.Epochs | ndarray (n_windows, n_channels, n_times) | ndarray (n_samples, n_features)
        y : array-like (n,), optional with mne.Epochs (event names are used)
        sample_metadata : DataFrame aligned with X; ``cv.group_key`` names the group column.
        sfreq, ch_names : for array input to models that need them (foundation models).
        resume : bool or str
            True: continue the most recent unfinished parent run of this experiment made
            with the same config and data (a new one when there is none); a run id: that
            parent run. Finished folds are reused, the others run again; a run made with
            other data or another config is refused with what differs.
        unit : amplitude unit of X ('V', 'mV', 'uV', 'nV'); None: ``config.data.unit``, else 'V'.
        """
        cfg = self.config
        # 1. everything that can be wrong is checked before any fitting or tracking write
        data, metrics, splits = prepare_inputs(
            cfg, X, y, sample_metadata, sfreq=sfreq, ch_names=ch_names, unit=unit
        )
        models = model_configs(cfg)
        prototypes = {}
        for name, mcfg in models.items():
            est = build_estimator(mcfg, data.info, cfg.random_state)
            check_data_info(est, data.info)
            prototypes[name] = est
        if cfg.tuning.enabled:
            check_tuning(cfg.tuning, models, cfg.task)
        tracker = Tracker(cfg.tracking.tracking_uri, cfg.tracking.experiment_name, cfg.tracking.timeout_s)
        spool = Spool(cfg.tracking.spool_dir, upload_model=upload_model_folder)
        self._guard(tracker, spool, spool.replay, tracker)  # what an outage left behind
        sweep_stale_workdirs()  # and the working folders of killed processes
        fingerprint = data_fingerprint(data)
        sections = section_digests(cfg, models)
        tasks = plan_tasks(models, prototypes, splits)
        plan = ResumePlan()
        if resume:
            store = RunStore(tracker.tracking_uri)
            parent_run = find_parent(store, tracker.experiment_id, resume, sections, fingerprint)
            if parent_run is not None:
                plan = plan_resume(store, parent_run, tasks, fingerprint, cfg.metrics,
                                   read_predictions=cfg.tracking.log_plots)  # fmt: skip
                logger.info("resuming %s", describe(plan, len(tasks)))
        state = {"tracker": tracker, "data": data, "splits": splits, "models": models,
                 "metrics": metrics, "fingerprint": fingerprint, "sections": sections, "X": X}  # fmt: skip
        parent = self._guard(tracker, spool, self._start_tree, state, plan)
        return self._guard(tracker, spool, self._execute, state, plan, parent, tasks, spool)

    # -------------------------------------------------------------- helpers
    def _guard(self, tracker: Tracker, spool: Spool, fn, *args):
        """Run ``fn``; an unreachable tracking server becomes the error naming the spool."""
        try:
            return fn(*args)
        except Exception as exc:
            if is_unavailable(exc) and not isinstance(exc, ConnectionError):
                raise outage_error(tracker.tracking_uri, exc, spool.root, tracker.timeout_s) from exc
            raise

    def _start_tree(self, state: dict, plan: ResumePlan) -> str:
        """The parent run (new, or the resumed one reopened) and one run per model."""
        cfg, tracker, data = self.config, state["tracker"], state["data"]
        models, fingerprint = state["models"], state["fingerprint"]
        dataset = dataset_input(
            _dataset_name(cfg), fingerprint, tuple(data.X.shape), _dataset_source(cfg, state["X"]),
            profile={"n_windows": len(data.y), "sfreq": data.sfreq, "task": cfg.task},
        )  # fmt: skip
        if plan.parent_id is not None:
            parent = plan.parent_id
            tracker.reopen(parent)
            supersede(tracker, plan.superseded)
        else:
            run_name = cfg.tracking.run_name or f"{cfg.tracking.experiment_name}-{time.strftime('%Y%m%d-%H%M%S')}"
            parent = tracker.start_parent(run_name, tags={
                **cfg.tracking.tags, "coco_pipe.models": ",".join(models),
                "coco_pipe.metrics": ",".join(cfg.metrics), "coco_pipe.task": cfg.task,
                DATA_TAG: fingerprint, "coco_pipe.n_folds": str(len(state["splits"])),
                CONFIG_DIGEST_TAG: config_digest(state["sections"]),
                SECTION_DIGESTS_TAG: json.dumps(state["sections"], sort_keys=True),
            })  # fmt: skip
            tracker.log_text(parent, cfg.to_yaml(), "config/experiment.yaml")
            tracker.log_batch(parent, params={
                "task": cfg.task, "cv.strategy": cfg.cv.strategy, "cv.n_splits": len(state["splits"]),
                "cv.group_key": cfg.cv.group_key, "random_state": cfg.random_state,
                "data.n_windows": len(data.y), "data.shape": str(tuple(data.X.shape)),
                "data.sfreq": data.sfreq, "data.n_channels": data.info.n_channels,
            })  # fmt: skip
            tracker.log_dataset(parent, dataset)
        state["model_runs"] = model_runs = dict(plan.model_runs)
        for name, mcfg in models.items():
            if name in model_runs:
                tracker.reopen(model_runs[name])
                continue
            run_id = tracker.start_child(parent, name, tags={
                ROLE_TAG: "model", MODEL_TAG: name, "coco_pipe.model_kind": mcfg.kind,
                MODEL_DIGEST_TAG: model_digest(mcfg),
            })  # fmt: skip
            tracker.log_batch(run_id, params={"model.name": name, **{
                f"model.{k}": v for k, v in mcfg.flat_params().items()}})  # fmt: skip
            tracker.log_dataset(run_id, dataset)
            model_runs[name] = run_id
        return parent

    def _execute(self, state: dict, plan: ResumePlan, parent: str, tasks, spool: Spool):
        cfg, tracker = self.config, state["tracker"]
        executor = make_executor(cfg.execution, tracker)
        progress = FoldProgress(len(tasks), cfg.metrics[0], cfg.verbose)
        status: str | None = "FINISHED"
        with tempfile.TemporaryDirectory(prefix=workdir_prefix("parent")) as staging, clean_stops():
            put = executor.start() if hasattr(executor, "start") else None
            shared = (SharedData(state["data"]) if cfg.execution.backend == "sequential"
                      else SharedData.share(state["data"], Path(staging), put))  # fmt: skip
            driver = FoldDriver(cfg, tracker, spool, state["data"], shared, state["model_runs"],
                                state["fingerprint"], plan.reused, progress)  # fmt: skip
            try:
                outcomes = driver.run(executor, tasks)
                progress.close()
                self._log_parent(tracker, parent, state, outcomes, Path(staging))
            except BaseException as exc:
                progress.close()
                if is_unavailable(exc):  # nothing more can be written; the spool keeps the folds
                    executor.abort()
                    status = None
                    raise
                status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
                driver.stop(executor, status)
                raise
            finally:
                if hasattr(executor, "close"):
                    executor.close()
                if status is not None and (status != "FINISHED" or tracker.owned_parent):
                    FoldDriver._quietly(tracker.end, parent, status)
        return ExperimentResult.from_run(parent, tracking_uri=tracker.tracking_uri)

    def _log_parent(self, tracker: Tracker, parent: str, state: dict, outcomes: list[FoldOutcome],
                    staging: Path) -> None:  # fmt: skip
        """The experiment-wide records: summed parent metrics, the folds' parent files,
        the statistics and the headline plots."""
        cfg = self.config
        if cfg.tracking.log_models == "best":  # the best fold of each model, now all are known
            main = state["metrics"][0]
            log_best_fold_models(tracker, outcomes, main.name, main.greater_is_better)
        scores = fold_scores(outcomes)
        parent_metrics: dict[str, float] = {}
        for o in outcomes:
            for key, val in o.parent_metrics.items():
                parent_metrics[key] = parent_metrics.get(key, 0.0) + val
        tracker.log_batch(parent, metrics=parent_metrics)
        for o in outcomes:
            stage_parent_artifacts(o.parent_files, staging)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            log_staged_artifacts(tracker, parent, staging)
            # files the folds described for the parent (cache manifest, embeddings), written
            # here by the driver from the picklable descriptions the outcomes carry back
            max_bytes = cfg.tracking.log_embeddings_max_mb * 1e6
            deferred = [a for o in outcomes for a in o.deferred_parent_artifacts]
            for artifact_type, path in write_deferred_artifacts(
                deferred, tmp, max_capped_bytes=max_bytes
            ):
                tracker.log_artifact(parent, path, artifact_type)
            # significance: pairwise tests and permutation test
            pairwise = log_statistics(tracker, parent, cfg, state["data"], state["splits"],
                                      state["models"], scores, state["metrics"])  # fmt: skip
            if cfg.tracking.log_plots:
                log_plots(tracker, parent, cfg, outcomes, scores, state["metrics"], tmp, pairwise)


def _dataset_name(cfg: ExperimentConfig) -> str:
    if cfg.data is not None and cfg.data.path:
        return Path(cfg.data.path).stem
    return cfg.data.source if cfg.data is not None else "data"


def _dataset_source(cfg: ExperimentConfig, X: Any) -> str:
    """Where the data come from: the config's file, the synthetic generator, an Epochs
    file, a memmap's file, else ``in-memory``."""
    if cfg.data is not None:
        if cfg.data.path:
            return str(Path(cfg.data.path).resolve())
        return f"{cfg.data.source}:{json.dumps(cfg.data.params, sort_keys=True)}"
    filename = getattr(X, "filename", None)
    return str(filename) if filename else "in-memory"
