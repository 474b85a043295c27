"""Experiment: validate once, then for each model and outer fold fit on the training
partition only, score on the test partition, and record everything in MLflow.

The loop drives every estimator through the protocol of :mod:`coco_pipe.decoding.protocol`
and never names a model kind; one fold is :func:`coco_pipe.decoding.fold.run_fold`, the
parent run's summary is :mod:`coco_pipe.decoding.summary`.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..data import data_fingerprint
from ..tracking import FoldReport, Tracker
from ..tracking.report import write_deferred_artifacts
from .builders import build_estimator, check_data_info
from .configs import ExperimentConfig
from .fold import FoldOutcome, FoldTask, run_fold
from .logged_model import log_best_fold_models
from .prepare import CHANCE_MODEL, as_experiment_config, model_configs, prepare_inputs
from .result import ExperimentResult
from .summary import aggregate_metrics, fold_scores, log_plots, log_staged_artifacts, log_statistics
from .tuning import check_tuning

logger = logging.getLogger(__name__)

__all__ = ["CHANCE_MODEL", "Experiment", "prepare_inputs"]


def _progress(iterable, total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        iterable, total=total, desc=desc, disable=not (enabled and sys.stderr.isatty()), leave=False
    )


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
    ...                        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"))
    >>> result = Experiment(cfg).run(epochs)                           # doctest: +SKIP
    >>> result.summary()                                               # doctest: +SKIP
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
        unit: str | None = None,
    ):
        """Run the experiment and return its :class:`ExperimentResult` (read back from
        the tracking store).

        Parameters
        ----------
        X : mne.Epochs | ndarray (n_windows, n_channels, n_times) | ndarray (n_samples, n_features)
        y : array-like (n,), optional with mne.Epochs (event names are used)
        sample_metadata : DataFrame aligned with X; ``cv.group_key`` names the group column.
        sfreq, ch_names : for array input to models that need them (foundation models).
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
        tuner = check_tuning(cfg.tuning, models, cfg.task) if cfg.tuning.enabled else None
        tracker = Tracker(cfg.tracking.tracking_uri, cfg.tracking.experiment_name)

        # 2. the loop
        run_name = (
            cfg.tracking.run_name
            or f"{cfg.tracking.experiment_name}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        parent = tracker.start_parent(
            run_name,
            tags={
                **cfg.tracking.tags,
                "coco_pipe.models": ",".join(models),
                "coco_pipe.metrics": ",".join(cfg.metrics),
                "coco_pipe.task": cfg.task,
                "coco_pipe.data_fingerprint": data_fingerprint(data),
                "coco_pipe.n_folds": str(len(splits)),
            },
        )
        status = "FINISHED"
        try:
            tracker.log_text(parent, cfg.to_yaml(), "config/experiment.yaml")
            tracker.log_batch(
                parent,
                params={
                    "task": cfg.task,
                    "cv.strategy": cfg.cv.strategy,
                    "cv.n_splits": len(splits),
                    "cv.group_key": cfg.cv.group_key,
                    "random_state": cfg.random_state,
                    "data.n_windows": len(data.y),
                    "data.shape": str(tuple(data.X.shape)),
                    "data.sfreq": data.sfreq,
                    "data.n_channels": data.info.n_channels,
                },
            )
            with tempfile.TemporaryDirectory(prefix="coco-pipe-parent-") as staging:
                outcomes, parent_report = self._loop(
                    tracker, parent, data, splits, models, prototypes, metrics, tuner, Path(staging)
                )
                self._log_parent(
                    tracker, parent, data, splits, models, outcomes, parent_report, metrics,
                    Path(staging),
                )  # fmt: skip
        except BaseException:
            status = "FAILED"
            raise
        finally:
            if tracker.owned_parent:
                tracker.end(parent, status)

        return ExperimentResult.from_run(parent, tracking_uri=tracker.tracking_uri)

    # -------------------------------------------------------------- helpers
    def _loop(self, tracker, parent, data, splits, models, prototypes, metrics, tuner, staging):
        cfg = self.config
        outcomes: list[FoldOutcome] = []
        parent_report = FoldReport()
        total = len(models) * len(splits)
        pairs = [(m, k) for m in models for k in range(len(splits))]
        for name, k in _progress(pairs, total, "folds", cfg.verbose):
            train, test = splits[k]
            task = FoldTask(name, models[name], prototypes[name], k, train, test)
            outcome, report = run_fold(cfg, tracker, parent, data, task, metrics, tuner, staging)
            outcomes.append(outcome)
            parent_report.deferred_parent_artifacts.extend(report.deferred_parent_artifacts)
            for key, val in report.parent_metrics.items():
                parent_report.parent_metrics[key] = parent_report.parent_metrics.get(key, 0.0) + val
        return outcomes, parent_report

    def _log_parent(
        self, tracker, parent, data, splits, models, outcomes, parent_report, metrics, staging
    ):
        cfg = self.config
        if cfg.tracking.log_models == "best":  # the best fold of each model, now all are known
            log_best_fold_models(tracker, outcomes, metrics[0].name, metrics[0].greater_is_better)
        scores = fold_scores(outcomes)
        agg = aggregate_metrics(scores, models, outcomes)
        agg.update(parent_report.parent_metrics)
        tracker.log_batch(parent, metrics=agg)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            log_staged_artifacts(tracker, parent, staging)
            max_bytes = cfg.tracking.log_embeddings_max_mb * 1e6
            for artifact_type, path in write_deferred_artifacts(
                parent_report.deferred_parent_artifacts, tmp, max_capped_bytes=max_bytes
            ):
                tracker.log_artifact(parent, path, artifact_type)
            # significance: pairwise tests and permutation test
            pairwise = log_statistics(tracker, parent, cfg, data, splits, models, scores, metrics)
            if cfg.tracking.log_plots:
                log_plots(tracker, parent, cfg, outcomes, scores, metrics, tmp, pairwise)

