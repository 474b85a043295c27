"""The parent run's summary tables: fold scores of the folds that finished, aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coco_pipe.decoding.fold import FoldOutcome
from coco_pipe.decoding.summary import aggregate_metrics, fold_scores


def _outcome(model, fold, scores, failed=False):
    return FoldOutcome(model, fold, f"run-{model}-{fold}", scores, None, failed, 8, 2)


def test_fold_scores_leave_failed_folds_out():
    outcomes = [
        _outcome("a", 0, {"acc": 0.8, "auc": 0.9}),
        _outcome("a", 1, {"acc": 0.6, "auc": 0.7}),
        _outcome("a", 2, {"acc": 0.1}, failed=True),  # scores of a fold that failed late
        _outcome("b", 0, {"acc": 0.5, "auc": 0.5}),
    ]
    scores = fold_scores(outcomes)
    assert scores.columns.tolist() == ["Model", "Fold", "Metric", "Value"]
    assert len(scores) == 6 and 2 not in set(scores.Fold)
    agg = aggregate_metrics(scores, ["a", "b", "c"], outcomes)
    assert agg["a.acc.mean"] == pytest.approx(0.7) and agg["a.acc.std"] == pytest.approx(0.1)
    assert agg["b.auc.mean"] == 0.5 and agg["b.auc.std"] == 0.0
    assert (agg["a.n_failed_folds"], agg["b.n_failed_folds"], agg["c.n_failed_folds"]) == (1, 0, 0)
    assert "c.acc.mean" not in agg  # a model without finished folds has no mean


def test_aggregate_ignores_nan_scores():
    scores = pd.DataFrame({"Model": "m", "Fold": [0, 1, 2], "Metric": "auc",
                           "Value": [0.6, np.nan, 0.8]})  # fmt: skip
    assert aggregate_metrics(scores, ["m"], [])["m.auc.mean"] == pytest.approx(0.7)
