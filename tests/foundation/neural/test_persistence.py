"""A fitted NeuralDecoder saved to a folder and loaded back, and pickled: both rebuild the
network on a fresh backbone (EEGNet's parametrized layers included) and predict exactly as
the original."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from neural_helpers import CHS, SCRATCH_CHS, SCRATCH_SFREQ, SFREQ, decoder, scratch_cfg

from coco_pipe.decoding.configs import NeuralFineTuneConfig
from coco_pipe.foundation.neural import MODEL_FILE, NeuralDecoder


@pytest.fixture(scope="module")
def fitted_eegnet(planted):
    X, y, tr, _ = planted
    cfg = scratch_cfg("eegnet", epochs=2, scratch_sfreq=96.0)  # resampled 64 -> 96 Hz
    return decoder(cfg, sfreq=SCRATCH_SFREQ, ch_names=SCRATCH_CHS, random_state=0,
                   quiet=True).fit(X[tr], y[tr])  # fmt: skip


@pytest.mark.parametrize("mode", ["lora", "qlora", "full", "frozen"])
def test_saved_model_reloads_on_fresh_backbone_and_predicts_exactly(
    fitted_cbramod, cbramod_data, mode, tmp_path
):
    X, _, groups = cbramod_data
    est = fitted_cbramod(mode)
    test = X[groups == "sub-03"]
    folder = (
        est.save_adapter(tmp_path / "a") if mode in ("lora", "qlora") else est.save(tmp_path / "a")
    )
    meta = json.loads((folder / MODEL_FILE).read_text())
    assert meta["ch_names"] == CHS and meta["sfreq"] == SFREQ and meta["n_times"] == X.shape[2]
    assert NeuralFineTuneConfig.model_validate(meta["config"]) == est.config_
    loaded = NeuralDecoder.load(folder)
    assert loaded.network_ is not est.network_
    assert loaded.get_params()["train_mode"] == mode
    np.testing.assert_array_equal(loaded.predict_proba(test), est.predict_proba(test))
    np.testing.assert_array_equal(loaded.classes_, est.classes_)


def test_save_adapter_refuses_non_adapter_modes(fitted_cbramod, tmp_path):
    with pytest.raises(ValueError, match="save_adapter needs train_mode 'lora' or 'qlora'"):
        fitted_cbramod("full").save_adapter(tmp_path)


def test_scratch_reload_predicts_exactly_and_resamples(fitted_eegnet, planted, tmp_path):
    X, _, _, te = planted
    assert fitted_eegnet.get_model_card_info()["adaptation"]["adapt.n_times"] == 192  # 2 s at 96 Hz
    loaded = NeuralDecoder.load(fitted_eegnet.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(X[te]), fitted_eegnet.predict_proba(X[te]))


def test_folder_saved_before_precompute_embeddings_existed_loads(fitted_cbramod, cbramod_data,
                                                                 tmp_path):  # fmt: skip
    """Older folders stored ``cache_embeddings=True`` meaning "precompute in memory" (for
    every train mode) and no ``precompute_embeddings``; they load with that meaning."""
    X, _, _ = cbramod_data
    est = fitted_cbramod("lora")
    folder = est.save_adapter(tmp_path / "old")
    meta = json.loads((folder / MODEL_FILE).read_text())
    del meta["config"]["precompute_embeddings"], meta["precompute_embeddings"]
    meta["config"]["cache_embeddings"] = True
    meta["use_cached_embeddings"] = False
    (folder / MODEL_FILE).write_text(json.dumps(meta))
    loaded = NeuralDecoder.load(folder)
    assert loaded.config_.cache_embeddings is False and loaded.config_.precompute_embeddings
    np.testing.assert_array_equal(loaded.predict_proba(X[:4]), est.predict_proba(X[:4]))


def test_fitted_eegnet_pickles_and_predicts_exactly(fitted_eegnet, planted):
    X, _, _, te = planted
    twin = pickle.loads(pickle.dumps(fitted_eegnet))
    assert twin.network_ is not fitted_eegnet.network_
    np.testing.assert_array_equal(twin.predict_proba(X[te]), fitted_eegnet.predict_proba(X[te]))
    assert twin.history_ == fitted_eegnet.history_ and twin.get_params()["optim"].epochs == 2
    # the rebuilt network is a real braindecode EEGNet whose state matches, parametrizations too
    for (name, a), (_, b) in zip(fitted_eegnet.network_.state_dict().items(),
                                 twin.network_.state_dict().items(), strict=True):  # fmt: skip
        assert np.array_equal(a.numpy(), b.numpy()), name


@pytest.mark.parametrize("mode", ["frozen", "full", "lora", "qlora"])
def test_fitted_cbramod_pickles_and_predicts_exactly(fitted_cbramod, cbramod_data, mode):
    X, _, groups = cbramod_data
    est = fitted_cbramod(mode)
    twin = pickle.loads(pickle.dumps(est))
    test = X[groups == "sub-03"]
    np.testing.assert_array_equal(twin.predict_proba(test), est.predict_proba(test))
    assert twin.get_model_card_info()["trainable_params"] == est.get_model_card_info()["trainable_params"]


def test_unfitted_decoder_pickles_with_its_parameters():
    est = decoder(scratch_cfg("eegnet"), sfreq=SCRATCH_SFREQ)
    twin = pickle.loads(pickle.dumps(est))
    assert twin.get_params()["model_kwargs"] == est.model_kwargs
    assert twin.get_params()["optim__lr"] == est.optim.lr and not hasattr(twin, "network_")
