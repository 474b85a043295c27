"""The coco-pipe command: run a project config, write result tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coco_pipe.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_run_and_results_tables(tracking_uri, tmp_path, capsys):
    assert main(["run", str(ROOT / "projects/quickstart/config.yaml"), "--smoke", "--quiet",
                 "--tracking-uri", tracking_uri]) == 0
    out = capsys.readouterr().out
    run_id = out.split("parent run: ")[1].split()[0]
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
