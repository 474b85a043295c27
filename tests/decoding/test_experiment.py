"""Experiment end to end over classical estimators: scores, tracking, leakage, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from coco_pipe import Experiment, ExperimentResult
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    TrackingConfig,
)


def _config(tracking_uri, **kw) -> ExperimentConfig:
    base = dict(
        task="classification",
        models={"logreg": ClassicalModelConfig(estimator="LogisticRegression", params={"C": 0.1, "max_iter": 500})},
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="test"),
        verbose=False,
        on_error="raise",
    )
    base.update(kw)
    return ExperimentConfig(**base)


def _all_runs(tracking_uri):
    """Every run of every experiment in the store at ``tracking_uri``."""
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exps = client.search_experiments()
    return client.search_runs([e.experiment_id for e in exps], max_results=10_000) if exps else []


def test_logreg_above_chance_dummy_not(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    res = Experiment(_config(tracking_uri)).run(X, y, meta)
    summary = res.summary()
    ba = summary[summary.Metric == "balanced_accuracy"].set_index("Model")["Mean"]
    assert ba["logreg"] > 0.65
    assert abs(ba["chance"] - 0.5) < 0.05
    scores = res.get_detailed_scores()
    assert set(scores.Fold) == set(range(5))
    assert set(scores.Model) == {"logreg", "chance"}
    # plots are PNG artifacts of the parent run that load as images
    from matplotlib.image import imread

    plots = res.get_parent_artifacts("plots")
    names = {k.split("/")[-1] for k in plots.ArtifactKey}
    assert {"fold_scores_balanced_accuracy.png", "confusion_logreg.png", "roc_logreg.png"} <= names
    for key in plots.ArtifactKey:
        img = imread(res.download_artifact(res.run_id, key))
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        assert img[..., :3].std() > 0.01  # not blank


def test_run_tree_parent_model_fold(mi_arrays, tracking_uri):
    """Read back from the store: parent -> one run per model (plain metric names: the fold
    mean, <metric>_std, n_folds, n_failed_folds; the model's config as params; the data set
    as input) -> that model's fold runs; the experiment opens in MLflow's training view."""
    X, y, meta, info = mi_arrays
    res = Experiment(_config(tracking_uri)).run(X, y, meta)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("test")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parent = client.get_run(res.run_id)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == res.run_id]
    assert {r.data.tags["coco_pipe.role"] for r in children} == {"model"}
    model_runs = {r.data.tags["coco_pipe.model"]: r for r in children}
    assert sorted(model_runs) == ["chance", "logreg"] and len(children) == 2
    fingerprint = parent.data.tags["coco_pipe.data_fingerprint"]
    for name, mrun in model_runs.items():
        assert mrun.info.run_name == name and mrun.info.status == "FINISHED"
        folds = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == mrun.info.run_id]
        assert sorted(r.info.run_name for r in folds) == [f"{name}/fold-{k}" for k in range(5)]
        assert {r.data.tags["coco_pipe.role"] for r in folds} == {"fold"}
        assert {r.data.tags["coco_pipe.model"] for r in folds} == {name}
        for metric in res.metrics:
            vals = [r.data.metrics[metric] for r in folds]
            assert mrun.data.metrics[metric] == pytest.approx(np.mean(vals))
            assert mrun.data.metrics[f"{metric}_std"] == pytest.approx(np.std(vals))
        assert (mrun.data.metrics["n_folds"], mrun.data.metrics["n_failed_folds"]) == (5, 0)
        [ds] = mrun.inputs.dataset_inputs
        assert ds.dataset.digest == fingerprint
        assert json.loads(ds.dataset.profile)["shape"] == list(X.shape)
    logreg = model_runs["logreg"]
    assert logreg.data.params["model.estimator"] == "LogisticRegression"
    assert logreg.data.params["model.params.C"] == "0.1"
    # the parent keeps experiment-wide records only, and says where it came from
    assert not [k for k in parent.data.metrics if k.startswith(("logreg", "chance"))]
    assert parent.data.tags["mlflow.source.type"] == "LOCAL" and parent.data.tags["mlflow.source.name"]
    [ds] = parent.inputs.dataset_inputs
    assert ds.dataset.digest == fingerprint and json.loads(ds.dataset.source)["uri"] == "in-memory"
    fold = next(r for r in runs if r.info.run_name == "logreg/fold-0")
    assert fold.data.params["model.estimator"] == "LogisticRegression"
    assert fold.data.params["model.params.C"] == "0.1"
    assert int(fold.data.tags["n_test"]) > 0 and fold.data.tags["test_groups"]
    # the results layer reads the same three levels
    table = res.get_model_runs().set_index("Model")
    assert table.loc["logreg", "balanced_accuracy"] == logreg.data.metrics["balanced_accuracy"]
    assert len(res.get_fold_runs()) == 10


def _tables(res: ExperimentResult) -> dict:
    return {
        "scores": res.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).reset_index(drop=True),
        "predictions": res.get_predictions().sort_values(["Model", "Fold", "SampleIndex"]).reset_index(drop=True),
        "summary": res.summary(),
    }


_FRESH = """
import json, sys
from coco_pipe import ExperimentResult
res = ExperimentResult.from_run(sys.argv[1], tracking_uri=sys.argv[2])
out = {"scores": res.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).reset_index(drop=True).to_json(),
       "predictions": res.get_predictions().sort_values(["Model", "Fold", "SampleIndex"]).reset_index(drop=True).to_json(),
       "summary": res.summary().to_json()}
print(json.dumps(out))
"""


def _check_fresh_process(res, uri):
    proc = subprocess.run([sys.executable, "-c", _FRESH, res.run_id, uri], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = json.loads(proc.stdout.strip().splitlines()[-1])
    mine = _tables(res)
    for key in ("scores", "predictions", "summary"):
        other = pd.read_json(__import__("io").StringIO(fresh[key]))
        pd.testing.assert_frame_equal(
            mine[key].reset_index(drop=True), other.reset_index(drop=True), check_dtype=False
        )


def test_from_run_in_fresh_process_sqlite(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    res = Experiment(_config(tracking_uri)).run(X, y, meta)
    assert len(res.get_predictions()) == 2 * len(y)
    _check_fresh_process(res, tracking_uri)


@pytest.mark.server
def test_from_run_in_fresh_process_server(mi_arrays, mlflow_server):
    X, y, meta, info = mi_arrays
    cfg = _config(mlflow_server, cv=CVConfig(strategy="group_kfold", n_splits=3, group_key="Subject"))
    res = Experiment(cfg).run(X, y, meta)
    assert res.tracking_uri == mlflow_server
    arts = res.get_model_artifacts("predictions")
    assert len(arts) == 2 * 3 and set(arts.ArtifactType) == {"predictions"}
    _check_fresh_process(res, mlflow_server)


def test_no_leakage_groups_and_scaler(mi_arrays, tracking_uri, monkeypatch):
    """Test subjects never appear in their fold's training partition, and the scaler is
    fit on training rows only."""
    from sklearn.preprocessing import StandardScaler

    X, y, meta, info = mi_arrays
    row_index = {np.ascontiguousarray(X[i]).reshape(-1).tobytes(): i for i in range(len(X))}
    seen: list[np.ndarray] = []
    original = StandardScaler.fit

    def recording_fit(self, Xs, ys=None, sample_weight=None):
        seen.append(np.array([row_index[np.ascontiguousarray(r).tobytes()] for r in np.asarray(Xs, np.float32)]))
        return original(self, Xs, ys, sample_weight)

    monkeypatch.setattr(StandardScaler, "fit", recording_fit)
    cfg = _config(tracking_uri, chance={"dummy": False})
    res = Experiment(cfg).run(X, y, meta)
    folds = res.get_fold_runs()
    preds = res.get_predictions()
    assert len(seen) == 5
    for k in range(5):
        test_idx = preds[(preds.Fold == k)]["SampleIndex"].to_numpy()
        test_groups = set(folds[folds.Fold == k]["TestGroups"].iloc[0].split(","))
        assert set(meta.Subject.iloc[test_idx].astype(str)) == test_groups
        # the scaler of fold k saw no test row and no row of a test subject
        fitted = seen[k]
        assert not set(fitted) & set(test_idx)
        assert not set(meta.Subject.iloc[fitted].astype(str)) & test_groups
        assert len(fitted) + len(test_idx) == len(y)


def test_regression_task(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    rng = np.random.default_rng(0)
    features = np.log(X.var(axis=2))  # 2-D input: log power per channel
    target = 2.0 * features[:, 8] - features[:, 10] + rng.normal(0, 0.1, len(X))
    cfg = _config(tracking_uri, task="regression",
                  models={"ridge": ClassicalModelConfig(estimator="Ridge", params={"alpha": 1.0})},
                  cv=CVConfig(strategy="kfold", n_splits=3))
    res = Experiment(cfg).run(features, target, meta)
    summary = res.summary().set_index(["Model", "Metric"])["Mean"]
    assert summary[("ridge", "r2")] > summary[("chance", "r2")]
    assert set(res.metrics) == {"r2", "mae", "rmse"}


def test_epochs_input_reads_sfreq_names_metadata(tracking_uri):
    from coco_pipe.datasets import make_motor_imagery

    epochs = make_motor_imagery(n_subjects=4, n_epochs_per_class=10, tmax=1.0, random_state=1)
    cfg = _config(tracking_uri, cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"))
    res = Experiment(cfg).run(epochs)  # y from event names, groups from epochs.metadata
    preds = res.get_predictions()
    assert set(preds.y_true) == set(epochs.event_id)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    assert float(client.get_run(res.run_id).data.params["data.sfreq"]) == epochs.info["sfreq"]


# ----------------------------------------------------------------- bad input
def _bad(tracking_uri, X, y, meta=None, match="", **cfg_kw):
    cfg = _config(tracking_uri, **cfg_kw)
    with pytest.raises(ValueError, match=match):
        Experiment(cfg).run(X, y, meta)
    assert _all_runs(tracking_uri) == [], "nothing may be written to the store on bad input"


def test_bad_input_clear_errors_nothing_written(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    _bad(tracking_uri, X, y[:-1], meta, match="y has")
    _bad(tracking_uri, X, y, meta.iloc[:-3], match="sample_metadata has")
    Xn = X.copy()
    Xn[3, 1, 5] = np.nan
    _bad(tracking_uri, Xn, y, meta, match="NaN or Inf")
    _bad(tracking_uri, X[None], y, meta, match="ndim=4")
    _bad(tracking_uri, X, y, meta.drop(columns=["Subject"]), match="group_key='Subject' is not a column")
    _bad(tracking_uri, X, y, meta, match="only 5 group", cv=CVConfig(strategy="group_kfold", n_splits=6, group_key="Subject"))
    _bad(tracking_uri, X, y + 0.37, meta, match="continuous values")
    yy = y.copy()
    yy[meta.Subject == meta.Subject.iloc[0]] = 2  # class 2 only in one subject -> absent from a training partition
    _bad(tracking_uri, X, yy, meta, match="absent from the training partition")


def test_bad_config_errors():
    with pytest.raises(ValueError, match="did you mean LogisticRegression"):
        ClassicalModelConfig(estimator="LogisticRegresion")
    with pytest.raises(ValueError, match="unknown parameter 'CC'.*did you mean C"):
        ClassicalModelConfig(estimator="LogisticRegression", params={"CC": 1.0})
    with pytest.raises(ValueError, match="unknown metric 'balanced_acc'"):
        ExperimentConfig(models={"m": ClassicalModelConfig()}, metrics=["balanced_acc"])
    with pytest.raises(ValueError, match="bogus"):
        ExperimentConfig.model_validate({"models": {"m": {"estimator": "SVC"}}, "bogus": 1})


def test_unreachable_server_names_uri(mi_arrays):
    X, y, meta, info = mi_arrays
    cfg = _config("http://127.0.0.1:9")
    with pytest.raises(ConnectionError, match=r"http://127.0.0.1:9"):
        Experiment(cfg).run(X, y, meta)


def test_config_yaml_round_trip(tmp_path):
    cfg = _config("sqlite:///x.db")
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert ExperimentConfig.from_yaml(path) == cfg


def test_failed_fold_recorded_others_continue(small_epochs, tracking_uri, test_estimators):
    """Two folds of a model fail (its training partition lacks a subject it needs); they are
    recorded FAILED with their error, the model's other folds and the other models finish
    with scores, and the experiment completes."""
    X, y, meta, _ = small_epochs
    needs = ["sub-02", "sub-04"]  # group_kfold(5) over 5 subjects: each is tested once
    cfg = _config(tracking_uri, on_error="continue", models={
        "flaky": ClassicalModelConfig(estimator="NeedsGroupsLogReg", params={"needs": needs}),
        "steady": ClassicalModelConfig(estimator="LogPowerLogReg"),
    })  # fmt: skip
    res = Experiment(cfg).run(X, y, meta)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    assert client.get_run(res.run_id).info.status == "FINISHED"
    folds = res.get_fold_runs()
    assert len(folds) == 3 * 5  # flaky, steady, chance
    flaky = folds[folds.Model == "flaky"].set_index("Fold")
    failed = flaky[flaky.Status == "FAILED"]
    assert sorted(failed.TestGroups) == needs
    for _, row in failed.iterrows():
        missing = row.TestGroups
        assert row.Failure == f"ValueError: training partition lacks group(s) ['{missing}']"
        run = client.get_run(row.RunId)
        assert "balanced_accuracy" not in run.data.metrics
        arts = [a.path for a in client.list_artifacts(row.RunId, "diagnostics")]
        assert arts == ["diagnostics/traceback.txt"]
        text = Path(client.download_artifacts(row.RunId, "diagnostics/traceback.txt")).read_text()
        assert "training partition lacks group(s)" in text and "Traceback" in text
    finished = flaky[flaky.Status == "FINISHED"]
    assert len(finished) == 3 and (finished.Failure == "").all()
    assert not set(finished.TestGroups) & set(needs)
    for model in ("steady", "chance"):
        assert (folds[folds.Model == model].Status == "FINISHED").all()
    scores = res.get_detailed_scores()
    ba = scores[scores.Metric == "balanced_accuracy"]
    assert sorted(ba[ba.Model == "flaky"].Fold) == sorted(finished.index)
    assert len(ba[ba.Model == "steady"]) == 5 and ba.Value.notna().all()
    for fold, row in finished.iterrows():
        value = client.get_run(row.RunId).data.metrics["balanced_accuracy"]
        assert value == pytest.approx(ba[(ba.Model == "flaky") & (ba.Fold == fold)].Value.item())
    summary = res.summary()
    flaky_summary = summary[summary.Model == "flaky"]
    assert (flaky_summary.Status == "partial").all()
    assert (flaky_summary.n_failed == 2).all() and (flaky_summary.n_folds == 3).all()
    assert (summary[summary.Model == "steady"].Status == "ok").all()
    flaky_run = res.get_model_runs().set_index("Model").loc["flaky"]
    assert (flaky_run.n_failed_folds, flaky_run.n_folds) == (2, 3)
    failed_folds = res.failed_folds()
    assert sorted(failed_folds.TestGroups) == needs and set(failed_folds.Model) == {"flaky"}
    assert res.models_without_success() == []


def test_failed_fold_raises_with_on_error_raise(small_epochs, tracking_uri, test_estimators):
    X, y, meta, _ = small_epochs
    cfg = _config(tracking_uri, models={
        "flaky": ClassicalModelConfig(estimator="NeedsGroupsLogReg", params={"needs": ["sub-03"]}),
    })  # fmt: skip
    with pytest.raises(ValueError, match=r"lacks group\(s\) \['sub-03'\]"):
        Experiment(cfg).run(X, y, meta)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    runs = _all_runs(tracking_uri)
    parent = next(r for r in runs if r.data.tags.get("coco_pipe.role") == "experiment")
    assert client.get_run(parent.info.run_id).info.status == "FAILED"
    failed = [r for r in runs if r.info.status == "FAILED" and r.data.tags.get("coco_pipe.role") == "fold"]
    assert [r.data.tags["test_groups"] for r in failed] == ["sub-03"]


def test_pipeline_test_windows_transformed_once(small_epochs, tracking_uri, register_estimator):
    """Whatever its step names, a pipeline's test windows go once through the steps before
    the last; predict and predict_proba then run on the last step."""
    from sklearn.base import TransformerMixin
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    calls: list[int] = []

    class CountingLogPower(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            calls.append(len(X))
            return np.log(np.asarray(X, float).var(axis=2))

    register_estimator("PowerPipe", lambda: Pipeline(
        [("features", CountingLogPower()), ("clf", LogisticRegression(max_iter=500))]))  # fmt: skip
    X, y, meta, _ = small_epochs
    cfg = _config(tracking_uri, models={"pipe": ClassicalModelConfig(estimator="PowerPipe")},
                  chance={"dummy": False})  # fmt: skip
    res = Experiment(cfg).run(X, y, meta)
    folds = res.get_fold_runs()
    # per fold: one transform of the training part (in fit_transform), one of the test part
    folds = folds.sort_values("Fold")
    assert calls == [n for tr, te in zip(folds.n_train, folds.n_test, strict=True) for n in (tr, te)]
    preds = res.get_predictions()
    assert {"proba_0", "proba_1"} <= set(preds.columns)
    assert res.summary().set_index("Metric").loc["roc_auc", "Mean"] > 0.6


def test_baselines_take_sfreq_from_data(mi_arrays):
    from coco_pipe.data import validate_inputs
    from coco_pipe.decoding.builders import build_estimator

    X, y, meta, info = mi_arrays
    data = validate_inputs(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
    est = build_estimator(ClassicalModelConfig(estimator="CSP_LDA"), data.info)
    assert est.get_params()["sfreq"] == info["sfreq"]
