"""NeuralDecoder.fit / predict: the four train modes on a small foundation backbone
(CBraMod, random init), specialist networks from scratch on a planted effect, regression,
determinism, and the errors on data the decoder cannot train on."""

from __future__ import annotations

import numpy as np
import pytest
from neural_helpers import CHS, SCRATCH_CHS, SCRATCH_SFREQ, SFREQ, cbramod_cfg, decoder, scratch_cfg
from sklearn.metrics import balanced_accuracy_score

from coco_pipe.decoding.configs import NeuralFineTuneConfig
from coco_pipe.foundation.neural import NeuralDecoder, NeuralTrainable
from coco_pipe.foundation.scratch import SCRATCH_SPECS


@pytest.mark.parametrize("mode", ["frozen", "full", "lora", "qlora"])
def test_train_modes_fit_and_predict(fitted_cbramod, cbramod_data, mode):
    X, y, groups = cbramod_data
    est = fitted_cbramod(mode)
    test = groups == "sub-03"
    assert not est.failed_
    assert est.config_.train_mode == mode and est.config_.model_key == "cbramod"
    proba = est.predict_proba(X[test])
    assert proba.shape == (test.sum(), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(est.predict(X[test])) <= set(np.unique(y))
    assert isinstance(est, NeuralTrainable)
    hist = est.get_training_history()
    assert [r["epoch"] for r in hist] == [1, 2]
    for key in ("train_loss", "val_loss", "val_balanced_accuracy", "lr", "grad_norm", "seconds"):
        assert np.isfinite(hist[0][key]), key
    # the validation split is grouped: one whole subject of the two in the partition
    assert est.n_val_ == 16 and est.n_train_ == 16
    assert est.precomputed_embeddings_ is (mode == "frozen")


@pytest.mark.parametrize("key", ["eegnet", "shallow_fbcsp", "deep4"])
def test_scratch_network_beats_chance_on_planted_effect(planted, key):
    X, y, tr, te = planted
    est = decoder(scratch_cfg(key), sfreq=SCRATCH_SFREQ, ch_names=SCRATCH_CHS, random_state=0,
                  quiet=True)  # fmt: skip
    est.fit(X[tr], y[tr])
    assert not est.failed_
    bacc = balanced_accuracy_score(y[te], est.predict(X[te]))
    assert bacc > 0.7, f"{key}: balanced accuracy {bacc:.2f} on a strong planted effect"
    card = est.get_model_card_info()
    assert card["architecture"] == SCRATCH_SPECS[key].braindecode_class
    assert card["trainable_fraction"] == pytest.approx(1.0) and card["scratch"]


def test_seeded_fit_is_deterministic_on_cpu(planted):
    X, y, tr, te = planted
    runs = [
        decoder(scratch_cfg("shallow_fbcsp", epochs=2), sfreq=SCRATCH_SFREQ, random_state=3,
                quiet=True).fit(X[tr][:40], y[tr][:40])  # fmt: skip
        for _ in range(2)
    ]
    assert [h["train_loss"] for h in runs[0].history_] == [
        h["train_loss"] for h in runs[1].history_
    ]
    np.testing.assert_array_equal(runs[0].predict_proba(X[te]), runs[1].predict_proba(X[te]))


def test_regression_task(planted):
    X, _, tr, te = planted
    target = X[:, 0].std(axis=1) * 1e6  # a continuous, learnable target
    est = decoder(scratch_cfg("shallow_fbcsp", epochs=2), sfreq=SCRATCH_SFREQ, task="regression",
                  quiet=True)  # fmt: skip
    est.fit(X[tr], target[tr])
    pred = est.predict(X[te])
    assert pred.shape == (len(te),) and np.isfinite(pred).all()
    assert "val_r2" in est.history_[0]
    assert isinstance(est.score(X[te], target[te]), float)
    with pytest.raises(AttributeError):
        est.predict_proba(X[te])


def test_predict_before_fit_and_wrong_shape():
    from sklearn.exceptions import NotFittedError

    est = decoder(scratch_cfg("eegnet"), sfreq=SCRATCH_SFREQ)
    with pytest.raises(NotFittedError):
        est.predict(np.zeros((2, 4, 128), np.float32))
    with pytest.raises(ValueError, match="3-D"):
        est.fit(np.zeros((4, 10), np.float32), [0, 1, 0, 1])


def test_validation_split_leaving_group_or_class_empty_errors(cbramod_data):
    X, y, groups = cbramod_data
    one_subject = groups == "sub-01"
    est = decoder(cbramod_cfg("frozen"), sfreq=SFREQ, ch_names=CHS, quiet=True)
    with pytest.raises(ValueError, match="at least 2 groups"):
        est.fit(X[one_subject], y[one_subject], groups=groups[one_subject])
    # each subject holds a single class: no grouped split keeps both classes on both sides
    idx = np.r_[
        np.flatnonzero((groups == "sub-01") & (y == 0)),
        np.flatnonzero((groups == "sub-02") & (y == 1)),
    ]
    with pytest.raises(ValueError, match="leaves every class"):
        est.fit(X[idx], y[idx], groups=groups[idx])
    idx = np.r_[np.flatnonzero(y == 0)[:10], np.flatnonzero(y == 1)[:1]]
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have fewer than 2 windows"):
        est.fit(X[idx], y[idx])
    assert not hasattr(est, "network_")  # a fit that raised leaves no fitted state


def test_bad_parameter_is_named_in_fit(cbramod_data):
    X, y, _ = cbramod_data
    with pytest.raises(ValueError, match="validation_fraction"):
        NeuralDecoder("eegnet", validation_fraction=1.5, quiet=True).fit(X[:8], y[:8])
    with pytest.raises(TypeError, match="takes the fields of a NeuralFineTuneConfig"):
        NeuralDecoder(NeuralFineTuneConfig(model_key="eegnet")).fit(X[:8], y[:8])
