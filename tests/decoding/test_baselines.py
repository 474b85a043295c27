"""Classical BCI baselines: registry, parameters, subject-grouped CV on the built-in data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_val_score

from coco_pipe.data import DataInfo
from coco_pipe.datasets import make_motor_imagery
from coco_pipe.decoding.baselines import (
    CSPLDA,
    BandPassFilter,
    BandPower,
    BandPowerLinear,
    BandPowerRidge,
    FilterBankCSP,
    TangentSpaceLR,
)
from coco_pipe.decoding.builders import build_estimator
from coco_pipe.decoding.configs import ClassicalModelConfig
from coco_pipe.decoding.registry import classical_names, get_classical

SFREQ = 100.0
BASELINES = ["CSP_LDA", "TangentSpace_LR", "FBCSP", "BandPower_LR"]


@pytest.fixture(scope="module")
def mi_data():
    """4 synthetic subjects x 30 windows, 19 channels, 3 s at 100 Hz (planted ERD)."""
    X, y, meta, _ = make_motor_imagery(
        n_subjects=4, n_epochs_per_class=15, sfreq=SFREQ, tmax=3.0, random_state=0,
        return_epochs=False,
    )  # fmt: skip
    return X, y, meta["Subject"].to_numpy()


@pytest.fixture(scope="module")
def null_data():
    """Same design with the effect removed (effect_size=0)."""
    X, y, meta, _ = make_motor_imagery(
        n_subjects=4, n_epochs_per_class=15, sfreq=SFREQ, tmax=3.0, effect_size=0.0,
        random_state=1, return_epochs=False,
    )  # fmt: skip
    return X, y, meta["Subject"].to_numpy()


def _grouped_cv(name, X, y, groups, **params):
    est = get_classical(name).factory(sfreq=SFREQ, **params)
    if "random_state" in est.get_params():  # FBCSP's mutual-information selection
        est.set_params(random_state=0)
    return cross_val_score(
        est, X, y, groups=groups, cv=GroupKFold(n_splits=4), scoring="balanced_accuracy"
    )


def test_baselines_are_registered_for_their_tasks():
    names = classical_names()
    for name in [*BASELINES, "BandPower_Ridge"]:
        assert name in names
        assert get_classical(name).consumes_epochs
    assert get_classical("BandPower_Ridge").tasks == ("regression",)
    assert get_classical("CSP_LDA").tasks == ("classification",)


@pytest.mark.parametrize(
    "name, params",
    [
        ("CSP_LDA", {"n_components": 6, "reg": "ledoit_wolf", "shrinkage": None, "l_freq": 7.0}),
        ("TangentSpace_LR", {"cov_estimator": "lwf", "metric": "logeuclid", "C": 0.5}),
        ("FBCSP", {"bands": [[8, 12], [12, 16]], "k_best": 4, "selection": "anova"}),
        ("BandPower_LR", {"bands": [[8, 13], [13, 30]], "C": 2.0}),
    ],
)
def test_every_param_is_addressable_from_the_config(name, params):
    cfg = ClassicalModelConfig(estimator=name, params={**params, "sfreq": SFREQ})
    est = build_estimator(cfg)
    # consumes epochs: the baseline itself, not wrapped in the vectorizing pipeline
    assert type(est) is get_classical(name).factory
    got = est.get_params(deep=False)
    for key, value in params.items():
        assert got[key] == value
    # flat and clonable: a clone carries the same params
    assert clone(est).get_params(deep=False) == got


def test_unknown_param_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match="did you mean n_components"):
        ClassicalModelConfig(estimator="CSP_LDA", params={"n_component": 4})


@pytest.mark.parametrize(
    "name, threshold",
    # chance is 0.5; with 30 test windows per fold, 0.8 is far outside chance variation
    [("CSP_LDA", 0.8), ("TangentSpace_LR", 0.8), ("FBCSP", 0.7), ("BandPower_LR", 0.7)],
)
def test_subject_grouped_cv_scores_above_chance(mi_data, name, threshold):
    X, y, groups = mi_data
    scores = _grouped_cv(name, X, y, groups)
    assert scores.mean() >= threshold, (name, scores)
    assert scores.min() > 0.5, (name, scores)


@pytest.mark.parametrize("name", ["CSP_LDA", "BandPower_LR"])
def test_no_effect_gives_chance(null_data, name):
    X, y, groups = null_data
    scores = _grouped_cv(name, X, y, groups)
    assert abs(scores.mean() - 0.5) < 0.15, (name, scores)


def test_filtering_pipelines_need_sfreq_and_say_so(mi_data):
    X, y, _ = mi_data
    for est in [CSPLDA(), TangentSpaceLR(), FilterBankCSP(), BandPowerLinear(), BandPowerRidge()]:
        with pytest.raises(ValueError, match="sfreq"):
            est.fit(X[:20], y[:20])
    # without a band-pass, CSP needs no sampling frequency
    assert CSPLDA(l_freq=None, h_freq=None, n_components=2).fit(X[:40], y[:40]).classes_.size == 2


def test_bad_input_is_rejected_before_fitting(mi_data):
    X, y, _ = mi_data
    with pytest.raises(ValueError, match="3-D epochs"):
        CSPLDA(sfreq=SFREQ).fit(X[:, 0, :], y)
    with pytest.raises(ValueError, match="Nyquist"):
        FilterBankCSP(sfreq=SFREQ, bands=[(8, 12), (40, 60)]).fit(X, y)
    with pytest.raises(ValueError, match="low < high"):
        CSPLDA(sfreq=SFREQ, l_freq=30.0, h_freq=8.0).fit(X, y)
    with pytest.raises(ValueError, match="one target per window"):
        TangentSpaceLR(sfreq=SFREQ).fit(X, y[:-1])
    fitted = BandPowerLinear(sfreq=SFREQ).fit(X, y)
    with pytest.raises(ValueError, match="channels"):
        fitted.predict(X[:, :5])


def test_check_data_info_hook():
    info = DataInfo(n_samples=10, ndim=3, n_channels=19, n_times=300, sfreq=100.0,
                    ch_names=None, task="classification", classes=(0, 1))  # fmt: skip
    FilterBankCSP().check_data_info(info)  # sfreq taken from the data: fine
    with pytest.raises(ValueError, match="Nyquist"):
        FilterBankCSP(bands=[(8, 12), (44, 52)]).check_data_info(info)
    with pytest.raises(ValueError, match="sampled at 100"):
        CSPLDA(sfreq=250.0).check_data_info(info)
    flat = DataInfo(n_samples=10, ndim=2, n_channels=None, n_times=None, sfreq=None,
                    ch_names=None, task="classification", classes=(0, 1))  # fmt: skip
    with pytest.raises(ValueError, match="3-D"):
        TangentSpaceLR().check_data_info(flat)


def test_stateless_steps_treat_each_window_alone(mi_data):
    X, _, _ = mi_data
    for step in [BandPassFilter(8.0, 30.0, sfreq=SFREQ), BandPower(sfreq=SFREQ)]:
        full = step.fit(X).transform(X)
        part = step.fit(X[5:9]).transform(X[5:9])
        np.testing.assert_allclose(part, full[5:9], rtol=1e-10, atol=1e-12)
    # the band-pass really removes out-of-band power
    t = np.arange(300) / SFREQ
    sines = np.stack([np.sin(2 * np.pi * 2 * t), np.sin(2 * np.pi * 15 * t)])[None]
    out = BandPassFilter(8.0, 30.0, sfreq=SFREQ).fit_transform(sines)
    mid = slice(50, 250)
    assert out[0, 0, mid].std() < 0.05 * sines[0, 0, mid].std()
    assert out[0, 1, mid].std() > 0.9 * sines[0, 1, mid].std()


def test_classifiers_give_probabilities_and_are_reproducible(mi_data):
    X, y, _ = mi_data
    a = FilterBankCSP(sfreq=SFREQ, random_state=0).fit(X[:80], y[:80])
    b = FilterBankCSP(sfreq=SFREQ, random_state=0).fit(X[:80], y[:80])
    proba = a.predict_proba(X[80:])
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(a.predict(X[80:]), b.predict(X[80:]))
    np.testing.assert_array_equal(a.classes_, np.unique(y))


def test_band_power_ridge_regresses_power(mi_data):
    X, _, _ = mi_data
    rng = np.random.default_rng(0)
    target = rng.uniform(0.0, 1.0, size=len(X))
    Xs = X * 10.0 ** target[:, None, None]  # log band power grows linearly with the target
    order = rng.permutation(len(X))  # every subject in both parts (subject gains differ)
    train, test = order[:90], order[90:]
    model = BandPowerRidge(sfreq=SFREQ).fit(Xs[train], target[train])
    assert model.score(Xs[test], target[test]) > 0.8
