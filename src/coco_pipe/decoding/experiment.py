"""Experiment: validate once, then for each model and outer fold fit on the training
partition only, score on the test partition, and record everything in MLflow."""

from __future__ import annotations

import logging
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ..data import EpochsData, data_fingerprint, validate_inputs
from ..tracking import FOLD_TAG, MODEL_TAG, ROLE_TAG, FoldReport, Tracker
from .builders import build_estimator, check_data_info, fit_estimator, iter_steps
from .configs import ExperimentConfig
from .metrics import resolve_metrics, score_all
from .splits import fitting_view, fold_tags, make_splits

logger = logging.getLogger(__name__)

CHANCE_MODEL = "chance"


@dataclass
class _FoldOutcome:
    model: str
    fold: int
    run_id: str
    scores: dict[str, float]
    predictions: pd.DataFrame | None
    failed: bool
    n_train: int
    n_test: int


def _progress(iterable, total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        iterable, total=total, desc=desc, disable=not (enabled and sys.stderr.isatty()), leave=False
    )


def prepare_inputs(cfg: ExperimentConfig, X, y=None, sample_metadata=None, *, sfreq=None, ch_names=None):
    """Validate the data, resolve the metrics and make the outer splits of an experiment
    config (everything checked before any fitting): ``(EpochsData, metrics, splits)``."""
    data = validate_inputs(X, y, sample_metadata, task=cfg.task, group_key=cfg.cv.group_key,
                           sfreq=sfreq, ch_names=ch_names)
    return data, resolve_metrics(cfg.metrics, cfg.task), make_splits(cfg.cv, data, cfg.random_state)


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
        if isinstance(config, (str, Path)):
            config = ExperimentConfig.from_yaml(config)
        elif isinstance(config, dict):
            config = ExperimentConfig.model_validate(config)
        elif not isinstance(config, ExperimentConfig):
            raise TypeError(
                f"config must be an ExperimentConfig, dict or YAML path, got {type(config).__name__}"
            )
        self.config = config

    # ------------------------------------------------------------------ run
    def run(
        self,
        X: Any,
        y: Any = None,
        sample_metadata: pd.DataFrame | None = None,
        *,
        sfreq: float | None = None,
        ch_names: list[str] | None = None,
    ):
        """Run the experiment and return its :class:`ExperimentResult` (read back from
        the tracking store).

        Parameters
        ----------
        X : mne.Epochs | ndarray (n_windows, n_channels, n_times) | ndarray (n_samples, n_features)
        y : array-like (n,), optional with mne.Epochs (event names are used)
        sample_metadata : DataFrame aligned with X; ``cv.group_key`` names the group column.
        sfreq, ch_names : for array input to models that need them (foundation models).
        """
        cfg = self.config
        # 1. everything that can be wrong is checked before any fitting or tracking write
        data, metrics, splits = prepare_inputs(cfg, X, y, sample_metadata, sfreq=sfreq, ch_names=ch_names)
        models = self._model_configs()
        prototypes = {}
        for name, mcfg in models.items():
            est = build_estimator(mcfg, data.info, cfg.random_state)
            check_data_info(est, data.info)
            prototypes[name] = est
        tuner = self._tuner(models)
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
            outcomes, parent_report = self._loop(
                tracker, parent, data, splits, models, prototypes, metrics, tuner
            )
            self._log_parent(
                tracker, parent, data, splits, models, outcomes, parent_report, metrics
            )
        except BaseException:
            status = "FAILED"
            raise
        finally:
            if tracker.owned_parent:
                tracker.end(parent, status)

        from .result import ExperimentResult

        return ExperimentResult.from_run(parent, tracking_uri=tracker.tracking_uri)

    # -------------------------------------------------------------- helpers
    def _model_configs(self) -> dict[str, Any]:
        cfg = self.config
        models = dict(cfg.models)
        if cfg.chance.dummy and CHANCE_MODEL not in models:
            from .configs import ClassicalModelConfig

            est = "DummyClassifier" if cfg.task == "classification" else "DummyRegressor"
            params = {"strategy": "prior"} if cfg.task == "classification" else {"strategy": "mean"}
            models[CHANCE_MODEL] = ClassicalModelConfig(estimator=est, params=params, scale=False)
        return models

    def _tuner(self, models: dict[str, Any]):
        tcfg = self.config.tuning
        if not tcfg.enabled:
            return None
        unknown = sorted(set(tcfg.search_space) - set(models))
        if unknown:
            raise ValueError(
                f"tuning.search_space names unknown model(s) {unknown}; models: {list(models)}"
            )
        from .tuning import check_search_space

        if tcfg.metric is not None:
            resolve_metrics([tcfg.metric], self.config.task)

        for name, space in tcfg.search_space.items():
            check_search_space(models[name], space)
        return tcfg

    def _loop(self, tracker, parent, data, splits, models, prototypes, metrics, tuner):
        cfg = self.config
        outcomes: list[_FoldOutcome] = []
        parent_report = FoldReport()
        self._cache_used: set[tuple[str, str]] = set()
        total = len(models) * len(splits)
        pairs = [(m, k) for m in models for k in range(len(splits))]
        for name, k in _progress(pairs, total, "folds", cfg.verbose):
            train, test = splits[k]
            outcome, report = self._run_fold(
                tracker,
                parent,
                data,
                name,
                models[name],
                prototypes[name],
                k,
                train,
                test,
                metrics,
                tuner,
            )
            outcomes.append(outcome)
            if "backbone.cache_root" in report.params:
                self._cache_used.add((report.params["backbone.cache_root"], report.params["backbone.fingerprint"]))
            parent_report.parent_artifacts.extend(report.parent_artifacts)
            for key, val in report.parent_metrics.items():
                parent_report.parent_metrics[key] = parent_report.parent_metrics.get(key, 0.0) + val
        return outcomes, parent_report

    def _run_fold(
        self, tracker, parent, data, name, mcfg, prototype, k, train, test, metrics, tuner
    ):
        cfg = self.config
        groups_test = (
            sorted(map(str, np.unique(data.groups[test]))) if data.groups is not None else []
        )
        run_id = tracker.start_child(
            parent,
            f"{name}/fold-{k}",
            tags={
                ROLE_TAG: "fold",
                MODEL_TAG: name,
                FOLD_TAG: k,
                "n_train": len(train),
                "n_test": len(test),
                "test_groups": ",".join(groups_test),
                "coco_pipe.model_kind": mcfg.kind,
                **fold_tags(cfg.cv, data, test),
            },
        )
        workdir = Path(tempfile.mkdtemp(prefix=f"coco-pipe-{name}-{k}-"))
        report = FoldReport()
        scores: dict[str, float] = {}
        preds = None
        failed = False
        t0 = time.perf_counter()
        fit_data = fitting_view(cfg.cv, data)
        try:
            fold_cfg = mcfg
            if tuner is not None and name in tuner.search_space:
                from .tuning import tune_model

                outcome = tune_model(
                    name,
                    mcfg,
                    tuner.search_space[name],
                    data=fit_data,
                    train_idx=train,
                    tuning=tuner,
                    metrics=metrics,
                    task=cfg.task,
                    tracker=tracker,
                    fold_run_id=run_id,
                    random_state=cfg.random_state + k,
                    info=data.info,
                    fold=k,
                    verbose=cfg.verbose,
                )
                fold_cfg = outcome.best_config
                report = report.merge(outcome.report)
                est = build_estimator(fold_cfg, data.info, cfg.random_state)
                t0 = time.perf_counter()  # fit_seconds: the refit only
            else:
                est = clone(prototype)
            fit_estimator(
                est,
                data.X[train],
                data.y[train],
                fit_data.groups[train] if fit_data.groups is not None else None,
            )
            fit_seconds = time.perf_counter() - t0
            for step in iter_steps(est):
                hook = getattr(step, "tracking_report", None)
                if callable(hook):
                    report = report.merge(hook(workdir))
            if report.failed:
                raise _ControlledFailure(report.failure_reason or "estimator reported a failed fit")
            X_test, scorer = data.X[test], est
            if isinstance(est, Pipeline) and est.steps[0][0] == "embed" and len(est.steps) > 1:
                # embed the test windows once for predict and predict_proba
                X_test, scorer = est.steps[0][1].transform(X_test), Pipeline(est.steps[1:])
            y_pred = scorer.predict(X_test)
            y_score, classes = _scores(scorer, X_test, cfg.task)
            scores = score_all(metrics, data.y[test], y_pred, y_score)
            preds = _prediction_table(name, k, test, data, y_pred, y_score, classes)
            params = {f"model.{key}": v for key, v in fold_cfg.flat_params().items()}
            params.update({"model.name": name, **report.params})
            tracker.log_batch(
                run_id,
                params=params,
                metrics={
                    **scores,
                    **report.metrics,
                    "fit_seconds": fit_seconds,
                    "predict_seconds": time.perf_counter() - t0 - fit_seconds,
                },
                tags=report.tags,
                step_metrics=report.step_metrics,
            )
            if cfg.tracking.log_predictions:
                tracker.log_table(run_id, preds, "predictions/predictions.csv")
            for artifact_type, path in report.artifacts:
                tracker.log_artifact(
                    run_id,
                    path,
                    artifact_type
                    if not Path(path).is_dir()
                    else f"{artifact_type}/{Path(path).name}",
                )
            tracker.end(run_id, "FINISHED")
        except Exception as exc:  # one failing fold does not stop the experiment
            failed = True
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
                    if artifact_type in ("diagnostics", "training_history", "model_card"):
                        tracker.log_artifact(run_id, path, artifact_type)
            finally:
                tracker.end(run_id, "FAILED")
            if cfg.on_error == "raise" and not isinstance(exc, _ControlledFailure):
                raise
        return _FoldOutcome(name, k, run_id, scores, preds, failed, len(train), len(test)), report

    def _log_parent(self, tracker, parent, data, splits, models, outcomes, parent_report, metrics):
        cfg = self.config
        rows = [
            {"Model": o.model, "Fold": o.fold, "Metric": m, "Value": v}
            for o in outcomes
            if not o.failed
            for m, v in o.scores.items()
        ]
        scores = pd.DataFrame(rows, columns=["Model", "Fold", "Metric", "Value"])
        agg: dict[str, float] = {}
        for (model, metric), grp in scores.groupby(["Model", "Metric"]):
            vals = grp["Value"].to_numpy(float)
            agg[f"{model}.{metric}.mean"] = float(np.nanmean(vals)) if len(vals) else float("nan")
            agg[f"{model}.{metric}.std"] = float(np.nanstd(vals)) if len(vals) else float("nan")
        for model in models:
            agg[f"{model}.n_failed_folds"] = float(
                sum(o.failed for o in outcomes if o.model == model)
            )
        agg.update(parent_report.parent_metrics)
        tracker.log_batch(parent, metrics=agg)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            seen = {}
            for artifact_type, path in parent_report.parent_artifacts:
                seen[(artifact_type, Path(path).name)] = path
            for (artifact_type, _), path in seen.items():
                if Path(path).exists():
                    tracker.log_artifact(parent, path, artifact_type)
            self._log_cache(tracker, parent, data, tmp)
            # significance: pairwise tests and permutation test
            try:
                self._log_statistics(tracker, parent, data, splits, models, scores, metrics, tmp)
            except ImportError:  # stats module not available
                logger.debug("statistics module not available")
            if cfg.tracking.log_plots:
                try:
                    self._log_plots(tracker, parent, outcomes, scores, metrics, tmp)
                except ImportError:
                    logger.debug("plotting module not available")

    def _log_cache(self, tracker, parent, data, tmp):
        """Cache manifest (fingerprints, counts, bytes) and, below the configured size, the
        embeddings this experiment used, so a run can be re-analysed from the store alone."""
        used = getattr(self, "_cache_used", set())
        if not used:
            return
        import json

        from ..foundation.cache import EmbeddingCache, window_digests

        digests = window_digests(data.X)
        limit = self.config.tracking.log_embeddings_max_mb * 1e6
        manifests = {}
        for root, fp in sorted(used):
            cache = EmbeddingCache(root)
            manifests[fp] = cache.manifest([fp])
            dig, emb = cache.export(fp, digests)
            if limit and 0 < emb.nbytes <= limit:
                path = tmp / f"embeddings_{fp[:16]}.npz"
                np.savez_compressed(path, digests=dig, embeddings=emb)
                tracker.log_artifact(parent, path, "cache")
        path = tmp / "cache_manifest.json"
        path.write_text(json.dumps(manifests, indent=2, default=str))
        tracker.log_artifact(parent, path, "cache")

    def _log_statistics(self, tracker, parent, data, splits, models, scores, metrics, tmp):
        from .stats import pairwise_comparisons

        cfg = self.config
        if scores.empty or scores["Model"].nunique() < 2:
            return
        n_train = int(np.mean([len(tr) for tr, _ in splits]))
        n_test = int(np.mean([len(te) for _, te in splits]))
        main = metrics[0].name
        table = pairwise_comparisons(
            scores,
            main,
            n_train=n_train,
            n_test=n_test,
            test=cfg.chance.comparison_test,
            alpha=cfg.chance.alpha,
        )
        tracker.log_table(parent, table, "statistics/pairwise.csv")
        if cfg.chance.n_permutations > 0:
            from .stats import permutation_test

            means = scores[scores["Metric"] == main].groupby("Model")["Value"].mean()
            means = means.drop(CHANCE_MODEL, errors="ignore")
            best = means.idxmax() if metrics[0].greater_is_better else means.idxmin()
            mcfg = models[best]
            res = permutation_test(
                lambda: build_estimator(mcfg, data.info, cfg.random_state),
                data.X,
                data.y,
                data.groups,
                splits,
                lambda yt, yp: metrics[0].func(yt, yp, None),
                cfg.chance.n_permutations,
                cfg.random_state, greater_is_better=metrics[0].greater_is_better,
            )
            tracker.log_batch(
                parent,
                metrics={"permutation.p_value": res["p_value"], "permutation.score": res["score"]},
                tags={"permutation.model": best, "permutation.metric": main},
            )
            tracker.log_table(
                parent,
                pd.DataFrame({"null_score": res["null_scores"]}),
                "statistics/permutation_null.csv",
            )

    def _log_plots(self, tracker, parent, outcomes, scores, metrics, tmp):
        from ..reporting import plots

        cfg = self.config
        main = metrics[0].name
        if not scores.empty:
            chance = None
            if CHANCE_MODEL in set(scores["Model"]):
                chance = float(
                    scores[(scores.Model == CHANCE_MODEL) & (scores.Metric == main)]["Value"].mean()
                )
            tracker.log_artifact(
                parent,
                plots.plot_fold_scores(
                    scores, main, tmp / f"fold_scores_{main}.png", chance=chance
                ),
                "plots",
            )
        if cfg.task != "classification":
            return
        for model in dict.fromkeys(o.model for o in outcomes):
            frames = [
                o.predictions for o in outcomes if o.model == model and o.predictions is not None
            ]
            if not frames:
                continue
            preds = pd.concat(frames, ignore_index=True)
            tracker.log_artifact(
                parent,
                plots.plot_confusion_matrix(
                    preds, tmp / f"confusion_{model}.png", title=f"{model} (pooled over folds)"
                ),
                "plots",
            )
            proba_cols = [c for c in preds.columns if c.startswith("proba_")]
            if len(proba_cols) == 2:
                positive = proba_cols[1][len("proba_") :]
                tracker.log_artifact(
                    parent,
                    plots.plot_roc_curve(preds, tmp / f"roc_{model}.png", positive_label=positive),
                    "plots",
                )


class _ControlledFailure(RuntimeError):
    """An estimator reported a failed fit (e.g. diverged training)."""


def _scores(est, X, task):
    if task != "classification":
        return None, None
    classes = getattr(est, "classes_", None)
    if hasattr(est, "predict_proba"):
        try:
            return est.predict_proba(X), classes
        except (AttributeError, NotImplementedError):
            pass
    if hasattr(est, "decision_function"):
        try:
            return est.decision_function(X), classes
        except (AttributeError, NotImplementedError):
            pass
    return None, classes


def _prediction_table(name, k, test, data: EpochsData, y_pred, y_score, classes) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "Model": name,
            "Fold": k,
            "SampleIndex": test,
            "y_true": data.y[test],
            "y_pred": y_pred,
        }
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
