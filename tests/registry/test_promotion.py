"""promote -> load_promoted -> predict round trip, against a real mlflow server and SQLite."""

from __future__ import annotations

import numpy as np
import pytest

from coco_pipe import Experiment, load_promoted
from coco_pipe.cli import main
from coco_pipe.decoding.configs import (
    CVConfig,
    ExperimentConfig,
    NeuralFineTuneConfig,
    TrackingConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS
from coco_pipe.registry import promote


def _lora_experiment(uri, X, y, meta, info):
    cfg = ExperimentConfig(
        models={"cbramod_lora": NeuralFineTuneConfig(
            model_key="cbramod", weights="random", train_mode="lora",
            model_kwargs=ESTIMATOR_SPECS["cbramod"].small_kwargs,
            optim={"epochs": 2, "batch_size": 16}, early_stopping_patience=None,
        )},
        cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=uri, experiment_name="promote", log_plots=False),
        chance={"dummy": False}, verbose=False, on_error="raise",
    )
    return Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])


def _round_trip(res, uri, X, name):
    version = promote(res.run_id, model="cbramod_lora", fold="best", name=name, alias="champion", tracking_uri=uri)
    assert version.tags["coco_pipe.train_mode"] == "lora"
    assert version.tags["coco_pipe.weights_source"]
    assert version.tags["coco_pipe.data_fingerprint"]
    fold = int(version.tags["coco_pipe.fold"])
    clf = load_promoted(f"models:/{name}@champion", tracking_uri=uri)
    preds = res.get_predictions()
    fold_preds = preds[(preds.Fold == fold)].sort_values("SampleIndex")
    windows = X[fold_preds.SampleIndex.to_numpy()]
    np.testing.assert_array_equal(clf.predict(windows).astype(str), fold_preds.y_pred.astype(str).to_numpy())
    proba_cols = [c for c in fold_preds.columns if c.startswith("proba_")]
    np.testing.assert_allclose(clf.predict_proba(windows), fold_preds[proba_cols].to_numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.server
def test_promote_load_predict_against_server(mi_arrays, mlflow_server):
    X, y, meta, info = mi_arrays
    res = _lora_experiment(mlflow_server, X, y, meta, info)
    arts = res.get_model_artifacts("adapter")
    assert any(k.endswith("adapter_config.json") for k in arts.ArtifactKey)
    assert any(k.endswith("adapter_model.safetensors") for k in arts.ArtifactKey)
    _round_trip(res, mlflow_server, X, "mi-decoder-server")


def test_promote_cli_and_load_sqlite(mi_arrays, tracking_uri, capsys):
    X, y, meta, info = mi_arrays
    res = _lora_experiment(tracking_uri, X, y, meta, info)
    assert main(["promote", res.run_id, "--model", "cbramod_lora", "--fold", "0", "--name", "mi-decoder",
                 "--alias", "champion", "--tracking-uri", tracking_uri]) == 0
    assert "models:/mi-decoder/1" in capsys.readouterr().out
    clf = load_promoted("models:/mi-decoder@champion", tracking_uri=tracking_uri)
    preds = res.get_predictions()
    fold0 = preds[preds.Fold == 0].sort_values("SampleIndex")
    np.testing.assert_array_equal(clf.predict(X[fold0.SampleIndex.to_numpy()]).astype(str),
                                  fold0.y_pred.astype(str).to_numpy())


def test_promote_errors_name_the_problem(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    res = _lora_experiment(tracking_uri, X, y, meta, info)
    with pytest.raises(ValueError, match="model 'nope' has no fold runs"):
        promote(res.run_id, model="nope", name="x", tracking_uri=tracking_uri)
    with pytest.raises(ValueError, match="fold 7"):
        promote(res.run_id, model="cbramod_lora", fold=7, name="x", tracking_uri=tracking_uri)
