"""PNG plots of an experiment: model comparison (fold scores, chance, significance against
the best), confusion matrix, ROC curves per fold, learning curves.

Confusion matrices and ROC curves are drawn by scikit-learn's
:class:`~sklearn.metrics.ConfusionMatrixDisplay` and :class:`~sklearn.metrics.RocCurveDisplay`
on our own axes.

Every function draws on its own :class:`matplotlib.figure.Figure` with an Agg canvas
(no pyplot, no global state: a backend the user chose is left alone and nothing is
shown), in a readable style (at least 1000 px wide, 12-14 pt text), writes a PNG atomically
(temporary name, then rename; mode 0644, readable as any file you write) and returns its
path. Numbers printed on a plot are the ones the summary reports: fold means.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    RocCurveDisplay,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

logger = logging.getLogger(__name__)

__all__ = [
    "fold_aucs",
    "plot_confusion_matrix",
    "plot_fold_scores",
    "plot_roc_curve",
    "plot_learning_curves",
]

_DPI = 150
_MIN_WIDTH_IN = 7.0  # 1050 px at 150 dpi
_FILE_MODE = 0o644
_STYLE = {
    "font.size": 12, "axes.titlesize": 14, "axes.labelsize": 13, "xtick.labelsize": 12,
    "ytick.labelsize": 12, "legend.fontsize": 11, "figure.titlesize": 15,
    "axes.spines.top": False, "axes.spines.right": False, "lines.linewidth": 1.8,
}  # fmt: skip


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(max(width, _MIN_WIDTH_IN), height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _styled(func):
    """Draw inside the readable style (rcParams restored after: nothing global changes)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_STYLE):
            return func(*args, **kwargs)

    return wrapper


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (mode 0644); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=_DPI)
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; a plot is for everyone who reads the run
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


@_styled
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
    size = max(5.5, 2.5 + 0.9 * n)
    fig = _new_figure(size + 1.5, size)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(1.0, float(values.max()))
    display = ConfusionMatrixDisplay(values, display_labels=[str(label) for label in labels])
    display.plot(
        ax=ax, cmap="Blues", values_format=".2f" if normalize else "d", colorbar=True,
        xticks_rotation=45 if n > 3 else "horizontal", im_kw={"vmin": 0.0, "vmax": vmax},
        text_kw={"fontsize": 13},
    )  # fmt: skip
    if normalize:  # each cell: the fraction and, below it, the count
        for (i, j), text in np.ndenumerate(display.text_):
            text.set_text(f"{values[i, j]:.2f}\n({counts[i, j]})")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    suffix = {"true": " (row-normalised)", "pred": " (column-normalised)", "all": " (fraction)"}
    ax.set_title((title or "Confusion matrix") + suffix.get(normalize, ""))
    return _save(fig, path)


_TEST_NAMES = {"corrected_ttest": "corrected resampled t-test", "wilcoxon": "Wilcoxon signed-rank",
               "ttest": "paired t-test"}  # fmt: skip


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _against_best(pairwise: pd.DataFrame | None, best: str, model: str) -> str | None:
    """``"p=0.012 *"`` for ``model`` against ``best`` from a pairwise table (Holm-adjusted)."""
    if pairwise is None or pairwise.empty or model == best:
        return None
    pair = pairwise[((pairwise.model_a == best) & (pairwise.model_b == model))
                    | ((pairwise.model_a == model) & (pairwise.model_b == best))]  # fmt: skip
    if pair.empty or not np.isfinite(pair["p_adjusted"].iloc[0]):
        return "no test"
    p = float(pair["p_adjusted"].iloc[0])
    return f"p={p:.3g} {_stars(p)}"


@_styled
def plot_fold_scores(
    scores: pd.DataFrame,
    metric: str,
    path: str | os.PathLike,
    chance: float | None = None,
    title: str | None = None,
    pairwise: pd.DataFrame | None = None,
    greater_is_better: bool = True,
) -> Path:
    """Every model's fold scores on one axis: a box and the folds as points per model, the
    fold-mean (diamond, as in the summary), the chance level and, with ``pairwise``, each
    model's test against the best model.

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
    pairwise : DataFrame, optional
        :func:`coco_pipe.decoding.stats.pairwise_comparisons` of ``metric`` (columns
        ``model_a, model_b, p_adjusted``): each model is marked with its Holm-adjusted
        p-value against the best (``*`` < 0.05, ``**`` < 0.01, ``***`` < 0.001).
    greater_is_better : bool
        Which end of the metric is best (models are ordered best first).

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
    means = sub.groupby("Model", sort=False)["Value"].mean()
    models = list(means.sort_values(ascending=not greater_is_better).index)
    best = models[0]
    data = [sub.loc[sub["Model"] == m, "Value"].dropna().to_numpy(dtype=float) for m in models]
    fig = _new_figure(max(9.0, 1.8 + 1.6 * len(models)), 6.0)
    ax = fig.add_subplot()
    positions = np.arange(1, len(models) + 1)
    nonempty = [(p, d) for p, d in zip(positions, data, strict=True) if d.size]
    if nonempty:
        ax.boxplot([d for _, d in nonempty], positions=[p for p, _ in nonempty], widths=0.5,
                   showfliers=False, medianprops={"color": "tab:orange"})  # fmt: skip
    rng = np.random.default_rng(0)  # deterministic jitter
    top = max((d.max() for d in data if d.size), default=1.0)
    for pos, model, values in zip(positions, models, data, strict=True):
        jitter = rng.uniform(-0.12, 0.12, size=values.size)
        ax.scatter(pos + jitter, values, s=36, color="tab:blue", alpha=0.8, zorder=3)
        if values.size:
            ax.scatter([pos], [values.mean()], marker="D", s=60, color="black", zorder=4)
        note = "best" if model == best and pairwise is not None else _against_best(pairwise, best, model)
        if note:
            ax.annotate(note.replace(" ", "\n"), (pos, top), xytext=(0, 8), textcoords="offset points",
                        ha="center", va="bottom", fontsize=11,
                        color="black" if note == "best" else "dimgray")  # fmt: skip
    if chance is not None:
        ax.axhline(float(chance), color="tab:red", linestyle="--", linewidth=1.5,
                   label=f"chance ({float(chance):.3g})")  # fmt: skip
        ax.legend(loc="lower left")
    labels = [f"{m}\n{d.mean():.3f} ± {d.std():.3f}" if d.size else str(m) for m, d in zip(models, data, strict=True)]
    ax.set_xticks(positions, labels, rotation=30 if len(models) > 5 else 0)
    ax.set_ylabel(metric)
    ax.margins(y=0.15)
    default = f"{metric}: dots = folds, diamond = fold-mean"
    if pairwise is not None and not pairwise.empty:
        test = str(pairwise["test"].iloc[0]) if "test" in pairwise else ""
        test = _TEST_NAMES.get(test, test or "pairwise test")
        default += f"\np against the best ({best}): {test}, Holm-adjusted"
    ax.set_title(title or default, fontsize=13)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def _positive_mask(y_true: np.ndarray, positive_label: Any) -> np.ndarray:
    positive = y_true == positive_label
    if not positive.any():
        positive = y_true.astype(str) == str(positive_label)
    return positive


def fold_aucs(predictions: pd.DataFrame, positive_label: Any, proba_column: str | None = None) -> pd.Series:
    """ROC AUC of each fold (index ``Fold``), computed as the summary's ``roc_auc``; folds with
    a single class are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"Fold": [0, 0, 1, 1], "y_true": [0, 1, 0, 1], "proba_1": [.2, .7, .6, .4]})
    >>> fold_aucs(df, 1).tolist()
    [1.0, 0.0]
    """
    column = proba_column or f"proba_{positive_label}"
    _require_columns(predictions, ["Fold", "y_true", column], "predictions")
    out = {}
    for fold, grp in predictions.groupby("Fold", sort=True):
        pos = _positive_mask(grp["y_true"].to_numpy(), positive_label)
        if pos.any() and not pos.all():
            out[fold] = float(roc_auc_score(pos, grp[column].to_numpy(dtype=float)))
    return pd.Series(out, name="roc_auc", dtype=float).rename_axis("Fold")


@_styled
def plot_roc_curve(
    predictions: pd.DataFrame,
    path: str | os.PathLike,
    positive_label: Any,
    proba_column: str | None = None,
    title: str | None = None,
) -> Path:
    """ROC curves of a binary task: with a ``Fold`` column, one thin curve per fold and their
    mean (bold, ± 1 sd band) labelled with the fold-mean AUC, the number the summary
    reports; without one, the pooled curve (labelled as pooled). One colour per ``Model``.

    Parameters
    ----------
    predictions : DataFrame
        Columns ``y_true`` and a score for the positive class: ``proba_column``, by
        default ``f"proba_{positive_label}"`` (as written by the experiment); optionally
        ``Fold`` and ``Model``.
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
    positive = _positive_mask(predictions["y_true"].to_numpy(), positive_label)
    if positive.all() or not positive.any():
        raise ValueError(
            f"ROC needs both classes in y_true; positive_label={positive_label!r} matches "
            f"{int(positive.sum())} of {len(positive)} windows"
        )
    fig = _new_figure(7.5, 7.0)
    ax = fig.add_subplot()
    groups = (list(predictions.groupby("Model", sort=False)) if "Model" in predictions.columns
              else [(None, predictions)])  # fmt: skip
    grid = np.linspace(0, 1, 201)
    for i, (model, grp) in enumerate(groups):
        color = f"C{i}"
        name = "" if model is None else f"{model}: "
        if "Fold" not in grp.columns:
            pos = _positive_mask(grp["y_true"].to_numpy(), positive_label)
            if pos.all() or not pos.any():
                logger.warning("ROC: model %r has a single class in y_true; skipped", model)
                continue
            RocCurveDisplay.from_predictions(
                pos, grp[column].to_numpy(dtype=float), pos_label=True, ax=ax,
                name=f"{name}pooled", curve_kwargs={"color": color}, plot_chance_level=False,
            )  # fmt: skip
            continue
        aucs = fold_aucs(grp, positive_label, column)
        if aucs.empty:
            logger.warning("ROC: model %r has no fold with both classes; skipped", model)
            continue
        tprs = []
        for fold in aucs.index:
            f = grp[grp["Fold"] == fold]
            fpr, tpr, _ = roc_curve(_positive_mask(f["y_true"].to_numpy(), positive_label),
                                    f[column].to_numpy(dtype=float))  # fmt: skip
            ax.plot(fpr, tpr, color=color, alpha=0.25, linewidth=1)
            tprs.append(np.interp(grid, fpr, tpr, left=0.0))
        mean, sd = np.mean(tprs, axis=0), np.std(tprs, axis=0)
        mean[0] = 0.0
        ax.plot(grid, mean, color=color, linewidth=2.5,
                label=f"{name}AUC {aucs.mean():.3f} ± {aucs.std(ddof=0):.3f} (mean of {len(aucs)} folds)")  # fmt: skip
        ax.fill_between(grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=color, alpha=0.12)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    folds = "Fold" in predictions.columns
    ax.set_title(title or f"ROC, positive class {positive_label!s}"
                 + (" (thin: folds, bold: mean)" if folds else " (pooled over folds)"))  # fmt: skip
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


@_styled
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
    fig = _new_figure(6.5 * n_panels, 5.0)
    axes = [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]
    runs = (
        list(history.groupby(fold_col, sort=True)) if fold_col else [(None, history)]
    )  # one line set per fold
    for fold, run in runs:
        run = run.sort_values("epoch")
        tag = "" if fold is None else f" fold {fold}"
        line = axes[0].plot(run["epoch"], run["train_loss"], label=f"train{tag}")[0]
        if "val_loss" in run.columns:
            axes[0].plot(run["epoch"], run["val_loss"], linestyle="--", color=line.get_color(),
                         label=f"val{tag}")  # fmt: skip
        for col in metric_cols:
            axes[1].plot(run["epoch"], run[col], label=f"{col[4:]}{tag}")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].set_title("loss (solid: train, dashed: validation)")
    if n_panels == 2:
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("validation metric")
        axes[1].set_title("validation metrics")
    for ax in axes:
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) <= 12:
            ax.legend(loc="best")
    if title:
        fig.suptitle(title)
    return _save(fig, path)
