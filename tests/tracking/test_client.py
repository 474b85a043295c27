"""Tracker against a real SQLite MLflow store: parent and nested runs, batch logging,
non-finite metrics, artifacts, adopting an active run, URIs."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from coco_pipe.tracking import (
    DEFAULT_TRACKING_URI,
    FOLD_TAG,
    PARENT_TAG,
    ROLE_TAG,
    Tracker,
    TrackingUnavailableError,
    check_reachable,
    resolve_tracking_uri,
)


@pytest.fixture
def tracker(tracking_uri) -> Tracker:
    return Tracker(tracking_uri, "client-test")


def test_parent_and_child_runs(tracker, tracking_uri, tmp_path):
    parent = tracker.start_parent("exp-1", tags={"coco_pipe.models": "a,b"})
    assert tracker.owned_parent
    child = tracker.start_child(parent, "a/fold-0", tags={ROLE_TAG: "fold", FOLD_TAG: 0, "n_test": 12})
    tracker.end(child, "FAILED")
    tracker.end(parent)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("client-test")
    assert exp.artifact_location == (tmp_path / "mlruns" / "client-test").resolve().as_uri()
    p, c = client.get_run(parent), client.get_run(child)
    assert (p.info.run_name, p.info.status, p.info.experiment_id) == ("exp-1", "FINISHED", exp.experiment_id)
    assert p.data.tags[ROLE_TAG] == "experiment" and p.data.tags["coco_pipe.models"] == "a,b"
    assert (c.info.run_name, c.info.status, c.info.experiment_id) == ("a/fold-0", "FAILED", exp.experiment_id)
    assert c.data.tags[PARENT_TAG] == parent
    assert (c.data.tags[FOLD_TAG], c.data.tags["n_test"]) == ("0", "12")  # tags become strings
    assert Tracker(tracking_uri, "client-test").experiment_id == exp.experiment_id  # found again


def test_batch_logging_beyond_mlflow_limits(tracker, tracking_uri):
    run = tracker.start_parent("batch")
    params = {f"p{i:03d}": i for i in range(250)}  # MLflow takes <= 100 params per request
    params["long"] = "x" * 7000
    params["none"] = None
    tags = {f"t{i:03d}": f"v{i}" for i in range(120)}
    steps = [("train_loss", 1.0 / (e + 1), e) for e in range(1, 1201)]  # > 1000 metrics
    tracker.log_batch(run, params=params, tags=tags, step_metrics=steps,
                      metrics={"acc": 0.75, "nan": float("nan"), "inf": math.inf,
                               "missing": None, "count": 3})  # fmt: skip
    client = MlflowClient(tracking_uri)
    data = client.get_run(run).data
    assert len([k for k in data.params if k.startswith("p")]) == 250
    assert data.params["p249"] == "249" and data.params["none"] == "None"
    assert len(data.params["long"]) == 5990 + len("...[cut]") and data.params["long"].endswith("...[cut]")
    assert len([k for k in data.tags if k.startswith("t")]) == 120
    assert data.metrics["acc"] == 0.75 and data.metrics["count"] == 3.0
    assert not {"nan", "inf", "missing"} & set(data.metrics)  # non-finite values skipped
    history = client.get_metric_history(run, "train_loss")
    assert len(history) == 1200 and sorted(m.step for m in history) == list(range(1, 1201))
    tracker.log_batch(run, step_metrics=[("val_loss", float("nan"), 1), ("val_loss", 0.5, 2)])
    assert [(m.step, m.value) for m in client.get_metric_history(run, "val_loss")] == [(2, 0.5)]


def test_artifacts_files_folders_tables_text(tracker, tracking_uri, tmp_path):
    run = tracker.start_parent("artifacts")
    f = tmp_path / "note.txt"
    f.write_text("hello")
    folder = tmp_path / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "config.json").write_text("{}")
    tracker.log_artifact(run, f, "notes")
    tracker.log_artifact(run, folder, "checkpoints/ckpt")
    tracker.log_artifact(run, f)  # at the root
    table = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    tracker.log_table(run, table, "predictions/predictions.csv")
    tracker.log_table(run, table, "top.csv")
    tracker.log_text(run, "k: v\n", "config/experiment.yaml")
    client = MlflowClient(tracking_uri)

    def paths(path=None):
        out = []
        for info in client.list_artifacts(run, path):
            out.extend(paths(info.path) if info.is_dir else [info.path])
        return out

    assert sorted(paths()) == sorted([
        "notes/note.txt", "checkpoints/ckpt/weights.bin", "checkpoints/ckpt/sub/config.json",
        "note.txt", "predictions/predictions.csv", "top.csv", "config/experiment.yaml",
    ])  # fmt: skip
    back = pd.read_csv(client.download_artifacts(run, "predictions/predictions.csv", str(tmp_path)))
    pd.testing.assert_frame_equal(back, table)
    text = Path(client.download_artifacts(run, "config/experiment.yaml", str(tmp_path))).read_text()
    assert text == "k: v\n"


def test_start_parent_adopts_the_active_run(tracking_uri, monkeypatch):
    mlflow.set_tracking_uri(tracking_uri)
    try:
        exp_id = MlflowClient(tracking_uri).create_experiment("outer")
        with mlflow.start_run(experiment_id=exp_id) as active:
            tracker = Tracker(tracking_uri, "client-test")
            parent = tracker.start_parent("ignored", tags={"coco_pipe.task": "classification"})
            assert parent == active.info.run_id and not tracker.owned_parent
            child = tracker.start_child(parent, "m/fold-0")
        client = MlflowClient(tracking_uri)
        run = client.get_run(parent)
        assert run.data.tags[ROLE_TAG] == "experiment" and run.data.tags["coco_pipe.task"] == "classification"
        assert client.get_run(child).info.experiment_id == exp_id  # nested in the adopted run's experiment
        assert client.get_experiment_by_name("client-test") is None  # nothing created
        # MLFLOW_RUN_ID (set by `mlflow run`) is adopted too
        monkeypatch.setenv("MLFLOW_RUN_ID", parent)
        again = Tracker(tracking_uri, "client-test")
        assert again.start_parent("x") == parent and not again.owned_parent
    finally:
        mlflow.set_tracking_uri(None)


def test_resolve_tracking_uri(tmp_path, monkeypatch):
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"  # the default, absolute
    assert DEFAULT_TRACKING_URI == "sqlite:///mlflow.db"  # MLflow 3's own default
    assert resolve_tracking_uri("sqlite:///sub/x.db") == f"sqlite:///{tmp_path / 'sub' / 'x.db'}"
    assert resolve_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_tracking_uri("store") == f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    assert resolve_tracking_uri("http://host:5000") == "http://host:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:1")
    assert resolve_tracking_uri() == "http://env:1"
    assert resolve_tracking_uri("http://given:2") == "http://given:2"


def test_unreachable_stores_are_named(tmp_path):
    with pytest.raises(TrackingUnavailableError, match=r"cannot reach the MLflow tracking server at http://127.0.0.1:9"):
        check_reachable("http://127.0.0.1:9", timeout=2)
    missing = tmp_path / "nowhere" / "x.db"
    with pytest.raises(TrackingUnavailableError, match=f"directory {tmp_path / 'nowhere'} does not exist"):
        Tracker(f"sqlite:///{missing}")
    check_reachable(f"sqlite:///{tmp_path / 'x.db'}")  # a new file in an existing folder is fine
