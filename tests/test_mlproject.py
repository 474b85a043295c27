"""`mlflow run . --env-manager local` runs the main entry point offline and creates a
parent run with one nested run per model x fold."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mlflow_bin() -> str:
    return shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"


def _run_project(tracking_uri, tmp_path, config, timeout=900, params=()):
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exp_id = client.create_experiment("project", artifact_location=(tmp_path / "art").as_uri())
    # as in an activated virtualenv: the venv's bin (coco-pipe, mlflow) first on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}
    proc = subprocess.run(
        [_mlflow_bin(), "run", ".", "-e", "main", "-P", f"config={config}", "-P", "smoke=true",
         *[a for p in params for a in ("-P", p)],
         "--env-manager", "local", "--experiment-id", exp_id],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return client, exp_id


#: Projects on real recordings, run on the slice in tests/data (their own test below).
REAL_DATA_PROJECTS = {"projects/ssvep_exo/config.yaml"}


@pytest.mark.parametrize("config", sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "projects").glob("*/config.yaml")
    if str(p.relative_to(ROOT)) not in REAL_DATA_PROJECTS))
def test_mlflow_run_main_creates_nested_runs(tracking_uri, tmp_path, config):
    client, exp_id = _run_project(tracking_uri, tmp_path, config)
    runs = client.search_runs([exp_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    models = parent.data.tags["coco_pipe.models"].split(",")
    n_folds = int(parent.data.tags["coco_pipe.n_folds"])
    assert sorted(r.data.tags["coco_pipe.model"] for r in children) == sorted(models)  # model runs
    assert {r.data.tags["coco_pipe.role"] for r in children} == {"model"}
    model_ids = {r.info.run_id: r.data.tags["coco_pipe.model"] for r in children}
    folds = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in model_ids]
    assert len(folds) == len(models) * n_folds
    assert {(r.data.tags["coco_pipe.model"], r.data.tags["coco_pipe.fold"]) for r in folds} == {
        (m, str(k)) for m in models for k in range(n_folds)
    }
    assert all(model_ids[r.data.tags["mlflow.parentRunId"]] == r.data.tags["coco_pipe.model"] for r in folds)


def test_ssvep_exo_project_on_the_real_slice(tracking_uri, tmp_path):
    """projects/ssvep_exo reads raw FIF files from the path given as a parameter (here the
    Kalunga2016 slice: 2 subjects x 2 runs) and runs the within-subject protocol."""
    from coco_pipe.decoding import ExperimentResult

    client, exp_id = _run_project(
        tracking_uri, tmp_path, "projects/ssvep_exo/config.yaml",
        params=[f"data_path={ROOT / 'tests/data/kalunga2016_slice/raw'}"])
    parent = [r for r in client.search_runs([exp_id]) if "mlflow.parentRunId" not in r.data.tags][0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["cv.strategy"] == "within_subject"
    assert parent.data.params["data.shape"] == "(32, 8, 512)"
    res = ExperimentResult.from_run(parent.info.run_id, tracking_uri=tracking_uri)
    folds = res.get_fold_runs()
    assert (folds.Status == "FINISHED").all()
    assert len(folds) == len(res.models) * 2 * 2  # subjects x smoke folds
    assert set(folds.TestGroups) == {"1", "2"}
    summary = res.summary()
    assert set(summary.n_subjects) == {2}
    assert {"fbts_lr", "ts_lr", "cca", "eegnet", "chance"} == set(res.models)
    assert set(res.to_moabb().subject) == {"1", "2"}
