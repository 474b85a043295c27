"""Streaming a window source through a pipeline's stateless leading steps: the same fit
and scores as on the array, without holding the windows."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from mne.decoding import Vectorizer
from pyriemann.tangentspace import TangentSpace
from pyriemann.utils.covariance import covariances
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import coco_pipe.data.chunks as chunks
from coco_pipe.data import ArraySource, MemmapSource
from coco_pipe.decoding.streaming import (
    fit_streamed,
    scoring_split_streamed,
    stateless_prefix,
    stream_transform,
)


class LogVariance(TransformerMixin, BaseEstimator):
    """Stateless log-variance per channel that records the size of every batch it sees."""

    def __init__(self, batch_size=None):
        self.batch_size = batch_size

    def fit(self, X, y=None):
        self.n_channels_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        X = np.asarray(X)
        self.seen_ = [*getattr(self, "seen_", []), len(X)]
        return np.log(X.var(axis=2))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class GroupsLR(LogisticRegression):
    def fit(self, X, y, groups=None, sample_weight=None):
        self.groups_seen_ = None if groups is None else np.asarray(groups)
        return super().fit(X, y)


def oas_covariances(X):
    """Covariance per window (a stateless function: FunctionTransformer needs no fit)."""
    return covariances(np.asarray(X, dtype=np.float64), estimator="oas")


def _xy(n=120, ch=4, t=64, seed=0):
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    X = rng.normal(size=(n, ch, t))
    X[y == 1, 0] *= 2.0
    return X, y


def test_stateless_prefix_counts_leading_steps_only():
    assert stateless_prefix(LogisticRegression()) == 0
    pipe = make_pipeline(LogVariance(), "passthrough", StandardScaler(), LogVariance(),
                         LogisticRegression())
    assert stateless_prefix(pipe) == 2  # a step that learns ends the prefix
    covs = FunctionTransformer(oas_covariances)
    assert stateless_prefix(make_pipeline(covs, TangentSpace(), LogisticRegression())) == 1
    assert stateless_prefix(make_pipeline(LogVariance(), FunctionTransformer())) == 1  # never the last


def test_streamed_fit_and_scores_equal_the_array_ones(monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 7 * 4 * 64 * 4)  # 7 windows per chunk
    X, y = _xy()
    train, test = np.arange(0, 120, 3), np.setdiff1d(np.arange(120), np.arange(0, 120, 3))

    def pipe():
        return make_pipeline(FunctionTransformer(oas_covariances), TangentSpace(),
                             LogisticRegression())

    plain = pipe().fit(X[train].astype(np.float32), y[train])
    streamed = pipe()
    assert fit_streamed(streamed, ArraySource(X).subset(train), y[train]) is streamed
    scorer, Z = scoring_split_streamed(streamed, ArraySource(X).subset(test))
    assert scorer is streamed.steps[-1][1] and Z.shape == (len(test), 10)
    np.testing.assert_allclose(scorer.predict_proba(Z), plain.predict_proba(X[test].astype(np.float32)),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(streamed.predict(X[test]), plain.predict(X[test]))


def test_groups_reach_the_final_step_and_chunks_hold_whole_batches(monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 25 * 4 * 64 * 4)  # 25 windows per chunk
    X, y = _xy(n=100)
    pipe = Pipeline([("logvar", LogVariance(batch_size=8)), ("scale", StandardScaler()),
                     ("clf", GroupsLR())])
    groups = np.repeat(np.arange(10), 10)
    fit_streamed(pipe, ArraySource(X), y, groups)
    assert pipe.named_steps["logvar"].n_channels_ == 4
    assert pipe.named_steps["logvar"].seen_ == [24, 24, 24, 24, 4]  # 3 batches of 8 per chunk
    np.testing.assert_array_equal(pipe.named_steps["clf"].groups_seen_, groups)


def test_an_estimator_that_learns_from_the_windows_gets_them_as_one_array():
    X, y = _xy(n=40)
    pipe = make_pipeline(Vectorizer(), LogisticRegression())  # nothing to stream
    fit_streamed(pipe, ArraySource(X), y)
    ref = make_pipeline(Vectorizer(), LogisticRegression()).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(pipe.predict_proba(X), ref.predict_proba(X))
    scorer, Xs = scoring_split_streamed(pipe, ArraySource(X))
    assert Xs.shape == (40, 4 * 64)


def test_a_streamed_fold_holds_features_not_windows(tmp_path, monkeypatch):
    """Fitting on a 40 MB memmap of float64 windows allocates a few chunks, not a partition."""
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 2**20)
    X, y = _xy(n=4000, ch=8, t=160)
    np.save(tmp_path / "x.npy", X)
    source = MemmapSource.from_npy(tmp_path / "x.npy")
    del X
    pipe = make_pipeline(LogVariance(), StandardScaler(), LogisticRegression())
    fit_streamed(make_pipeline(LogVariance(), LogisticRegression()), source.subset([0, 1]), [0, 1])
    tracemalloc.start()
    fit_streamed(pipe, source.subset(np.arange(2000)), y[:2000])
    scoring_split_streamed(pipe, source.subset(np.arange(2000, 4000)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20 < source.nbytes / 2  # half of X (a partition) as float32: 10 MB


def test_empty_sources_cannot_be_streamed():
    with pytest.raises(ValueError, match="cannot transform an empty window source"):
        stream_transform([("v", LogVariance())], ArraySource(np.zeros((0, 2, 3))))


def logvar_pipeline():
    """A classical pipeline whose features stream: log-variance, scaling, logistic regression."""
    return make_pipeline(LogVariance(), StandardScaler(), LogisticRegression(max_iter=500))


def test_experiment_on_a_npy_path_scores_as_on_the_array(
    small_epochs, tracking_uri, tmp_path, register_estimator, monkeypatch
):
    """A float64 .npy file (read lazily, cast per chunk) gives the fold scores of the
    in-memory float32 array, for a streamed classical pipeline and a frozen backbone."""
    from coco_pipe import Experiment
    from coco_pipe.decoding.configs import ExperimentConfig
    from coco_pipe.foundation.specs import ESTIMATOR_SPECS

    monkeypatch.setattr(chunks, "CHUNK_BYTES", 19 * 100 * 4 * 10)  # 10 windows per chunk
    X, y, meta, info = small_epochs
    np.save(tmp_path / "x.npy", np.asarray(X, dtype=np.float64))
    register_estimator("LogVarLR", logvar_pipeline)
    cfg = ExperimentConfig.model_validate({
        "models": {
            "logvar": {"kind": "classical", "estimator": "LogVarLR"},
            "biot": {"kind": "frozen_backbone",
                     "backbone": {"model_key": "biot", "weights": "random", "batch_size": 4,
                                  "model_kwargs": ESTIMATOR_SPECS["biot"].small_kwargs},
                     "head": {"estimator": "LogisticRegression", "params": {"max_iter": 200}}},
        },
        "cv": {"strategy": "group_kfold", "n_splits": 3, "group_key": "Subject"},
        "tracking": {"tracking_uri": tracking_uri, "log_plots": False},
        "chance": {"dummy": False}, "verbose": False, "on_error": "raise",
    })
    scores = []
    for given in (np.asarray(X, dtype=np.float32), str(tmp_path / "x.npy")):
        res = Experiment(cfg).run(given, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
        folds = res.get_fold_runs()
        assert len(folds) == 6 and (folds.Status == "FINISHED").all()
        scores.append(res.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).reset_index(drop=True))
    np.testing.assert_allclose(scores[0]["Value"], scores[1]["Value"], rtol=0, atol=1e-6)
