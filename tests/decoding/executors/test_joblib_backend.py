"""The joblib backend: folds in two local worker processes give the sequential scores; a
worker killed mid-fold leaves its fold FAILED (or retried), never missing."""

from __future__ import annotations

import mlflow
import pandas as pd
from cases import killer_config, run_mixed, scores_table

from coco_pipe import Experiment


def test_two_workers_give_the_sequential_scores(small_epochs, tracking_uri, sequential_scores):
    res = run_mixed(small_epochs, tracking_uri, backend="joblib", n_jobs=2)
    pd.testing.assert_frame_equal(scores_table(res), sequential_scores, check_exact=True)
    assert set(res.get_fold_runs().Status) == {"FINISHED"}
    assert set(res.get_model_runs().Status) == {"FINISHED"}


def _kill_run(small_epochs, tracking_uri, marks, times, max_retries):
    X, y, meta, _ = small_epochs
    cfg = killer_config(tracking_uri, marks, times, backend="joblib", n_jobs=2,
                        max_retries=max_retries)  # fmt: skip
    return Experiment(cfg).run(X, y, meta)


def test_killed_worker_leaves_its_fold_failed(small_epochs, tracking_uri, killer):
    """max_retries=0: the fold whose worker died is FAILED with the reason; the other
    folds, the other model and the experiment finish."""
    res = _kill_run(small_epochs, tracking_uri, killer, times=5, max_retries=0)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    assert client.get_run(res.run_id).info.status == "FINISHED"
    folds = res.get_fold_runs()
    assert len(folds) == 10  # none missing
    failed = res.failed_folds()
    assert failed[["Model", "TestGroups", "Status"]].values.tolist() == [["victim", "sub-03", "FAILED"]]
    assert "worker process died" in failed.Failure.item()
    assert client.get_run(failed.RunId.item()).data.tags["coco_pipe.worker_died"] == "true"
    assert (folds[folds.Model == "steady"].Status == "FINISHED").all()
    assert (folds[folds.Model == "victim"].Status == "FINISHED").sum() == 4
    assert len(list(killer.glob("kill-*"))) >= 1
    victim = res.get_model_runs().set_index("Model").loc["victim"]
    assert (victim.n_folds, victim.n_failed_folds) == (4, 1)


def test_killed_worker_retried_once(small_epochs, tracking_uri, killer):
    """max_retries=1 and a worker that dies once: the fold is run again, into the same
    fold run, and every fold finishes."""
    res = _kill_run(small_epochs, tracking_uri, killer, times=1, max_retries=1)
    folds = res.get_fold_runs()
    assert len(folds) == 10 and set(folds.Status) == {"FINISHED"}
    assert len(list(killer.glob("kill-*"))) == 1
    assert res.failed_folds().empty
