"""Experiment end to end over classical estimators: scores, tracking, leakage, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest

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
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exps = client.search_experiments()
    return mlflow.search_runs([e.experiment_id for e in exps], output_format="list") if exps else []


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


def test_nested_runs_and_parent_aggregates(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    res = Experiment(_config(tracking_uri)).run(X, y, meta)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("test")
    runs = client.search_runs([exp.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == res.run_id]
    assert len(children) == 2 * 5  # (logreg + chance) x 5 folds
    assert {r.info.run_name for r in children} >= {"logreg/fold-0", "chance/fold-4"}
    parent = client.get_run(res.run_id)
    mean = parent.data.metrics["logreg.balanced_accuracy.mean"]
    fold_vals = [r.data.metrics["balanced_accuracy"] for r in children if r.data.tags["coco_pipe.model"] == "logreg"]
    assert mean == pytest.approx(np.mean(fold_vals))
    assert "logreg.balanced_accuracy.std" in parent.data.metrics
    child = next(r for r in children if r.data.tags["coco_pipe.model"] == "logreg")
    assert child.data.params["model.estimator"] == "LogisticRegression"
    assert child.data.params["model.params.C"] == "0.1"
    assert int(child.data.tags["n_test"]) > 0 and child.data.tags["test_groups"]


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


def test_failed_fold_recorded_others_continue(mi_arrays, tracking_uri):
    """An estimator that raises in one fold is recorded FAILED; the others go on."""
    X, y, meta, info = mi_arrays
    cfg = _config(tracking_uri, on_error="continue",
                  models={"svc": ClassicalModelConfig(estimator="SVC", params={"C": -1.0})})
    res = Experiment(cfg).run(X, y, meta)
    folds = res.get_fold_runs()
    assert (folds[folds.Model == "svc"].Status == "FAILED").all()
    assert (folds[folds.Model == "chance"].Status == "FINISHED").all()
    summary = res.summary()
    assert (summary[summary.Model == "svc"].Status == "failed").all()


def test_baselines_take_sfreq_from_data(mi_arrays):
    from coco_pipe.data import validate_inputs
    from coco_pipe.decoding.builders import build_estimator

    X, y, meta, info = mi_arrays
    data = validate_inputs(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
    est = build_estimator(ClassicalModelConfig(estimator="CSP_LDA"), data.info)
    assert est.get_params()["sfreq"] == info["sfreq"]
