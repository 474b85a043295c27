"""The experiment run's summary: metrics aggregated over folds, model comparisons,
the permutation test and the headline plots, logged on the parent run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import EpochsData
from ..reporting import plots
from ..tracking import Tracker
from .builders import build_estimator
from .configs import ExperimentConfig
from .fold import FoldOutcome
from .metrics import Metric
from .prepare import CHANCE_MODEL
from .stats import pairwise_comparisons, permutation_test

SCORE_COLUMNS = ["Model", "Fold", "Metric", "Value"]


def fold_scores(outcomes: Sequence[FoldOutcome]) -> pd.DataFrame:
    """Long table Model, Fold, Metric, Value of the folds that did not fail.

    Examples
    --------
    >>> fold_scores([]).columns.tolist()
    ['Model', 'Fold', 'Metric', 'Value']
    """
    rows = [
        {"Model": o.model, "Fold": o.fold, "Metric": m, "Value": v}
        for o in outcomes
        if not o.failed
        for m, v in o.scores.items()
    ]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def model_metrics(scores: pd.DataFrame, model: str, outcomes: Sequence[FoldOutcome]) -> dict[str, float]:
    """The metrics of one model run: each metric's mean over the model's successful folds
    under its plain name, ``<metric>_std``, ``n_folds`` (successful) and ``n_failed_folds``.

    Plain names let MLflow's compare and chart views put the model runs side by side.

    Examples
    --------
    >>> s = pd.DataFrame({"Model": "m", "Fold": [0, 1], "Metric": "acc", "Value": [.6, .8]})
    >>> out = model_metrics(s, "m", [])
    >>> round(out["acc"], 3), round(out["acc_std"], 3)
    (0.7, 0.1)
    """
    out: dict[str, float] = {}
    mine = scores[scores["Model"] == model]
    for metric, grp in mine.groupby("Metric", sort=False):
        vals = grp["Value"].to_numpy(float)
        out[str(metric)] = float(np.nanmean(vals)) if len(vals) else float("nan")
        out[f"{metric}_std"] = float(np.nanstd(vals)) if len(vals) else float("nan")
    folds = [o for o in outcomes if o.model == model]
    out["n_folds"] = float(sum(not o.failed for o in folds))
    out["n_failed_folds"] = float(sum(o.failed for o in folds))
    return out


def aggregate_metrics(
    scores: pd.DataFrame, models: Sequence[str], outcomes: Sequence[FoldOutcome]
) -> dict[str, float]:
    """``<model>.<metric>.mean`` / ``.std`` over folds and ``<model>.n_failed_folds``
    (the :func:`model_metrics` of every model, under one namespace).

    Examples
    --------
    >>> s = pd.DataFrame({"Model": "m", "Fold": [0, 1], "Metric": "acc", "Value": [.6, .8]})
    >>> round(aggregate_metrics(s, ["m"], [])["m.acc.mean"], 3)
    0.7
    """
    agg: dict[str, float] = {}
    for model in models:
        per_model = model_metrics(scores, model, outcomes)
        metrics = set(scores.loc[scores["Model"] == model, "Metric"])
        for metric in metrics:
            agg[f"{model}.{metric}.mean"] = per_model[str(metric)]
            agg[f"{model}.{metric}.std"] = per_model[f"{metric}_std"]
        agg[f"{model}.n_failed_folds"] = per_model["n_failed_folds"]
    return agg


def log_staged_artifacts(tracker: Tracker, parent: str, staging: Path) -> None:
    """Log the folds' parent-run artifacts staged under ``staging/<type>/<name>``."""
    if not staging.exists():
        return
    for type_dir in sorted(p for p in staging.iterdir() if p.is_dir()):
        for path in sorted(type_dir.iterdir()):
            tracker.log_artifact(parent, path, type_dir.name)


def log_statistics(
    tracker: Tracker,
    parent: str,
    cfg: ExperimentConfig,
    data: EpochsData,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    models: dict[str, Any],
    scores: pd.DataFrame,
    metrics: Sequence[Metric],
) -> pd.DataFrame | None:
    """Pairwise model comparisons (``statistics/pairwise.csv``, also returned for the
    headline plot) and, with ``chance.n_permutations``, the permutation test of the best model."""
    if scores.empty or scores["Model"].nunique() < 2:
        return None
    n_train = int(np.mean([len(tr) for tr, _ in splits]))
    n_test = int(np.mean([len(te) for _, te in splits]))
    main = metrics[0].name
    table = pairwise_comparisons(
        scores, main, n_train=n_train, n_test=n_test, test=cfg.chance.comparison_test,
        alpha=cfg.chance.alpha,
    )  # fmt: skip
    tracker.log_table(parent, table, "statistics/pairwise.csv")
    if cfg.chance.n_permutations <= 0:
        return table
    means = scores[scores["Metric"] == main].groupby("Model")["Value"].mean()
    means = means.drop(CHANCE_MODEL, errors="ignore")
    best = means.idxmax() if metrics[0].greater_is_better else means.idxmin()
    mcfg = models[best]
    res = permutation_test(
        lambda: build_estimator(mcfg, data.info, cfg.random_state),
        data.X, data.y, data.groups, splits, lambda yt, yp: metrics[0].func(yt, yp, None),
        cfg.chance.n_permutations, cfg.random_state,
        greater_is_better=metrics[0].greater_is_better,
    )  # fmt: skip
    tracker.log_batch(
        parent,
        metrics={"permutation.p_value": res["p_value"], "permutation.score": res["score"]},
        tags={"permutation.model": best, "permutation.metric": main},
    )
    tracker.log_table(
        parent, pd.DataFrame({"null_score": res["null_scores"]}), "statistics/permutation_null.csv"
    )
    return table


def log_plots(
    tracker: Tracker,
    parent: str,
    cfg: ExperimentConfig,
    outcomes: Sequence[FoldOutcome],
    scores: pd.DataFrame,
    metrics: Sequence[Metric],
    tmp: Path,
    pairwise: pd.DataFrame | None = None,
) -> None:
    """The headline plot (every model's fold scores, chance, each model against the best from
    ``pairwise``) and, for classification, each model's confusion matrix (pooled over folds)
    and (binary tasks) ROC curves per fold with their mean, as ``plots/*.png``."""
    main = metrics[0].name
    if not scores.empty:
        chance = None
        if CHANCE_MODEL in set(scores["Model"]):
            chance = float(
                scores[(scores.Model == CHANCE_MODEL) & (scores.Metric == main)]["Value"].mean()
            )
        path = plots.plot_fold_scores(scores, main, tmp / f"fold_scores_{main}.png", chance=chance,
                                      pairwise=pairwise, greater_is_better=metrics[0].greater_is_better)  # fmt: skip
        tracker.log_artifact(parent, path, "plots")
    if cfg.task != "classification":
        return
    for model in dict.fromkeys(o.model for o in outcomes):
        frames = [o.predictions for o in outcomes if o.model == model and o.predictions is not None]
        if not frames:
            continue
        preds = pd.concat(frames, ignore_index=True)
        path = plots.plot_confusion_matrix(
            preds, tmp / f"confusion_{model}.png", title=f"{model} (pooled over folds)"
        )
        tracker.log_artifact(parent, path, "plots")
        proba_cols = [c for c in preds.columns if c.startswith("proba_")]
        if len(proba_cols) == 2:
            positive = proba_cols[1][len("proba_") :]
            path = plots.plot_roc_curve(preds, tmp / f"roc_{model}.png", positive_label=positive)
            tracker.log_artifact(parent, path, "plots")


__all__ = [
    "aggregate_metrics",
    "model_metrics",
    "fold_scores",
    "log_plots",
    "log_staged_artifacts",
    "log_statistics",
]
