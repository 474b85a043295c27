"""FilterBankTS_LR (MOABB's SSVEP_TS+LR): above chance on synthetic SSVEP with a rest
class, at chance without the effect, and above chance on real SSVEP when the shared
Kalunga2016 epochs are at hand."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_data import (
    SSVEP_BANDS,
    SSVEP_SFREQ,
    chance_bound,
    kalunga_epochs_path,
    make_ssvep,
    within_subject_accuracy,
    within_subject_predictions,
)

from coco_pipe.decoding.baselines import FilterBankTangentSpaceLR


def _model(**kw):
    return FilterBankTangentSpaceLR(bands=SSVEP_BANDS, sfreq=SSVEP_SFREQ, **kw)


@pytest.mark.parametrize("padding", ["ar", "odd"])
def test_beats_chance_on_synthetic_ssvep(ssvep_data, padding):
    X, y, subject = ssvep_data
    pred = within_subject_predictions(lambda: _model(padding=padding), X, y, subject)
    accuracy = float(np.mean(pred == y))
    # guessing among 4 classes exceeds this bound on len(y) windows with p < 1e-4
    assert accuracy > chance_bound(len(y), 4) + 0.1, accuracy
    # and every class is recognised, rest included
    for label in np.unique(y):
        assert np.mean(pred[y == label] == label) > 0.5, (label, pred[y == label])


def test_is_at_chance_without_the_effect():
    X, y, subject = make_ssvep(amplitude=0.0, random_state=1)
    assert within_subject_accuracy(_model, X, y, subject) < chance_bound(len(y), 4)


def test_covariance_is_of_the_stacked_bands(ssvep_data):
    X, y, _ = ssvep_data
    model = _model().fit(X[:48], y[:48])
    covs = model.pipeline_[:-2].transform(X[:2])  # filter bank + covariance
    assert covs.shape == (2, 3 * X.shape[1], 3 * X.shape[1])
    assert model.predict_proba(X[:5]).shape == (5, 4)


def test_bad_parameters_are_named(ssvep_data):
    X, y, _ = ssvep_data
    with pytest.raises(ValueError, match="needs bands"):
        FilterBankTangentSpaceLR(sfreq=SSVEP_SFREQ).fit(X, y)
    with pytest.raises(ValueError, match="Nyquist=64"):
        _model().set_params(bands=[[12.5, 13.5], [63.5, 64.5]]).fit(X, y)
    with pytest.raises(ValueError, match="padding must be one of"):
        _model(padding="zeros").fit(X, y)
    with pytest.raises(ValueError, match="C must be > 0"):
        _model(C=0).fit(X, y)


@pytest.mark.skipif(
    kalunga_epochs_path() is None,
    reason="../shared/data/kalunga2016/epochs.npz is absent; the same code path runs on "
    "synthetic SSVEP in test_beats_chance_on_synthetic_ssvep",
)
def test_beats_chance_on_real_ssvep_kalunga2016():
    data = np.load(kalunga_epochs_path(), allow_pickle=False)
    keep = np.isin(data["subject"], [1, 2])  # the first two subjects, 5-fold within each
    X, y, subject = data["X"][keep], data["y"][keep], data["subject"][keep]
    bands = [[12.5, 13.5], [16.5, 17.5], [20.5, 21.5]]
    sfreq = float(data["sfreq"])
    make = lambda: FilterBankTangentSpaceLR(bands=bands, sfreq=sfreq)  # noqa: E731
    assert within_subject_accuracy(make, X, y, subject, n_splits=5) > chance_bound(len(y), 4)
