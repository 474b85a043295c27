"""Forward passes of a fitted NeuralDecoder: a frozen head trained on precomputed
embeddings equals one trained through the backbone; ``cache_embeddings`` stores them in
the disk cache (the per-user default folder when ``cache_dir`` is None, as for
BackboneEmbedder); bf16 autocast on CPU."""

from __future__ import annotations

import numpy as np
from neural_helpers import CHS, SFREQ, cbramod_cfg, decoder

from coco_pipe.decoding.configs import CheckpointConfig, DeviceConfig
from coco_pipe.foundation.cache import default_cache_dir


def test_precomputed_embeddings_match_training_through_the_backbone(cbramod_data):
    X, y, _ = cbramod_data
    out = {}
    for precompute in (True, False):
        est = decoder(cbramod_cfg("frozen", precompute_embeddings=precompute), sfreq=SFREQ,
                      ch_names=CHS, quiet=True, random_state=1).fit(X[:32], y[:32])  # fmt: skip
        assert est.precomputed_embeddings_ is precompute
        assert est.cache_stats_ == {}  # no disk cache asked for
        out[precompute] = est
    np.testing.assert_allclose(
        out[True].predict_proba(X[32:]), out[False].predict_proba(X[32:]), atol=1e-5
    )
    np.testing.assert_allclose([h["train_loss"] for h in out[True].history_],
                               [h["train_loss"] for h in out[False].history_], rtol=1e-4)  # fmt: skip


def test_cache_embeddings_uses_the_disk_cache_default_folder(cbramod_data, tmp_path):
    X, y, _ = cbramod_data
    root = default_cache_dir()  # $COCO_PIPE_CACHE_DIR, set per test by tests/conftest.py
    assert not root.exists()
    est = decoder(cbramod_cfg("frozen", cache_embeddings=True), sfreq=SFREQ, ch_names=CHS,
                  quiet=True, random_state=1).fit(X[:32], y[:32])  # fmt: skip
    assert est.cache_stats_["computed"] == 32 and est.cache_stats_["hits"] == 0
    assert root.exists() and any(root.rglob("*"))
    twin = decoder(cbramod_cfg("frozen", cache_embeddings=True, cache_dir=str(root)), sfreq=SFREQ,
                   ch_names=CHS, quiet=True, random_state=1).fit(X[:32], y[:32])  # fmt: skip
    assert twin.cache_stats_["hits"] == 32 and twin.cache_stats_["computed"] == 0
    np.testing.assert_array_equal(twin.predict_proba(X[32:]), est.predict_proba(X[32:]))


def test_bf16_mixed_precision_and_last_checkpoint_on_cpu(cbramod_data):
    X, y, _ = cbramod_data
    cfg = cbramod_cfg("frozen", device=DeviceConfig(device="cpu", precision="bf16"),
                      checkpoints=CheckpointConfig(save="last", monitor="val_balanced_accuracy"))  # fmt: skip
    est = decoder(cfg, sfreq=SFREQ, ch_names=CHS, quiet=True).fit(X[:32], y[:32])
    assert not est.failed_
    assert est.get_model_card_info()["precision"] == "bf16"
    assert est.weights_epoch_ == est.history_[-1]["epoch"]
    assert est.get_checkpoint_manifest()["mode"] == "max"
    assert np.isfinite(est.predict_proba(X[32:])).all()
