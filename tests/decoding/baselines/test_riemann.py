"""Riemannian tangent space + logistic regression above chance on subject-grouped CV."""

from __future__ import annotations

import pytest
from baseline_data import grouped_cv

from coco_pipe.decoding.baselines import TangentSpaceLR


def test_tangent_space_scores_above_chance(mi_data):
    X, y, groups = mi_data
    # chance is 0.5; with 30 test windows per fold, 0.8 is far outside chance variation
    scores = grouped_cv("TangentSpace_LR", X, y, groups)
    assert scores.mean() >= 0.8, scores
    assert scores.min() > 0.5, scores


def test_c_is_checked(mi_data):
    X, y, _ = mi_data
    with pytest.raises(ValueError, match="TangentSpaceLR: C must be > 0"):
        TangentSpaceLR(sfreq=100.0, C=-1).fit(X, y)
