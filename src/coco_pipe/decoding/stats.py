"""Is a difference between models beyond fold-to-fold noise? Tests over CV folds.

Which test, and why
-------------------
Fold scores from one cross-validation are **not independent**: every two training
sets share most of their windows, so the scores move together and their variance
across folds understates the variance a new training set would give. A plain paired
t-test over folds therefore reports p-values that are far too small (Dietterich, 1998;
Nadeau & Bengio, 2003; Bouckaert & Frank, 2004).

- :func:`corrected_resampled_ttest` (default in :func:`pairwise_comparisons`): the
  Nadeau & Bengio (2003) *corrected resampled t-test*. It keeps the paired t statistic
  but inflates the variance term from ``1/k`` to ``1/k + n_test/n_train`` to account
  for the overlap of training sets. It is the recommended default for comparing
  learners on k-fold CV (Bouckaert & Frank, 2004), conservative but not blind.
- :func:`wilcoxon_test`: the Wilcoxon signed-rank test on the paired fold scores. It
  makes no normality assumption and is robust to one odd fold, but it does *not*
  correct for overlapping training sets, and with few folds it cannot reach small
  p-values (with 5 folds the smallest two-sided exact p is 2/32 = 0.0625).
- :func:`permutation_test`: is one model better than chance? Labels are permuted
  (within groups, e.g. subjects), the whole cross-validation is re-run on the SAME
  outer splits, and the p-value is the rank of the true score among the null scores
  (Ojala & Garriga, 2010). It needs no distributional assumption and respects the
  dependence between folds, at the cost of ``n_permutations`` re-fits.

Pairwise p-values are adjusted for multiple comparisons with Holm's step-down method,
which controls the family-wise error rate without assuming independence.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from .builders import fit_estimator
from .metrics import METRICS

logger = logging.getLogger(__name__)

__all__ = [
    "corrected_resampled_ttest",
    "paired_ttest",
    "wilcoxon_test",
    "holm_adjust",
    "pairwise_comparisons",
    "rank_models",
    "permutation_test",
]

_TESTS = ("corrected_ttest", "wilcoxon", "ttest")


def _paired(scores_a: Any, scores_b: Any) -> np.ndarray:
    a = np.asarray(scores_a, dtype=np.float64).ravel()
    b = np.asarray(scores_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"scores_a and scores_b must be paired fold scores of the same length; "
            f"got {a.size} and {b.size}"
        )
    if a.size < 2:
        raise ValueError(f"need at least 2 paired fold scores; got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores_a and scores_b must be finite (drop failed folds first)")
    return a - b


def _t_from_diffs(diff: np.ndarray, variance_factor: float) -> tuple[float, float]:
    k = diff.size
    mean = float(diff.mean())
    var = float(diff.var(ddof=1))
    if np.allclose(diff, diff[0], rtol=1e-12, atol=1e-12):  # constant up to rounding
        if mean == 0.0:
            return 0.0, 1.0  # identical scores: no evidence of a difference
        # a constant non-zero difference: the t statistic is undefined (infinite); we do
        # not claim p=0 from a handful of folds
        return float(np.sign(mean) * np.inf), float("nan")
    t = mean / np.sqrt(variance_factor * var)
    p = 2.0 * float(sps.t.sf(abs(t), df=k - 1))
    return float(t), p


def corrected_resampled_ttest(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    n_train: float | Sequence[float],
    n_test: float | Sequence[float],
) -> tuple[float, float]:
    """Nadeau & Bengio (2003) corrected resampled paired t-test over CV folds.

    With ``d_j = a_j - b_j`` over ``k`` folds,
    ``t = mean(d) / sqrt((1/k + n_test/n_train) * var(d))`` with ``var`` the unbiased
    sample variance, compared to a Student t with ``k - 1`` degrees of freedom
    (two-sided). The ``n_test/n_train`` term corrects the variance for the overlap of
    the training sets, which a naive paired t-test ignores (its p-values are too small).

    Parameters
    ----------
    scores_a, scores_b : array-like, shape (k,)
        Scores of two models on the same folds (paired by fold).
    n_train, n_test : float or array-like of shape (k,)
        Training and test set sizes (per fold, or their means).

    Returns
    -------
    t : float
        Positive when model a scores higher.
    p : float
        Two-sided p-value. ``(0, 1)`` when all differences are 0; ``(±inf, nan)`` when
        the differences are identical but non-zero (the test is undefined).

    Examples
    --------
    >>> t, p = corrected_resampled_ttest([.8, .82, .79, .85, .81], [.7, .74, .72, .73, .69],
    ...                                  n_train=80, n_test=20)
    >>> round(t, 2), p < 0.01
    (6.41, True)
    """
    diff = _paired(scores_a, scores_b)
    n_train_arr = np.asarray(n_train, dtype=np.float64)
    n_test_arr = np.asarray(n_test, dtype=np.float64)
    if np.any(n_train_arr <= 0) or np.any(n_test_arr <= 0):
        raise ValueError(f"n_train and n_test must be positive; got {n_train!r}, {n_test!r}")
    ratio = float(np.mean(n_test_arr / n_train_arr))
    return _t_from_diffs(diff, 1.0 / diff.size + ratio)


def paired_ttest(scores_a: Sequence[float], scores_b: Sequence[float]) -> tuple[float, float]:
    """Naive paired t-test over folds (variance factor ``1/k``), for comparison only.

    It ignores the overlap of training sets and so overstates significance; prefer
    :func:`corrected_resampled_ttest`.

    Examples
    --------
    >>> t, p = paired_ttest([.8, .82, .79], [.7, .74, .72])
    >>> t > 0
    True
    """
    diff = _paired(scores_a, scores_b)
    return _t_from_diffs(diff, 1.0 / diff.size)


def wilcoxon_test(scores_a: Sequence[float], scores_b: Sequence[float]) -> tuple[float, float]:
    """Wilcoxon signed-rank test on paired fold scores (two-sided, scipy).

    Folds with a zero difference are dropped (Wilcoxon's convention); if all
    differences are zero the result is ``(0.0, 1.0)``. Exact p-values are used for
    small samples, so with ``k`` folds the smallest p is ``2 / 2**k``.

    Returns
    -------
    statistic, p : float

    Examples
    --------
    >>> stat, p = wilcoxon_test([.8, .82, .79, .85, .81, .9], [.7, .74, .72, .73, .69, .8])
    >>> round(p, 4)
    0.0312
    """
    diff = _paired(scores_a, scores_b)
    if np.all(diff == 0):
        return 0.0, 1.0
    res = sps.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control).

    NaN p-values stay NaN and do not count in the family.

    Examples
    --------
    >>> holm_adjust([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _check_scores_frame(scores: pd.DataFrame, name: str = "scores") -> None:
    needed = {"Model", "Fold", "Metric", "Value"}
    if not isinstance(scores, pd.DataFrame) or not needed <= set(scores.columns):
        cols = list(scores.columns) if isinstance(scores, pd.DataFrame) else type(scores).__name__
        raise ValueError(
            f"{name} must be a DataFrame with columns Model, Fold, Metric, Value; got {cols}"
        )


def pairwise_comparisons(
    scores: pd.DataFrame,
    metric: str,
    n_train: float | Sequence[float],
    n_test: float | Sequence[float],
    test: str = "corrected_ttest",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Test every pair of models on one metric over their common folds; Holm-adjusted.

    Parameters
    ----------
    scores : DataFrame
        Long table with columns ``Model, Fold, Metric, Value`` (one row per model,
        fold and metric, e.g. ``ExperimentResult.scores``). Scores are paired by ``Fold``;
        NaN scores (failed folds) are dropped pairwise.
    metric : str
        Which metric to compare.
    n_train, n_test : float or array-like
        Training / test set sizes (used by the corrected t-test only).
    test : {"corrected_ttest", "wilcoxon", "ttest"}
        ``corrected_ttest`` (default): Nadeau-Bengio corrected resampled t-test, which
        accounts for the overlap of training sets; ``wilcoxon``: signed-rank test;
        ``ttest``: the naive paired t-test (anti-conservative, for reference).
    alpha : float
        Significance level applied to the Holm-adjusted p-values.

    Returns
    -------
    DataFrame
        One row per pair: ``model_a, model_b, mean_diff`` (a - b), ``statistic,
        p_value, p_adjusted`` (Holm), ``significant`` (``p_adjusted < alpha``), and
        ``metric, test, n_folds``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [("a", k, "acc", v) for k, v in enumerate([.9, .85, .88, .92, .87])]
    >>> rows += [("b", k, "acc", v) for k, v in enumerate([.6, .55, .62, .58, .57])]
    >>> df = pd.DataFrame(rows, columns=["Model", "Fold", "Metric", "Value"])
    >>> out = pairwise_comparisons(df, "acc", n_train=80, n_test=20)
    >>> out[["model_a", "model_b", "significant"]].values.tolist()
    [['a', 'b', True]]
    """
    _check_scores_frame(scores)
    if test not in _TESTS:
        raise ValueError(f"test must be one of {', '.join(_TESTS)}; got {test!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    sub = scores[scores["Metric"] == metric]
    if sub.empty:
        known = sorted(map(str, scores["Metric"].unique()))
        raise ValueError(f"metric {metric!r} not in scores (metrics present: {known})")
    table = sub.pivot_table(index="Fold", columns="Model", values="Value", aggfunc="mean")
    models = list(dict.fromkeys(sub["Model"]))  # order of first appearance
    rows = []
    for a, b in itertools.combinations(models, 2):
        pair = table[[a, b]].dropna()
        row: dict[str, Any] = {"model_a": a, "model_b": b, "n_folds": len(pair)}
        if len(pair) < 2:
            logger.warning("models %r and %r share %d fold(s); no test", a, b, len(pair))
            row.update(mean_diff=float("nan"), statistic=float("nan"), p_value=float("nan"))
        else:
            va, vb = pair[a].to_numpy(), pair[b].to_numpy()
            if test == "corrected_ttest":
                stat, p = corrected_resampled_ttest(va, vb, n_train, n_test)
            elif test == "wilcoxon":
                stat, p = wilcoxon_test(va, vb)
            else:
                stat, p = paired_ttest(va, vb)
            row.update(mean_diff=float(np.mean(va - vb)), statistic=stat, p_value=p)
        rows.append(row)
    columns = [
        "model_a", "model_b", "mean_diff", "statistic", "p_value", "p_adjusted",
        "significant", "metric", "test", "n_folds",
    ]  # fmt: skip
    out = pd.DataFrame(
        rows,
        columns=[c for c in columns if c not in ("p_adjusted", "significant", "metric", "test")],
    )
    out["p_adjusted"] = holm_adjust(out["p_value"].to_numpy()) if len(out) else []
    out["significant"] = (out["p_adjusted"] < alpha).astype(bool)
    out["metric"] = metric
    out["test"] = test
    return out[columns]


def rank_models(
    scores_df: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    greater_is_better: dict[str, bool] | None = None,
) -> pd.DataFrame:
    """Mean, standard deviation and rank of every model for each metric.

    Parameters
    ----------
    scores_df : DataFrame
        Long table with columns ``Model, Fold, Metric, Value``.
    metrics : list of str, optional
        Metrics to rank on (default: all present, in order of appearance).
    greater_is_better : dict, optional
        Direction per metric; missing metrics are looked up in
        :data:`coco_pipe.decoding.metrics.METRICS` (unknown names: greater is better).

    Returns
    -------
    DataFrame
        Columns ``Metric, Model, mean, std, n_folds, rank`` (rank 1 is best; ties
        share the best rank), sorted by metric then rank.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"Model": ["a", "a", "b", "b"], "Fold": [0, 1, 0, 1],
    ...                    "Metric": "mae", "Value": [2.0, 3.0, 1.0, 1.5]})
    >>> rank_models(df)[["Model", "rank"]].values.tolist()
    [['b', 1], ['a', 2]]
    """
    _check_scores_frame(scores_df, "scores_df")
    present = list(dict.fromkeys(scores_df["Metric"]))
    metrics = present if metrics is None else list(metrics)
    missing = [m for m in metrics if m not in present]
    if missing:
        raise ValueError(f"metrics {missing} not in scores_df (metrics present: {present})")
    directions = dict(greater_is_better or {})
    frames = []
    for metric in metrics:
        gib = directions.get(metric)
        if gib is None:
            gib = METRICS[metric].greater_is_better if metric in METRICS else True
        sub = scores_df[scores_df["Metric"] == metric]
        agg = sub.groupby("Model", sort=False)["Value"].agg(["mean", "std", "count"])
        agg = agg.rename(columns={"count": "n_folds"}).reset_index()
        agg["rank"] = agg["mean"].rank(ascending=not gib, method="min").astype("Int64")
        agg.insert(0, "Metric", metric)
        frames.append(agg.sort_values(["rank", "Model"], kind="stable"))
    out = pd.concat(frames, ignore_index=True)
    return out[["Metric", "Model", "mean", "std", "n_folds", "rank"]]


def _permute_labels(
    y: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """Permute ``y``; within each group when groups are given.

    If every group holds a single label (a between-group design, e.g. patients vs
    controls), shuffling within groups would change nothing, so whole groups swap labels
    instead (the exchangeable units are then the groups).
    """
    if groups is None:
        return y[rng.permutation(len(y))]
    out = y.copy()
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    constant = all(np.unique(y[idx]).size == 1 for idx in members)
    if constant and len(uniq) > 1:
        group_labels = np.array([y[idx[0]] for idx in members], dtype=y.dtype)
        shuffled = group_labels[rng.permutation(len(uniq))]
        for idx, label in zip(members, shuffled, strict=True):
            out[idx] = label
        return out
    for idx in members:
        out[idx] = y[idx[rng.permutation(len(idx))]]
    return out


def _cv_score(
    estimator_factory: Callable[[], Any],
    X: Any,
    y: np.ndarray,
    groups: np.ndarray | None,
    cv_splits: Sequence[tuple[np.ndarray, np.ndarray]],
    metric_fn: Callable[[np.ndarray, np.ndarray], float],
) -> float:
    fold_scores = []
    for train, test in cv_splits:
        est = estimator_factory()
        fit_estimator(est, X[train], y[train], None if groups is None else groups[train])
        fold_scores.append(float(metric_fn(y[test], est.predict(X[test]))))
    return float(np.mean(fold_scores))


def permutation_test(
    estimator_factory: Callable[[], Any] | Any,
    X: Any,
    y: Any,
    groups: Any = None,
    cv_splits: Sequence[tuple[Any, Any]] | None = None,
    metric_fn: Callable[[np.ndarray, np.ndarray], float] | None = None,
    n_permutations: int = 100,
    random_state: int | np.random.Generator | None = None,
    greater_is_better: bool = True,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Permutation test of a cross-validated score against chance (Ojala & Garriga, 2010).

    The score is the mean of ``metric_fn`` over the given outer folds. For each
    permutation the labels are shuffled (within groups when ``groups`` is given, so
    subject structure is kept; whole groups swap labels if each group holds one label),
    and the whole cross-validation is re-run on the **same** splits with fresh
    estimators. ``p = (1 + #{null >= score}) / (1 + n_permutations)`` (``<=`` when
    smaller is better), which is exact under the null and never 0.

    Parameters
    ----------
    estimator_factory : callable or estimator
        Returns a fresh unfitted estimator on each call (an estimator is cloned).
    X : array-like, shape (n_windows, ...)
    y : array-like, shape (n_windows,)
    groups : array-like, shape (n_windows,), optional
        Exchangeability blocks for the permutation (e.g. subject ids); also passed to
        ``fit`` of estimators that accept ``groups``.
    cv_splits : sequence of (train_idx, test_idx)
        The outer splits (reused for every permutation).
    metric_fn : callable
        ``metric_fn(y_true, y_pred) -> float``.
    n_permutations : int
        Number of permutations (the smallest reachable p is ``1 / (n + 1)``).
    random_state : int, Generator or None
    greater_is_better : bool
        Direction of the metric.
    progress : bool, optional
        Show a progress bar (default: only on a TTY).

    Returns
    -------
    dict
        ``score`` (float), ``null_scores`` (ndarray, shape (n_permutations,)),
        ``p_value`` (float).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.metrics import accuracy_score
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20); X = rng.standard_normal((40, 3)) + y[:, None]
    >>> splits = [(np.r_[0:15, 20:35], np.r_[15:20, 35:40]), (np.r_[5:20, 25:40], np.r_[0:5, 20:25])]
    >>> res = permutation_test(LogisticRegression, X, y, None, splits, accuracy_score,
    ...                        n_permutations=19, random_state=0)
    >>> res["p_value"]
    0.05
    """
    from sklearn.base import clone

    if cv_splits is None or len(cv_splits) == 0:
        raise ValueError("cv_splits must hold at least one (train_idx, test_idx) pair")
    if metric_fn is None or not callable(metric_fn):
        raise ValueError(
            f"metric_fn must be a callable (y_true, y_pred) -> float; got {metric_fn!r}"
        )
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be >= 1; got {n_permutations!r}")
    if hasattr(estimator_factory, "get_params") and not isinstance(estimator_factory, type):
        template = estimator_factory

        def factory():
            return clone(template)
    elif callable(estimator_factory):
        factory = estimator_factory
    else:
        raise ValueError(
            f"estimator_factory must be a callable returning an estimator, or an estimator; "
            f"got {estimator_factory!r}"
        )
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} windows but y has {len(y)} targets")
    groups = None if groups is None else np.asarray(groups)
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries but y has {len(y)}")
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv_splits]
    rng = np.random.default_rng(random_state)

    score = _cv_score(factory, X, y, groups, splits, metric_fn)
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    null = np.empty(int(n_permutations), dtype=np.float64)
    for i in tqdm(range(int(n_permutations)), desc="permutations", disable=not show):
        y_perm = _permute_labels(y, groups, rng)
        null[i] = _cv_score(factory, X, y_perm, groups, splits, metric_fn)
    as_extreme = null >= score if greater_is_better else null <= score
    p_value = float((1 + np.count_nonzero(as_extreme)) / (1 + null.size))
    logger.info("permutation test: score=%.4f p=%.4f (%d permutations)", score, p_value, null.size)
    return {"score": score, "null_scores": null, "p_value": p_value}
