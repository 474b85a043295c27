"""NeuralDecoder keeps scikit-learn's estimator contract: the config's fields are its
parameters (sub-configs nested: ``optim__lr``), ``clone`` and ``GridSearchCV`` work,
``fit`` leaves the global random state alone, ``predict`` leaves the fitted state alone,
``NotFittedError`` before ``fit``, ``mne.Epochs`` wherever a 3-D array goes, and no
temporary folder is left behind."""

from __future__ import annotations

import inspect
import pickle
import tempfile

import numpy as np
import pytest
import torch
from neural_helpers import SCRATCH_CHS, SCRATCH_SFREQ, SMALL, decoder, scratch_cfg
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from coco_pipe.data import DataInfo
from coco_pipe.decoding.builders import build_estimator
from coco_pipe.decoding.configs import NeuralFineTuneConfig, OptimConfig
from coco_pipe.foundation.neural import NeuralDecoder


def _tiny_eegnet(**kw) -> NeuralDecoder:
    params = dict(model_kwargs=SMALL["eegnet"], scratch_sfreq=SCRATCH_SFREQ,
                  optim=OptimConfig(epochs=2, batch_size=16), early_stopping_patience=None,
                  sfreq=SCRATCH_SFREQ, random_state=0, quiet=True)  # fmt: skip
    return NeuralDecoder("eegnet", **{**params, **kw})


def _state(est: NeuralDecoder) -> dict:
    """Everything fitted, comparable: attributes by repr, the network's tensors by value."""
    out = {k: repr(v) for k, v in vars(est).items() if k != "network_"}
    out.update({f"network::{k}": v.clone() for k, v in est.network_.state_dict().items()})
    out["network::training"] = est.network_.training
    return out


def test_parameters_mirror_the_config_fields_and_defaults():
    sig = inspect.signature(NeuralDecoder)
    fields = {k: f for k, f in NeuralFineTuneConfig.model_fields.items() if k != "kind"}
    assert set(fields) <= set(sig.parameters)
    for name, field in fields.items():
        default = sig.parameters[name].default
        if name in ("weights", "train_mode", "model_kwargs"):
            assert default is None, name  # None: the config's (kind-dependent) default
        elif name != "model_key":
            assert default == field.get_default(call_default_factory=True), name
    est = NeuralDecoder("cbramod")
    cfg = est._validated_config()
    assert cfg == NeuralFineTuneConfig(model_key="cbramod")
    assert NeuralDecoder("eegnet")._validated_config() == NeuralFineTuneConfig(model_key="eegnet")
    assert NeuralDecoder("cbramod", train_mode="qlora")._validated_config().quantization.enabled


def test_build_estimator_maps_config_fields_to_parameters():
    cfg = NeuralFineTuneConfig(model_key="cbramod", weights="random", train_mode="lora",
                               lora={"r": 4}, optim={"lr": 3e-4}, seed=5)  # fmt: skip
    info = DataInfo(10, 3, 4, 128, 128.0, tuple(SCRATCH_CHS), "classification", (0, 1))
    est = build_estimator(cfg, info, random_state=7)
    assert isinstance(est, NeuralDecoder)
    params = est.get_params()
    assert params["lora__r"] == 4 and params["optim__lr"] == 3e-4 and params["seed"] == 5
    assert params["sfreq"] == 128.0 and params["ch_names"] == tuple(SCRATCH_CHS)
    assert params["random_state"] == 7 and params["train_mode"] == "lora"
    assert est._validated_config() == cfg
    assert est.lora is not cfg.lora  # the estimator owns its sub-configs


def test_nested_parameters_are_validated_and_never_shared():
    est = NeuralDecoder("eegnet")
    assert est.get_params(deep=True)["optim__lr"] == 1e-3
    shared = est.optim
    est.set_params(optim__lr=1e-4, lora__r=4)
    assert (est.optim.lr, est.lora.r) == (1e-4, 4)
    assert shared.lr == 1e-3 and NeuralDecoder().optim.lr == 1e-3  # the default is not touched
    with pytest.raises(ValueError, match="lr"):
        est.set_params(optim__lr=-1.0)
    with pytest.raises(ValueError, match="invalid parameter 'lrr' for OptimConfig"):
        est.set_params(optim__lrr=1.0)
    assert est.optim.lr == 1e-4  # a refused value changes nothing


def test_clone_of_unfitted_and_fitted_decoders(planted):
    X, y, tr, _ = planted
    est = _tiny_eegnet(optim=OptimConfig(epochs=1, batch_size=16))
    twin = clone(est)
    assert twin.get_params()["optim"] == est.optim and twin.optim is not est.optim
    est.fit(X[tr][:32], y[tr][:32])
    fresh = clone(est)
    assert not hasattr(fresh, "network_") and fresh.get_params()["model_kwargs"] == SMALL["eegnet"]
    assert fresh.get_params(deep=True)["optim__epochs"] == 1


def test_grid_search_over_a_nested_parameter(planted):
    X, y, tr, _ = planted
    search = GridSearchCV(_tiny_eegnet(), {"optim__lr": [1e-3, 3e-3]},
                          cv=StratifiedKFold(2, shuffle=True, random_state=0))  # fmt: skip
    search.fit(X[tr][:40], y[tr][:40])
    assert [p["optim__lr"] for p in search.cv_results_["params"]] == [1e-3, 3e-3]
    assert search.best_estimator_.config_.optim.lr == search.best_params_["optim__lr"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_fit_leaves_the_global_random_state_alone(planted):
    X, y, tr, _ = planted
    np.random.seed(123)
    torch.manual_seed(123)
    np_before = np.random.get_state()
    torch_before = torch.random.get_rng_state()
    est = _tiny_eegnet(optim=OptimConfig(epochs=1, batch_size=16)).fit(X[tr][:32], y[tr][:32])
    np_after = np.random.get_state()
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]
    assert torch.equal(torch_before, torch.random.get_rng_state())
    # and the fit is still seeded: the same decoder trained again gives the same model
    again = clone(est).fit(X[tr][:32], y[tr][:32])
    np.testing.assert_array_equal(again.predict_proba(X[:8]), est.predict_proba(X[:8]))


@pytest.mark.parametrize("mode", ["frozen", "lora"])
def test_predict_leaves_fitted_state_alone(fitted_cbramod, cbramod_data, mode):
    X, _, _ = cbramod_data
    est = fitted_cbramod(mode)
    before = _state(est)
    est.predict(X[:8])
    est.predict_proba(X[:8])
    est.decision_function(X[:8])
    after = _state(est)
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, after[key]), key
        else:
            assert value == after[key], key


def test_not_fitted_error_before_fit(tmp_path):
    est = decoder(scratch_cfg("eegnet"), sfreq=SCRATCH_SFREQ)
    X = np.zeros((2, 4, 128), np.float32)
    for method in (est.predict, est.predict_proba, est.decision_function):
        with pytest.raises(NotFittedError):
            method(X)
    with pytest.raises(NotFittedError):
        est.save(tmp_path / "m")
    with pytest.raises(NotFittedError):
        est.tracking_report(tmp_path)


def test_cross_val_score_on_mne_epochs_reads_sfreq_and_channels():
    import mne

    from coco_pipe.datasets import make_motor_imagery

    epochs = make_motor_imagery(n_subjects=1, n_epochs_per_class=16, sfreq=SCRATCH_SFREQ, tmax=2.0,
                                ch_names=SCRATCH_CHS, effect_size=2.0, random_state=0)  # fmt: skip
    assert isinstance(epochs, mne.BaseEpochs)
    y = epochs.events[:, 2]
    est = _tiny_eegnet(sfreq=None)
    scores = cross_val_score(est, epochs, y, cv=StratifiedKFold(2, shuffle=True, random_state=0))
    assert scores.shape == (2,) and np.isfinite(scores).all()
    fitted = clone(est).fit(epochs, y)
    assert fitted.sfreq_ == SCRATCH_SFREQ and fitted.ch_names_ == tuple(SCRATCH_CHS)
    assert fitted.sfreq is None and fitted.ch_names is None  # the parameters are unchanged
    np.testing.assert_array_equal(fitted.predict(epochs), fitted.predict(epochs.get_data()))
    with pytest.raises(ValueError, match="sampled at 32.0 Hz but the decoder was fitted at 64.0"):
        fitted.predict(epochs.copy().resample(32.0))
    with pytest.raises(ValueError, match="sfreq=100.0 but X \\(mne.Epochs\\) is sampled at 64.0"):
        _tiny_eegnet(sfreq=100.0).fit(epochs, y)


def test_no_temporary_folder_is_left_behind(planted, tmp_path, monkeypatch):
    X, y, tr, _ = planted
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))
    est = _tiny_eegnet(optim=OptimConfig(epochs=1, batch_size=16)).fit(X[tr][:32], y[tr][:32])
    pickle.loads(pickle.dumps(est)).predict(X[:4])
    est.tracking_report(tmp_path / "fold")
    assert list(scratch_tmp.iterdir()) == []
