"""The coco-pipe command: run a project config, write result tables, embed, promote; help."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from coco_pipe.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def test_run_and_results_tables(tracking_uri, tmp_path, capsys):
    assert main(["run", str(ROOT / "projects/quickstart/config.yaml"), "--smoke", "--quiet",
                 "--tracking-uri", tracking_uri]) == 0
    out = capsys.readouterr().out
    run_id = out.split("parent run: ")[1].split()[0]
    experiment_id = mlflow.MlflowClient(tracking_uri).get_run(run_id).info.experiment_id
    # where MLflow 3's UI shows the model runs (its default view is GenAI's)
    assert f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning" in out
    for fmt in ("csv", "parquet"):
        assert main(["results", run_id, "--format", fmt, "--output", str(tmp_path / fmt),
                     "--tracking-uri", tracking_uri]) == 0
    scores = pd.read_csv(tmp_path / "csv" / "scores.csv")
    assert list(scores.columns) == ["Model", "Fold", "Metric", "Value"]
    assert set(scores.Fold) == {0, 1}  # smoke: 2 folds
    parquet = pd.read_parquet(tmp_path / "parquet" / "scores.parquet")
    pd.testing.assert_frame_equal(scores, parquet, check_dtype=False)
    preds = pd.read_csv(tmp_path / "csv" / "predictions.csv")
    assert {"y_true", "y_pred", "Fold", "Model"} <= set(preds.columns)


def test_cli_error_is_clear(capsys, tmp_path):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_bad_config_key_named(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("models: {m: {estimator: LogisticRegression}}\nfolds: 3\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "folds" in err and "Extra inputs are not permitted" in err


def test_run_exits_nonzero_naming_models_without_success(tracking_uri, tmp_path, capsys):
    """A model whose every fold failed: exit 1, the model and its errors on stderr, the
    failed folds in the results, and the chance model not ranked first."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "models:\n  broken: {estimator: LogisticRegression, params: {solver: bogus}}\n"
        "  fine: {estimator: LogisticRegression, params: {max_iter: 300}}\n"
        "cv: {strategy: group_kfold, n_splits: 2, group_key: Subject}\n"
        "tracking: {log_plots: false}\n"
        "data: {source: synthetic, params: {n_subjects: 4, n_epochs_per_class: 6, tmax: 1.0}}\n"
    )
    assert main(["run", str(path), "--quiet", "--tracking-uri", tracking_uri]) == 1
    captured = capsys.readouterr()
    assert "no fold of model(s) broken succeeded" in captured.err
    assert "broken fold 0: InvalidParameterError" in captured.err
    run_id = captured.out.split("parent run: ")[1].split()[0]
    assert main(["results", run_id, "--output", str(tmp_path / "out"), "--tracking-uri", tracking_uri]) == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    main_metric = summary[summary.Metric == "balanced_accuracy"].set_index("Model")
    assert main_metric.loc["broken", "Status"] == "failed" and pd.isna(main_metric.loc["broken", "Rank"])
    assert main_metric.loc["fine", "Rank"] == 1


def test_only_chance_left_is_not_ranked(tracking_uri, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(
        "models:\n  broken: {estimator: LogisticRegression, params: {solver: bogus}}\n"
        "cv: {strategy: group_kfold, n_splits: 2, group_key: Subject}\n"
        "tracking: {log_plots: false}\n"
        "data: {source: synthetic, params: {n_subjects: 4, n_epochs_per_class: 6, tmax: 1.0}}\n"
    )
    assert main(["run", str(path), "--quiet", "--tracking-uri", tracking_uri]) == 1
    out = capsys.readouterr().out
    run_id = out.split("parent run: ")[1].split()[0]
    from coco_pipe import ExperimentResult

    summary = ExperimentResult.from_run(run_id, tracking_uri=tracking_uri).summary()
    assert summary.Rank.isna().all()  # chance is the reference, never the winner
    assert set(summary[summary.Model == "chance"].Status) == {"ok"}


def test_sync_with_nothing_to_replay(tmp_path, capsys):
    assert main(["sync", str(tmp_path / "spool")]) == 0
    assert "nothing to replay" in capsys.readouterr().out


RAW_CONFIG = """
data:
  source: {source}
  path: {path}
  raw: {{events: "{{stem}}-eve.fif"}}
  epoching: {{tmin: 2.0, tmax: 4.0, l_freq: 1.0, h_freq: 45.0, unit: mV,
              event_id: {{rest: 1, 13Hz: 2, 21Hz: 3, 17Hz: 4}}}}
cv: {{strategy: cross_session}}
models: {{ts_lr: {{estimator: TangentSpace_LR}}}}
tracking: {{log_plots: false}}
"""


def test_run_raw_source_with_data_path(tracking_uri, tmp_path, capsys):
    """A raw-source config whose files are given on the command line (--data-path)."""
    cfg = tmp_path / "raw.yaml"
    cfg.write_text(RAW_CONFIG.format(source="raw", path="not/here"))
    slice_raw = ROOT / "tests/data/kalunga2016_slice/raw"
    assert main(["run", str(cfg), "--data-path", str(slice_raw), "--smoke", "--quiet",
                 "--tracking-uri", tracking_uri]) == 0
    out = capsys.readouterr().out
    assert "n_subjects" in out  # the protocol's summary is over subjects
    from coco_pipe.decoding import ExperimentResult

    res = ExperimentResult.from_run(out.split("parent run: ")[1].split()[0], tracking_uri)
    assert len(res.get_fold_runs()) == 2 * 4  # (ts_lr, chance) x (2 subjects x 2 runs)
    # without --data-path the config's own path is used, and its absence is reported
    assert main(["run", str(cfg), "--tracking-uri", tracking_uri]) == 2
    assert "not/here" in capsys.readouterr().err


def test_load_data_moabb_source():
    from coco_pipe.cli import load_data
    from coco_pipe.decoding.configs import ExperimentConfig

    cfg = ExperimentConfig(models={"m": {"estimator": "LogisticRegression"}}, data={
        "source": "moabb", "moabb": {
            "dataset": "FakeDataset", "paradigm": "SSVEP", "subjects": [1, 2],
            "dataset_params": {"paradigm": "ssvep", "event_list": ["13", "17"],
                               "n_subjects": 2, "duration": 30, "n_events": 8, "seed": 0},
            "paradigm_params": {"n_classes": 2}}})
    X, y, meta, extra = load_data(cfg)
    assert X.ndim == 3 and len(y) == len(meta) == len(X)
    assert set(meta.Subject) == {1, 2} and {"session", "run"} <= set(meta.columns)
    assert extra["sfreq"] == 128.0 and extra["ch_names"] == ["C3", "Cz", "C4"]


def test_data_path_errors(tmp_path, capsys):
    cfg = tmp_path / "bids.yaml"
    cfg.write_text(RAW_CONFIG.format(source="bids", path="x").replace(
        '  raw: {events: "{stem}-eve.fif"}\n', ""))
    assert main(["run", str(cfg), "--data-path", str(tmp_path / "no_root")]) == 2
    assert "the BIDS root" in capsys.readouterr().err
    quick = ROOT / "projects/quickstart/config.yaml"
    assert main(["run", str(quick), "--data-path", str(tmp_path)]) == 2
    assert "--data-path needs a config whose data.source reads files" in capsys.readouterr().err
HEAVY = ("numpy", "pandas", "mlflow", "torch", "sklearn", "mne", "braindecode", "coco_pipe.decoding.experiment")


def test_help_imports_nothing_heavy():
    """`coco-pipe --help` (and each command's help) answers before any dependency is imported."""
    code = ("import sys\nfrom coco_pipe.cli import main\nfor argv in (['--help'], ['run', '--help'], "
            "['promote', '--help']):\n    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_every_option_says_what_it_does_and_every_command_has_an_example(capsys):
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"run", "sync", "results", "models", "cache", "promote", "embed"}
    for name, sub in commands.items():
        with pytest.raises(SystemExit):
            sub.parse_args(["--help"])
        text = capsys.readouterr().out
        assert "example" in text and f"coco-pipe {name}" in text.split("example", 1)[1], name
        for action in sub._actions:
            if action.dest != "help" and not isinstance(action, argparse._SubParsersAction):
                assert action.help and len(action.help) > 15, (name, action.dest)


def test_embed_fills_the_cache_the_run_then_finds_every_embedding_in_it(tracking_uri, capsys, tmp_path):
    config = str(ROOT / "projects/quickstart/config.yaml")
    assert main(["embed", config, "--smoke", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "cbramod_probe: cbramod fingerprint" in out and "(96 computed, 0 already cached)" in out
    assert main(["embed", config, "--smoke", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "(0 computed, 96 already cached)" in capsys.readouterr().out  # the second pass finds them all

    # the experiment's folds read those embeddings: not one window is forwarded again
    text = (ROOT / "projects/quickstart/config.yaml").read_text().replace(
        "cache_embeddings: true", f"cache_embeddings: true\n      cache_dir: {tmp_path / 'cache'}")
    (tmp_path / "q.yaml").write_text(text)
    assert main(["run", str(tmp_path / "q.yaml"), "--smoke", "--quiet", "--tracking-uri", tracking_uri]) == 0
    run_id = capsys.readouterr().out.split("parent run: ")[1].split()[0]
    metrics = mlflow.MlflowClient(tracking_uri).get_run(run_id).data.metrics
    assert metrics["cache.misses"] == 0 and metrics["cache.hits"] > 0

    # refit from the command line: the data are reloaded from the run's own config
    assert main(["promote", run_id, "--model", "logreg", "--fold", "refit", "--name", "mi-refit",
                 "--tracking-uri", tracking_uri]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "registered models:/mi-refit/1 as @champion" in out and "refit on all" in out


def test_embed_names_what_to_do_without_a_backbone(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("models: {m: {estimator: LogisticRegression}}\ndata: {source: synthetic}\n")
    assert main(["embed", str(path)]) == 2
    assert "no frozen_backbone model to embed for; name a backbone with --model-key" in capsys.readouterr().err
