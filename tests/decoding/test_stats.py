"""Significance over CV folds: corrected t-test, Wilcoxon, Holm, ranking, permutation test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold, ShuffleSplit

from coco_pipe.datasets import make_motor_imagery
from coco_pipe.decoding.baselines import BandPower
from coco_pipe.decoding.stats import (
    _permute_labels,
    corrected_resampled_ttest,
    holm_adjust,
    paired_ttest,
    pairwise_comparisons,
    permutation_test,
    rank_models,
    wilcoxon_test,
)


def _scores_frame(per_model: dict[str, list[float]], metric: str = "acc") -> pd.DataFrame:
    rows = [(m, k, metric, v) for m, vals in per_model.items() for k, v in enumerate(vals)]
    return pd.DataFrame(rows, columns=["Model", "Fold", "Metric", "Value"])


def test_corrected_ttest_matches_the_nadeau_bengio_formula():
    a = np.array([0.81, 0.78, 0.85, 0.80, 0.83, 0.79])
    b = np.array([0.75, 0.77, 0.79, 0.70, 0.78, 0.74])
    d = a - b
    k, n_train, n_test = d.size, 100, 25
    t_expected = d.mean() / np.sqrt((1 / k + n_test / n_train) * d.var(ddof=1))
    p_expected = 2 * sps.t.sf(abs(t_expected), df=k - 1)
    t, p = corrected_resampled_ttest(a, b, n_train=n_train, n_test=n_test)
    assert t == pytest.approx(t_expected)
    assert p == pytest.approx(p_expected)
    # the naive version is scipy's paired t-test
    t_naive, p_naive = paired_ttest(a, b)
    ref = sps.ttest_rel(a, b)
    assert (t_naive, p_naive) == pytest.approx((ref.statistic, ref.pvalue))
    # swapping the models flips the sign only
    t_swapped, p_swapped = corrected_resampled_ttest(b, a, n_train, n_test)
    assert (t_swapped, p_swapped) == pytest.approx((-t, p))


def test_corrected_ttest_is_more_conservative_on_overlapping_folds():
    # two models evaluated on the SAME 10 overlapping random splits of one data set
    rng = np.random.default_rng(0)
    n = 200
    X = rng.standard_normal((n, 20))
    y = (X[:, 0] + 0.8 * rng.standard_normal(n) > 0).astype(int)
    strong, weak = [], []
    splits = list(ShuffleSplit(n_splits=10, test_size=0.2, random_state=0).split(X))
    for train, test in splits:
        strong.append(LogisticRegression().fit(X[train], y[train]).score(X[test], y[test]))
        weak.append(
            LogisticRegression().fit(X[train][:, 5:], y[train]).score(X[test][:, 5:], y[test])
        )
    n_train, n_test = len(splits[0][0]), len(splits[0][1])
    t_c, p_c = corrected_resampled_ttest(strong, weak, n_train, n_test)
    t_n, p_n = paired_ttest(strong, weak)
    assert t_n > t_c > 0
    assert p_c > p_n
    # variance factor 1/k + n_test/n_train = 0.35 vs 1/k = 0.1: t shrinks by sqrt(3.5)
    assert t_n / t_c == pytest.approx(np.sqrt(3.5))


def test_degenerate_differences():
    assert corrected_resampled_ttest([0.7, 0.8], [0.7, 0.8], 10, 5) == (0.0, 1.0)
    t, p = corrected_resampled_ttest([0.8, 0.9], [0.7, 0.8], 10, 5)
    assert t == np.inf and np.isnan(p)
    assert wilcoxon_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="same length"):
        corrected_resampled_ttest([0.1, 0.2, 0.3], [0.1, 0.2], 10, 5)
    with pytest.raises(ValueError, match="at least 2"):
        paired_ttest([0.1], [0.2])
    with pytest.raises(ValueError, match="positive"):
        corrected_resampled_ttest([0.1, 0.2], [0.2, 0.2], 0, 5)


def test_wilcoxon_matches_scipy():
    a = [0.81, 0.78, 0.85, 0.80, 0.83, 0.79, 0.9]
    b = [0.75, 0.79, 0.79, 0.70, 0.78, 0.74, 0.8]
    ref = sps.wilcoxon(a, b)
    assert wilcoxon_test(a, b) == pytest.approx((ref.statistic, ref.pvalue))


def test_holm_adjustment():
    p = [0.01, 0.04, 0.03, np.nan, 0.5]
    adj = holm_adjust(p)
    # m = 4 valid: sorted 0.01*4, 0.03*3, 0.04*2 (monotone max), 0.5*1
    np.testing.assert_allclose(adj[[0, 2, 1, 4]], [0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adj[3])
    assert np.all(adj[~np.isnan(adj)] >= np.asarray(p)[~np.isnan(adj)])


def test_pairwise_comparisons_table():
    good = [0.90, 0.85, 0.88, 0.92, 0.87, 0.89, 0.91, 0.86, 0.9, 0.88]
    also_good = [0.89, 0.86, 0.87, 0.93, 0.86, 0.9, 0.9, 0.87, 0.91, 0.87]
    chance = [0.52, 0.47, 0.5, 0.55, 0.49, 0.51, 0.48, 0.5, 0.53, 0.5]
    df = _scores_frame({"good": good, "also_good": also_good, "chance": chance})
    df = pd.concat([df, _scores_frame({"good": [0.1] * 10}, metric="other")])
    out = pairwise_comparisons(df, "acc", n_train=90, n_test=10)
    assert list(out.columns[:7]) == [
        "model_a", "model_b", "mean_diff", "statistic", "p_value", "p_adjusted", "significant",
    ]  # fmt: skip
    assert len(out) == 3
    by_pair = out.set_index(["model_a", "model_b"])
    assert by_pair.loc[("good", "chance"), "significant"]
    assert by_pair.loc[("also_good", "chance"), "significant"]
    assert not by_pair.loc[("good", "also_good"), "significant"]
    assert by_pair.loc[("good", "chance"), "mean_diff"] == pytest.approx(
        np.mean(good) - np.mean(chance)
    )
    np.testing.assert_allclose(out["p_adjusted"], holm_adjust(out["p_value"]))
    # the Wilcoxon variant on the same table; with 10 folds min p is 2/1024
    w = pairwise_comparisons(df, "acc", n_train=90, n_test=10, test="wilcoxon")
    assert (w["test"] == "wilcoxon").all()
    assert w.set_index(["model_a", "model_b"]).loc[("good", "chance"), "p_value"] == pytest.approx(
        2 / 1024
    )


def test_pairwise_comparisons_pairs_by_fold_and_drops_failed_folds():
    df = _scores_frame({"a": [0.9, 0.8, 0.85, np.nan], "b": [0.6, 0.5, 0.55, 0.6]})
    df = df.sample(frac=1.0, random_state=0)  # row order must not matter
    out = pairwise_comparisons(df, "acc", n_train=30, n_test=10)
    row = out.iloc[0]
    assert row["n_folds"] == 3
    sign = 1 if row["model_a"] == "a" else -1
    assert sign * row["mean_diff"] == pytest.approx(0.3)


def test_pairwise_comparisons_errors():
    df = _scores_frame({"a": [0.9, 0.8], "b": [0.6, 0.5]})
    with pytest.raises(ValueError, match="metrics present"):
        pairwise_comparisons(df, "roc_auc", 10, 5)
    with pytest.raises(ValueError, match="test must be one of"):
        pairwise_comparisons(df, "acc", 10, 5, test="anova")
    with pytest.raises(ValueError, match="columns Model, Fold, Metric, Value"):
        pairwise_comparisons(df.drop(columns="Fold"), "acc", 10, 5)


def test_rank_models_respects_metric_direction():
    df = pd.concat(
        [
            _scores_frame({"a": [0.9, 0.8], "b": [0.6, 0.7], "c": [0.9, 0.8]}, "balanced_accuracy"),
            _scores_frame({"a": [3.0, 2.0], "b": [1.0, 1.5], "c": [2.0, 2.0]}, "mae"),
            _scores_frame({"a": [3.0, 2.0], "b": [1.0, 1.5], "c": [2.0, 2.0]}, "custom"),
        ]
    )
    out = rank_models(df, greater_is_better={"custom": False})
    acc = out[out.Metric == "balanced_accuracy"].set_index("Model")
    assert acc.loc["a", "rank"] == acc.loc["c", "rank"] == 1  # tie shares the best rank
    assert acc.loc["b", "rank"] == 3
    assert acc.loc["a", "mean"] == pytest.approx(0.85)
    assert acc.loc["a", "std"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    mae = out[out.Metric == "mae"]
    assert mae["Model"].tolist() == ["b", "c", "a"]  # lower is better, read from METRICS
    assert out[out.Metric == "custom"]["Model"].tolist() == ["b", "c", "a"]
    only = rank_models(df, metrics=["mae"])
    assert set(only["Metric"]) == {"mae"}
    with pytest.raises(ValueError, match="not in scores_df"):
        rank_models(df, metrics=["r2"])


def test_permute_labels_within_groups_and_between_groups():
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 0, 1, 1, 1, 0, 0, 0])
    groups = np.array(["s1"] * 4 + ["s2"] * 5)
    for _ in range(5):
        yp = _permute_labels(y, groups, rng)
        for g in ("s1", "s2"):
            assert sorted(yp[groups == g]) == sorted(y[groups == g])
    # one label per group (between-subject design): whole groups swap labels
    y_between = np.array([0, 0, 1, 1, 1, 2, 2])
    g_between = np.array([1, 1, 2, 2, 2, 3, 3])
    seen = set()
    for _ in range(20):
        yp = _permute_labels(y_between, g_between, rng)
        for g in (1, 2, 3):
            assert np.unique(yp[g_between == g]).size == 1
        seen.add(tuple(yp))
    assert len(seen) > 1


class _SplitSpy(ClassifierMixin, BaseEstimator):
    """Records which windows it was trained on (column 0 of X is the window index)."""

    calls: list = []

    def fit(self, X, y):
        type(self).calls.append(frozenset(X[:, 0].astype(int).tolist()))
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_permutation_test_reuses_the_same_outer_splits():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.arange(40), rng.standard_normal(40)])
    y = np.tile([0, 1], 20)
    splits = list(GroupKFold(n_splits=4).split(X, y, groups=np.repeat(np.arange(8), 5)))
    _SplitSpy.calls = []
    res = permutation_test(_SplitSpy, X, y, None, splits, balanced_accuracy_score, n_permutations=3)
    expected = {frozenset(tr.tolist()) for tr, _ in splits}
    assert len(_SplitSpy.calls) == 4 * (1 + 3)
    assert set(_SplitSpy.calls) == expected
    assert res["null_scores"].shape == (3,)


@pytest.fixture(scope="module")
def band_power_features():
    """Log band power of synthetic MI data, with and without the planted effect.

    BandPower is stateless (each window alone), so computing it once outside the CV
    leaks nothing; the permutation test then re-fits only a shrinkage LDA.
    """
    out = {}
    for effect in (1.0, 0.0):
        X, y, meta, _ = make_motor_imagery(
            n_subjects=4, n_epochs_per_class=15, sfreq=100.0, tmax=3.0, effect_size=effect,
            random_state=2, return_epochs=False,
        )  # fmt: skip
        feats = BandPower(sfreq=100.0).fit_transform(X)
        out[effect] = (feats, y, meta["Subject"].to_numpy())
    return out


@pytest.mark.parametrize("effect", [1.0, 0.0])
def test_permutation_test_detects_the_effect_only_when_present(band_power_features, effect):
    X, y, groups = band_power_features[effect]
    splits = list(GroupKFold(n_splits=4).split(X, y, groups))
    res = permutation_test(
        lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        X, y, groups, splits, balanced_accuracy_score, n_permutations=19, random_state=0,
    )  # fmt: skip
    null = res["null_scores"]
    assert null.shape == (19,)
    assert res["p_value"] == pytest.approx((1 + np.sum(null >= res["score"])) / 20)
    assert abs(null.mean() - 0.5) < 0.1  # permuted labels score at chance
    if effect:
        assert res["score"] > 0.75
        assert res["p_value"] == pytest.approx(0.05)  # the smallest p with 19 permutations
    else:
        # no effect: the score is one more draw from the null (p is uniform, so no
        # threshold on p alone; check the score sits inside the null distribution)
        assert res["score"] < 0.65
        assert res["p_value"] > 0.05


def test_permutation_test_validates_arguments():
    X, y = np.zeros((10, 2)), np.tile([0, 1], 5)
    splits = [(np.arange(5), np.arange(5, 10))]
    with pytest.raises(ValueError, match="cv_splits"):
        permutation_test(LogisticRegression, X, y, None, [], balanced_accuracy_score)
    with pytest.raises(ValueError, match="n_permutations"):
        permutation_test(LogisticRegression, X, y, None, splits, balanced_accuracy_score, 0)
    with pytest.raises(ValueError, match="groups has 3"):
        permutation_test(LogisticRegression, X, y, [1, 2, 3], splits, balanced_accuracy_score)
