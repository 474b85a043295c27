"""Band-power baselines: above chance with a planted effect, chance without, and the
ridge regressing power."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_data import grouped_cv

from coco_pipe.decoding.baselines import BandPowerLinear, BandPowerRidge

SFREQ = 100.0


def test_band_power_scores_above_chance(mi_data):
    X, y, groups = mi_data
    # chance is 0.5; with 30 test windows per fold, 0.7 is far outside chance variation
    scores = grouped_cv("BandPower_LR", X, y, groups)
    assert scores.mean() >= 0.7, scores
    assert scores.min() > 0.5, scores


def test_no_effect_gives_chance(null_data):
    X, y, groups = null_data
    scores = grouped_cv("BandPower_LR", X, y, groups)
    assert abs(scores.mean() - 0.5) < 0.15, scores


def test_band_power_ridge_regresses_power(mi_data):
    X, _, _ = mi_data
    rng = np.random.default_rng(0)
    target = rng.uniform(0.0, 1.0, size=len(X))
    Xs = X * 10.0 ** target[:, None, None]  # log band power grows linearly with the target
    order = rng.permutation(len(X))  # every subject in both parts (subject gains differ)
    train, test = order[:90], order[90:]
    model = BandPowerRidge(sfreq=SFREQ).fit(Xs[train], target[train])
    assert model.score(Xs[test], target[test]) > 0.8


def test_bad_band_power_parameters_are_named(mi_data):
    X, y, _ = mi_data
    with pytest.raises(ValueError, match="C must be > 0"):
        BandPowerLinear(sfreq=SFREQ, C=0.0).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        BandPowerRidge(sfreq=SFREQ, alpha=-1.0).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="holds no PSD bin"):
        BandPowerLinear(sfreq=SFREQ, bands=[(10.2, 10.6)]).fit(X, y)
