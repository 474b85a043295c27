"""A shared tracking server for many workers: ``mlflow server`` on a real PostgreSQL
backend with proxied artifacts, and Optuna's studies on the same PostgreSQL server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.result import ExperimentResult
from servers import mlflow_server_process

pytestmark = pytest.mark.server


def _data():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 48)
    X = rng.normal(size=(96, 4, 32))
    X[y == 1, 0] *= 2.0
    meta = pd.DataFrame({"Subject": np.repeat(["s1", "s2", "s3"], 32)})
    return X, y, meta


def test_experiment_tracked_through_mlflow_server_on_postgres(postgres, tmp_path):
    import optuna

    backend = postgres.create_database("mlflow_store")
    storage = postgres.create_database("optuna_studies")
    X, y, meta = _data()
    with mlflow_server_process(tmp_path, backend) as uri:
        cfg = {
            "models": {"lr": {"estimator": "LogisticRegression", "params": {"max_iter": 200}}},
            "cv": {"strategy": "group_kfold", "n_splits": 3, "group_key": "Subject"},
            "tuning": {"enabled": True, "n_trials": 3, "sampler": "random", "pruner": "none",
                       "inner_cv": 2, "storage": storage, "study_name": "pg",
                       "search_space": {"lr": {"params.C": {"type": "float", "low": 1e-2,
                                                            "high": 10.0, "log": True}}}},
            "tracking": {"tracking_uri": uri, "experiment_name": "pg-shared", "log_plots": False},
            "chance": {"dummy": False}, "verbose": False, "on_error": "raise",
        }  # fmt: skip
        res = Experiment(cfg).run(X, y, meta)
        back = ExperimentResult.from_run(res.run_id, tracking_uri=uri)
        folds = back.get_fold_runs()
        assert len(folds) == 3 and (folds.Status == "FINISHED").all()
        pd.testing.assert_frame_equal(back.get_detailed_scores(), res.get_detailed_scores())
        assert back.get_detailed_scores()["Value"].between(0, 1).all()
        preds = back.get_predictions()  # proxied artifacts, read through the server
        assert sorted(preds.SampleIndex) == list(range(96))

    # the runs are rows of the PostgreSQL store, the artifacts files of the server's folder
    with postgres.connect("mlflow_store") as con:
        rows = dict(con.execute("SELECT run_uuid, status FROM runs").fetchall())
    assert rows[res.run_id] == "FINISHED"
    assert all(rows[r] == "FINISHED" for r in folds.RunId)
    assert len(rows) >= 1 + 3 + 3 * 3  # parent, folds, trials (model runs where logged)
    assert len(list((tmp_path / "artifacts").rglob("predictions.csv"))) == 3
    studies = optuna.get_all_study_names(storage=storage)
    assert sorted(studies) == [f"pg-lr-fold{k}" for k in range(3)]
    for name in studies:
        study = optuna.load_study(study_name=name, storage=storage)
        assert len([t for t in study.trials if t.state.is_finished()]) >= 3
