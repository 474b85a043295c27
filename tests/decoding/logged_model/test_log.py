"""tracking.log_models inside Experiment.run: all / best / none, read back from the store."""

from __future__ import annotations

import glob
import logging
import os
import tempfile

import mlflow
import numpy as np
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.configs import CVConfig, ExperimentConfig, TrackingConfig
from coco_pipe.decoding.logged_model.log import MODEL_ID_TAG, best_fold_index


def _run(uri, mi_arrays, mode, models=None):
    X, y, meta, info = mi_arrays
    cfg = ExperimentConfig(
        models=models or {"logreg": {"estimator": "LogisticRegression"}, "csp": {"estimator": "CSP_LDA"}},
        cv=CVConfig(strategy="group_kfold", n_splits=3, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=uri, experiment_name="log-models", log_plots=False,
                                log_models=mode),
        chance={"dummy": False}, verbose=False,
    )  # fmt: skip
    res = Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("log-models").experiment_id])
    model_runs = {r.info.run_id for r in runs if r.data.tags.get("mlflow.parentRunId") == res.run_id}
    folds = [r for r in runs if r.data.tags.get("coco_pipe.role") == "fold" and
             r.data.tags.get("mlflow.parentRunId") in model_runs]  # parent -> model -> fold
    return res, client, folds


def test_all_logs_every_fold_as_a_model_of_its_run(tracking_uri, mi_arrays):
    res, client, folds = _run(tracking_uri, mi_arrays, "all")
    assert len(folds) == 6
    for run in folds:
        model_id = run.data.tags[MODEL_ID_TAG]
        model = client.get_logged_model(model_id)
        assert model.source_run_id == run.info.run_id and str(model.status).endswith("READY")
        assert model.name == f"{run.data.tags['coco_pipe.model']}-fold{run.data.tags['coco_pipe.fold']}"
        # listed among the run's outputs: what the UI's "Models" column shows
        assert [o.model_id for o in run.outputs.model_outputs] == [model_id]
        assert model.tags["coco_pipe.model_digest"] == run.data.tags["coco_pipe.model_digest"]
        assert {m.key for m in model.metrics} >= {"balanced_accuracy", "roc_auc"}


def test_best_logs_the_best_fold_of_each_model_only(tracking_uri, mi_arrays):
    res, client, folds = _run(tracking_uri, mi_arrays, "best")
    scores = res.get_detailed_scores()
    for model in ("logreg", "csp"):
        mine = [r for r in folds if r.data.tags["coco_pipe.model"] == model]
        logged = [r for r in mine if MODEL_ID_TAG in r.data.tags]
        ba = scores[(scores.Model == model) & (scores.Metric == "balanced_accuracy")]
        best = best_fold_index(zip(ba.Fold, ba.Value, strict=True))
        assert [int(r.data.tags["coco_pipe.fold"]) for r in logged] == [best]
        assert ba.Value.max() == ba[ba.Fold == best].Value.item()
        model_info = client.get_logged_model(logged[0].data.tags[MODEL_ID_TAG])
        assert model_info.tags["coco_pipe.chosen"] == "best fold by balanced_accuracy"
    left = [p for r in folds for p in glob.glob(os.path.join(tempfile.gettempdir(),
                                                             f"coco-pipe-pending-model-{r.info.run_id}"))]
    assert left == []  # the folders set aside are gone


def test_none_logs_no_model(tracking_uri, mi_arrays):
    _, client, folds = _run(tracking_uri, mi_arrays, "none")
    assert len(folds) == 6 and not any(MODEL_ID_TAG in r.data.tags for r in folds)
    assert all(not r.outputs.model_outputs for r in folds)


def test_a_model_the_loader_would_refuse_is_not_logged_and_the_fold_counts(
    tracking_uri, mi_arrays, test_estimators, caplog
):
    with caplog.at_level(logging.WARNING, logger="coco_pipe.decoding.logged_model.log"):
        res, _, folds = _run(tracking_uri, mi_arrays, "all", {"lp": {"estimator": "LogPowerLogReg"}})
    assert len(folds) == 3 and all(r.info.status == "FINISHED" for r in folds)
    assert not any(MODEL_ID_TAG in r.data.tags for r in folds)
    assert "LogPowerLogReg' is not trusted" in caplog.text and "was not logged" in caplog.text
    assert np.isfinite(res.get_detailed_scores().Value).all()


@pytest.mark.parametrize(("scores", "best"), [([(0, 0.5), (1, 0.7), (2, 0.7)], 1),
                                              ([(0, float("nan")), (1, 0.2)], 1), ([], None)])
def test_best_fold_index_rule(scores, best):
    assert best_fold_index(scores) == best


def test_a_spooled_fold_model_is_logged_when_its_record_is_sent(tracking_uri, model_folders, small_data, tmp_path):
    """A fold's MLflow Model travels in its spool record (as its scores do): a record that
    cannot be sent keeps the model, and sending it later logs the model on the fold run."""
    from coco_pipe.decoding.logged_model import upload_model_folder
    from coco_pipe.tracking import Tracker
    from coco_pipe.tracking.spool import Spool

    tracker = Tracker(tracking_uri, "spooled-model")
    run_id = tracker.client.create_run(tracker.experiment_id).info.run_id
    spool_dir = tmp_path / "spool"
    rec = Spool(spool_dir).recorder(run_id, tracking_uri, label="logreg fold 0")
    rec.log_model_folder(run_id, model_folders["sklearn"], "logreg-fold0", tags={"coco_pipe.model": "logreg"},
                         metrics={"balanced_accuracy": 0.75})  # fmt: skip
    rec.end(run_id, "FINISHED")
    path = rec.commit()

    with pytest.raises(RuntimeError, match="holds a model"):  # no uploader: refused, record kept
        Spool(spool_dir).send(path, tracker)
    assert path.exists() and tracker.client.get_run(run_id).info.status == "RUNNING"

    assert Spool(spool_dir, upload_model=upload_model_folder).replay(tracker) == [run_id]
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    model_id = run.data.tags[MODEL_ID_TAG]
    logged = tracker.client.get_logged_model(model_id)
    assert logged.source_run_id == run_id
    pred = mlflow.pyfunc.load_model(logged.artifact_location).predict(small_data.X[:4].astype("float32"))
    assert len(pred) == 4 and set(pred["y_pred"]) <= set(small_data.y)
