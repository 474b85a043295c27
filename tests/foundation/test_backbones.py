"""build_backbone / embed: all eight models on 19-channel 10-20 epochs at 250 Hz (resampled),
aliases, offline REVE, local checkpoints, fingerprints and the clear errors."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch

from coco_pipe.foundation import backbones
from coco_pipe.foundation.backbones import build_backbone, embed, resolve_device
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

KEYS = sorted(ESTIMATOR_SPECS)
MODERN = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip
LEGACY = tuple({"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}.get(n, n) for n in MODERN)
SFREQ = 250.0
N_TIMES = 500  # 2 s


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def _epochs(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 19, N_TIMES)) * 1e-5).astype(np.float32)  # volts


def _build(key, *, names=MODERN, seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("model_kwargs", ESTIMATOR_SPECS[key].small_kwargs)
    return build_backbone(
        key, weights=kw.pop("weights", "random"), sfreq=kw.pop("sfreq", SFREQ), ch_names=names,
        n_channels=len(names), n_times=kw.pop("n_times", N_TIMES), **kw,
    )  # fmt: skip


@pytest.mark.parametrize("key", KEYS)
def test_every_model_embeds_1020_epochs_recorded_at_250hz(key):
    bb = _build(key)
    assert bb.plan.src_sfreq == SFREQ and bb.plan.sfreq == ESTIMATOR_SPECS[key].sfreq != SFREQ
    X = _epochs(3)
    Z = embed(bb, X, batch_size=2, device="cpu", progress=False)
    assert Z.shape == (3, bb.emb_dim) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    assert not np.allclose(Z[0], Z[1])  # different windows, different embeddings
    # batching does not change the result; embed() == adapt then forward
    Z1 = embed(bb, X, batch_size=1, device="cpu", progress=False)
    np.testing.assert_allclose(Z, Z1, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        direct = bb.module(torch.from_numpy(bb.plan.apply(X))).numpy()
    np.testing.assert_allclose(Z, direct, rtol=1e-4, atol=1e-5)
    # no gradients, no training mode left behind
    assert not bb.module.training
    tags = bb.weights.as_tags()
    assert tags["weights"] == "random-init"


@pytest.mark.parametrize("key", ["eegpt", "luna", "biot", "bendr"])
def test_legacy_1020_names_give_the_same_embeddings(key):
    X = _epochs(2)
    z_modern = embed(_build(key, names=MODERN), X, device="cpu", progress=False)
    z_legacy = embed(_build(key, names=LEGACY), X, device="cpu", progress=False)
    np.testing.assert_allclose(z_modern, z_legacy, rtol=1e-5, atol=1e-6)


def test_reve_builds_and_embeds_with_no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REVE_POSITIONS_PATH", str(tmp_path / "empty"))  # no cached bank

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    import pooch

    monkeypatch.setattr(pooch, "retrieve", no_network)
    bb = _build("reve")
    assert bb.plan.positions_source == "mne:standard_1005"
    assert len(bb.plan.positions) == 19
    Z = embed(bb, _epochs(2), device="cpu", progress=False)
    assert Z.shape == (2, bb.emb_dim) and np.isfinite(Z).all()
    assert bb.plan.as_params()["adapt.positions_source"] == "mne:standard_1005"


def test_reve_uses_braindecodes_cached_position_bank_when_present(monkeypatch, tmp_path):
    bank = {n: [0.1 * i, -0.2, 0.3] for i, n in enumerate(MODERN)}
    (tmp_path / "reve_positions.json").write_text(json.dumps(bank))
    monkeypatch.setenv("REVE_POSITIONS_PATH", str(tmp_path))
    bb = _build("reve", names=LEGACY)  # T3 found as T7 in the bank
    assert bb.plan.positions_source == "reve:position-bank"
    np.testing.assert_allclose(np.asarray(bb.plan.positions), np.asarray([bank[n] for n in MODERN]))
    np.testing.assert_allclose(
        bb.module.channel_positions.numpy(), np.asarray([bank[n] for n in MODERN])
    )


def test_fingerprint_identifies_weights_adaptation_and_pooling():
    a = _build("labram", seed=0)
    assert a.fingerprint == _build("labram", seed=0).fingerprint  # same init -> same digest
    assert a.fingerprint != _build("labram", seed=1).fingerprint  # other weights
    assert a.fingerprint != _build("labram", seed=0, pooling="cls").fingerprint
    assert a.fingerprint != _build("labram", seed=0, sfreq=500.0, n_times=1000).fingerprint
    info = a.fingerprint_info()
    assert info["weights_digest"] == a.weights_digest and info["pooling"] == "mean"
    assert {"torch", "braindecode", "plan", "dtype"} <= set(info)


def test_local_checkpoint_offline_reproduces_embeddings(monkeypatch, tmp_path):
    from safetensors.torch import save_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = _build("cbramod", names=MODERN, seed=3)
    path = tmp_path / "cbramod.safetensors"
    save_file({k: v.contiguous() for k, v in ref.module.model.state_dict().items()}, str(path))
    other = _build("cbramod", names=MODERN, seed=4, weights=str(path))
    assert other.weights_digest == ref.weights_digest
    X = _epochs(2)
    np.testing.assert_allclose(
        embed(other, X, device="cpu", progress=False),
        embed(ref, X, device="cpu", progress=False),
        rtol=1e-6,
    )
    assert other.weights.as_tags().get("weights") != "random-init"


def test_pretrained_offline_without_cache_fails_before_building(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))

    def must_not_build(*a, **k):
        raise AssertionError("model built before the weights were resolved")

    monkeypatch.setattr(backbones, "build_model", must_not_build)
    with pytest.raises(Exception, match="braindecode/labram-pretrained") as err:
        _build("labram", weights="pretrained")
    assert "random" in str(err.value)


def test_unknown_model_key_lists_known_models():
    with pytest.raises(ValueError, match=r"unknown model_key 'nope'.*bendr.*signal_jepa"):
        build_backbone(
            "nope", weights="random", sfreq=250.0, ch_names=MODERN, n_channels=19, n_times=500
        )


def test_unsupported_pooling_is_refused_before_building(monkeypatch):
    monkeypatch.setattr(backbones, "build_model", lambda *a, **k: pytest.fail("built"))
    with pytest.raises(ValueError, match=r"pooling='cls' is not supported by CBraMod.*class token"):
        _build("cbramod", pooling="cls")
    with pytest.raises(ValueError, match="pooling must be one of"):
        _build("cbramod", pooling="max")


def test_hugging_face_backend_dispatches_to_the_transformers_loader():
    bb_hf = _build("cbramod", backend="hugging_face")
    bb_bd = _build("cbramod")
    assert bb_hf.weights.as_tags()["backend"] == "hugging_face"
    assert bb_hf.weights_digest == bb_bd.weights_digest  # same seed, same weights, either loader
    with pytest.raises(ValueError, match="options of backend='hugging_face'"):
        _build("cbramod", trust_remote_code=True)


def test_model_kwargs_cannot_override_signal_arguments():
    with pytest.raises(ValueError, match=r"model_kwargs must not set \['n_chans'\]"):
        _build("cbramod", model_kwargs={"n_chans": 3})


def test_device_auto_resolves_to_an_available_device():
    dev = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu:banana")
