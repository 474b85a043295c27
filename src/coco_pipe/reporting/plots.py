"""PNG plots of an experiment: confusion matrix, per-fold scores, ROC curve, learning curves.

Confusion matrices and ROC curves are drawn by scikit-learn's
:class:`~sklearn.metrics.ConfusionMatrixDisplay` and :class:`~sklearn.metrics.RocCurveDisplay`
on our own axes.

Every function draws on its own :class:`matplotlib.figure.Figure` with an Agg canvas
(no pyplot, no global state: a backend the user chose is left alone and nothing is
shown), writes a PNG atomically (temporary name, then rename) and returns its path.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay, confusion_matrix

logger = logging.getLogger(__name__)

__all__ = [
    "plot_confusion_matrix",
    "plot_fold_scores",
    "plot_roc_curve",
    "plot_learning_curves",
]

_DPI = 100


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=_DPI)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.debug("wrote %s", path)
    return path


def _require_columns(df: Any, columns: Sequence[str], name: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {missing}; expected {list(columns)}, got {list(df.columns)}"
        )
    if df.empty:
        raise ValueError(f"{name} is empty; nothing to plot")


def plot_confusion_matrix(
    predictions: pd.DataFrame,
    path: str | os.PathLike,
    title: str | None = None,
    labels: Sequence[Any] | None = None,
    normalize: str | None = "true",
) -> Path:
    """Confusion matrix of predictions pooled over all folds.

    Parameters
    ----------
    predictions : DataFrame
        Columns ``y_true`` and ``y_pred`` (one row per test window of any fold).
    path : path-like
        PNG to write.
    title : str, optional
    labels : sequence, optional
        Class order (default: sorted union of the true and predicted labels).
    normalize : {"true", "pred", "all", None}
        Normalise over true labels (rows: recall per class), predicted labels, all, or
        show counts. Cells show the value and, when normalised, the count.

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"y_true": [0, 0, 1, 1], "y_pred": [0, 1, 1, 1]})
    >>> p = plot_confusion_matrix(df, pathlib.Path(tempfile.mkdtemp()) / "cm.png")
    >>> p.suffix
    '.png'
    """
    _require_columns(predictions, ["y_true", "y_pred"], "predictions")
    if normalize not in ("true", "pred", "all", None):
        raise ValueError(f"normalize must be 'true', 'pred', 'all' or None; got {normalize!r}")
    y_true = predictions["y_true"].to_numpy()
    y_pred = predictions["y_pred"].to_numpy()
    if labels is None:
        labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()), key=str)
    labels = list(labels)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    values = confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    n = len(labels)
    size = max(3.5, 1.0 + 0.7 * n)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(1.0, float(values.max()))
    display = ConfusionMatrixDisplay(values, display_labels=[str(label) for label in labels])
    display.plot(
        ax=ax, cmap="Blues", values_format=".2f" if normalize else "d", colorbar=True,
        xticks_rotation=45 if n > 3 else "horizontal", im_kw={"vmin": 0.0, "vmax": vmax},
        text_kw={"fontsize": 9},
    )  # fmt: skip
    if normalize:  # each cell: the fraction and, below it, the count
        for (i, j), text in np.ndenumerate(display.text_):
            text.set_text(f"{values[i, j]:.2f}\n({counts[i, j]})")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    suffix = {"true": " (row-normalised)", "pred": " (column-normalised)", "all": " (fraction)"}
    ax.set_title((title or "Confusion matrix") + suffix.get(normalize, ""), fontsize=10)
    return _save(fig, path)


def plot_fold_scores(
    scores: pd.DataFrame,
    metric: str,
    path: str | os.PathLike,
    chance: float | None = None,
    title: str | None = None,
) -> Path:
    """Per-fold scores of every model: a box per model with each fold as a point.

    Parameters
    ----------
    scores : DataFrame
        Long table with columns ``Model, Fold, Metric, Value``.
    metric : str
        The metric to show.
    path : path-like
        PNG to write.
    chance : float, optional
        Chance level, drawn as a dashed horizontal line.
    title : str, optional

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"Model": ["a", "a", "b", "b"], "Fold": [0, 1, 0, 1],
    ...                    "Metric": "acc", "Value": [.8, .9, .5, .6]})
    >>> plot_fold_scores(df, "acc", pathlib.Path(tempfile.mkdtemp()) / "f.png", chance=0.5).name
    'f.png'
    """
    _require_columns(scores, ["Model", "Fold", "Metric", "Value"], "scores")
    sub = scores[scores["Metric"] == metric]
    if sub.empty:
        known = sorted(map(str, scores["Metric"].unique()))
        raise ValueError(f"metric {metric!r} not in scores (metrics present: {known})")
    models = list(dict.fromkeys(sub["Model"]))
    data = [sub.loc[sub["Model"] == m, "Value"].dropna().to_numpy(dtype=float) for m in models]
    fig = _new_figure(max(4.0, 1.2 + 0.9 * len(models)), 4.0)
    ax = fig.add_subplot()
    positions = np.arange(1, len(models) + 1)
    nonempty = [(p, d) for p, d in zip(positions, data, strict=True) if d.size]
    if nonempty:
        ax.boxplot(
            [d for _, d in nonempty],
            positions=[p for p, _ in nonempty],
            widths=0.5,
            showfliers=False,
            medianprops={"color": "tab:orange"},
        )
    rng = np.random.default_rng(0)  # deterministic jitter
    for pos, values in zip(positions, data, strict=True):
        jitter = rng.uniform(-0.12, 0.12, size=values.size)
        ax.scatter(pos + jitter, values, s=22, color="tab:blue", alpha=0.8, zorder=3)
        if values.size:
            ax.scatter([pos], [values.mean()], marker="D", s=30, color="black", zorder=4)
    if chance is not None:
        ax.axhline(float(chance), color="tab:red", linestyle="--", linewidth=1.2, label="chance")
        ax.legend(loc="best", fontsize=8)
    ax.set_xticks(positions, [str(m) for m in models], rotation=30 if len(models) > 3 else 0)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} per fold (diamond: mean)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_roc_curve(
    predictions: pd.DataFrame,
    path: str | os.PathLike,
    positive_label: Any,
    proba_column: str | None = None,
    title: str | None = None,
) -> Path:
    """ROC curve of a binary task, pooled over folds (one curve per ``Model`` if present).

    Parameters
    ----------
    predictions : DataFrame
        Columns ``y_true`` and a score for the positive class: ``proba_column``, by
        default ``f"proba_{positive_label}"`` (as written by the experiment).
    path : path-like
        PNG to write.
    positive_label : Any
        The positive class (compared to ``y_true`` as given, or as a string).
    proba_column : str, optional
    title : str, optional

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"y_true": [0, 0, 1, 1], "proba_1": [.1, .6, .4, .9]})
    >>> plot_roc_curve(df, pathlib.Path(tempfile.mkdtemp()) / "roc.png", positive_label=1).name
    'roc.png'
    """
    column = proba_column or f"proba_{positive_label}"
    _require_columns(predictions, ["y_true", column], "predictions")
    y_true = predictions["y_true"].to_numpy()
    positive = y_true == positive_label
    if not positive.any():
        positive = y_true.astype(str) == str(positive_label)
    if positive.all() or not positive.any():
        raise ValueError(
            f"ROC needs both classes in y_true; positive_label={positive_label!r} matches "
            f"{int(positive.sum())} of {len(positive)} windows"
        )
    fig = _new_figure(4.5, 4.5)
    ax = fig.add_subplot()
    if "Model" in predictions.columns:
        groups = list(predictions.groupby("Model", sort=False).indices.items())
    else:
        groups = [(None, np.arange(len(predictions)))]
    score = predictions[column].to_numpy(dtype=float)
    drawn = 0
    for model, idx in groups:
        pos = positive[idx]
        if pos.all() or not pos.any():
            logger.warning("ROC: model %r has a single class in y_true; skipped", model)
            continue
        RocCurveDisplay.from_predictions(
            pos, score[idx], pos_label=True, name=None if model is None else str(model), ax=ax,
            curve_kwargs={"linewidth": 1.5}, plot_chance_level=drawn == 0,
            chance_level_kw={"color": "grey", "linestyle": "--", "linewidth": 1, "label": "chance"},
        )  # fmt: skip
        drawn += 1
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(
        title or f"ROC, positive class {positive_label!s} (pooled over folds)", fontsize=10
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_learning_curves(
    history: pd.DataFrame,
    path: str | os.PathLike,
    title: str | None = None,
) -> Path:
    """Training and validation loss per epoch (and validation metrics, if any).

    Parameters
    ----------
    history : DataFrame
        Columns ``epoch``, ``train_loss`` and optionally ``val_loss`` and further
        ``val_*`` metric columns (e.g. ``val_balanced_accuracy``). An optional ``Fold``
        (or ``fold``) column draws one line per fold.
    path : path-like
        PNG to write.
    title : str, optional

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [.9, .6, .4], "val_loss": [.95, .7, .65]})
    >>> plot_learning_curves(h, pathlib.Path(tempfile.mkdtemp()) / "lc.png").name
    'lc.png'
    """
    _require_columns(history, ["epoch", "train_loss"], "history")
    fold_col = next((c for c in ("Fold", "fold") if c in history.columns), None)
    metric_cols = [
        c
        for c in history.columns
        if c.startswith("val_") and c != "val_loss" and pd.api.types.is_numeric_dtype(history[c])
    ]
    n_panels = 2 if metric_cols else 1
    fig = _new_figure(5.0 * n_panels, 4.0)
    axes = [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]
    runs = (
        list(history.groupby(fold_col, sort=True)) if fold_col else [(None, history)]
    )  # one line set per fold
    for fold, run in runs:
        run = run.sort_values("epoch")
        tag = "" if fold is None else f" fold {fold}"
        line = axes[0].plot(run["epoch"], run["train_loss"], label=f"train{tag}")[0]
        if "val_loss" in run.columns:
            axes[0].plot(
                run["epoch"],
                run["val_loss"],
                linestyle="--",
                color=line.get_color(),
                label=f"val{tag}",
            )
        for col in metric_cols:
            axes[1].plot(run["epoch"], run[col], label=f"{col[4:]}{tag}")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].set_title("loss (solid: train, dashed: validation)", fontsize=10)
    if n_panels == 2:
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("validation metric")
        axes[1].set_title("validation metrics", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) <= 12:
            ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)
