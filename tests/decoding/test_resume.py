"""Resume: an experiment SIGKILLed after some folds finished continues where it stopped
(exactly the unfinished folds are fitted again) and ends with the tables of an
uninterrupted run; SIGTERM stops it cleanly (KILLED runs) and a resume continues it; a
resume with other data or another config is refused with what differs."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    TrackingConfig,
)
from coco_pipe.decoding.resume import ResumeMismatchError

SCRIPT = Path(__file__).parent / "experiment_script.py"
N_FOLDS = 10  # count + chance, 5 folds each


def _start(uri, fits, spool, *extra) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(SCRIPT), uri, str(fits), str(spool), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def _fold_runs(uri, status=None):
    client = mlflow.tracking.MlflowClient(uri)
    exp = client.get_experiment_by_name("killed")
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], "tags.`coco_pipe.role` = 'fold'", max_results=500)
    return [r for r in runs if status is None or r.info.status == status]


def _wait_for(predicate, proc, limit=600):
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the experiment ended early:\n{proc.stderr.read()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def _tables(stdout: str) -> dict:
    data = json.loads(stdout.strip().splitlines()[-1])
    return {k: pd.read_json(io.StringIO(v)) for k, v in data.items()}


SUBJECTS = {f"sub-0{i}" for i in range(1, 6)}
#: The training groups of each fold of model ``count`` (group_kfold: one subject tested per fold).
ALL_FITS = {",".join(sorted(SUBJECTS - {s})) for s in SUBJECTS}


def _groups(run) -> str:  # the training groups of a fold run (what the fit log records)
    return ",".join(sorted(SUBJECTS - set(run.data.tags["test_groups"].split(","))))


def _count_done(uri) -> set[str]:
    return {_groups(r) for r in _fold_runs(uri, "FINISHED") if r.data.tags["coco_pipe.model"] == "count"}


def _finish(proc) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out


@pytest.fixture
def uninterrupted(tmp_path):
    """The tables of the same experiment run without interruption (its own store)."""
    root = tmp_path / "reference"
    root.mkdir()
    out = _finish(_start(f"sqlite:///{root}/ref.db", root / "fits.log", root / "spool"))
    return _tables(out)


def test_sigkill_then_resume_fits_only_unfinished_folds(tmp_path, uninterrupted):
    uri, fits, spool = f"sqlite:///{tmp_path}/mlruns.db", tmp_path / "fits.log", tmp_path / "spool"
    proc = _start(uri, fits, spool, "--sleep", "1.5")
    _wait_for(lambda: len(_fold_runs(uri, "FINISHED")) >= 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_finished = len(_fold_runs(uri, "FINISHED"))
    stale = [r.info.run_id for r in _fold_runs(uri, "RUNNING")]
    assert 3 <= n_finished < N_FOLDS and stale  # killed mid-fold
    done = _count_done(uri)
    n_before = len(fits.read_text().splitlines())

    out = _finish(_start(uri, fits, spool, "--sleep", "0", "--resume"))
    refitted = fits.read_text().splitlines()[n_before:]
    assert sorted(refitted) == sorted(ALL_FITS - done)  # exactly the unfinished folds, once each
    client = mlflow.tracking.MlflowClient(uri)
    for run_id in stale:  # the fold in flight when killed: KILLED and superseded
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and run.data.tags["coco_pipe.superseded"] == "true"
    parents = client.search_runs([client.get_experiment_by_name("killed").experiment_id],
                                 "tags.`coco_pipe.role` = 'experiment'")  # fmt: skip
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"  # the same parent, continued
    resumed = _tables(out)
    for key in ("scores", "predictions", "summary"):
        pd.testing.assert_frame_equal(resumed[key], uninterrupted[key])


def test_sigterm_stops_cleanly_and_resume_continues(tmp_path):
    uri, fits, spool = f"sqlite:///{tmp_path}/mlruns.db", tmp_path / "fits.log", tmp_path / "spool"
    proc = _start(uri, fits, spool, "--sleep", "1.5")
    # stopped mid-fold: after two folds, while a third one runs (not between two folds)
    _wait_for(lambda: len(_fold_runs(uri, "FINISHED")) >= 2 and _fold_runs(uri, "RUNNING"), proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    client = mlflow.tracking.MlflowClient(uri)
    exp = client.get_experiment_by_name("killed")
    runs = client.search_runs([exp.experiment_id], max_results=500)
    by_role = {}
    for r in runs:
        by_role.setdefault(r.data.tags["coco_pipe.role"], []).append(r.info.status)
    assert by_role["experiment"] == ["KILLED"]
    assert "RUNNING" not in by_role["fold"] and "KILLED" in by_role["fold"]
    assert "KILLED" in by_role["model"]
    done, n_before = _count_done(uri), len(fits.read_text().splitlines())
    _finish(_start(uri, fits, spool, "--resume"))
    assert sorted(fits.read_text().splitlines()[n_before:]) == sorted(ALL_FITS - done)
    finished = _fold_runs(uri, "FINISHED")
    assert len({(r.data.tags["coco_pipe.model"], r.data.tags["coco_pipe.fold"]) for r in finished}) == N_FOLDS
    parent = client.search_runs([exp.experiment_id], "tags.`coco_pipe.role` = 'experiment'")
    assert [p.info.status for p in parent] == ["FINISHED"]


def _cfg(uri, **kw):
    base = dict(
        models={"lr": ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 200})},
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=uri, experiment_name="mismatch", log_plots=False),
        chance={"dummy": False}, verbose=False,
    )  # fmt: skip
    base.update(kw)
    return ExperimentConfig(**base)


def test_resume_refuses_other_data_or_config(small_epochs, tracking_uri):
    X, y, meta, _ = small_epochs
    first = Experiment(_cfg(tracking_uri)).run(X, y, meta)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    client.set_terminated(first.run_id, "KILLED")  # as a stopped experiment leaves it
    other = _cfg(tracking_uri, models={"lr": ClassicalModelConfig(
        estimator="LogisticRegression", params={"max_iter": 200, "C": 0.5})})  # fmt: skip
    with pytest.raises(ResumeMismatchError, match=r"config differs in models\.lr"):
        Experiment(other).run(X, y, meta, resume=True)
    X2 = X.copy()
    X2[0, 0, 0] += 1e-6
    with pytest.raises(ResumeMismatchError, match="data differ"):
        Experiment(_cfg(tracking_uri)).run(X2, y, meta, resume=first.run_id)
    # the matching config resumes it: every fold is reused, nothing is fitted again
    res = Experiment(_cfg(tracking_uri)).run(X, y, meta, resume=True)
    assert res.run_id == first.run_id and client.get_run(res.run_id).info.status == "FINISHED"
    pd.testing.assert_frame_equal(res.get_detailed_scores(), first.get_detailed_scores())
    assert len(res.get_fold_runs()) == 5
