"""Specialist networks trained from scratch through NeuralDecoder (issue 7), the
estimator contract (clone, determinism, regression) and the config's model-key rules."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402

from coco_pipe.data import DataInfo  # noqa: E402
from coco_pipe.decoding.configs import NeuralFineTuneConfig, OptimConfig  # noqa: E402
from coco_pipe.decoding.configs.neural import _SCRATCH_KEYS  # noqa: E402
from coco_pipe.foundation.neural import NeuralDecoder  # noqa: E402
from coco_pipe.foundation.scratch import (  # noqa: E402
    SCRATCH_SPECS,
    build_scratch_net,
    resample_windows,
    volts_scale,
)

CHS = ["C3", "Cz", "C4", "Pz"]
SFREQ = 64.0  # small windows keep the tests fast; scratch_sfreq=SFREQ skips resampling
# small variants sized for 2 s at 64 Hz
SMALL = {
    "eegnet": {"F1": 4, "D": 2, "kernel_length": 16, "pool1_kernel_size": 4, "pool2_kernel_size": 4},
    "shallow_fbcsp": {"n_filters_time": 8, "n_filters_spat": 8, "filter_time_length": 9,
                      "pool_time_length": 24, "pool_time_stride": 6},
    "deep4": {"n_filters_time": 8, "n_filters_spat": 8, "n_filters_2": 8, "n_filters_3": 8,
              "n_filters_4": 8, "filter_time_length": 5, "filter_length_2": 5, "filter_length_3": 5,
              "filter_length_4": 5, "pool_time_length": 2, "pool_time_stride": 2},
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def planted():
    """Two subjects with a strong planted lateralised effect; a stratified train/test split."""
    from sklearn.model_selection import train_test_split

    from coco_pipe.datasets import make_motor_imagery

    X, y, _, _ = make_motor_imagery(n_subjects=2, n_epochs_per_class=40, sfreq=SFREQ, tmax=2.0,
                                    ch_names=CHS, effect_size=2.0, random_state=0,
                                    return_epochs=False)  # fmt: skip
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    return X, y, tr, te


def _scratch_cfg(key: str, epochs: int = 10, **kw) -> NeuralFineTuneConfig:
    kw = {"scratch_sfreq": SFREQ, **kw}
    return NeuralFineTuneConfig(
        model_key=key, model_kwargs=SMALL[key],
        optim=OptimConfig(epochs=epochs, batch_size=16, lr=3e-3), early_stopping_patience=None, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("key", ["eegnet", "shallow_fbcsp", "deep4"])
def test_scratch_network_beats_chance_on_planted_effect(planted, key, tmp_path):
    X, y, tr, te = planted
    est = NeuralDecoder(_scratch_cfg(key), sfreq=SFREQ, ch_names=CHS, random_state=0, quiet=True)
    est.fit(X[tr], y[tr])
    assert not est.failed_
    bacc = balanced_accuracy_score(y[te], est.predict(X[te]))
    assert bacc > 0.7, f"{key}: balanced accuracy {bacc:.2f} on a strong planted effect"
    card = est.get_model_card_info()
    assert card["architecture"] == SCRATCH_SPECS[key].braindecode_class
    assert card["trainable_fraction"] == pytest.approx(1.0) and card["scratch"]
    report = est.tracking_report(tmp_path)
    assert report.tags["weights"] == "random-init"
    assert report.params["adapt.amplitude_scale"] == 1e6  # volts -> microvolts
    assert "checkpoints" in dict(report.artifacts)


def test_scratch_reload_predicts_exactly_and_resamples(planted, tmp_path):
    X, y, tr, te = planted
    cfg = _scratch_cfg("eegnet", epochs=2, scratch_sfreq=96.0)
    est = NeuralDecoder(cfg, sfreq=SFREQ, ch_names=CHS, random_state=0, quiet=True).fit(
        X[tr], y[tr]
    )
    assert est.get_model_card_info()["adaptation"]["adapt.n_times"] == 192  # 2 s at 96 Hz
    loaded = NeuralDecoder.load(est.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(X[te]), est.predict_proba(X[te]))


def test_seeded_fit_is_deterministic_on_cpu(planted):
    X, y, tr, te = planted
    runs = [
        NeuralDecoder(
            _scratch_cfg("shallow_fbcsp", epochs=2), sfreq=SFREQ, random_state=3, quiet=True
        ).fit(X[tr][:40], y[tr][:40])
        for _ in range(2)
    ]
    assert [h["train_loss"] for h in runs[0].history_] == [
        h["train_loss"] for h in runs[1].history_
    ]
    np.testing.assert_array_equal(runs[0].predict_proba(X[te]), runs[1].predict_proba(X[te]))


def test_clone_and_from_config_store_arguments_only():
    cfg = _scratch_cfg("eegnet")
    info = DataInfo(10, 3, 4, 128, SFREQ, tuple(CHS), "classification", (0, 1), "Subject")
    est = NeuralDecoder.from_config(cfg, info, random_state=7)
    params = est.get_params()
    assert params["config"] is cfg and params["sfreq"] == SFREQ and params["random_state"] == 7
    twin = clone(est)
    assert twin.get_params()["config"] == cfg and not hasattr(twin, "network_")


def test_regression_task(planted):
    X, _, tr, te = planted
    target = X[:, 0].std(axis=1) * 1e6  # a continuous, learnable target
    est = NeuralDecoder(
        _scratch_cfg("shallow_fbcsp", epochs=2), sfreq=SFREQ, task="regression", quiet=True
    )
    est.fit(X[tr], target[tr])
    pred = est.predict(X[te])
    assert pred.shape == (len(te),) and np.isfinite(pred).all()
    assert "val_r2" in est.history_[0]
    assert isinstance(est.score(X[te], target[te]), float)
    with pytest.raises(AttributeError):
        est.predict_proba(X[te])


def test_predict_before_fit_and_wrong_shape():
    from sklearn.exceptions import NotFittedError

    est = NeuralDecoder(_scratch_cfg("eegnet"), sfreq=SFREQ)
    with pytest.raises(NotFittedError):
        est.predict(np.zeros((2, 4, 128), np.float32))
    with pytest.raises(ValueError, match="3-D"):
        est.fit(np.zeros((4, 10), np.float32), [0, 1, 0, 1])


def test_scratch_config_defaults_and_model_key_validation():
    cfg = NeuralFineTuneConfig(model_key="deep4")
    assert (cfg.weights, cfg.train_mode) == ("random", "full")
    with pytest.raises(ValueError, match="weights must be 'random'"):
        NeuralFineTuneConfig(model_key="eegnet", weights="pretrained")
    with pytest.raises(ValueError, match="train_mode must be 'full'"):
        NeuralFineTuneConfig(model_key="eegnet", train_mode="lora")
    with pytest.raises(ValueError, match="unknown model_key 'eegnett'.*cbramod.*eegnet"):
        NeuralFineTuneConfig(model_key="eegnett")
    assert set(_SCRATCH_KEYS) == set(SCRATCH_SPECS)
    assert NeuralFineTuneConfig(model_key="cbramod", train_mode="qlora").quantization.enabled
    with pytest.raises(ValueError, match="needs quantization.enabled=True"):
        NeuralFineTuneConfig(
            model_key="cbramod", train_mode="qlora", quantization={"enabled": False}
        )
    with pytest.raises(ValueError, match="only used with train_mode='qlora'"):
        NeuralFineTuneConfig(model_key="cbramod", train_mode="lora", quantization={"enabled": True})


def test_window_too_short_for_the_network_is_clear():
    est = NeuralDecoder(NeuralFineTuneConfig(model_key="shallow_fbcsp"), sfreq=250.0)
    with pytest.raises(ValueError, match="ShallowFBCSPNet cannot .* n_times=20"):
        est.check_data_info(DataInfo(10, 3, 4, 20, 250.0, None, "classification", (0, 1)))


def test_resample_and_volts_scale():
    X = np.random.default_rng(0).normal(size=(2, 3, 250)).astype(np.float32) * 1e-5
    assert resample_windows(X, 250.0, 128.0).shape == (2, 3, 128)
    assert volts_scale(X) == 1e6 and volts_scale(X * 1e6) == 1.0
    net = build_scratch_net("eegconformer", n_chans=3, n_outputs=2, n_times=250, sfreq=250.0,
                            model_kwargs=SCRATCH_SPECS["eegconformer"].small_kwargs)  # fmt: skip
    assert net(torch.zeros(4, 3, 250)).shape == (4, 2)
