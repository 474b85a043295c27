"""Metrics by name: lookup, errors with close names, direction, values against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from coco_pipe.decoding.metrics import METRICS, default_metrics, resolve_metrics, score_all

Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 1, 0])
Y_PRED = np.array([0, 1, 0, 1, 1, 0, 1, 0])
PROBA = np.array([0.2, 0.6, 0.1, 0.8, 0.7, 0.4, 0.9, 0.3])


def test_resolve_by_name_keeps_the_order():
    names = ["roc_auc", "balanced_accuracy", "cohen_kappa"]
    metrics = resolve_metrics(names, "classification")
    assert [m.name for m in metrics] == names
    assert all(m.task == "classification" for m in metrics)
    assert [m.needs_score for m in metrics] == [True, False, False]
    assert [m.name for m in resolve_metrics(["mae", "r2"], "regression")] == ["mae", "r2"]


def test_unknown_name_and_wrong_task_are_errors():
    with pytest.raises(ValueError, match=r"unknown metric 'balanced_acc' in metrics; did you mean balanced_accuracy"):
        resolve_metrics(["balanced_acc"], "classification")
    with pytest.raises(ValueError, match=r"unknown metric 'zzz' in metrics \(known: balanced_accuracy,"):
        resolve_metrics(["zzz"], "classification")
    with pytest.raises(ValueError, match="metric 'r2' is a regression metric, but task='classification'"):
        resolve_metrics(["r2"], "classification")
    with pytest.raises(ValueError, match="metric 'accuracy' is a classification metric"):
        resolve_metrics(["accuracy"], "regression")


def test_greater_is_better():
    lower = {name for name, m in METRICS.items() if not m.greater_is_better}
    assert lower == {"mae", "rmse"}
    y = np.array([1.0, 2.0, 3.0, 4.0])
    for name in ("mae", "rmse", "r2", "pearson_r"):
        m = METRICS[name]
        good, bad = m.func(y, y + 0.1, None), m.func(y, y[::-1], None)
        assert (good > bad) == m.greater_is_better, name


def test_values_match_scikit_learn():
    scores = score_all(resolve_metrics(default_metrics("classification"), "classification"),
                       Y_TRUE, Y_PRED, np.c_[1 - PROBA, PROBA])  # fmt: skip
    assert scores == pytest.approx({
        "balanced_accuracy": skm.balanced_accuracy_score(Y_TRUE, Y_PRED),
        "accuracy": skm.accuracy_score(Y_TRUE, Y_PRED),
        "roc_auc": skm.roc_auc_score(Y_TRUE, PROBA),
        "f1_macro": skm.f1_score(Y_TRUE, Y_PRED, average="macro"),
    })  # fmt: skip
    assert METRICS["roc_auc"].func(Y_TRUE, Y_PRED, PROBA) == scores["roc_auc"]  # 1-D scores
    y, p = np.array([1.0, 2.0, 4.0, 3.0]), np.array([1.5, 2.0, 3.0, 3.5])
    reg = score_all(resolve_metrics(default_metrics("regression"), "regression"), y, p)
    assert reg == pytest.approx({"r2": skm.r2_score(y, p), "mae": skm.mean_absolute_error(y, p),
                                 "rmse": np.sqrt(skm.mean_squared_error(y, p))})  # fmt: skip


def test_multiclass_roc_auc_is_macro_ovr():
    y = np.array([0, 1, 2, 0, 1, 2])
    proba = np.eye(3)[[0, 1, 1, 0, 2, 2]] * 0.7 + 0.1
    expected = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert METRICS["roc_auc"].func(y, None, proba) == pytest.approx(expected)


def test_a_metric_that_cannot_be_computed_is_nan():
    scores = score_all(resolve_metrics(["roc_auc", "accuracy"], "classification"), Y_TRUE, Y_PRED)
    assert np.isnan(scores["roc_auc"]) and scores["accuracy"] == 0.75
    with pytest.raises(ValueError, match="roc_auc needs predict_proba or decision_function"):
        METRICS["roc_auc"].func(Y_TRUE, Y_PRED, None)


def test_default_metrics_resolve_for_their_task():
    for task in ("classification", "regression"):
        names = default_metrics(task)
        assert names and [m.name for m in resolve_metrics(names, task)] == names
    assert default_metrics("classification")[0] == "balanced_accuracy"
