"""CSP baselines: above chance on subject-grouped CV, chance without an effect,
probabilities and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_data import grouped_cv

from coco_pipe.decoding.baselines import FilterBankCSP


@pytest.mark.parametrize(
    "name, threshold",
    # chance is 0.5; with 30 test windows per fold, 0.8 is far outside chance variation
    [("CSP_LDA", 0.8), ("FBCSP", 0.7)],
)
def test_subject_grouped_cv_scores_above_chance(mi_data, name, threshold):
    X, y, groups = mi_data
    scores = grouped_cv(name, X, y, groups)
    assert scores.mean() >= threshold, (name, scores)
    assert scores.min() > 0.5, (name, scores)


def test_no_effect_gives_chance(null_data):
    X, y, groups = null_data
    scores = grouped_cv("CSP_LDA", X, y, groups)
    assert abs(scores.mean() - 0.5) < 0.15, scores


def test_classifiers_give_probabilities_and_are_reproducible(mi_data):
    X, y, _ = mi_data
    a = FilterBankCSP(sfreq=100.0, random_state=0).fit(X[:80], y[:80])
    b = FilterBankCSP(sfreq=100.0, random_state=0).fit(X[:80], y[:80])
    proba = a.predict_proba(X[80:])
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(a.predict(X[80:]), b.predict(X[80:]))
    np.testing.assert_array_equal(a.classes_, np.unique(y))
