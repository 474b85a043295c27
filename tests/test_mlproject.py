"""`mlflow run . --env-manager local` runs every entry point of MLproject offline: main
creates a parent run with one nested run per model x fold; results, promote and embed work
on it; parameter types are the ones the coco-pipe command parses."""

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


def _mlflow_run(tracking_uri, exp_id, entry, params, timeout=900):
    # as in an activated virtualenv: the venv's bin (coco-pipe, mlflow) first on PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}
    args = [a for k, v in params.items() for a in ("-P", f"{k}={v}")]
    proc = subprocess.run(
        [_mlflow_bin(), "run", ".", "-e", entry, *args, "--env-manager", "local", "--experiment-id", exp_id],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _run_project(tracking_uri, tmp_path, config, timeout=900, params=None):
    client = mlflow.tracking.MlflowClient(tracking_uri)
    exp_id = client.create_experiment("project", artifact_location=(tmp_path / "art").as_uri())
    _mlflow_run(tracking_uri, exp_id, "main", {"config": config, "smoke": "true", **(params or {})}, timeout)
    return client, exp_id


#: Projects on real recordings, run on the slice in tests/data (their own test below).
REAL_DATA_PROJECTS = {"projects/ssvep_exo/config.yaml"}


#: Projects whose models the default run covers more cheaply in-process: reve_qlora's
#: QLoRA on the Hugging Face backend (tests/decoding/test_qlora_experiment.py) and
#: finetune_compare's frozen / LoRA / full CBraMod (tests/foundation/neural/
#: test_decoder_in_experiment.py); the `mlflow run -e main` path itself runs for the others.
SLOW_PROJECTS = {"projects/reve_qlora/config.yaml", "projects/finetune_compare/config.yaml"}
PROJECTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "projects").glob("*/config.yaml"))


@pytest.mark.parametrize("config", [
    pytest.param(c, marks=pytest.mark.slow) if c in SLOW_PROJECTS else c
    for c in PROJECTS if c not in REAL_DATA_PROJECTS])  # fmt: skip
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


def test_results_promote_and_embed_entry_points(tracking_uri, tmp_path):
    client, exp_id = _run_project(tracking_uri, tmp_path, "projects/quickstart/config.yaml")
    parent = next(r for r in client.search_runs([exp_id]) if r.data.tags.get("coco_pipe.role") == "experiment")
    run_id = parent.info.run_id

    _mlflow_run(tracking_uri, exp_id, "results", {"run_id": run_id, "output": tmp_path / "tables"})
    assert {p.name for p in (tmp_path / "tables").iterdir()} >= {"summary.csv", "scores.csv", "predictions.csv"}

    _mlflow_run(tracking_uri, exp_id, "promote", {"run_id": run_id, "model": "cbramod_probe", "name": "mi-probe"})
    version = client.get_model_version_by_alias("mi-probe", "champion")
    assert version.tags["coco_pipe.model"] == "cbramod_probe" and version.tags["coco_pipe.fold_choice"] == "best"

    proc = _mlflow_run(tracking_uri, exp_id, "embed", {"smoke": "true", "batch_size": 16})
    assert "cbramod_probe: cbramod fingerprint" in proc.stdout
    runs = {r.data.params.get("batch_size") for r in client.search_runs([exp_id])}
    assert "16" in runs  # the entry point's own run records the integer as given


def test_mlproject_parameter_types_are_the_commands():
    """Each entry point's parameters are options of its coco-pipe command with a type that
    command parses: MLflow has no integer type, so integer options are strings (a 'float'
    parameter lets `-P batch_size=32.0` through, which argparse refuses); defaults parse."""
    import argparse

    import yaml

    from coco_pipe.cli import build_parser

    spec = yaml.safe_load((ROOT / "MLproject").read_text())
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(spec["entry_points"]) == {"main", "results", "promote", "embed"}
    for body in spec["entry_points"].values():
        words = body["command"].split()
        sub = commands[words[1]]
        for name, param in body["parameters"].items():
            at = words.index(f"{{{name}}}")
            flag = words[at - 1] if words[at - 1].startswith("--") else None
            action = next(a for a in sub._actions if (flag in a.option_strings) or (flag is None and a.dest == name))
            kind = param.get("type", "string")
            if action.type is int:
                assert kind == "string", (name, kind)
            assert kind == ("path" if name == "config" else "string"), (name, kind)
        defaults = {k: v.get("default", f"x-{k}") for k, v in body["parameters"].items()}
        argv = body["command"].format(**{k: (v if v != "" else "''") for k, v in defaults.items()}).split()[1:]
        build_parser().parse_args([w.strip("'") for w in argv])  # argparse's refusal fails the test


def test_ssvep_exo_project_on_the_real_slice(tracking_uri, tmp_path):
    """projects/ssvep_exo reads raw FIF files from the path given as a parameter (here the
    Kalunga2016 slice: 2 subjects x 2 runs) and runs the within-subject protocol."""
    from coco_pipe.decoding import ExperimentResult

    client, exp_id = _run_project(
        tracking_uri, tmp_path, "projects/ssvep_exo/config.yaml",
        params={"data_path": ROOT / "tests/data/kalunga2016_slice/raw"})
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


@pytest.mark.parametrize("config", PROJECTS)
def test_every_project_config_builds_its_models_shipped_and_smoke(config):
    """Each project's config validates and every model builds into an estimator, as shipped
    and shrunk by --smoke (what the slow `mlflow run` of the project starts from)."""
    from coco_pipe.cli import apply_smoke
    from coco_pipe.decoding.builders import build_estimator
    from coco_pipe.decoding.configs import ExperimentConfig

    shipped = ExperimentConfig.from_yaml(ROOT / config)
    for cfg in (shipped, apply_smoke(shipped)):
        built = {name: build_estimator(m, None, cfg.random_state) for name, m in cfg.models.items()}
        assert set(built) == set(shipped.models) and all(hasattr(e, "fit") for e in built.values())
    assert apply_smoke(shipped).cv.n_splits == min(shipped.cv.n_splits, 2)
