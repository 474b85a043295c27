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


def _run_project(tracking_uri, tmp_path, config, timeout=900):
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exp_id = client.create_experiment("project", artifact_location=(tmp_path / "art").as_uri())
    # as in an activated virtualenv: the venv's bin (coco-pipe, mlflow) first on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}
    proc = subprocess.run(
        [_mlflow_bin(), "run", ".", "-e", "main", "-P", f"config={config}", "-P", "smoke=true",
         "--env-manager", "local", "--experiment-id", exp_id],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return client, exp_id


@pytest.mark.parametrize("config", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "projects").glob("*/config.yaml")))
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
