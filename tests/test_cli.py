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
