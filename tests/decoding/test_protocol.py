"""The estimator protocol the loop relies on: scoring a pipeline by its last step on windows
transformed once, score fallbacks, merged reports, the epoch callback and fit failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from coco_pipe.decoding.protocol import (
    collect_reports,
    final_step,
    fit_failure,
    predict_scores,
    scoring_split,
    set_epoch_callback,
)
from coco_pipe.tracking import FoldReport


class CountingScaler(TransformerMixin, BaseEstimator):
    """Stateless transformer (no fitted attribute) counting its transform calls."""

    def __init__(self, factor=2.0):
        self.factor = factor

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        self.calls = getattr(self, "calls", 0) + 1
        return np.asarray(X) * self.factor


class Reporter(TransformerMixin, BaseEstimator):
    def __init__(self, tag="a"):
        self.tag = tag

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return X

    def tracking_report(self, workdir):
        return FoldReport(params={f"{self.tag}.workdir": str(workdir)}, metrics={self.tag: 1.0})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 30)
    return rng.normal(size=(60, 4)) + y[:, None], y


@pytest.mark.parametrize("first", ["embed", "features", "passthrough"])
def test_scoring_split_equals_the_pipeline(data, first):
    X, y = data
    steps = [("pre", CountingScaler()), ("scale", StandardScaler()), ("clf", LogisticRegression())]
    steps[0] = (first, "passthrough") if first == "passthrough" else (first, CountingScaler())
    pipe = Pipeline(steps).fit(X, y)
    scorer, Xs = scoring_split(pipe, X)
    assert scorer is pipe.steps[-1][1]
    np.testing.assert_array_equal(scorer.predict(Xs), pipe.predict(X))
    np.testing.assert_allclose(scorer.predict_proba(Xs), pipe.predict_proba(X))
    if first != "passthrough":  # once for scoring_split, once more for each pipeline call
        assert pipe.steps[0][1].calls == 1 + 1 + 1 + 1  # (fit_transform, split, predict, proba)


def test_scoring_split_leaves_non_pipelines_and_checks_fitted(data):
    X, y = data
    est = LogisticRegression().fit(X, y)
    assert scoring_split(est, X) == (est, X)
    one = make_pipeline(LogisticRegression()).fit(X, y)
    assert scoring_split(one, X)[1] is X
    with pytest.raises(NotFittedError):
        scoring_split(make_pipeline(CountingScaler(), LogisticRegression()), X)


def test_predict_scores_falls_back_to_decision_function(data):
    X, y = data
    proba = predict_scores(LogisticRegression().fit(X, y), X)
    assert proba.shape == (60, 2) and np.allclose(proba.sum(axis=1), 1)
    assert predict_scores(RidgeClassifier().fit(X, y), X).shape == (60,)

    class Refuses(ClassifierMixin, BaseEstimator):
        def predict_proba(self, X):
            raise NotImplementedError

    assert predict_scores(Refuses(), X) is None


def test_collect_reports_merges_every_step(tmp_path, data):
    X, y = data
    pipe = Pipeline([("a", Reporter("a")), ("inner", make_pipeline(Reporter("b"))),
                     ("clf", LogisticRegression())]).fit(X, y)  # fmt: skip
    report = collect_reports(pipe, tmp_path)
    assert report.params == {"a.workdir": str(tmp_path), "b.workdir": str(tmp_path)}
    assert report.metrics == {"a": 1.0, "b": 1.0}
    assert collect_reports(LogisticRegression(), Path(".")) == FoldReport()


def test_epoch_callback_and_fit_failure_on_the_final_step():
    class Epochwise(ClassifierMixin, BaseEstimator):
        def __init__(self, epoch_callback=None):
            self.epoch_callback = epoch_callback

    pipe = make_pipeline(StandardScaler(), Epochwise())
    assert set_epoch_callback(pipe, print) is True
    assert final_step(pipe).epoch_callback is print
    assert set_epoch_callback(make_pipeline(LogisticRegression()), print) is False
    est = Epochwise()
    assert fit_failure(est) is None
    est.failed_, est.failure_reason_ = True, "loss diverged at epoch 3"
    assert fit_failure(make_pipeline(StandardScaler(), est)) == "loss diverged at epoch 3"
    est.failure_reason_ = ""
    assert fit_failure(est) == "training failed"
