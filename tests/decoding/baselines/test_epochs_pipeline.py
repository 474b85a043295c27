"""The scikit-learn contract of every baseline in BASELINES: NotFittedError before fit,
mne.Epochs accepted wherever a 3-D array is (sfreq read from it), clone and pickle of a
fitted baseline round-trip with the same predictions."""

from __future__ import annotations

import pickle

import mne
import numpy as np
import pytest
from baseline_data import SSVEP_BANDS, SSVEP_FREQS, SSVEP_SFREQ, make_ssvep
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from coco_pipe.decoding.baselines import BASELINES

#: Parameters a baseline needs on the SSVEP data below (everything else: defaults).
PARAMS = {
    "FBCSP": {"random_state": 0},
    "FilterBankTS_LR": {"bands": SSVEP_BANDS},
    "SSVEP_CCA": {"freqs": SSVEP_FREQS},
}
NAMES = [name for name, *_ in BASELINES]
CLASSES = {name: cls for name, cls, *_ in BASELINES}


@pytest.fixture(scope="module")
def windows():
    """One subject, 4 classes x 12 windows of 2 s at 128 Hz, 8 channels; a continuous
    target for the regressor (log power grows with it)."""
    X, y, _ = make_ssvep(n_subjects=1, amplitude=0.3, random_state=3)
    target = np.random.default_rng(0).uniform(0.0, 1.0, len(X))
    return X, y, target


def _targets(name, windows):
    X, y, target = windows
    if is_regressor(CLASSES[name]()):
        return X * 10.0 ** target[:, None, None], target
    return X, y


def _make(name, **kw):
    return CLASSES[name](**{**PARAMS.get(name, {}), **kw})


def _epochs(X, sfreq=SSVEP_SFREQ):
    info = mne.create_info([f"EEG{i:02d}" for i in range(X.shape[1])], sfreq, "eeg")
    return mne.EpochsArray(X, info, verbose="error")


def test_params_cover_only_real_baselines():
    assert set(PARAMS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error_before_fit(name, windows):
    X, _ = _targets(name, windows)
    est = _make(name, sfreq=SSVEP_SFREQ)
    assert est.__sklearn_tags__().requires_fit
    for method in ["predict", "predict_proba", "decision_function"]:
        if hasattr(est, method):
            with pytest.raises(NotFittedError):
                getattr(est, method)(X[:3])


@pytest.mark.parametrize("name", NAMES)
def test_fitted_baseline_clones_and_pickles(name, windows):
    X, y = _targets(name, windows)
    est = _make(name, sfreq=SSVEP_SFREQ).fit(X[::2], y[::2])
    fresh = clone(est)
    assert fresh.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(X[:3])
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X[1::2]), est.predict(X[1::2]))
    if hasattr(est, "predict_proba"):
        np.testing.assert_allclose(again.predict_proba(X[1::2]), est.predict_proba(X[1::2]))
    # a refit clone predicts as the original did
    np.testing.assert_array_equal(fresh.fit(X[::2], y[::2]).predict(X[1::2]), est.predict(X[1::2]))


@pytest.mark.parametrize("name", NAMES)
def test_cross_val_score_on_mne_epochs_reads_sfreq(name, windows):
    X, y = _targets(name, windows)
    if is_regressor(CLASSES[name]()):
        cv, scoring = KFold(3, shuffle=True, random_state=0), "r2"
    else:
        cv, scoring = StratifiedKFold(3, shuffle=True, random_state=0), "accuracy"
    on_epochs = cross_val_score(_make(name), _epochs(X), y, cv=cv, scoring=scoring,
                                error_score="raise")  # fmt: skip
    on_array = cross_val_score(_make(name, sfreq=SSVEP_SFREQ), X, y, cv=cv, scoring=scoring,
                               error_score="raise")  # fmt: skip
    np.testing.assert_allclose(on_epochs, on_array, rtol=1e-6, atol=1e-9)
    fitted = _make(name).fit(_epochs(X), y)
    np.testing.assert_array_equal(fitted.predict(_epochs(X[:5])), fitted.predict(X[:5]))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "XdawnTS_LR"])  # xDAWN: no filter
def test_sampling_rate_mismatches_are_refused(name, windows):
    X, y = _targets(name, windows)
    with pytest.raises(ValueError, match="sampled at 256"):
        _make(name, sfreq=SSVEP_SFREQ).fit(_epochs(X, 256.0), y)
    fitted = _make(name).fit(_epochs(X), y)
    with pytest.raises(ValueError, match="sampled at 256 Hz but .* fitted at 128 Hz"):
        fitted.predict(_epochs(X[:3], 256.0))
