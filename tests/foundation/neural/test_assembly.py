"""Building the network of a NeuralDecoder: what check_buildable refuses before any weights
load, LoRA targets that match nothing, the 4-bit base of qlora, the spec's train modes."""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch
from neural_helpers import CHS, SFREQ, cbramod_cfg, decoder

from coco_pipe.data import DataInfo
from coco_pipe.decoding.configs import DeviceConfig, LoRAConfig, NeuralFineTuneConfig
from coco_pipe.foundation.neural.assembly import check_buildable
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

INFO = DataInfo(24, 3, 8, 400, SFREQ, tuple(CHS), "classification", (0, 1))


def test_bad_lora_target_lists_existing_linear_modules(cbramod_data):
    X, y, _ = cbramod_data
    cfg = cbramod_cfg("lora", lora=LoRAConfig(target_modules=["no_such_layer"]))
    est = decoder(cfg, sfreq=SFREQ, ch_names=CHS, quiet=True)
    with pytest.raises(ValueError, match="'no_such_layer' matches no layer") as err:
        est.fit(X[:24], y[:24])
    assert "linear1" in str(err.value)  # an nn.Linear name that does exist


def test_train_mode_not_allowed_by_spec(monkeypatch, cbramod_data):
    X, y, _ = cbramod_data
    spec = dataclasses.replace(ESTIMATOR_SPECS["cbramod"], train_modes=("frozen", "full"))
    monkeypatch.setitem(ESTIMATOR_SPECS, "cbramod", spec)
    est = decoder(cbramod_cfg("lora"), sfreq=SFREQ, ch_names=CHS, quiet=True)
    with pytest.raises(
        ValueError, match="train_mode='lora' is not allowed for model_key='cbramod'"
    ):
        est.fit(X[:24], y[:24])


def test_pooling_the_model_lacks_is_refused_before_fitting():
    est = decoder(cbramod_cfg("frozen", pooling="cls"), sfreq=SFREQ, ch_names=CHS)
    with pytest.raises(ValueError, match=r"pooling='cls' is not supported by CBraMod.*class token"):
        est.check_data_info(INFO)
    biot = decoder(cbramod_cfg("frozen", model_key="biot", model_kwargs={}), sfreq=SFREQ, ch_names=CHS)
    biot.check_data_info(INFO)  # no error: the default resolves to BIOT's only pooling, 'mean'


def test_fp16_on_cpu_is_refused_before_fitting(cbramod_data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y, _ = cbramod_data
    est = decoder(cbramod_cfg("frozen", device=DeviceConfig(precision="fp16")), sfreq=SFREQ, quiet=True)
    with pytest.raises(ValueError, match="precision='fp16' needs a CUDA GPU"):
        est.fit(X[:24], y[:24])
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        decoder(cbramod_cfg("frozen", device=DeviceConfig(device="cuda"))).check_data_info(INFO)


def test_qlora_without_bitsandbytes_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    est = decoder(cbramod_cfg("qlora"), sfreq=SFREQ, ch_names=CHS)
    with pytest.raises(ImportError, match=r"pip install coco-pipe\[quant\]"):
        est.check_data_info(INFO)


def test_window_too_short_for_the_network_is_clear():
    info = DataInfo(10, 3, 4, 20, 250.0, None, "classification", (0, 1))
    with pytest.raises(ValueError, match="ShallowFBCSPNet cannot .* n_times=20"):
        check_buildable(NeuralFineTuneConfig(model_key="shallow_fbcsp"), info, sfreq=250.0,
                        ch_names=None)  # fmt: skip


def test_qlora_base_layers_are_really_4bit(fitted_cbramod):
    bnb = pytest.importorskip("bitsandbytes")
    est = fitted_cbramod("qlora")
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
