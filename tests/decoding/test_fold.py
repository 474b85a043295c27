"""One fold's temporary folder: its files are logged, then it is removed (also when the fold
fails), unless COCO_PIPE_KEEP_WORKDIRS asks to keep it; parent-run artifacts outlive it."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import mlflow
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ChanceConfig,
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    TrackingConfig,
)
from coco_pipe.decoding.fold import KEEP_WORKDIRS_ENV, fold_workdir, keep_workdirs


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    """A temp dir of this test's own (tempfile.gettempdir() points there)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _run(small_epochs, tracking_uri, on_error="continue"):
    X, y, meta, _ = small_epochs
    cfg = ExperimentConfig(
        models={
            "rep": ClassicalModelConfig(estimator="ReportingLogReg"),
            "flaky": ClassicalModelConfig(estimator="NeedsGroupsLogReg", params={"needs": ["sub-01"]}),
        },
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="workdirs", log_plots=False),
        chance=ChanceConfig(dummy=False),
        verbose=False,
        on_error=on_error,
    )  # fmt: skip
    return Experiment(cfg).run(X, y, meta)


def _fold_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith(("coco-pipe-rep-", "coco-pipe-flaky-")))


def test_workdirs_removed_after_their_artifacts_are_logged(
    small_epochs, tracking_uri, test_estimators, temp_root, monkeypatch
):
    monkeypatch.delenv(KEEP_WORKDIRS_ENV, raising=False)
    res = _run(small_epochs, tracking_uri)
    workdirs = test_estimators["ReportingLogReg"].workdirs
    assert len(workdirs) == 5 and len(set(workdirs)) == 5
    assert all(w.parent == temp_root and w.name.startswith("coco-pipe-rep-") for w in workdirs)
    assert not any(w.exists() for w in workdirs)
    assert _fold_dirs(temp_root) == []  # the failed fold's folder went too
    assert not [p for p in temp_root.iterdir() if p.name.startswith("coco-pipe-tuning-")]
    folds = res.get_fold_runs()
    assert (folds[folds.Model == "flaky"].Status == "FAILED").sum() == 1
    # everything the estimator wrote was logged before its folder went
    arts = res.get_model_artifacts()
    rep = arts[arts.Model == "rep"]
    for fold in range(5):
        keys = set(rep[rep.Fold == fold].ArtifactKey)
        assert {"checkpoints/ckpt/weights.json", "training_history/history.csv"} <= keys
    key = rep[rep.ArtifactKey == "checkpoints/ckpt/weights.json"].iloc[0]
    run_id = folds[(folds.Model == "rep") & (folds.Fold == key.Fold)].RunId.item()
    assert '"coef"' in res.download_artifact(run_id, key.ArtifactKey).read_text()
    # a parent-run artifact of a fold is logged once, after all folds, from a staged copy
    parent = res.get_parent_artifacts("notes")
    assert parent.ArtifactKey.tolist() == ["notes/note.txt"]
    note = res.download_artifact(res.run_id, "notes/note.txt").read_text()
    assert note == "fold of 2 classes"
    client = mlflow.tracking.MlflowClient(tracking_uri)
    assert client.get_run(res.run_id).data.metrics["reporting.folds"] == 5.0


def test_workdirs_removed_when_the_fold_raises(small_epochs, tracking_uri, test_estimators, temp_root):
    with pytest.raises(ValueError, match="lacks group"):
        _run(small_epochs, tracking_uri, on_error="raise")
    assert _fold_dirs(temp_root) == []


def test_workdirs_kept_on_request(
    small_epochs, tracking_uri, test_estimators, temp_root, monkeypatch, caplog
):
    monkeypatch.setenv(KEEP_WORKDIRS_ENV, "1")
    with caplog.at_level(logging.INFO, logger="coco_pipe.decoding.fold"):
        _run(small_epochs, tracking_uri)
    kept = _fold_dirs(temp_root)
    assert len(kept) == 10  # 2 models x 5 folds, the failed one included
    for w in test_estimators["ReportingLogReg"].workdirs:
        assert (w / "ckpt" / "weights.json").is_file() and (w / "history.csv").is_file()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert all(str(p) in logged for p in kept)


@pytest.mark.parametrize(("value", "keep"), [("1", True), ("true", True), ("YES", True),
                                             ("0", False), ("", False), ("no", False)])  # fmt: skip
def test_keep_workdirs_reads_the_environment(monkeypatch, value, keep):
    monkeypatch.setenv(KEEP_WORKDIRS_ENV, value)
    assert keep_workdirs() is keep


def test_fold_workdir_removed_on_error(temp_root, monkeypatch):
    monkeypatch.delenv(KEEP_WORKDIRS_ENV, raising=False)
    with pytest.raises(RuntimeError, match="boom"), fold_workdir("m", 3) as workdir:
        (workdir / "sub").mkdir()
        (workdir / "sub" / "f.bin").write_bytes(b"x" * 10)
        assert workdir.name.startswith("coco-pipe-m-3-") and workdir.parent == temp_root
        raise RuntimeError("boom")
    assert not workdir.exists()


def test_folders_of_killed_processes_are_swept_by_the_next_experiment(
    small_epochs, tracking_uri, test_estimators, temp_root, monkeypatch
):
    """A process killed with SIGKILL cannot remove its working folder; the next experiment
    removes it, and leaves the folders of processes still running (this one's too)."""
    import signal
    import subprocess
    import sys

    code = ("import sys, tempfile, time\nfrom coco_pipe.decoding.fold import fold_workdir\n"
            f"tempfile.tempdir = {str(temp_root)!r}\n"
            "with fold_workdir('victim', 0) as d:\n    print(d, flush=True)\n    time.sleep(600)\n")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    killed = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert killed.is_dir() and f"-pid{proc.pid}-" in killed.name  # left behind: the test can fail
    with fold_workdir("alive", 1) as alive:
        monkeypatch.setenv(KEEP_WORKDIRS_ENV, "1")  # kept on request: nothing is swept
        _run(small_epochs, tracking_uri)
        assert killed.is_dir()
        monkeypatch.delenv(KEEP_WORKDIRS_ENV)
        for kept in _fold_dirs(temp_root):
            shutil.rmtree(kept)
        _run(small_epochs, tracking_uri)
        assert not killed.exists() and alive.is_dir()
    assert _fold_dirs(temp_root) == []
