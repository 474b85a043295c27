"""NeuralDecoder on a small foundation backbone (CBraMod, random init): the four train
modes, the model card, 4-bit layers, adapters that reload exactly, tracking reports and
the bad-input errors."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coco_pipe.data import DataInfo  # noqa: E402
from coco_pipe.decoding.configs import (  # noqa: E402
    CheckpointConfig,
    DeviceConfig,
    LoRAConfig,
    NeuralFineTuneConfig,
    OptimConfig,
    QuantizationConfig,
)
from coco_pipe.foundation.neural import (  # noqa: E402
    MODEL_FILE,
    NeuralDecoder,
    NeuralTrainable,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS  # noqa: E402

CHS = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz"]
SFREQ = 200.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    from coco_pipe.datasets import make_motor_imagery

    X, y, meta, _ = make_motor_imagery(n_subjects=3, n_epochs_per_class=8, sfreq=SFREQ, tmax=2.0,
                                       ch_names=CHS, random_state=0, return_epochs=False)  # fmt: skip
    return X, y, meta["Subject"].to_numpy()


def _cfg(mode: str, **kw) -> NeuralFineTuneConfig:
    base = dict(
        model_key="cbramod", weights="random", train_mode=mode,
        model_kwargs=ESTIMATOR_SPECS["cbramod"].small_kwargs,
        optim=OptimConfig(epochs=2, batch_size=16, lr=1e-3),
        quantization=QuantizationConfig(enabled=mode == "qlora", compute_dtype="float32"),
    )  # fmt: skip
    base.update(kw)
    return NeuralFineTuneConfig(**base)


_FITTED: dict[str, NeuralDecoder] = {}


@pytest.fixture(scope="module")
def fitted(data):
    """One fitted decoder per train mode (trained once per module)."""
    X, y, groups = data
    train = groups != "sub-03"

    def get(mode: str) -> NeuralDecoder:
        if mode not in _FITTED:
            est = NeuralDecoder(_cfg(mode), sfreq=SFREQ, ch_names=CHS, random_state=0, quiet=True)
            _FITTED[mode] = est.fit(X[train], y[train], groups=groups[train])
        return _FITTED[mode]

    yield get
    _FITTED.clear()


@pytest.mark.parametrize("mode", ["frozen", "full", "lora", "qlora"])
def test_train_modes_fit_predict_and_report(fitted, data, mode, tmp_path):
    X, y, groups = data
    est = fitted(mode)
    test = groups == "sub-03"
    assert not est.failed_
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

    report = est.tracking_report(tmp_path)
    assert not report.failed
    kinds = {k for k, _ in report.artifacts}
    weights_kind = "adapter" if mode in ("lora", "qlora") else "checkpoints"
    assert {"training_history", "plots", "model_card", weights_kind} <= kinds
    assert report.tags["weights"] == "random-init"
    assert report.params["neural.train_mode"] == mode
    assert report.params["adapt.sfreq"] == SFREQ
    assert ("train_loss", hist[1]["train_loss"], 2) in report.step_metrics
    folder = dict(report.artifacts)[weights_kind]
    if weights_kind == "adapter":
        assert (folder / "adapter_config.json").exists() and (
            folder / "adapter_model.safetensors"
        ).exists()
    else:
        assert any(p.suffix == ".safetensors" for p in folder.iterdir())
    manifest = json.loads((folder / "checkpoint_manifest.json").read_text())
    assert manifest["best_epoch"] in (1, 2) and manifest["policy"] == "best"


def test_model_card_trainable_fractions(fitted):
    cards = {m: fitted(m).get_model_card_info() for m in ("frozen", "full", "lora", "qlora")}
    assert cards["full"]["trainable_fraction"] == pytest.approx(1.0)
    assert 0 < cards["frozen"]["trainable_fraction"] < cards["lora"]["trainable_fraction"] < 1.0
    assert cards["lora"]["trainable_params"] == cards["qlora"]["trainable_params"]
    # frozen trains exactly the linear head on the flattened tokens (the default pooling):
    # one emb_dim block per channel and 1 s patch (8 channels x 2 patches), 2 outputs + bias
    assert cards["frozen"]["pooling"] == "flatten"
    n_features = ESTIMATOR_SPECS["cbramod"].emb_dim * len(CHS) * 2
    assert cards["frozen"]["trainable_params"] == n_features * 2 + 2
    assert cards["lora"]["lora"]["layers"]


def test_qlora_base_layers_are_really_4bit(fitted):
    bnb = pytest.importorskip("bitsandbytes")
    est = fitted("qlora")
    quant = [m for m in est.network_.backbone.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quant) >= 2
    for layer in quant:
        assert layer.weight.dtype == torch.uint8
        assert layer.weight.bnb_quantized
        assert layer.weight.quant_state.quant_type == "nf4"
        assert not layer.weight.requires_grad
        # packed: two 4-bit values per byte
        assert layer.weight.numel() * 2 == layer.in_features * layer.out_features
    lora_params = [
        n for n, p in est.network_.named_parameters() if p.requires_grad and "lora_" in n
    ]
    assert lora_params
    assert all(p.dtype == torch.float32 for n, p in est.network_.named_parameters() if "lora_" in n)
    assert est.get_model_card_info()["quantization"]["n_4bit_layers"] == len(quant)


@pytest.mark.parametrize("mode", ["lora", "qlora", "full", "frozen"])
def test_saved_model_reloads_on_fresh_backbone_and_predicts_exactly(fitted, data, mode, tmp_path):
    X, _, groups = data
    est = fitted(mode)
    test = X[groups == "sub-03"]
    folder = (
        est.save_adapter(tmp_path / "a") if mode in ("lora", "qlora") else est.save(tmp_path / "a")
    )
    meta = json.loads((folder / MODEL_FILE).read_text())
    assert meta["ch_names"] == CHS and meta["sfreq"] == SFREQ and meta["n_times"] == X.shape[2]
    assert NeuralFineTuneConfig.model_validate(meta["config"]) == est.config
    loaded = NeuralDecoder.load(folder)
    assert loaded.network_ is not est.network_
    np.testing.assert_array_equal(loaded.predict_proba(test), est.predict_proba(test))
    np.testing.assert_array_equal(loaded.classes_, est.classes_)


def test_save_adapter_refuses_non_adapter_modes(fitted, tmp_path):
    with pytest.raises(ValueError, match="save_adapter needs train_mode 'lora' or 'qlora'"):
        fitted("full").save_adapter(tmp_path)


def test_bad_lora_target_lists_existing_linear_modules(data):
    X, y, _ = data
    est = NeuralDecoder(_cfg("lora", lora=LoRAConfig(target_modules=["no_such_layer"])), sfreq=SFREQ,
                        ch_names=CHS, quiet=True)  # fmt: skip
    with pytest.raises(ValueError, match="'no_such_layer' matches no layer") as err:
        est.fit(X[:24], y[:24])
    assert "linear1" in str(err.value)  # an nn.Linear name that does exist


def test_train_mode_not_allowed_by_spec(monkeypatch, data):
    X, y, _ = data
    spec = dataclasses.replace(ESTIMATOR_SPECS["cbramod"], train_modes=("frozen", "full"))
    monkeypatch.setitem(ESTIMATOR_SPECS, "cbramod", spec)
    est = NeuralDecoder(_cfg("lora"), sfreq=SFREQ, ch_names=CHS, quiet=True)
    with pytest.raises(
        ValueError, match="train_mode='lora' is not allowed for model_key='cbramod'"
    ):
        est.fit(X[:24], y[:24])


def test_pooling_the_model_lacks_is_refused_before_fitting():
    info = DataInfo(24, 3, 8, 400, SFREQ, tuple(CHS), "classification", (0, 1))
    est = NeuralDecoder(_cfg("frozen", pooling="cls"), sfreq=SFREQ, ch_names=CHS)
    with pytest.raises(ValueError, match=r"pooling='cls' is not supported by CBraMod.*class token"):
        est.check_data_info(info)
    biot = NeuralDecoder(_cfg("frozen", model_key="biot", model_kwargs={}), sfreq=SFREQ, ch_names=CHS)
    biot.check_data_info(info)  # no error: the default resolves to BIOT's only pooling, 'mean'


def test_fp16_on_cpu_is_refused_before_fitting(data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y, _ = data
    est = NeuralDecoder(
        _cfg("frozen", device=DeviceConfig(precision="fp16")), sfreq=SFREQ, quiet=True
    )
    with pytest.raises(ValueError, match="precision='fp16' needs a CUDA GPU"):
        est.fit(X[:24], y[:24])
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        NeuralDecoder(_cfg("frozen", device=DeviceConfig(device="cuda"))).check_data_info(
            DataInfo(24, 3, 8, 400, SFREQ, tuple(CHS), "classification", (0, 1))
        )


def test_qlora_without_bitsandbytes_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    est = NeuralDecoder(_cfg("qlora"), sfreq=SFREQ, ch_names=CHS)
    with pytest.raises(ImportError, match=r"pip install coco-pipe\[quant\]"):
        est.check_data_info(DataInfo(24, 3, 8, 400, SFREQ, tuple(CHS), "classification", (0, 1)))


def test_validation_split_leaving_group_or_class_empty_errors(data):
    X, y, groups = data
    one_subject = groups == "sub-01"
    est = NeuralDecoder(_cfg("frozen"), sfreq=SFREQ, ch_names=CHS, quiet=True)
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


def test_nan_in_training_data_gives_failure_diagnostics_not_a_crash(data, tmp_path):
    X, y, _ = data
    Xn = X[:32].copy()
    Xn[::2] = np.nan  # half the windows
    est = NeuralDecoder(_cfg("full", divergence_patience=2), sfreq=SFREQ, ch_names=CHS, quiet=True)
    est.fit(Xn, y[:32])  # must not raise
    assert est.failed_
    diag = est.get_failure_diagnostics()
    assert diag["failed"] and "diverged" in diag["failure_reason"]
    assert diag["input_nonfinite_windows"] == 16
    assert diag["first_nonfinite"]["step"] >= 1
    assert diag["nonfinite_events"]
    with pytest.raises(RuntimeError, match="training of this NeuralDecoder failed"):
        est.predict(X[:4])
    report = est.tracking_report(tmp_path)
    assert report.failed and "diverged" in report.failure_reason
    kinds = {k for k, _ in report.artifacts}
    assert "diagnostics" in kinds and "checkpoints" not in kinds


def test_frozen_on_cache_matches_frozen_through_backbone(data, tmp_path):
    X, y, _ = data
    out = {}
    for cached in (True, False):
        cfg = _cfg(
            "frozen", cache_embeddings=cached, cache_dir=str(tmp_path / "cache") if cached else None
        )
        est = NeuralDecoder(cfg, sfreq=SFREQ, ch_names=CHS, quiet=True, random_state=1).fit(
            X[:32], y[:32]
        )
        assert est.use_cached_embeddings_ is cached
        out[cached] = est
    if "computed" in out[True].cache_stats_:  # the on-disk cache was used
        assert out[True].cache_stats_["computed"] == 32
    np.testing.assert_allclose(
        out[True].predict_proba(X[32:]), out[False].predict_proba(X[32:]), atol=1e-5
    )
    np.testing.assert_allclose([h["train_loss"] for h in out[True].history_],
                               [h["train_loss"] for h in out[False].history_], rtol=1e-4)  # fmt: skip


def test_bf16_mixed_precision_and_last_checkpoint_on_cpu(data):
    X, y, _ = data
    cfg = _cfg("frozen", device=DeviceConfig(device="cpu", precision="bf16"),
               checkpoints=CheckpointConfig(save="last", monitor="val_balanced_accuracy"))  # fmt: skip
    est = NeuralDecoder(cfg, sfreq=SFREQ, ch_names=CHS, quiet=True).fit(X[:32], y[:32])
    assert not est.failed_
    assert est.get_model_card_info()["precision"] == "bf16"
    assert est.weights_epoch_ == est.history_[-1]["epoch"]
    assert est.get_checkpoint_manifest()["mode"] == "max"
    assert np.isfinite(est.predict_proba(X[32:])).all()
