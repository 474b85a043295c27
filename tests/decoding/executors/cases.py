"""The experiments of the executor tests: a classical + frozen-backbone (small random-init
CBraMod) + fine-tuning (EEGNet, one epoch) experiment, and an estimator that kills its worker
(a module of its own: workers receive its classes by value, see :func:`pickle_by_value`)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    NeuralFineTuneConfig,
    TrackingConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

#: The pid that must never be killed (the test process itself).
DRIVER_ENV = "COCO_PIPE_TEST_DRIVER_PID"


def mixed_config(tracking_uri: str, **execution) -> ExperimentConfig:
    small = ESTIMATOR_SPECS["cbramod"].small_kwargs
    return ExperimentConfig(
        models={
            "tangent": ClassicalModelConfig(estimator="TangentSpace_LR"),
            "probe": FrozenBackboneDecoderConfig(
                backbone=FoundationEmbeddingModelConfig(model_key="cbramod", weights="random",
                                                        model_kwargs=small),
                head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 300}),
            ),
            "eegnet": NeuralFineTuneConfig(model_key="eegnet", weights="random", train_mode="full",
                                           optim={"epochs": 1, "batch_size": 16}),
        },
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="parallel", log_plots=False),
        chance={"dummy": False}, execution=execution, verbose=False, on_error="raise",
    )  # fmt: skip


def run_mixed(small_epochs, tracking_uri, **execution):
    X, y, meta, info = small_epochs
    cfg = mixed_config(tracking_uri, **execution)
    return Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])


def scores_table(res):
    return res.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).reset_index(drop=True)


def _log_power(X):
    X = np.asarray(X, dtype=np.float64)
    return np.log(X.var(axis=2) + 1e-30)


class KillsItsWorker(ClassifierMixin, BaseEstimator):
    """Log-power logistic regression that SIGKILLs the process fitting it when its
    training partition lacks group ``victim`` (the fold testing it), ``times`` times in all
    (counted in files under ``marker_dir``); never in the test process itself."""

    def __init__(self, victim="sub-03", marker_dir="", times=1):
        self.victim, self.marker_dir, self.times = victim, marker_dir, times

    def fit(self, X, y, groups=None):
        if self.victim not in set(map(str, groups)):
            marks = Path(self.marker_dir)
            n = len(list(marks.glob("kill-*")))
            if n < self.times and str(os.getpid()) != os.environ.get(DRIVER_ENV):
                (marks / f"kill-{n}").write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        feats = _log_power(X)
        self.clf_ = LogisticRegression(max_iter=500).fit(feats, y)
        self.classes_ = self.clf_.classes_
        return self

    def predict(self, X):
        return self.clf_.predict(_log_power(X))

    def predict_proba(self, X):
        return self.clf_.predict_proba(_log_power(X))


def pickle_by_value() -> None:
    """Workers cannot import the tests' modules: ship this module's classes by value."""
    module = sys.modules[__name__]
    for name in ("cloudpickle", "joblib.externals.cloudpickle", "ray.cloudpickle"):
        try:
            cp = __import__(name, fromlist=["register_pickle_by_value"])
        except ImportError:
            continue
        cp.register_pickle_by_value(module)


def killer_config(tracking_uri: str, marks: Path, times: int, **execution) -> ExperimentConfig:
    return ExperimentConfig(
        models={
            "victim": ClassicalModelConfig(estimator="KillsItsWorker",
                                           params={"marker_dir": str(marks), "times": times}),
            "steady": ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 300}),
        },
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="kills", log_plots=False),
        chance={"dummy": False}, execution=execution, verbose=False,
    )  # fmt: skip
