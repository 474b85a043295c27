"""Plots are written as PNG files that load as non-blank images, without touching pyplot."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from coco_pipe.decoding.metrics import METRICS
from coco_pipe.decoding.stats import pairwise_comparisons
from coco_pipe.reporting import plots


def _assert_image(path, min_width=1000, min_height=600):
    assert path.exists() and path.suffix == ".png"
    assert path.stat().st_mode & 0o777 == 0o644  # readable by whoever reads the run
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    h, w = img.shape[:2]
    assert h >= min_height and w >= min_width
    rgb = img[..., :3].reshape(-1, 3)
    # not blank: many distinct colours and plenty of non-white pixels
    assert len(np.unique(np.round(rgb, 2), axis=0)) > 10
    assert np.mean(rgb.min(axis=1) < 0.9) > 0.01
    # no temporary file left next to it
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    return img


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y_true = np.repeat(["left_hand", "right_hand"], 60)
    p_right = np.clip(np.where(y_true == "right_hand", 0.7, 0.3) + rng.normal(0, 0.2, 120), 0, 1)
    return pd.DataFrame(
        {
            "Model": "csp",
            "Fold": np.tile(np.arange(4), 30),
            "y_true": y_true,
            "y_pred": np.where(p_right > 0.5, "right_hand", "left_hand"),
            "proba_left_hand": 1 - p_right,
            "proba_right_hand": p_right,
        }
    )


@pytest.fixture
def scores():
    rng = np.random.default_rng(1)
    rows = []
    for model, mean in [("CSP_LDA", 0.9), ("TangentSpace_LR", 0.85), ("chance", 0.5)]:
        for fold in range(5):
            rows.append((model, fold, "balanced_accuracy", mean + rng.normal(0, 0.03)))
            rows.append((model, fold, "accuracy", mean + rng.normal(0, 0.03)))
    return pd.DataFrame(rows, columns=["Model", "Fold", "Metric", "Value"])


def test_confusion_matrix(tmp_path, predictions):
    path = plots.plot_confusion_matrix(predictions, tmp_path / "sub" / "cm.png", title="csp")
    _assert_image(path)
    counts = plots.plot_confusion_matrix(predictions, tmp_path / "counts.png", normalize=None)
    _assert_image(counts)
    with pytest.raises(ValueError, match="normalize"):
        plots.plot_confusion_matrix(predictions, tmp_path / "x.png", normalize="rows")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['y_pred'\]"):
        plots.plot_confusion_matrix(predictions.drop(columns="y_pred"), tmp_path / "x.png")


def test_fold_scores_with_chance_line(tmp_path, scores):
    path = plots.plot_fold_scores(scores, "balanced_accuracy", tmp_path / "folds.png", chance=0.5)
    img = _assert_image(path)
    # the chance line is drawn in red (tab:red): some strongly red pixels exist
    red = (img[..., 0] > 0.7) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
    assert red.sum() > 50
    no_chance = imread(plots.plot_fold_scores(scores, "balanced_accuracy", tmp_path / "nc.png"))
    red_nc = (no_chance[..., 0] > 0.7) & (no_chance[..., 1] < 0.35) & (no_chance[..., 2] < 0.35)
    assert red_nc.sum() < red.sum()
    with pytest.raises(ValueError, match="metrics present"):
        plots.plot_fold_scores(scores, "roc_auc", tmp_path / "x.png")


def test_roc_curve(tmp_path, predictions):
    path = plots.plot_roc_curve(predictions, tmp_path / "roc.png", positive_label="right_hand")
    _assert_image(path)
    with pytest.raises(ValueError, match="proba_feet"):
        plots.plot_roc_curve(predictions, tmp_path / "x.png", positive_label="feet")
    one_class = predictions[predictions.y_true == "left_hand"]
    with pytest.raises(ValueError, match="both classes"):
        plots.plot_roc_curve(one_class, tmp_path / "x.png", positive_label="left_hand")


def test_learning_curves(tmp_path):
    epochs = np.arange(1, 11)
    history = pd.DataFrame(
        {
            "epoch": np.tile(epochs, 2),
            "Fold": np.repeat([0, 1], 10),
            "train_loss": np.tile(1 / epochs, 2),
            "val_loss": np.tile(1.2 / epochs + 0.1, 2),
            "val_balanced_accuracy": np.tile(0.5 + 0.04 * epochs, 2),
            "lr": 1e-3,
        }
    )
    wide = _assert_image(plots.plot_learning_curves(history, tmp_path / "lc.png"))
    narrow = _assert_image(
        plots.plot_learning_curves(history[["epoch", "train_loss"]], tmp_path / "lc1.png")
    )
    assert wide.shape[1] > narrow.shape[1]  # a second panel for the validation metric
    with pytest.raises(ValueError, match="train_loss"):
        plots.plot_learning_curves(history.drop(columns="train_loss"), tmp_path / "x.png")


def test_plots_leave_pyplot_and_the_backend_alone(tmp_path, scores):
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    plots.plot_fold_scores(scores, "accuracy", tmp_path / "a.png")
    assert plt.get_fignums() == before
    assert matplotlib.get_backend() == backend


def _gray(img):
    rgb = img[..., :3]
    return ((abs(rgb[..., 0] - rgb[..., 1]) < 0.02) & (abs(rgb[..., 1] - rgb[..., 2]) < 0.02)
            & (rgb[..., 0] > 0.3) & (rgb[..., 0] < 0.5)).sum()  # fmt: skip


def test_fold_scores_mark_each_model_against_the_best(tmp_path, scores):
    table = pairwise_comparisons(scores, "balanced_accuracy", n_train=80, n_test=20)
    marked = _assert_image(plots.plot_fold_scores(scores, "balanced_accuracy", tmp_path / "m.png",
                                                  chance=0.5, pairwise=table))  # fmt: skip
    plain = imread(plots.plot_fold_scores(scores, "balanced_accuracy", tmp_path / "p.png", chance=0.5))
    assert _gray(marked) > _gray(plain) + 50  # the p-values, in grey above each model
    assert plots._against_best(table, "CSP_LDA", "chance").endswith("***")
    assert plots._against_best(table, "CSP_LDA", "CSP_LDA") is None


def test_roc_auc_on_the_plot_is_the_summarys_fold_mean(predictions):
    """The ROC plot's legend shows the mean of the folds' AUCs: the summary's roc_auc."""
    aucs = plots.fold_aucs(predictions, "right_hand")
    metric = METRICS["roc_auc"].func
    want = [metric(f.y_true.to_numpy(), None, f[["proba_left_hand", "proba_right_hand"]].to_numpy())
            for _, f in predictions.groupby("Fold")]  # fmt: skip
    np.testing.assert_allclose(aucs.to_numpy(), want)
    pooled = METRICS["roc_auc"].func(predictions.y_true.to_numpy(), None,
                                     predictions[["proba_left_hand", "proba_right_hand"]].to_numpy())  # fmt: skip
    assert aucs.mean() != pytest.approx(pooled, abs=1e-9)  # the numbers the two ways differ


def test_roc_without_folds_is_labelled_pooled(tmp_path, predictions):
    path = plots.plot_roc_curve(predictions.drop(columns="Fold"), tmp_path / "pooled.png",
                                positive_label="right_hand")  # fmt: skip
    _assert_image(path)
