"""Promotion carries the backbone's licence; a no-derivatives licence warns and is written
into the version's description."""

from __future__ import annotations

import mlflow
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    CVConfig,
    ExperimentConfig,
    NeuralFineTuneConfig,
    TrackingConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS
from coco_pipe.registry import promote


def _adapter_experiment(uri, X, y, meta, info, key):
    cfg = ExperimentConfig(
        models={f"{key}_lora": NeuralFineTuneConfig(
            model_key=key, weights="random", train_mode="lora",
            model_kwargs=ESTIMATOR_SPECS[key].small_kwargs,
            optim={"epochs": 1, "batch_size": 32}, early_stopping_patience=None,
        )},
        cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=uri, experiment_name="licence", log_plots=False),
        chance={"dummy": False}, verbose=False, on_error="raise",
    )  # fmt: skip
    return Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])


def test_promoting_an_adapter_of_a_no_derivatives_model_warns_and_says_so(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    keep = slice(None, None, 4)  # 50 windows: the licence, not the fit, is under test
    res = _adapter_experiment(tracking_uri, X[keep], y[keep], meta.iloc[keep].reset_index(drop=True),
                              info, "luna")  # fmt: skip
    with pytest.warns(UserWarning, match="CC-BY-ND-4.0, which forbids distributing derivatives"):
        version = promote(res.run_id, model="luna_lora", fold=0, name="luna-mi",
                          tracking_uri=tracking_uri)  # fmt: skip
    assert version.tags["coco_pipe.license"] == "CC-BY-ND-4.0"
    stored = mlflow.tracking.MlflowClient(tracking_uri).get_model_version("luna-mi", version.version)
    assert "forbids distributing derivatives" in stored.description
