"""promote -> registered MLflow Model -> mlflow.pyfunc.load_model / load_promoted -> the
fold's predictions, for every model kind; refit; tampered artifacts refused."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from promotable import MODELS, fold_predictions, run_experiment
from sklearn.pipeline import Pipeline

from coco_pipe import load_promoted
from coco_pipe.cli import main
from coco_pipe.decoding.builders import build_estimator, fit_estimator
from coco_pipe.decoding.logged_model.files import UnsafeModelError, folder_digests
from coco_pipe.decoding.logged_model.log import best_fold_index
from coco_pipe.foundation.neural import NeuralDecoder
from coco_pipe.registry import promote

KINDS = {"logreg": Pipeline, "probe": Pipeline, "lora": NeuralDecoder}


def _check_predictions(predicted, fold_preds):
    np.testing.assert_array_equal(np.asarray(predicted["y_pred"]).astype(str),
                                  fold_preds.y_pred.astype(str).to_numpy())  # fmt: skip
    cols = [c for c in fold_preds.columns if c.startswith("proba_")]
    np.testing.assert_allclose(np.asarray(predicted[cols], dtype=float), fold_preds[cols].to_numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("model", ["logreg", "probe", "lora"])
def test_promote_each_kind_then_pyfunc_and_load_promoted_give_the_folds_predictions(
    promotable, model, monkeypatch
):
    p = promotable
    name = f"mi-{model}"
    version = promote(p.result.run_id, model=model, fold="best", name=name, tracking_uri=p.uri)
    scores = p.result.get_detailed_scores()
    ba = scores[(scores.Model == model) & (scores.Metric == "balanced_accuracy")]
    best = best_fold_index(zip(ba.Fold, ba.Value, strict=True))
    assert version.tags["coco_pipe.fold"] == str(best) and version.tags["coco_pipe.fold_choice"] == "best"
    assert "the best of 2 folds by balanced_accuracy" in version.description
    assert "optimistic" in version.description and "fold-mean" in version.description
    assert version.tags["coco_pipe.data_fingerprint"] and version.tags["coco_pipe.model_digest"]
    assert version.tags["coco_pipe.train_mode"] == ("lora" if model == "lora" else "")
    preds = fold_predictions(p.result, model, best)
    windows = p.X[preds.SampleIndex.to_numpy()].astype(np.float32)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", p.uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    _check_predictions(pyfunc.predict(windows), preds)

    est = load_promoted(f"models:/{name}/{version.version}", tracking_uri=p.uri)
    assert isinstance(est, KINDS[model])
    frame = {"y_pred": est.predict(windows)}
    proba = est.predict_proba(windows)
    for j, c in enumerate(est.classes_):
        frame[f"proba_{c}"] = proba[:, j]
    _check_predictions(pd.DataFrame(frame), preds)


def test_promote_a_fold_by_number_from_the_cli(promotable, capsys):
    p = promotable
    assert main(["promote", p.result.run_id, "--model", "logreg", "--fold", "0", "--name", "mi-cli",
                 "--alias", "champion", "--tracking-uri", p.uri]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "registered models:/mi-cli/1 as @champion" in out and "chosen by number" in out
    est = load_promoted("models:/mi-cli@champion", tracking_uri=p.uri)
    preds = fold_predictions(p.result, "logreg", 0)
    np.testing.assert_array_equal(est.predict(p.X[preds.SampleIndex.to_numpy()]), preds.y_pred.to_numpy())


def _model_run(p, model: str) -> str:
    """The run of ``model`` in the experiment (parent -> model -> fold and refit runs)."""
    from coco_pipe.tracking.store import RunStore

    runs = RunStore(p.uri).model_runs(p.result.run_id)
    return next(r.info.run_id for r in runs if r.data.tags["coco_pipe.model"] == model)


def test_refit_is_trained_on_all_the_data_as_its_own_run(promotable, monkeypatch):
    p = promotable
    data = {"X": p.X, "y": p.y, "sample_metadata": p.meta, "sfreq": p.info["sfreq"],
            "ch_names": p.info["ch_names"]}  # fmt: skip
    version = promote(p.result.run_id, model="logreg", fold="refit", name="mi-refit",
                      tracking_uri=p.uri, data=data)  # fmt: skip
    assert version.tags["coco_pipe.fold"] == "refit"
    assert f"refit on all {len(p.y)} windows" in version.description
    assert "no held-out score" in version.description
    client = mlflow.MlflowClient(p.uri)
    run = client.get_run(version.run_id)
    assert run.data.tags["coco_pipe.role"] == "refit" and run.data.tags["mlflow.parentRunId"] == _model_run(p, "logreg")
    assert run.data.tags["n_train"] == str(len(p.y)) and run.info.status == "FINISHED"
    # the same model fit here on all the data predicts as the registered one
    from coco_pipe.data import validate_inputs

    d = validate_inputs(p.X, p.y, p.meta, group_key="Subject", sfreq=p.info["sfreq"], ch_names=p.info["ch_names"])
    mine = fit_estimator(build_estimator(MODELS["logreg"], d.info, 42), d.X, d.y)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", p.uri)
    got = mlflow.pyfunc.load_model("models:/mi-refit@champion").predict(d.X[:40])
    np.testing.assert_array_equal(got.y_pred.to_numpy(), mine.predict(d.X[:40]))
    with pytest.raises(ValueError, match="refit on the experiment's own data"):
        promote(p.result.run_id, model="logreg", fold="refit", name="x", tracking_uri=p.uri,
                data={**data, "X": p.X[:, :, ::-1]})  # fmt: skip


def test_promote_errors_name_the_problem(promotable):
    p = promotable
    with pytest.raises(ValueError, match="model 'nope' has no fold runs.*models: \\['logreg', 'lora', 'probe'\\]"):
        promote(p.result.run_id, model="nope", name="x", tracking_uri=p.uri)
    with pytest.raises(ValueError, match=r"fold 7 .* finished folds: \[0, 1\]"):
        promote(p.result.run_id, model="logreg", fold=7, name="x", tracking_uri=p.uri)
    with pytest.raises(ValueError, match="fold must be 'best', 'refit' or a fold number"):
        promote(p.result.run_id, model="logreg", fold="first", name="x", tracking_uri=p.uri)
    with pytest.raises(ValueError, match="fold='refit' needs the experiment's data"):
        promote(p.result.run_id, model="logreg", fold="refit", name="x", tracking_uri=p.uri)


def test_a_fold_without_a_logged_model_says_how_to_promote(tracking_uri, mi_arrays):
    res = run_experiment(tracking_uri, mi_arrays, {"logreg": MODELS["logreg"]}, log_models="none")
    with pytest.raises(ValueError, match="has no logged MLflow Model.*log_models='none'.*--fold refit"):
        promote(res.run_id, model="logreg", name="x", tracking_uri=tracking_uri)


def _artifact_folder(uri: str, version) -> Path:
    location = mlflow.MlflowClient(uri).get_logged_model(version.tags["coco_pipe.logged_model_id"]).artifact_location
    return Path(urlparse(location).path)


def test_load_promoted_refuses_artifacts_changed_after_logging(tracking_uri, mi_arrays, tmp_path):
    """An attacker who can write the artifact store rewrites the model and its manifest
    consistently; the digests the tracking store recorded at logging time still refuse it."""
    res = run_experiment(tracking_uri, mi_arrays, {"logreg": MODELS["logreg"]})
    version = promote(res.run_id, model="logreg", name="tampered", tracking_uri=tracking_uri)
    folder = _artifact_folder(tracking_uri, version)
    data = folder / "data" / "coco_pipe"
    est = sio.load(data / "estimator.skops", trusted=sio.get_untrusted_types(file=data / "estimator.skops"))
    est.steps[-1][1].coef_ = -est.steps[-1][1].coef_  # a model that predicts the other class
    sio.dump(est, data / "estimator.skops")
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["files"] = {k: v for k, v in folder_digests(data).items() if k != "manifest.json"}
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match=r"changed: data/coco_pipe/estimator.skops, data/coco_pipe/manifest.json"):
        load_promoted("models:/tampered@champion", tracking_uri=tracking_uri)
    mlmodel = folder / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("coco_pipe.decoding.logged_model.pyfunc", "mlflow.sklearn"))
    with pytest.raises(UnsafeModelError, match=r"changed: MLmodel"):
        load_promoted("models:/tampered@champion", tracking_uri=tracking_uri)


@pytest.mark.server
def test_promote_load_predict_against_server(mi_arrays, mlflow_server):
    res = run_experiment(mlflow_server, mi_arrays, {"cbramod_lora": MODELS["lora"]})
    arts = res.get_model_artifacts("adapter")
    assert any(k.endswith("adapter_config.json") for k in arts.ArtifactKey)
    assert any(k.endswith("adapter_model.safetensors") for k in arts.ArtifactKey)
    version = promote(res.run_id, model="cbramod_lora", fold="best", name="mi-decoder-server",
                      tracking_uri=mlflow_server)  # fmt: skip
    assert version.tags["coco_pipe.train_mode"] == "lora"
    clf = load_promoted("models:/mi-decoder-server@champion", tracking_uri=mlflow_server)
    preds = fold_predictions(res, "cbramod_lora", int(version.tags["coco_pipe.fold"]))
    windows = mi_arrays[0][preds.SampleIndex.to_numpy()]
    np.testing.assert_array_equal(clf.predict(windows).astype(str), preds.y_pred.astype(str).to_numpy())
    cols = [c for c in preds.columns if c.startswith("proba_")]
    np.testing.assert_allclose(clf.predict_proba(windows), preds[cols].to_numpy(), rtol=1e-5, atol=1e-6)
