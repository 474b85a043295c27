"""Metrics by name, for classification and regression."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm


@dataclass(frozen=True)
class Metric:
    """A named metric: ``func(y_true, y_pred, y_score)`` and its direction."""

    name: str
    task: str
    needs_score: bool
    greater_is_better: bool
    func: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]


def _roc_auc(y_true, y_pred, y_score) -> float:
    if y_score is None:
        raise ValueError("roc_auc needs predict_proba or decision_function scores")
    y_score = np.asarray(y_score)
    if y_score.ndim == 2 and y_score.shape[1] == 2:
        y_score = y_score[:, 1]
    if y_score.ndim == 1:
        return float(skm.roc_auc_score(y_true, y_score))
    return float(skm.roc_auc_score(y_true, y_score, multi_class="ovr", average="macro"))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric(
            "balanced_accuracy",
            "classification",
            False,
            True,
            lambda t, p, s: float(skm.balanced_accuracy_score(t, p)),
        ),
        Metric(
            "accuracy",
            "classification",
            False,
            True,
            lambda t, p, s: float(skm.accuracy_score(t, p)),
        ),
        Metric("roc_auc", "classification", True, True, _roc_auc),
        Metric(
            "f1_macro",
            "classification",
            False,
            True,
            lambda t, p, s: float(skm.f1_score(t, p, average="macro")),
        ),
        Metric(
            "cohen_kappa",
            "classification",
            False,
            True,
            lambda t, p, s: float(skm.cohen_kappa_score(t, p)),
        ),
        Metric("r2", "regression", False, True, lambda t, p, s: float(skm.r2_score(t, p))),
        Metric(
            "mae", "regression", False, False, lambda t, p, s: float(skm.mean_absolute_error(t, p))
        ),
        Metric(
            "rmse",
            "regression",
            False,
            False,
            lambda t, p, s: float(np.sqrt(skm.mean_squared_error(t, p))),
        ),
        Metric(
            "pearson_r",
            "regression",
            False,
            True,
            lambda t, p, s: float(np.corrcoef(np.asarray(t, float), np.asarray(p, float))[0, 1]),
        ),
    ]
}


def default_metrics(task: str) -> list[str]:
    """Default metric names for a task."""
    if task == "classification":
        return ["balanced_accuracy", "accuracy", "roc_auc", "f1_macro"]
    return ["r2", "mae", "rmse"]


def resolve_metrics(names: list[str], task: str) -> list[Metric]:
    """Look metrics up by name; unknown names or names of the other task are errors."""
    out = []
    for name in names:
        if name not in METRICS:
            close = difflib.get_close_matches(name, list(METRICS), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"unknown metric {name!r} in metrics{hint} (known: {', '.join(METRICS)})"
            )
        metric = METRICS[name]
        if metric.task != task:
            raise ValueError(f"metric {name!r} is a {metric.task} metric, but task={task!r}")
        out.append(metric)
    return out


def score_all(metrics: list[Metric], y_true, y_pred, y_score=None) -> dict[str, float]:
    """Compute every metric; a metric that cannot be computed gives NaN."""
    scores = {}
    for m in metrics:
        try:
            scores[m.name] = m.func(y_true, y_pred, y_score if m.needs_score else None)
        except ValueError:
            scores[m.name] = float("nan")
    return scores
