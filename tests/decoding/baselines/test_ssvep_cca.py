"""SSVEP_CCA: above chance on synthetic SSVEP, predictions that follow the stimulus
frequency, the learned rest threshold, and the forms of ``freqs``."""

from __future__ import annotations

import numpy as np
import pytest
from baseline_data import (
    SSVEP_FREQS,
    SSVEP_SFREQ,
    chance_bound,
    make_ssvep,
    within_subject_accuracy,
)

from coco_pipe.decoding.baselines import SSVEPCCA


def _cca(**kw):
    return SSVEPCCA(**{"freqs": SSVEP_FREQS, "sfreq": SSVEP_SFREQ, **kw})


def test_beats_chance_on_synthetic_ssvep(ssvep_data):
    X, y, subject = ssvep_data
    assert within_subject_accuracy(_cca, X, y, subject) > chance_bound(len(y), 4) + 0.1


def test_is_at_chance_without_the_effect():
    X, y, subject = make_ssvep(amplitude=0.0, random_state=2)
    assert within_subject_accuracy(_cca, X, y, subject) < chance_bound(len(y), 4)


def test_predicted_class_follows_the_frequency(ssvep_data):
    X, y, _ = ssvep_data
    stim = y != "rest"
    pred = _cca(rest_threshold=0.0).fit(X, y).predict(X[stim])  # rest never predicted
    for label in ["13Hz", "17Hz", "21Hz"]:
        assert np.mean(pred[y[stim] == label] == label) > 0.6, label
    # swap the frequencies of two classes: their predictions swap with them
    swapped = {**SSVEP_FREQS, "13Hz": 17.0, "17Hz": 13.0}
    pred_swapped = _cca(freqs=swapped, rest_threshold=0.0).fit(X, y).predict(X[stim])
    np.testing.assert_array_equal(
        pred_swapped, np.select([pred == "13Hz", pred == "17Hz"], ["17Hz", "13Hz"], pred)
    )


def test_pure_sinusoids_are_recognised_with_their_harmonics():
    t = np.arange(256) / SSVEP_SFREQ
    freqs = {"13Hz": 13.0, "17Hz": 17.0, "21Hz": 21.0}
    pattern = np.array([1.0, 0.5, -0.3])[:, None]
    X = np.stack([pattern * np.sin(2 * np.pi * 2 * f * t + 0.7) for f in freqs.values()])
    X = X + 0.2 * np.random.default_rng(0).standard_normal(X.shape)  # second harmonics only
    y = np.array(list(freqs))
    assert _cca(freqs=freqs, n_harmonics=2).fit(X, y).predict(X).tolist() == y.tolist()
    scores = _cca(freqs=freqs, n_harmonics=1).fit(X, y).decision_function(X)
    assert scores.max() < 0.5  # with the fundamental alone there is nothing to correlate


def test_rest_threshold_learned_or_fixed(ssvep_data):
    X, y, _ = ssvep_data
    learned = _cca().fit(X, y)
    assert 0.0 < learned.threshold_ < 1.0
    assert np.mean(learned.predict(X[y == "rest"]) == "rest") > 0.6
    assert set(_cca(rest_threshold=0.0).fit(X, y).predict(X)) <= {"13Hz", "17Hz", "21Hz"}
    assert set(_cca(rest_threshold=1.01).fit(X, y).predict(X)) == {"rest"}
    scores = learned.decision_function(X[:4])
    assert scores.shape == (4, 4)
    np.testing.assert_allclose(scores[:, list(learned.classes_).index("rest")], learned.threshold_)
    proba = learned.predict_proba(X[:4])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(learned.classes_[proba.argmax(axis=1)], learned.predict(X[:4]))


def test_forms_of_freqs_give_the_same_model(ssvep_data):
    X, y, _ = ssvep_data
    as_map = _cca().fit(X, y).predict(X)
    # list in the order of the sorted classes: 13Hz, 17Hz, 21Hz, rest
    as_list = _cca(freqs=[13.0, [17.0], 21.0, None]).fit(X, y).predict(X)
    np.testing.assert_array_equal(as_map, as_list)
    codes = np.select([y == k for k in SSVEP_FREQS], [0, 13, 17, 21])  # integer labels
    text_keys = {"0": None, "13": 13.0, "17": 17.0, "21": 21.0}  # as from YAML
    as_int = _cca(freqs=text_keys).fit(X, codes).predict(X)
    np.testing.assert_array_equal(as_int, np.select([as_map == k for k in SSVEP_FREQS], [0, 13, 17, 21]))


def test_bad_freqs_are_named(ssvep_data):
    X, y, _ = ssvep_data
    with pytest.raises(ValueError, match="needs freqs"):
        SSVEPCCA(sfreq=SSVEP_SFREQ).fit(X, y)
    with pytest.raises(ValueError, match=r"freqs names \['30Hz'\], not classes"):
        _cca(freqs={**SSVEP_FREQS, "30Hz": 30.0}).fit(X, y)
    with pytest.raises(ValueError, match="at most one class may have no stimulus"):
        _cca(freqs={**SSVEP_FREQS, "13Hz": None}).fit(X, y)
    with pytest.raises(ValueError, match="lists 3 entries but y has 4 classes"):
        _cca(freqs=[13.0, 17.0, 21.0]).fit(X, y)
    with pytest.raises(ValueError, match="must be > 0 Hz"):
        _cca(freqs={**SSVEP_FREQS, "13Hz": -13.0}).fit(X, y)
    with pytest.raises(ValueError, match="harmonic 4 of 21 Hz is 84 Hz.*Nyquist=64"):
        _cca(n_harmonics=4).fit(X, y)
    with pytest.raises(ValueError, match="n_harmonics must be a positive integer"):
        _cca(n_harmonics=0).fit(X, y)
