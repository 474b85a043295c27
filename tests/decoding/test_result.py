"""ExperimentResult read back from a real SQLite store after a small experiment: its
tables agree with the fold runs the store holds."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from coco_pipe import Experiment, ExperimentResult
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    TrackingConfig,
)

N_FOLDS = 5


@pytest.fixture
def result(small_epochs, tracking_uri, test_estimators):
    X, y, meta, _ = small_epochs
    cfg = ExperimentConfig(
        models={
            "power": ClassicalModelConfig(estimator="LogPowerLogReg"),
            "flaky": ClassicalModelConfig(estimator="NeedsGroupsLogReg", params={"needs": ["sub-05"]}),
        },
        cv=CVConfig(strategy="group_kfold", n_splits=N_FOLDS, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="result", log_plots=False),
        verbose=False,
        on_error="continue",
    )  # fmt: skip
    res = Experiment(cfg).run(X, y, meta)
    return ExperimentResult.from_run(res.run_id, tracking_uri=tracking_uri), (X, y, meta)


def test_fold_runs_match_the_store(result, tracking_uri):
    res, (X, y, meta) = result
    assert res.models == ["power", "flaky", "chance"]
    assert res.metrics == ["balanced_accuracy", "accuracy", "roc_auc", "f1_macro"]
    assert res.task == "classification" and res.tracking_uri == tracking_uri
    folds = res.get_fold_runs()
    assert len(folds) == 3 * N_FOLDS
    client = mlflow.tracking.MlflowClient(tracking_uri)
    for _, row in folds.iterrows():
        run = client.get_run(row.RunId)
        assert run.info.status == row.Status
        model_run = client.get_run(run.data.tags["mlflow.parentRunId"])  # parent -> model -> fold
        assert model_run.data.tags["coco_pipe.role"] == "model"
        assert model_run.data.tags["coco_pipe.model"] == row.Model
        assert model_run.data.tags["mlflow.parentRunId"] == res.run_id
        assert row.n_train + row.n_test == len(y)
    for model in res.models:
        groups = sorted(folds[folds.Model == model].TestGroups)
        assert groups == sorted(meta.Subject.unique())  # each subject tested once
    failed = folds[folds.Status == "FAILED"]
    assert failed[["Model", "TestGroups"]].values.tolist() == [["flaky", "sub-05"]]
    assert "lacks group(s) ['sub-05']" in failed.Failure.item()


def test_detailed_scores_and_predictions_agree_with_fold_runs(result, tracking_uri):
    res, (X, y, meta) = result
    client = mlflow.tracking.MlflowClient(tracking_uri)
    folds = res.get_fold_runs().set_index(["Model", "Fold"])
    scores = res.get_detailed_scores()
    assert len(scores) == (3 * N_FOLDS - 1) * len(res.metrics)  # the failed fold has none
    for _, row in scores.iterrows():
        run = client.get_run(folds.loc[(row.Model, row.Fold), "RunId"])
        assert run.data.metrics[row.Metric] == row.Value
    preds = res.get_predictions()
    assert len(preds) == 3 * len(y) - folds[folds.Status == "FAILED"].n_test.sum()
    for (model, fold), grp in preds.groupby(["Model", "Fold"]):
        tested = set(meta.Subject.iloc[grp.SampleIndex])
        assert ",".join(sorted(tested)) == folds.loc[(model, fold), "TestGroups"]
        np.testing.assert_array_equal(grp.y_true.to_numpy(), y[grp.SampleIndex])
        assert (grp.Group == meta.Subject.iloc[grp.SampleIndex].to_numpy()).all()
        ba = scores[(scores.Model == model) & (scores.Fold == fold) & (scores.Metric == "balanced_accuracy")]
        assert balanced_accuracy_score(grp.y_true, grp.y_pred) == pytest.approx(ba.Value.item())
        assert np.allclose(grp[["proba_0", "proba_1"]].sum(axis=1), 1)


def test_summary_agrees_with_detailed_scores(result):
    res, _ = result
    scores = res.get_detailed_scores()
    summary = res.summary()
    assert len(summary) == 3 * len(res.metrics)
    assert list(dict.fromkeys(summary.Metric)) == res.metrics  # in the configured order
    for _, row in summary.iterrows():
        vals = scores[(scores.Model == row.Model) & (scores.Metric == row.Metric)].Value
        assert row.Mean == pytest.approx(vals.mean()) and row.Std == pytest.approx(np.std(vals))
        assert row.n_folds == len(vals)
        assert row.Chance == pytest.approx(
            summary[(summary.Model == "chance") & (summary.Metric == row.Metric)].Mean.item())
    flaky = summary[summary.Model == "flaky"]
    assert (flaky.Status == "partial").all() and (flaky.n_failed == 1).all()
    main = summary[summary.Metric == "balanced_accuracy"].sort_values("Rank")
    assert main.Mean.is_monotonic_decreasing and main.Rank.tolist() == sorted(main.Rank)
    assert main.Model.iloc[-1] == "chance" and main.Mean.iloc[0] > 0.6
    pairwise = res.get_pairwise_tests()
    assert len(pairwise) == 3  # every pair of the 3 models
    best = main.Model.iloc[0]
    assert np.isnan(main.set_index("Model").loc[best, "p_vs_best"])
    assert not main.set_index("Model").loc[best, "differs_from_best"]


def test_artifacts_and_unknown_runs(result, tracking_uri):
    res, _ = result
    arts = res.get_model_artifacts("predictions")
    assert len(arts) == 3 * N_FOLDS - 1 and set(arts.ArtifactType) == {"predictions"}
    assert all(v.endswith("/predictions/predictions.csv") for v in arts.ArtifactValue)
    parent = res.get_parent_artifacts()
    assert {"config/experiment.yaml", "statistics/pairwise.csv"} <= set(parent.ArtifactKey)
    text = res.download_artifact(res.run_id, "config/experiment.yaml").read_text()
    assert "NeedsGroupsLogReg" in text
    assert repr(res).startswith(f"ExperimentResult(run_id={res.run_id!r}, models=")
    with pytest.raises(LookupError, match="run 'nope' not found"):
        ExperimentResult.from_run("nope", tracking_uri=tracking_uri)
