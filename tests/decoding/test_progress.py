"""Progress: a log line per finished fold when stderr is not a terminal."""

from __future__ import annotations

import logging

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    TrackingConfig,
)
from coco_pipe.decoding.progress import FoldProgress


def test_fold_lines_without_a_terminal(caplog):
    with caplog.at_level(logging.INFO, logger="coco_pipe.progress"):
        progress = FoldProgress(3, "accuracy", enabled=True)  # pytest's stderr is no TTY
        progress.skip(1)
        progress.update("lr", 1, {"accuracy": 0.8125}, 1.25, failed=False)
        progress.update("lr", 2, {}, 0.5, failed=True)
        progress.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "coco_pipe.progress"]
    assert lines == ["resumed: 1 of 3 folds reused from the store",
                     "fold 2/3 done: lr fold 1, accuracy=0.812, 1.2 s",
                     "fold 3/3 done: lr fold 2, FAILED, 0.5 s"]  # fmt: skip


def test_experiment_logs_each_fold(small_epochs, tracking_uri, caplog):
    X, y, meta, _ = small_epochs
    cfg = ExperimentConfig(
        models={"lr": ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 200})},
        cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, log_plots=False), chance={"dummy": False},
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="coco_pipe.progress"):
        Experiment(cfg).run(X, y, meta)
    lines = [r.getMessage() for r in caplog.records if r.name == "coco_pipe.progress"]
    assert [line.split(",")[0] for line in lines] == ["fold 1/2 done: lr fold 0", "fold 2/2 done: lr fold 1"]
    assert all("balanced_accuracy=" in line for line in lines)
